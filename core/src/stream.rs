//! Streaming: the chunk stream type, the byte-stream → chunk-stream adapter that
//! every provider shares, and the aggregator that rebuilds a whole completion.

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::error::Result;
use crate::types::chat::{
    ChatCompletion, ChatCompletionChunk, Choice, ChunkChoice, Delta, Extra, FinishReason,
    FunctionCall, FunctionCallDelta, ResponseMessage, ToolCall, ToolCallDelta, Usage,
};

/// A stream of chat completion chunks. An `Err` item ends the stream.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatCompletionChunk>> + Send>>;

/// A stream of raw body bytes from the transport.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// Whether a decoder has seen its protocol's terminal event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeStatus {
    /// Keep reading.
    More,
    /// The terminal event arrived; stop reading the body.
    Done,
}

/// Turns a provider's stream framing (SSE, NDJSON, AWS event-stream) into chunks.
///
/// Implementations must accept bytes split at any point.
pub trait StreamDecoder: Send + 'static {
    /// Decode `bytes`, appending every chunk completed so far to `out`.
    fn push(&mut self, bytes: &[u8], out: &mut Vec<ChatCompletionChunk>) -> Result<DecodeStatus>;

    /// The body ended. Emit anything pending, or fail if the stream was cut
    /// short of its terminal event.
    fn finish(&mut self, out: &mut Vec<ChatCompletionChunk>) -> Result<()>;
}

/// A decoder chosen per call (a codec whose models answer in different
/// formats, e.g. Gemini and Claude on Vertex AI).
impl StreamDecoder for Box<dyn StreamDecoder> {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<ChatCompletionChunk>) -> Result<DecodeStatus> {
        (**self).push(bytes, out)
    }

    fn finish(&mut self, out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        (**self).finish(out)
    }
}

/// A boxed stream of results of `T`.
pub type ResultStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send>>;

/// One step of [`translate`]: the state, and an input item (`None` at the
/// end of the input), to the outputs it gives.
pub type TranslateStep<S, I, O> = fn(&mut S, Option<Result<I>>) -> Vec<Result<O>>;

/// `input` translated item by item: `step` turns each input item — and
/// `None` once at its end — into zero or more outputs. The stream stops
/// reading `input` at its end or after the first `Err` output, and ends
/// once everything produced has been delivered.
pub fn translate<I, O, S>(
    input: ResultStream<I>,
    state: S,
    step: TranslateStep<S, I, O>,
) -> ResultStream<O>
where
    I: Send + 'static,
    O: Send + 'static,
    S: Send + 'static,
{
    struct Translation<I, O, S> {
        input: ResultStream<I>,
        state: S,
        pending: VecDeque<Result<O>>,
        done: bool,
    }
    let t = Translation {
        input,
        state,
        pending: VecDeque::new(),
        done: false,
    };
    Box::pin(futures::stream::unfold(t, move |mut t| async move {
        loop {
            if let Some(item) = t.pending.pop_front() {
                return Some((item, t));
            }
            if t.done {
                return None;
            }
            let next = t.input.next().await;
            t.done = next.is_none();
            let out = step(&mut t.state, next);
            t.done |= out.iter().any(Result::is_err);
            t.pending.extend(out);
        }
    }))
}

/// Adapt a body byte stream and a decoder into a [`ChatStream`].
///
/// The body is dropped (closing the upstream connection) as soon as the decoder
/// reports [`DecodeStatus::Done`], an error occurs, or the stream is dropped.
pub fn decode_stream<D: StreamDecoder>(body: ByteStream, decoder: D) -> ChatStream {
    struct State<D> {
        body: Option<ByteStream>,
        decoder: D,
        pending: VecDeque<ChatCompletionChunk>,
        scratch: Vec<ChatCompletionChunk>,
        /// Delivered after the chunks decoded before it, then the stream ends.
        error: Option<crate::Error>,
    }
    let state = State {
        body: Some(body),
        decoder,
        pending: VecDeque::new(),
        scratch: Vec::new(),
        error: None,
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(chunk) = st.pending.pop_front() {
                return Some((Ok(chunk), st));
            }
            if let Some(e) = st.error.take() {
                return Some((Err(e), st));
            }
            let body = st.body.as_mut()?;
            let result = match body.next().await {
                Some(Ok(bytes)) => st.decoder.push(&bytes, &mut st.scratch),
                Some(Err(e)) => Err(e),
                None => st
                    .decoder
                    .finish(&mut st.scratch)
                    .map(|()| DecodeStatus::Done),
            };
            st.pending.extend(st.scratch.drain(..));
            match result {
                Ok(DecodeStatus::More) => {}
                Ok(DecodeStatus::Done) => st.body = None,
                Err(e) => {
                    st.body = None;
                    st.error = Some(e);
                }
            }
        }
    }))
}

