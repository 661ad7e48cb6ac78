//! ConverseStream: the binary AWS event-stream framing, and its events as
//! OpenAI chunks.
//!
//! [`EventStreamDecoder`] frames bytes into messages with
//! `aws-smithy-eventstream` (prelude and message CRC-32s checked, headers
//! typed). It checks each prelude's CRC and length as soon as its 12 bytes
//! arrive, so a corrupted length cannot make it wait for gigabytes, and
//! refuses frames over 16 MiB. Bytes may arrive split anywhere.
//!
//! [`BedrockStreamDecoder`] turns the frames into chunks:
//!
//! | frame (`:event-type`)   | chunk                                                   |
//! |-------------------------|---------------------------------------------------------|
//! | `messageStart`          | `delta.role = "assistant"`                              |
//! | `contentBlockStart` with `toolUse` | a tool call delta with id and name, `arguments: ""` |
//! | `contentBlockDelta` `text` | `delta.content`                                      |
//! | `contentBlockDelta` `toolUse.input` | a tool call delta with an arguments fragment |
//! | `contentBlockDelta` `reasoningContent.text` | `delta.reasoning_content`           |
//! | `contentBlockStop` of a reasoning block | `delta.thinking_blocks` with the whole block and its signature |
//! | `messageStop`           | `finish_reason`                                         |
//! | `metadata`              | a final chunk with `usage` and no choices; the stream ends |
//!
//! `:message-type: exception` frames (`throttlingException`, …) end the stream
//! with the mapped error, as do `:message-type: error` frames. A body that ends
//! before `messageStop`, or inside a frame, is an `ApiConnection` error.

use std::collections::HashMap;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use base64::Engine as _;
use bytes::{Buf, BytesMut};
use llmux_core::stream::{
    first_choice, provider_chunk, tool_call_delta, tool_call_only, DecodeStatus, StreamDecoder,
};
use llmux_core::types::chat::{ChatCompletionChunk, Delta, FinishReason, Usage};
use llmux_core::{Error, ErrorKind, Result};
use serde_json::{json, Value};

use crate::error::stream_exception;
use crate::response::{completion_id, finish_reason, thinking_block, ConverseUsage};

/// Largest frame accepted (AWS event-stream messages are at most 16 MiB).
pub const MAX_FRAME_LEN: u32 = 16 * 1024 * 1024;
const PRELUDE_LEN: usize = 12;
/// Prelude plus message CRC.
const MIN_FRAME_LEN: u32 = 16;

/// One decoded event-stream message: its string headers and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Headers whose values are strings (the only kind Bedrock sends), in order.
    pub headers: Vec<(String, String)>,
    /// The payload bytes (JSON for Bedrock).
    pub payload: bytes::Bytes,
}

impl Frame {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Incremental AWS event-stream framer.
#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    buf: BytesMut,
    frames: MessageFrameDecoder,
    /// The current frame's prelude has been checked (and handed to `frames`).
    in_frame: bool,
}

fn malformed(what: impl std::fmt::Display) -> Error {
    Error::bad_gateway(format!("malformed AWS event stream: {what}"))
}

impl EventStreamDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append bytes read from the wire.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether bytes of an unfinished frame are buffered.
    pub fn has_partial_frame(&self) -> bool {
        self.in_frame || !self.buf.is_empty()
    }

    /// The next complete frame, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        if !self.in_frame {
            if self.buf.len() < PRELUDE_LEN {
                return Ok(None);
            }
            let p = &self.buf[..PRELUDE_LEN];
            let total = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
            let headers = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
            let crc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
            if crc32fast::hash(&p[..8]) != crc {
                return Err(malformed("prelude checksum mismatch"));
            }
            if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&total) || headers > total - MIN_FRAME_LEN
            {
                return Err(malformed(format!(
                    "frame length {total} (headers {headers}) out of range"
                )));
            }
            self.in_frame = true;
        }
        match self.frames.decode_frame(&mut self.buf).map_err(malformed)? {
            DecodedFrame::Incomplete => Ok(None),
            DecodedFrame::Complete(message) => {
                self.in_frame = false;
                let mut headers = Vec::with_capacity(message.headers().len());
                for h in message.headers() {
                    if let Ok(v) = h.value().as_string() {
                        headers.push((h.name().as_str().to_string(), v.as_str().to_string()));
                    }
                }
                Ok(Some(Frame {
                    headers,
                    payload: message.payload().clone(),
                }))
            }
        }
    }

    /// Bytes buffered and not yet framed (for tests).
    pub fn buffered(&self) -> usize {
        self.buf.remaining()
    }
}

