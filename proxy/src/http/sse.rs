//! The client side of a streamed chat completion.
//!
//! Chunks are written as they arrive: the body is a pull-based stream, so a
//! slow client slows the upstream read (TCP backpressure) instead of growing a
//! buffer, and a client that goes away drops the stream, which closes the
//! upstream connection. Idle periods get `: keep-alive` comments. A failure
//! after the response has started ends the stream with an in-band
//! OpenAI-format `{"error": …}` event and no `[DONE]`, so clients can tell it
//! from a clean end.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use llmux_core::{ChatCompletionChunk, ChatStream, Error};

use crate::pricing::UsageTracker;

/// How a stream ended, reported once (also when the client disconnects).
#[derive(Debug, Default)]
pub(crate) struct StreamOutcome {
    /// The usage the upstream reported, or what it takes to estimate it.
    pub usage: UsageTracker,
    /// The error that ended it, if one did.
    pub error: Option<Error>,
    /// Reached the upstream's end and sent `[DONE]`.
    pub completed: bool,
    /// Chunks sent to the client.
    pub chunks: u64,
}

/// Serializes one chunk for the client (chat chunks as they are; the legacy
/// completions route re-shapes them).
pub(crate) type ChunkEncoder = fn(&llmux_core::ChatCompletionChunk) -> serde_json::Result<Vec<u8>>;

/// Options of one streamed response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SseOptions {
    /// How chunks are written.
    pub encode: ChunkEncoder,
    /// The client asked for `stream_options.include_usage`; otherwise usage
    /// (requested upstream for pricing) is removed from what it receives.
    pub client_wants_usage: bool,
    /// Send a comment after this much silence.
    pub keep_alive: Duration,
}

type OnEnd = Box<dyn FnOnce(StreamOutcome) + Send>;

struct State {
    inner: ChatStream,
    options: SseOptions,
    /// The first chunk's id, model and creation time, kept when the client
    /// asked for usage, to carry an estimated usage chunk if the upstream
    /// sends none.
    usage_chunk: Option<ChatCompletionChunk>,
    outcome: StreamOutcome,
    on_end: Option<OnEnd>,
    finished: bool,
}

impl State {
    fn end(&mut self) {
        if let Some(f) = self.on_end.take() {
            f(std::mem::take(&mut self.outcome));
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // Client went away (or the server is shutting down) mid-stream.
        self.end();
    }
}

/// `data: <json>\n\n`
pub(crate) fn data_frame(json: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// The SSE byte stream for `inner`; `on_end` runs exactly once, with
/// `usage` having seen every chunk.
pub(crate) fn sse_stream(
    inner: ChatStream,
    options: SseOptions,
    usage: UsageTracker,
    on_end: impl FnOnce(StreamOutcome) + Send + 'static,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    let state = State {
        inner,
        options,
        usage_chunk: None,
        outcome: StreamOutcome {
            usage,
            ..StreamOutcome::default()
        },
        on_end: Some(Box::new(on_end)),
        finished: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.finished {
                return None;
            }
            let next = match tokio::time::timeout(st.options.keep_alive, st.inner.next()).await {
                Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), st)),
                Ok(next) => next,
            };
            match next {
                Some(Ok(mut chunk)) => {
                    st.outcome.usage.observe_chunk(&chunk);
                    if st.options.client_wants_usage && st.usage_chunk.is_none() {
                        st.usage_chunk = Some(ChatCompletionChunk {
                            id: chunk.id.clone(),
                            object: chunk.object.clone(),
                            created: chunk.created,
                            model: chunk.model.clone(),
                            system_fingerprint: chunk.system_fingerprint.clone(),
                            ..ChatCompletionChunk::default()
                        });
                    }
                    if chunk.usage.is_some() && !st.options.client_wants_usage {
                        if chunk.choices.is_empty() {
                            continue;
                        }
                        chunk.usage = None;
                    }
                    let Ok(json) = (st.options.encode)(&chunk) else {
                        continue;
                    };
                    st.outcome.chunks += 1;
                    return Some((Ok(data_frame(&json)), st));
                }
                Some(Err(e)) => {
                    st.finished = true;
                    let frame = data_frame(e.to_openai_json().as_bytes());
                    st.outcome.error = Some(e);
                    st.end();
                    return Some((Ok(frame), st));
                }
                None => {
                    st.finished = true;
                    st.outcome.completed = true;
                    let mut tail = Vec::new();
                    if !st.outcome.usage.is_reported() {
                        // The client asked for usage and the upstream sent
                        // none: it gets the estimate the call is priced at.
                        if let Some(mut last) = st.usage_chunk.take() {
                            last.usage = Some(st.outcome.usage.usage());
                            if let Ok(json) = (st.options.encode)(&last) {
                                tail.extend_from_slice(&data_frame(&json));
                            }
                        }
                    }
                    tail.extend_from_slice(b"data: [DONE]\n\n");
                    st.end();
                    return Some((Ok(Bytes::from(tail)), st));
                }
            }
        }
    })
}