/// Run `decoder` over a body that arrives as `pieces`, as [`decode_stream`]
/// does (stop reading at [`DecodeStatus::Done`], then finish): the chunks,
/// or the first error. For replaying captured bodies and split-point tests.
pub fn decode_pieces<D: StreamDecoder>(
    decoder: &mut D,
    pieces: &[&[u8]],
) -> Result<Vec<ChatCompletionChunk>> {
    let (out, end) = replay(decoder, pieces);
    end.map(|()| out)
}

/// Like [`decode_pieces`], but keeps the chunks decoded before an error, as
/// a caller of [`decode_stream`] receives them: the chunks, and how the
/// stream ended.
pub fn replay<D: StreamDecoder>(
    decoder: &mut D,
    pieces: &[&[u8]],
) -> (Vec<ChatCompletionChunk>, Result<()>) {
    fn run<D: StreamDecoder>(
        decoder: &mut D,
        pieces: &[&[u8]],
        out: &mut Vec<ChatCompletionChunk>,
    ) -> Result<()> {
        for piece in pieces {
            if decoder.push(piece, out)? == DecodeStatus::Done {
                return decoder.finish(out);
            }
        }
        decoder.finish(out)
    }
    let mut out = Vec::new();
    let end = run(decoder, pieces, &mut out);
    (out, end)
}

/// `chunks` as JSON values, the form replay tests and captures compare.
pub fn chunks_to_json(chunks: &[ChatCompletionChunk]) -> Result<Vec<Value>> {
    chunks
        .iter()
        .map(|c| {
            serde_json::to_value(c)
                .map_err(|e| crate::Error::bad_gateway(format!("cannot encode a chunk: {e}")))
        })
        .collect()
}

/// The `ApiConnection` error of a stream whose body ended before its
/// terminal event (`missing`, e.g. `message-end`): never a clean end.
pub fn ended_early(provider: &str, model: &str, missing: &str) -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::ApiConnection,
        format!("upstream stream ended before it was complete (no {missing})"),
    )
    .with_provider(provider)
    .with_model(model)
}

/// Where a provider stream's chunks come from: the provider (named in
/// errors), the model and the `created` time every chunk carries. A stream
/// decoder is built from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSource {
    /// The provider prefix.
    pub provider: String,
    /// The model the chunks answer for.
    pub model: String,
    /// Seconds since the epoch, the same on every chunk.
    pub created: u64,
}

impl ChunkSource {
    /// Chunks of `provider` answering for `model`, created now.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self::at(provider, model, crate::unix_now())
    }

    /// Like [`new`](Self::new) with a fixed `created` (tests, replays).
    pub fn at(provider: impl Into<String>, model: impl Into<String>, created: u64) -> Self {
        ChunkSource {
            provider: provider.into(),
            model: model.into(),
            created,
        }
    }
}

/// A chunk as a non-OpenAI stream decoder builds it: the decoder's `id`,
/// `created` and `model`, then `choices` and `usage`; no fingerprint or tier.
pub fn provider_chunk(
    id: String,
    created: u64,
    model: &str,
    choices: Vec<ChunkChoice>,
    usage: Option<Usage>,
) -> ChatCompletionChunk {
    ChatCompletionChunk {
        id,
        object: "chat.completion.chunk".into(),
        created,
        model: model.to_string(),
        choices,
        usage,
        system_fingerprint: None,
        service_tier: None,
        extra: Extra::new(),
    }
}

/// The only choice (index 0) of a single-choice stream's chunk.
pub fn first_choice(
    delta: Delta,
    logprobs: Option<Value>,
    finish_reason: Option<FinishReason>,
) -> ChunkChoice {
    ChunkChoice {
        index: 0,
        delta,
        logprobs,
        finish_reason,
        extra: Extra::new(),
    }
}

