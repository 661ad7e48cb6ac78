//! Claude through Bedrock's InvokeModel: Anthropic's Messages API in the
//! body (see `llmux_anthropic::platform`), the answer Anthropic's own, and
//! a streamed answer an event stream whose `chunk` frames each carry one
//! Anthropic event, base64-encoded. [`SseFromEventStream`] re-frames that
//! stream as Anthropic's SSE, so `/v1/messages` clients get Anthropic's
//! stream and chat streams are read by Anthropic's decoder.

use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt;
use llmux_core::stream::{ByteStream, DecodeStatus, StreamDecoder};
use llmux_core::types::chat::ChatCompletionChunk;
use llmux_core::Result;
use serde_json::Value;

use crate::stream::{EventStreamDecoder, Frame};
use crate::PROVIDER;

/// Whether `model` (a Bedrock model id, maybe a cross-region inference
/// profile such as `us.anthropic.claude-…`) is a Claude model.
pub fn is_claude(model: &str) -> bool {
    let id = model.strip_prefix("invoke/").unwrap_or(model);
    id.contains("anthropic.claude")
}

/// Turns a streamed InvokeModel answer into Anthropic's SSE text.
#[derive(Debug, Default)]
pub struct SseFromEventStream {
    frames: EventStreamDecoder,
}

impl SseFromEventStream {
    /// Take in wire bytes; append the SSE text of every frame they complete.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.frames.push(bytes);
        while let Some(frame) = self.frames.next_frame()? {
            write_frame(&frame, out);
        }
        Ok(())
    }

    /// Whether an unfinished frame is buffered (the stream was cut).
    pub fn has_partial_frame(&self) -> bool {
        self.frames.has_partial_frame()
    }
}

/// One frame as SSE: a `chunk`'s Anthropic event as `event: {type}`, an
/// exception as Anthropic's `error` event; anything else is skipped.
fn write_frame(frame: &Frame, out: &mut Vec<u8>) {
    if frame.header(":message-type") == Some("exception") {
        let kind = frame
            .header(":exception-type")
            .unwrap_or("internalServerException");
        let e = crate::error::stream_exception(PROVIDER, kind, &frame.payload);
        let body =
            serde_json::to_vec(&llmux_anthropic::inbound::error_body(&e)).unwrap_or_default();
        write_event(out, "error", &body);
        return;
    }
    let inner = serde_json::from_slice::<Value>(&frame.payload)
        .ok()
        .and_then(|p| p.get("bytes")?.as_str().map(str::to_string))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    let Some(inner) = inner else {
        return;
    };
    let kind = serde_json::from_slice::<Value>(&inner)
        .ok()
        .and_then(|v| v.get("type")?.as_str().map(str::to_string));
    if let Some(kind) = kind {
        write_event(out, &kind, &inner);
    }
}

fn write_event(out: &mut Vec<u8>, event: &str, data: &[u8]) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

/// A streamed InvokeModel body as Anthropic's SSE body.
pub fn as_sse(body: ByteStream) -> ByteStream {
    let state = (body, SseFromEventStream::default(), false);
    Box::pin(futures::stream::unfold(
        state,
        |(mut body, mut sse, done)| async move {
            if done {
                return None;
            }
            loop {
                match body.next().await {
                    Some(Ok(bytes)) => {
                        let mut out = Vec::new();
                        if let Err(e) = sse.push(&bytes, &mut out) {
                            return Some((Err(e), (body, sse, true)));
                        }
                        if !out.is_empty() {
                            return Some((Ok(Bytes::from(out)), (body, sse, false)));
                        }
                    }
                    Some(Err(e)) => return Some((Err(e), (body, sse, true))),
                    None => return None,
                }
            }
        },
    ))
}

/// A chat stream over InvokeModel: event-stream frames → Anthropic SSE →
/// Anthropic's chat decoder.
pub struct InvokeStreamDecoder {
    sse: SseFromEventStream,
    inner: llmux_anthropic::stream::AnthropicStreamDecoder,
    scratch: Vec<u8>,
}

impl InvokeStreamDecoder {
    /// Decode for `inner`.
    pub fn new(inner: llmux_anthropic::stream::AnthropicStreamDecoder) -> Self {
        InvokeStreamDecoder {
            sse: SseFromEventStream::default(),
            inner,
            scratch: Vec::new(),
        }
    }
}

impl StreamDecoder for InvokeStreamDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<ChatCompletionChunk>) -> Result<DecodeStatus> {
        self.scratch.clear();
        self.sse.push(bytes, &mut self.scratch)?;
        self.inner.push(&self.scratch, out)
    }

    fn finish(&mut self, out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        self.inner.finish(out)
    }
}