/// Decodes a ConverseStream body into OpenAI chunks.
#[derive(Debug)]
pub struct BedrockStreamDecoder {
    provider: String,
    model: String,
    created: u64,
    id: String,
    frames: EventStreamDecoder,
    /// contentBlockIndex → tool call index.
    tool_index: HashMap<u64, u32>,
    /// contentBlockIndex → (reasoning text, signature) of reasoning blocks.
    reasoning: HashMap<u64, (String, Option<String>)>,
    stopped: bool,
    done: bool,
    /// `response_format` is answered through the `json_tool_call` tool.
    json_mode: bool,
    /// contentBlockIndex of that tool's block, whose input is content.
    json_block: Option<u64>,
}

impl BedrockStreamDecoder {
    /// Read the `json_tool_call` tool's input as the answer's content.
    pub fn with_json_mode(mut self, json_mode: bool) -> Self {
        self.json_mode = json_mode;
        self
    }

    /// A decoder for `provider`'s stream answering for `model`; `request_id`
    /// (the `x-amzn-RequestId` response header) makes the chunk id.
    pub fn new(
        provider: impl Into<String>,
        model: impl Into<String>,
        request_id: Option<&str>,
    ) -> Self {
        Self::with_created(provider, model, request_id, llmux_core::unix_now())
    }

    /// Like [`new`](Self::new) with a fixed `created` timestamp.
    pub fn with_created(
        provider: impl Into<String>,
        model: impl Into<String>,
        request_id: Option<&str>,
        created: u64,
    ) -> Self {
        BedrockStreamDecoder {
            provider: provider.into(),
            model: model.into(),
            created,
            id: completion_id(request_id),
            frames: EventStreamDecoder::new(),
            tool_index: HashMap::new(),
            reasoning: HashMap::new(),
            stopped: false,
            done: false,
            json_mode: false,
            json_block: None,
        }
    }

    fn chunk(&self, delta: Delta, finish: Option<FinishReason>) -> ChatCompletionChunk {
        provider_chunk(
            self.id.clone(),
            self.created,
            &self.model,
            vec![first_choice(delta, None, finish)],
            None,
        )
    }

    fn fail(&self, e: Error) -> Error {
        e.with_provider(self.provider.clone())
            .with_model(self.model.clone())
    }

    fn tool_delta(index: u32, id: Option<String>, name: Option<String>, args: String) -> Delta {
        tool_call_only(tool_call_delta(index, id, name, args))
    }