/// One streamed piece of tool call `index`: the first piece of a call
/// carries its `id` (and so type `function`) and `name`, later pieces only
/// `arguments`.
pub fn tool_call_delta(
    index: u32,
    id: Option<String>,
    name: Option<String>,
    arguments: String,
) -> ToolCallDelta {
    ToolCallDelta {
        index,
        r#type: id.as_ref().map(|_| "function".to_string()),
        id,
        function: Some(FunctionCallDelta {
            name,
            arguments: Some(arguments),
        }),
    }
}

/// A delta that carries only `call`.
pub fn tool_call_only(call: ToolCallDelta) -> Delta {
    Delta {
        tool_calls: Some(vec![call]),
        ..Default::default()
    }
}

/// Rebuilds a full [`ChatCompletion`] from streamed chunks: content and
/// reasoning concatenated, tool-call argument fragments joined by index,
/// finish reasons and the final usage kept.
#[derive(Debug, Default)]
pub struct StreamAggregator {
    id: String,
    model: String,
    created: u64,
    system_fingerprint: Option<String>,
    service_tier: Option<String>,
    choices: BTreeMap<u32, ChoiceAcc>,
    usage: Option<Usage>,
}

#[derive(Debug, Default)]
struct ChoiceAcc {
    role: Option<String>,
    content: Option<String>,
    refusal: Option<String>,
    reasoning: Option<String>,
    thinking_blocks: Vec<Value>,
    tool_calls: BTreeMap<u32, ToolCallAcc>,
    logprobs: Vec<Value>,
    finish_reason: Option<FinishReason>,
}

#[derive(Debug, Default)]
struct ToolCallAcc {
    id: String,
    r#type: String,
    name: String,
    arguments: String,
}

fn append(slot: &mut Option<String>, piece: &str) {
    slot.get_or_insert_with(String::new).push_str(piece);
}

impl StreamAggregator {
    /// An empty aggregator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fold one chunk in.
    pub fn push(&mut self, chunk: &ChatCompletionChunk) {
        if self.id.is_empty() {
            self.id.clone_from(&chunk.id);
        }
        if self.model.is_empty() {
            self.model.clone_from(&chunk.model);
        }
        if self.created == 0 {
            self.created = chunk.created;
        }
        if chunk.system_fingerprint.is_some() {
            self.system_fingerprint
                .clone_from(&chunk.system_fingerprint);
        }
        if chunk.service_tier.is_some() {
            self.service_tier.clone_from(&chunk.service_tier);
        }
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.clone());
        }
        for c in &chunk.choices {
            let acc = self.choices.entry(c.index).or_default();
            let d = &c.delta;
            if let Some(r) = &d.role {
                acc.role = Some(r.clone());
            }
            if let Some(t) = &d.content {
                append(&mut acc.content, t);
            }
            if let Some(t) = &d.refusal {
                append(&mut acc.refusal, t);
            }
            if let Some(t) = &d.reasoning_content {
                append(&mut acc.reasoning, t);
            }
            if let Some(blocks) = &d.thinking_blocks {
                acc.thinking_blocks.extend(blocks.iter().cloned());
            }
            for tc in d.tool_calls.iter().flatten() {
                let call = acc.tool_calls.entry(tc.index).or_default();
                if let Some(id) = &tc.id {
                    call.id.clone_from(id);
                }
                if let Some(t) = &tc.r#type {
                    call.r#type.clone_from(t);
                }
                if let Some(f) = &tc.function {
                    if let Some(n) = &f.name {
                        call.name.push_str(n);
                    }
                    if let Some(a) = &f.arguments {
                        call.arguments.push_str(a);
                    }
                }
            }
            if let Some(Value::Object(lp)) = &c.logprobs {
                if let Some(Value::Array(items)) = lp.get("content") {
                    acc.logprobs.extend(items.iter().cloned());
                }
            }
            if c.finish_reason.is_some() {
                acc.finish_reason.clone_from(&c.finish_reason);
            }
        }
    }

    /// The completion the chunks add up to.
    pub fn finish(self) -> ChatCompletion {
        let choices = self
            .choices
            .into_iter()
            .map(|(index, acc)| {
                let tool_calls: Vec<ToolCall> = acc
                    .tool_calls
                    .into_values()
                    .map(|t| ToolCall {
                        id: t.id,
                        r#type: if t.r#type.is_empty() {
                            "function".into()
                        } else {
                            t.r#type
                        },
                        function: FunctionCall {
                            name: t.name,
                            arguments: t.arguments,
                        },
                    })
                    .collect();
                Choice {
                    index,
                    message: ResponseMessage {
                        role: acc.role.unwrap_or_else(|| "assistant".into()),
                        content: acc.content,
                        refusal: acc.refusal,
                        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                        reasoning_content: acc.reasoning,
                        thinking_blocks: (!acc.thinking_blocks.is_empty())
                            .then_some(acc.thinking_blocks),
                        ..Default::default()
                    },
                    logprobs: (!acc.logprobs.is_empty())
                        .then(|| serde_json::json!({ "content": acc.logprobs })),
                    finish_reason: acc.finish_reason,
                    extra: Extra::new(),
                }
            })
            .collect();
        ChatCompletion {
            id: self.id,
            object: "chat.completion".into(),
            created: self.created,
            model: self.model,
            choices,
            usage: self.usage,
            system_fingerprint: self.system_fingerprint,
            service_tier: self.service_tier,
            extra: Extra::new(),
        }
    }
}

