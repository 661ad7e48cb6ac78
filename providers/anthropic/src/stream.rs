//! Anthropic's stream (`"stream": true`): SSE events `message_start`,
//! `content_block_start` / `content_block_delta` / `content_block_stop` per
//! block, `message_delta` (stop reason, cumulative usage), `message_stop`,
//! plus `ping` and `error`, decoded into OpenAI chunks:
//!
//! - `message_start` → a chunk with `role: "assistant"`;
//! - `text_delta` → `content`; `thinking_delta` → `reasoning_content`; when
//!   a thinking block stops, the whole block (text and signature, from
//!   `signature_delta`) is sent once as `thinking_blocks`, so the chunks add
//!   up to exactly what a whole response carries;
//! - a `tool_use` block start → a tool-call delta with `index`, `id`, `type`
//!   and `name`, then each `input_json_delta` → an `arguments` fragment
//!   (`{}` when the call had no input);
//! - with `response_format` emulated, the [`JSON_TOOL_NAME`] call's input is
//!   streamed as `content` instead (buffered and unwrapped at its end when the
//!   schema was wrapped);
//! - `message_delta` → a chunk with `finish_reason`; `message_stop` ends the
//!   stream, after a usage chunk (`choices: []`) when `include_usage` was asked;
//! - an `error` event ends the stream with the mapped error; a body that ends
//!   before `message_stop` is an `ApiConnection` error.

use llmux_core::text::truncate;
use std::collections::BTreeMap;

use llmux_core::sse::{SseChatEvents, SseDecoder, SseEvent};
use llmux_core::stream::{
    first_choice, provider_chunk, tool_call_delta, tool_call_only, ChunkSource,
};
use llmux_core::types::chat::{ChatCompletionChunk, ChunkChoice, Delta, Extra, FinishReason};
use llmux_core::{Error, ErrorKind, Result};
use serde_json::Value;

use crate::error::decode_stream_error;
use crate::request::{JsonMode, JSON_TOOL_NAME};
use crate::response::{json_mode_content, map_stop_reason, to_usage};
use crate::wire::{
    self, BlockDelta, ContentBlock, RedactedThinkingBlock, StreamEvent, ThinkingBlock,
};

/// What an open content block is, by its Anthropic index.
#[derive(Debug)]
enum Block {
    Text,
    Tool {
        index: u32,
        has_arguments: bool,
    },
    Json {
        buffer: String,
    },
    Thinking {
        text: String,
        signature: Option<String>,
    },
    Redacted {
        data: String,
    },
    Ignored,
}

/// Decodes an Anthropic SSE body into OpenAI chunks.
#[derive(Debug)]
pub struct AnthropicStreamDecoder {
    source: ChunkSource,
    json_mode: Option<JsonMode>,
    include_usage: bool,
    sse: SseDecoder,
    id: String,
    started: bool,
    done: bool,
    blocks: BTreeMap<u32, Block>,
    next_tool: u32,
    json_seen: bool,
    usage: wire::Usage,
}

impl AnthropicStreamDecoder {
    /// A decoder for the stream whose chunks come from `source`.
    pub fn new(source: ChunkSource) -> Self {
        AnthropicStreamDecoder {
            source,
            json_mode: None,
            include_usage: false,
            sse: SseDecoder::new(),
            id: String::new(),
            started: false,
            done: false,
            blocks: BTreeMap::new(),
            next_tool: 0,
            json_seen: false,
            usage: wire::Usage::default(),
        }
    }

    /// Treat the [`JSON_TOOL_NAME`] call as the answer's content.
    pub fn with_json_mode(mut self, json_mode: Option<JsonMode>) -> Self {
        self.json_mode = json_mode;
        self
    }

    /// End with a usage chunk (`stream_options.include_usage`).
    pub fn with_usage(mut self, include_usage: bool) -> Self {
        self.include_usage = include_usage;
        self
    }

    fn chunk(&self, choices: Vec<ChunkChoice>) -> ChatCompletionChunk {
        provider_chunk(
            self.id.clone(),
            self.source.created,
            &self.source.model,
            choices,
            None,
        )
    }

    fn emit(&self, out: &mut Vec<ChatCompletionChunk>, delta: Delta, finish: Option<FinishReason>) {
        out.push(self.chunk(vec![first_choice(delta, None, finish)]));
    }

    fn content(&self, out: &mut Vec<ChatCompletionChunk>, text: String) {
        if !text.is_empty() {
            let delta = Delta {
                content: Some(text),
                ..Default::default()
            };
            self.emit(out, delta, None);
        }
    }