    fn handle(&mut self, frame: Frame, out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        match frame.header(":message-type") {
            Some("event") => {}
            Some("exception") => {
                let kind = frame
                    .header(":exception-type")
                    .unwrap_or("unknownException");
                return Err(self.fail(stream_exception(&self.provider, kind, &frame.payload)));
            }
            Some("error") => {
                let code = frame.header(":error-code").unwrap_or("UnknownError");
                let message = frame
                    .header(":error-message")
                    .unwrap_or("upstream stream error");
                let kind =
                    crate::error::kind_for_exception(code).unwrap_or(ErrorKind::InternalServer);
                return Err(self.fail(Error::new(kind, format!("{code}: {message}"))));
            }
            other => {
                return Err(self.fail(malformed(format!("unexpected :message-type {other:?}"))))
            }
        }
        let event = frame.header(":event-type").unwrap_or_default().to_string();
        let payload: Value = serde_json::from_slice(&frame.payload).map_err(|e| {
            self.fail(Error::bad_gateway(format!(
                "cannot decode {event} event: {e}"
            )))
        })?;
        let block_index = payload
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        match event.as_str() {
            "messageStart" => {
                let role = payload
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or("assistant");
                let delta = Delta {
                    role: Some(role.to_string()),
                    ..Default::default()
                };
                out.push(self.chunk(delta, None));
            }
            "contentBlockStart" => {
                if let Some(tool) = payload.pointer("/start/toolUse") {
                    let name = tool.get("name").and_then(Value::as_str);
                    if self.json_mode && name == Some(crate::request::JSON_TOOL_NAME) {
                        self.json_block = Some(block_index);
                        return Ok(());
                    }
                    let index = u32::try_from(self.tool_index.len()).unwrap_or(u32::MAX);
                    self.tool_index.insert(block_index, index);
                    let id = tool
                        .get("toolUseId")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
                    let delta =
                        Self::tool_delta(index, Some(id.into()), Some(name.into()), String::new());
                    out.push(self.chunk(delta, None));
                }
            }
            "contentBlockDelta" => {
                let Some(delta) = payload.get("delta") else {
                    return Ok(());
                };
                if let Some(t) = delta.get("text").and_then(Value::as_str) {
                    let d = Delta {
                        content: Some(t.to_string()),
                        ..Default::default()
                    };
                    out.push(self.chunk(d, None));
                } else if let Some(input) = delta.pointer("/toolUse/input").and_then(Value::as_str)
                {
                    if self.json_block == Some(block_index) {
                        let d = Delta {
                            content: Some(input.to_string()),
                            ..Default::default()
                        };
                        out.push(self.chunk(d, None));
                        return Ok(());
                    }
                    let index = match self.tool_index.get(&block_index) {
                        Some(i) => *i,
                        None => {
                            return Err(self.fail(Error::bad_gateway(format!(
                                "toolUse delta for content block {block_index} that did not start a tool call"
                            ))))
                        }
                    };
                    out.push(
                        self.chunk(Self::tool_delta(index, None, None, input.to_string()), None),
                    );
                } else if let Some(r) = delta.get("reasoningContent") {
                    if let Some(t) = r.get("text").and_then(Value::as_str) {
                        self.reasoning.entry(block_index).or_default().0.push_str(t);
                        let d = Delta {
                            reasoning_content: Some(t.to_string()),
                            ..Default::default()
                        };
                        out.push(self.chunk(d, None));
                    }
                    if let Some(s) = r.get("signature").and_then(Value::as_str) {
                        let entry = self.reasoning.entry(block_index).or_default();
                        entry.1.get_or_insert_with(String::new).push_str(s);
                    }
                    if let Some(data) = r.get("redactedContent").and_then(Value::as_str) {
                        let block = json!({"redactedContent": data});
                        let d = Delta {
                            thinking_blocks: thinking_block(&block).map(|b| vec![b]),
                            ..Default::default()
                        };
                        out.push(self.chunk(d, None));
                    }
                }
            }
            "contentBlockStop" => {
                if let Some((text, signature)) = self.reasoning.remove(&block_index) {
                    if !text.is_empty() || signature.is_some() {
                        let mut rt = json!({"text": text});
                        if let Some(s) = signature {
                            rt["signature"] = json!(s);
                        }
                        let d = Delta {
                            thinking_blocks: thinking_block(&json!({"reasoningText": rt}))
                                .map(|b| vec![b]),
                            ..Default::default()
                        };
                        out.push(self.chunk(d, None));
                    }
                }
            }
            "messageStop" => {
                let reason = payload
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .map(|r| match r {
                        "tool_use" if self.json_block.is_some() && self.tool_index.is_empty() => {
                            FinishReason::Stop
                        }
                        r => finish_reason(r),
                    })
                    .unwrap_or(FinishReason::Stop);
                self.stopped = true;
                out.push(self.chunk(Delta::default(), Some(reason)));
            }
            "metadata" => {
                if let Some(u) = payload.get("usage") {
                    let usage: ConverseUsage = serde_json::from_value(u.clone()).map_err(|e| {
                        self.fail(Error::bad_gateway(format!(
                            "cannot decode metadata usage: {e}"
                        )))
                    })?;
                    let usage: Usage = usage.to_usage();
                    let mut c = self.chunk(Delta::default(), None);
                    c.choices.clear();
                    c.usage = Some(usage);
                    out.push(c);
                }
                self.done = true;
            }
            // Events this version does not know are skipped.
            _ => {}
        }
        Ok(())
    }
}