/// Collect a whole stream into one completion (fails on the first error).
pub async fn collect_stream(mut stream: ChatStream) -> Result<ChatCompletion> {
    let mut agg = StreamAggregator::new();
    while let Some(chunk) = stream.next().await {
        agg.push(&chunk?);
    }
    Ok(agg.finish())
}

/// The chunks a stream of `completion` would have had: per choice, a chunk
/// with the role and the whole content / reasoning / tool calls, then a chunk
/// with the finish reason; finally a usage chunk when the completion has usage.
/// Used to replay a stored completion to a streaming caller.
pub fn completion_to_chunks(completion: &ChatCompletion) -> Vec<ChatCompletionChunk> {
    let base = |choices: Vec<ChunkChoice>, usage: Option<Usage>| ChatCompletionChunk {
        id: completion.id.clone(),
        object: "chat.completion.chunk".into(),
        created: completion.created,
        model: completion.model.clone(),
        choices,
        usage,
        system_fingerprint: completion.system_fingerprint.clone(),
        service_tier: completion.service_tier.clone(),
        extra: Extra::new(),
    };
    let mut out = Vec::new();
    for c in &completion.choices {
        let m = &c.message;
        let tool_calls = m.tool_calls.as_ref().map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(i, t)| ToolCallDelta {
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    id: Some(t.id.clone()),
                    r#type: Some(t.r#type.clone()),
                    function: Some(FunctionCallDelta {
                        name: Some(t.function.name.clone()),
                        arguments: Some(t.function.arguments.clone()),
                    }),
                })
                .collect()
        });
        out.push(base(
            vec![ChunkChoice {
                index: c.index,
                delta: Delta {
                    role: Some(m.role.clone()),
                    content: m.content.clone(),
                    refusal: m.refusal.clone(),
                    reasoning_content: m.reasoning_content.clone(),
                    thinking_blocks: m.thinking_blocks.clone(),
                    tool_calls,
                    ..Default::default()
                },
                logprobs: c.logprobs.clone(),
                finish_reason: None,
                extra: Extra::new(),
            }],
            None,
        ));
        out.push(base(
            vec![ChunkChoice {
                index: c.index,
                delta: Delta::default(),
                logprobs: None,
                finish_reason: c.finish_reason.clone(),
                extra: Extra::new(),
            }],
            None,
        ));
    }
    if let Some(u) = &completion.usage {
        out.push(base(Vec::new(), Some(u.clone())));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::chat::ToolCall;

    #[test]
    fn chunks_of_a_completion_aggregate_back_to_it() {
        let completion = ChatCompletion {
            id: "chatcmpl-1".into(),
            object: "chat.completion".into(),
            created: 7,
            model: "m".into(),
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage {
                    content: Some("hi".into()),
                    reasoning_content: Some("because".into()),
                    tool_calls: Some(vec![ToolCall::function("c1", "f", "{\"a\":1}")]),
                    ..Default::default()
                },
                logprobs: None,
                finish_reason: Some(FinishReason::ToolCalls),
                extra: Extra::new(),
            }],
            usage: Some(Usage::new(3, 4)),
            system_fingerprint: Some("fp".into()),
            service_tier: None,
            extra: Extra::new(),
        };
        let chunks = completion_to_chunks(&completion);
        assert_eq!(chunks.len(), 3);
        let mut agg = StreamAggregator::new();
        for c in &chunks {
            agg.push(c);
        }
        assert_eq!(agg.finish(), completion);
    }
}