    fn tool_delta(
        &self,
        out: &mut Vec<ChatCompletionChunk>,
        index: u32,
        head: Option<(String, String)>,
        arguments: String,
    ) {
        let (id, name) = match head {
            Some((id, name)) => (Some(id), Some(name)),
            None => (None, None),
        };
        let delta = tool_call_only(tool_call_delta(index, id, name, arguments));
        self.emit(out, delta, None);
    }

    fn thinking_block(&self, out: &mut Vec<ChatCompletionChunk>, block: ContentBlock) {
        if let Ok(v) = serde_json::to_value(&block) {
            let delta = Delta {
                thinking_blocks: Some(vec![v]),
                ..Default::default()
            };
            self.emit(out, delta, None);
        }
    }

    fn bad_event(&self, message: String) -> Error {
        Error::bad_gateway(message).with_provider(self.source.provider.clone())
    }
}

impl SseChatEvents for AnthropicStreamDecoder {
    fn sse(&mut self) -> &mut SseDecoder {
        &mut self.sse
    }

    fn on_event(&mut self, event: SseEvent, out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        let parsed: StreamEvent = serde_json::from_str(data)
            .map_err(|e| self.bad_event(format!("cannot decode stream event: {e}")))?;
        match parsed {
            StreamEvent::Ping | StreamEvent::Other(_) => Ok(()),
            StreamEvent::Error { error } => {
                let v = serde_json::to_value(&error).unwrap_or(Value::Null);
                Err(decode_stream_error(&self.source.provider, &v))
            }
            StreamEvent::MessageStart { message } => {
                self.id = message.id;
                if !message.model.is_empty() {
                    self.source.model = message.model;
                }
                self.usage = message.usage;
                self.started = true;
                let delta = Delta {
                    role: Some("assistant".into()),
                    ..Default::default()
                };
                self.emit(out, delta, None);
                Ok(())
            }
            _ if !self.started => Err(self.bad_event(format!(
                "stream event before message_start: {}",
                truncate(data, 200)
            ))),
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let block = match content_block {
                    ContentBlock::Text(t) => {
                        self.content(out, t.text);
                        Block::Text
                    }
                    ContentBlock::ToolUse(t)
                        if self.json_mode.is_some() && t.name == JSON_TOOL_NAME =>
                    {
                        self.json_seen = true;
                        Block::Json {
                            buffer: String::new(),
                        }
                    }
                    ContentBlock::ToolUse(t) => {
                        let tool_index = self.next_tool;
                        self.next_tool += 1;
                        self.tool_delta(out, tool_index, Some((t.id, t.name)), String::new());
                        Block::Tool {
                            index: tool_index,
                            has_arguments: false,
                        }
                    }
                    ContentBlock::Thinking(t) => {
                        if !t.thinking.is_empty() {
                            let delta = Delta {
                                reasoning_content: Some(t.thinking.clone()),
                                ..Default::default()
                            };
                            self.emit(out, delta, None);
                        }
                        Block::Thinking {
                            text: t.thinking,
                            signature: t.signature.filter(|s| !s.is_empty()),
                        }
                    }
                    ContentBlock::RedactedThinking(r) => Block::Redacted { data: r.data },
                    _ => Block::Ignored,
                };
                self.blocks.insert(index, block);
                Ok(())
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                let wrapped = self.json_mode.is_some_and(|m| m.wrapped);
                let Some(block) = self.blocks.get_mut(&index) else {
                    return Err(self.bad_event(format!(
                        "content_block_delta for block {index}, which was never started"
                    )));
                };
                match (block, delta) {
                    (Block::Text, BlockDelta::TextDelta { text }) => self.content(out, text),
                    (
                        Block::Tool {
                            index,
                            has_arguments,
                        },
                        BlockDelta::InputJsonDelta { partial_json },
                    ) if !partial_json.is_empty() => {
                        *has_arguments = true;
                        let i = *index;
                        self.tool_delta(out, i, None, partial_json);
                    }
                    (Block::Json { buffer }, BlockDelta::InputJsonDelta { partial_json }) => {
                        buffer.push_str(&partial_json);
                        if !wrapped {
                            self.content(out, partial_json);
                        }
                    }
                    (Block::Thinking { text, .. }, BlockDelta::ThinkingDelta { thinking }) => {
                        text.push_str(&thinking);
                        if !thinking.is_empty() {
                            let delta = Delta {
                                reasoning_content: Some(thinking),
                                ..Default::default()
                            };
                            self.emit(out, delta, None);
                        }
                    }
                    (
                        Block::Thinking { signature, .. },
                        BlockDelta::SignatureDelta { signature: s },
                    ) => {
                        signature.get_or_insert_with(String::new).push_str(&s);
                    }
                    // Citations, server-tool blocks and new delta kinds carry
                    // nothing an OpenAI chunk has a field for.
                    _ => {}
                }
                Ok(())
            }
            StreamEvent::ContentBlockStop { index } => {
                match self.blocks.remove(&index) {
                    Some(Block::Tool {
                        index,
                        has_arguments: false,
                    }) => self.tool_delta(out, index, None, "{}".into()),
                    Some(Block::Json { buffer }) => match self.json_mode {
                        Some(mode) if mode.wrapped => {
                            let text = serde_json::from_str::<Value>(&buffer)
                                .map(|v| json_mode_content(&v, mode))
                                .unwrap_or(buffer);
                            self.content(out, text);
                        }
                        _ if buffer.is_empty() => self.content(out, "{}".into()),
                        _ => {}
                    },
                    Some(Block::Thinking { text, signature }) => self.thinking_block(
                        out,
                        ContentBlock::Thinking(ThinkingBlock {
                            thinking: text,
                            signature,
                            extra: Extra::new(),
                        }),
                    ),
                    Some(Block::Redacted { data }) => self.thinking_block(
                        out,
                        ContentBlock::RedactedThinking(RedactedThinkingBlock {
                            data,
                            extra: Extra::new(),
                        }),
                    ),
                    _ => {}
                }
                Ok(())
            }
            StreamEvent::MessageDelta { delta, usage } => {
                if let Some(u) = &usage {
                    self.usage.update(u);
                }
                let mut finish = map_stop_reason(delta.stop_reason.as_deref());
                if finish == FinishReason::ToolCalls && self.json_seen && self.next_tool == 0 {
                    finish = FinishReason::Stop;
                }
                self.emit(out, Delta::default(), Some(finish));
                Ok(())
            }
            StreamEvent::MessageStop => {
                self.done = true;
                if self.include_usage {
                    let mut chunk = self.chunk(Vec::new());
                    chunk.usage = Some(to_usage(&self.usage));
                    out.push(chunk);
                }
                Ok(())
            }
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn on_end(&mut self, _out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        if self.done {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::ApiConnection,
                format!("{} stream ended before message_stop", self.source.provider),
            )
            .with_provider(self.source.provider.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::stream::{chunks_to_json, decode_pieces, replay};
    use llmux_core::stream::{DecodeStatus, StreamDecoder};
    use serde_json::json;

    fn sse(events: &[Value]) -> Vec<u8> {
        events
            .iter()
            .flat_map(|e| {
                let name = e["type"].as_str().unwrap_or("").to_string();
                format!("event: {name}\ndata: {e}\n\n").into_bytes()
            })
            .collect()
    }

    fn decode_all(pieces: &[&[u8]], json_mode: Option<JsonMode>) -> Result<Vec<Value>> {
        let mut d = AnthropicStreamDecoder::new(ChunkSource::at("anthropic", "claude", 9))
            .with_json_mode(json_mode)
            .with_usage(true);
        chunks_to_json(&decode_pieces(&mut d, pieces)?)
    }

    /// Text after thinking, then a tool call with streamed arguments.
    fn events() -> Vec<Value> {
        vec![
            json!({"type": "message_start", "message": {"id": "msg_s1", "type": "message", "role": "assistant", "content": [],
                "model": "claude-sonnet-4-5-20250929", "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 25, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 10, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Use the tool."}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCgIYAh=="}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "ping"}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Héllo 😀"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Pa"}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "ris\"}"}}),
            json!({"type": "content_block_stop", "index": 2}),
            json!({"type": "content_block_start", "index": 3, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}}}),
            json!({"type": "content_block_stop", "index": 3}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 42}}),
            json!({"type": "message_stop"}),
        ]
    }

    fn expected() -> Vec<Value> {
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "msg_s1", "object": "chat.completion.chunk", "created": 9, "model": "claude-sonnet-4-5-20250929",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        let n = Value::Null;
        vec![
            chunk(json!({"role": "assistant"}), n.clone()),
            chunk(json!({"reasoning_content": "Use the tool."}), n.clone()),
            chunk(
                json!({"thinking_blocks": [{"type": "thinking", "thinking": "Use the tool.", "signature": "EqQBCgIYAh=="}]}),
                n.clone(),
            ),
            chunk(json!({"content": "Héllo 😀"}), n.clone()),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
                n.clone(),
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": \"Pa"}}]}),
                n.clone(),
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "ris\"}"}}]}),
                n.clone(),
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "toolu_2", "type": "function", "function": {"name": "now", "arguments": ""}}]}),
                n.clone(),
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
                n.clone(),
            ),
            chunk(json!({}), json!("tool_calls")),
            json!({"id": "msg_s1", "object": "chat.completion.chunk", "created": 9, "model": "claude-sonnet-4-5-20250929", "choices": [],
                   "usage": {"prompt_tokens": 35, "completion_tokens": 42, "total_tokens": 77,
                             "prompt_tokens_details": {"cached_tokens": 10, "cache_creation_tokens": 0}}}),
        ]
    }

    #[test]
    fn decodes_whole_body() {
        assert_eq!(decode_all(&[&sse(&events())], None).unwrap(), expected());
    }

    #[test]
    fn decodes_from_every_split_point_and_byte_by_byte() {
        let body = sse(&events());
        for i in 0..=body.len() {
            let (a, b) = body.split_at(i);
            assert_eq!(
                decode_all(&[a, b], None).unwrap(),
                expected(),
                "split at {i}"
            );
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(decode_all(&bytes, None).unwrap(), expected());
    }

    #[test]
    fn json_mode_streams_content() {
        let start = json!({"type": "message_start", "message": {"id": "msg_j", "type": "message", "role": "assistant", "content": [],
            "model": "m", "stop_reason": null, "usage": {"input_tokens": 5, "output_tokens": 1}}});
        let tail = [
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
            json!({"type": "message_stop"}),
        ];
        let mut evs = vec![
            start.clone(),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_j", "name": "json_tool_call", "input": {}}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"n\": "}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
        ];
        evs.extend(tail.iter().cloned());
        let out = decode_all(&[&sse(&evs)], Some(JsonMode { wrapped: false })).unwrap();
        let deltas: Vec<&Value> = out.iter().map(|c| &c["choices"][0]["delta"]).collect();
        assert_eq!(deltas[1], &json!({"content": "{\"n\": "}));
        assert_eq!(deltas[2], &json!({"content": "1}"}));
        assert_eq!(out[3]["choices"][0]["finish_reason"], json!("stop"));

        let mut evs = vec![
            start,
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_j", "name": "json_tool_call", "input": {}}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"values\": [1,"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": " 2]}"}}),
        ];
        evs.extend(tail.iter().cloned());
        let out = decode_all(&[&sse(&evs)], Some(JsonMode { wrapped: true })).unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!(out[1]["choices"][0]["delta"], json!({"content": "[1,2]"}));
    }

    #[test]
    fn error_event_ends_the_stream_after_what_came_before() {
        let mut body = sse(&events()[..8]);
        body.extend_from_slice(
            b"event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
        );
        let (out, end) = replay(
            &mut AnthropicStreamDecoder::new(ChunkSource::at("anthropic", "m", 1)),
            &[&body],
        );
        let err = end.unwrap_err();
        assert_eq!(out.len(), 4);
        assert_eq!(err.kind, ErrorKind::ServiceUnavailable);
        assert_eq!(err.message, "Overloaded");
    }

    #[test]
    fn truncated_and_malformed_streams_are_errors() {
        let mut evs = events();
        evs.pop();
        let err = decode_all(&[&sse(&evs)], None).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ApiConnection);
        assert_eq!(err.message, "anthropic stream ended before message_stop");
        assert_eq!(
            decode_all(&[b""], None).unwrap_err().kind,
            ErrorKind::ApiConnection
        );
        let err = decode_all(&[b"event: message_start\ndata: {not json\n\n"], None).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadGateway);
        let err = decode_all(
            &[&sse(&[json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})])],
            None,
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadGateway);
    }

    #[test]
    fn no_usage_chunk_unless_asked() {
        let mut d = AnthropicStreamDecoder::new(ChunkSource::at("anthropic", "m", 1));
        let mut out = Vec::new();
        assert_eq!(
            d.push(&sse(&events()), &mut out).unwrap(),
            DecodeStatus::Done
        );
        d.finish(&mut out).unwrap();
        assert_eq!(out.len(), expected().len() - 1);
        assert!(out.iter().all(|c| c.usage.is_none()));
    }
}