impl StreamDecoder for BedrockStreamDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<ChatCompletionChunk>) -> Result<DecodeStatus> {
        if self.done {
            return Ok(DecodeStatus::Done);
        }
        self.frames.push(bytes);
        while let Some(frame) = self.frames.next_frame().map_err(|e| self.fail(e))? {
            self.handle(frame, out)?;
            if self.done {
                return Ok(DecodeStatus::Done);
            }
        }
        Ok(DecodeStatus::More)
    }

    fn finish(&mut self, _out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        if self.done {
            return Ok(());
        }
        if !self.stopped || self.frames.has_partial_frame() {
            return Err(self.fail(Error::new(
                ErrorKind::ApiConnection,
                if self.stopped {
                    "upstream stream ended inside an event-stream frame"
                } else {
                    "upstream stream ended before it was complete (no messageStop)"
                },
            )));
        }
        Ok(())
    }
}

/// Reads the usage of a pass-through Bedrock answer: InvokeModel's
/// `x-amzn-bedrock-input-token-count` / `-output-token-count` headers,
/// Converse's `usage`, ConverseStream's `metadata` event, the
/// `amazon-bedrock-invocationMetrics` of a streamed InvokeModel's last
/// chunk, or an Anthropic-shaped body or chunk.
pub struct PassThroughUsage {
    from_headers: Option<Usage>,
    frames: Option<EventStreamDecoder>,
    whole: llmux_core::pass_through::DocumentReader,
    usage: Option<Usage>,
}

impl PassThroughUsage {
    /// A reader for an answer with `headers`.
    pub fn new(headers: &http::HeaderMap) -> Self {
        let count = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let from_headers = match (
            count("x-amzn-bedrock-input-token-count"),
            count("x-amzn-bedrock-output-token-count"),
        ) {
            (None, None) => None,
            (i, o) => Some(Usage::with_cache(
                i.unwrap_or(0),
                o.unwrap_or(0),
                count("x-amzn-bedrock-cache-read-input-token-count"),
                count("x-amzn-bedrock-cache-write-input-token-count"),
            )),
        };
        let event_stream = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("eventstream"));
        PassThroughUsage {
            from_headers,
            frames: event_stream.then(EventStreamDecoder::new),
            whole: llmux_core::pass_through::DocumentReader::new(headers, document_usage),
            usage: None,
        }
    }
}

/// Converse's `usage` (also ConverseStream's `metadata` payload), an
/// invocation's metrics, else Anthropic's shape (Claude through InvokeModel).
fn document_usage(document: &Value, usage: &mut Option<Usage>) {
    if let Some(found) = document
        .get("usage")
        .filter(|u| u.get("inputTokens").is_some())
    {
        if let Ok(u) = serde_json::from_value::<ConverseUsage>(found.clone()) {
            *usage = Some(u.to_usage());
        }
    } else if let Some(m) = document.get("amazon-bedrock-invocationMetrics") {
        let count = |name: &str| m.get(name).and_then(Value::as_u64);
        *usage = Some(Usage::with_cache(
            count("inputTokenCount").unwrap_or(0),
            count("outputTokenCount").unwrap_or(0),
            count("cacheReadInputTokenCount"),
            count("cacheWriteInputTokenCount"),
        ));
    } else {
        llmux_core::pass_through::anthropic_usage(document, usage);
    }
}

impl llmux_core::pass_through::UsageReader for PassThroughUsage {
    fn push(&mut self, bytes: &[u8]) {
        let Some(frames) = &mut self.frames else {
            self.whole.push(bytes);
            return;
        };
        frames.push(bytes);
        while let Ok(Some(frame)) = frames.next_frame() {
            let Ok(payload) = serde_json::from_slice::<Value>(&frame.payload) else {
                continue;
            };
            // A streamed InvokeModel chunk carries the model's own event, base64-encoded.
            let inner = payload
                .get("bytes")
                .and_then(Value::as_str)
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            document_usage(inner.as_ref().unwrap_or(&payload), &mut self.usage);
        }
    }

    fn usage(&mut self) -> Option<Usage> {
        if self.from_headers.is_some() {
            return self.from_headers.clone();
        }
        if self.frames.is_some() {
            return self.usage.clone();
        }
        self.whole.usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::stream::{chunks_to_json, decode_pieces, replay};

    /// One event-stream frame with string headers (written from the format's
    /// description: prelude, prelude CRC, headers, payload, message CRC).
    fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        for (k, v) in headers {
            h.push(u8::try_from(k.len()).unwrap());
            h.extend_from_slice(k.as_bytes());
            h.push(7); // string
            h.extend_from_slice(&u16::try_from(v.len()).unwrap().to_be_bytes());
            h.extend_from_slice(v.as_bytes());
        }
        let total = u32::try_from(16 + h.len() + payload.len()).unwrap();
        let mut out = Vec::new();
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&u32::try_from(h.len()).unwrap().to_be_bytes());
        let prelude_crc = crc32fast::hash(&out);
        out.extend_from_slice(&prelude_crc.to_be_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(payload);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    fn event(kind: &str, payload: Value) -> Vec<u8> {
        frame(
            &[
                (":event-type", kind),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload.to_string().as_bytes(),
        )
    }

    fn body() -> Vec<u8> {
        [
            event("messageStart", json!({"p": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN", "role": "assistant"})),
            event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Think é"}}, "p": "abcd"})),
            event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig-xyz"}}, "p": "abcd"})),
            event("contentBlockStop", json!({"contentBlockIndex": 0, "p": "ab"})),
            event("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"text": "Héllo 😀"}, "p": "abcdef"})),
            event("contentBlockStop", json!({"contentBlockIndex": 1, "p": "abc"})),
            event("contentBlockStart", json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}}, "p": "a"})),
            event("contentBlockDelta", json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"city\":"}}, "p": "a"})),
            event("contentBlockDelta", json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "\"Paris\"}"}}, "p": "a"})),
            event("contentBlockStop", json!({"contentBlockIndex": 2, "p": "abcdefgh"})),
            event("messageStop", json!({"stopReason": "tool_use", "p": "abcdefghijklmnop"})),
            event("metadata", json!({"usage": {"inputTokens": 12, "outputTokens": 34, "totalTokens": 46}, "metrics": {"latencyMs": 512}, "p": "abcdefghi"})),
        ]
        .concat()
    }

    fn expected() -> Vec<Value> {
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "chatcmpl-req-9", "object": "chat.completion.chunk", "created": 7, "model": "m",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        vec![
            chunk(json!({"role": "assistant"}), Value::Null),
            chunk(json!({"reasoning_content": "Think é"}), Value::Null),
            chunk(
                json!({"thinking_blocks": [{"type": "thinking", "thinking": "Think é", "signature": "sig-xyz"}]}),
                Value::Null,
            ),
            chunk(json!({"content": "Héllo 😀"}), Value::Null),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
            json!({"id": "chatcmpl-req-9", "object": "chat.completion.chunk", "created": 7, "model": "m", "choices": [],
                   "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46}}),
        ]
    }

    fn decode_all(pieces: &[&[u8]]) -> Result<Vec<Value>> {
        let mut d = BedrockStreamDecoder::with_created("bedrock", "m", Some("req-9"), 7);
        chunks_to_json(&decode_pieces(&mut d, pieces)?)
    }

    #[test]
    fn decodes_whole_body() {
        assert_eq!(decode_all(&[&body()]).unwrap(), expected());
    }

    #[test]
    fn decodes_from_every_split_point_and_byte_by_byte() {
        let body = body();
        for i in 0..=body.len() {
            let (a, b) = body.split_at(i);
            assert_eq!(decode_all(&[a, b]).unwrap(), expected(), "split at {i}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(decode_all(&bytes).unwrap(), expected());
        // Three pieces at pseudo-random points.
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..200 {
            let a = rng.usize(0..=body.len());
            let b = rng.usize(a..=body.len());
            assert_eq!(
                decode_all(&[&body[..a], &body[a..b], &body[b..]]).unwrap(),
                expected(),
                "{a}/{b}"
            );
        }
    }

    #[test]
    fn every_corrupted_byte_is_an_error_not_a_panic() {
        let one = event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "hi"}}),
        );
        for i in 0..one.len() {
            let mut bad = one.clone();
            bad[i] ^= 0x5A;
            let mut d = EventStreamDecoder::new();
            d.push(&bad);
            match d.next_frame() {
                Err(e) => assert_eq!(e.kind, ErrorKind::BadGateway, "byte {i}"),
                // A corrupted length can make the frame look longer than
                // the bytes so far: no frame yet, never a wrong one.
                Ok(None) => assert!(i < 4, "byte {i} gave no error"),
                Ok(Some(f)) => panic!("byte {i}: corrupted frame decoded as {f:?}"),
            }
        }
    }

    #[test]
    fn bad_crc_in_a_stream_is_a_bad_gateway_error() {
        let mut b = body();
        let last = b.len() - 1;
        b[last] ^= 1; // message CRC of the metadata frame
        let err = decode_all(&[&b]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadGateway);
        assert!(
            err.message.starts_with("malformed AWS event stream"),
            "{}",
            err.message
        );
        assert_eq!(err.provider.as_deref(), Some("bedrock"));
        let mut b = body();
        b[9] ^= 1; // prelude CRC of the first frame
        assert_eq!(
            decode_all(&[&b]).unwrap_err().message,
            "malformed AWS event stream: prelude checksum mismatch"
        );
    }

    #[test]
    fn oversized_frames_are_refused_up_front() {
        let mut p = Vec::new();
        p.extend_from_slice(&(MAX_FRAME_LEN + 1).to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        let crc = crc32fast::hash(&p);
        p.extend_from_slice(&crc.to_be_bytes());
        let mut d = EventStreamDecoder::new();
        d.push(&p);
        assert!(d.next_frame().unwrap_err().message.contains("out of range"));
    }

    #[test]
    fn truncated_streams_are_connection_errors() {
        let b = body();
        let stop = b.len() - event("metadata", json!({"usage": {"inputTokens": 12, "outputTokens": 34, "totalTokens": 46}, "metrics": {"latencyMs": 512}, "p": "abcdefghi"})).len();
        // Ends after messageStop without metadata: complete, no usage chunk.
        let got = decode_all(&[&b[..stop]]).unwrap();
        assert_eq!(got, expected()[..8].to_vec());
        // Ends inside the metadata frame, or before messageStop.
        for cut in [stop + 5, stop - 3, 0] {
            let err = decode_all(&[&b[..cut]]).unwrap_err();
            assert_eq!(err.kind, ErrorKind::ApiConnection, "cut at {cut}");
        }
    }

    #[test]
    fn exception_and_error_frames_end_the_stream() {
        let mut b = event("messageStart", json!({"role": "assistant"}));
        b.extend(frame(
            &[
                (":exception-type", "throttlingException"),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            br#"{"message":"Too many tokens, please wait before trying again."}"#,
        ));
        let (out, end) = replay(
            &mut BedrockStreamDecoder::with_created("bedrock", "m", None, 1),
            &[&b],
        );
        let err = end.unwrap_err();
        assert_eq!(out.len(), 1);
        assert_eq!(err.kind, ErrorKind::RateLimit);
        assert_eq!(
            err.message,
            "Too many tokens, please wait before trying again."
        );
        assert_eq!(err.model.as_deref(), Some("m"));

        let b = frame(
            &[
                (":message-type", "error"),
                (":error-code", "InternalFailure"),
                (":error-message", "boom"),
            ],
            b"",
        );
        let err = decode_all(&[&b]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InternalServer);
        assert_eq!(err.message, "InternalFailure: boom");

        let b = event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}),
        );
        assert_eq!(decode_all(&[&b]).unwrap_err().kind, ErrorKind::BadGateway);
        let b = frame(
            &[(":event-type", "messageStart"), (":message-type", "event")],
            b"{not json",
        );
        assert_eq!(decode_all(&[&b]).unwrap_err().kind, ErrorKind::BadGateway);
    }

    #[test]
    fn unknown_events_are_skipped() {
        let mut b = event("messageStart", json!({"role": "assistant"}));
        b.extend(event("somethingNew", json!({"x": 1})));
        b.extend(event("messageStop", json!({"stopReason": "end_turn"})));
        let got = decode_all(&[&b]).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1]["choices"][0]["finish_reason"], json!("stop"));
    }
}

#[cfg(test)]
mod fuzz_smoke {
    //! The fuzz target's harness (`fuzz/fuzz_targets/event_stream.rs`) run on
    //! seeded random mutations of a real stream, so CI exercises it without
    //! a nightly toolchain.

    use super::*;

    fn run(data: &[u8], at: usize) {
        let mut d = BedrockStreamDecoder::with_created("bedrock", "fuzz", None, 0);
        let mut out = Vec::new();
        for piece in [&data[..at], &data[at..]] {
            match d.push(piece, &mut out) {
                Ok(DecodeStatus::More) => {}
                Ok(DecodeStatus::Done) | Err(_) => return,
            }
        }
        let _ = d.finish(&mut out);
    }

    #[test]
    fn mutated_streams_never_panic() {
        let mut seed = Vec::new();
        for (kind, payload) in [
            ("messageStart", r#"{"role":"assistant"}"#),
            (
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":"hi"}}"#,
            ),
            ("messageStop", r#"{"stopReason":"end_turn"}"#),
        ] {
            let headers: Vec<u8> = [(":event-type", kind), (":message-type", "event")]
                .iter()
                .flat_map(|(k, v)| {
                    let mut h = vec![u8::try_from(k.len()).unwrap()];
                    h.extend_from_slice(k.as_bytes());
                    h.push(7);
                    h.extend_from_slice(&u16::try_from(v.len()).unwrap().to_be_bytes());
                    h.extend_from_slice(v.as_bytes());
                    h
                })
                .collect();
            let total = u32::try_from(16 + headers.len() + payload.len()).unwrap();
            let mut f = total.to_be_bytes().to_vec();
            f.extend_from_slice(&u32::try_from(headers.len()).unwrap().to_be_bytes());
            let c = crc32fast::hash(&f);
            f.extend_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&headers);
            f.extend_from_slice(payload.as_bytes());
            let c = crc32fast::hash(&f);
            f.extend_from_slice(&c.to_be_bytes());
            seed.extend(f);
        }
        let mut rng = fastrand::Rng::with_seed(0x00be_d70c);
        for _ in 0..20_000 {
            let mut data = seed.clone();
            for _ in 0..rng.usize(1..6) {
                let i = rng.usize(..data.len());
                match rng.u8(..3) {
                    0 => data[i] = rng.u8(..),
                    1 => data.truncate(i),
                    _ => data.insert(i, rng.u8(..)),
                }
                if data.is_empty() {
                    break;
                }
            }
            let at = rng.usize(..=data.len());
            run(&data, at);
        }
    }
}
