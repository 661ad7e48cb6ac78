//! Cohere Chat v2 stream framing: SSE events (`event: <type>` plus
//! `data: {"type": <type>, ...}`) in this order: `message-start` (id, role),
//! then content blocks (`content-start` / `content-delta` / `content-end`, text
//! or thinking), a `tool-plan-delta` run, tool calls (`tool-call-start` with id
//! and name, `tool-call-delta` with argument pieces, `tool-call-end`),
//! citations, and finally `message-end` with `finish_reason` and `usage`.
//!
//! Chunks: the role on `message-start`; text as `content`; thinking and the
//! tool plan as `reasoning_content`; tool calls as OpenAI tool-call deltas
//! (first with id, type and name, then argument fragments, indexed in the
//! order the calls started); `finish_reason` on `message-end`, then a usage
//! chunk with no choices. A `message-end` carrying `delta.error` ends the
//! stream with that error. A body that ends before `message-end` is an
//! `ApiConnection` error, never a clean end.

use std::collections::BTreeMap;

use llmux_core::sse::{SseChatEvents, SseDecoder, SseEvent};
use llmux_core::stream::{
    ended_early, first_choice, provider_chunk, tool_call_delta, tool_call_only, ChunkSource,
};
use llmux_core::types::chat::{ChatCompletionChunk, ChunkChoice, Delta, Usage};
use llmux_core::{Error, Result};
use serde_json::Value;

use crate::error::stream_error;
use crate::response::{completion_id, finish_reason, CohereUsage, LogprobItem};

/// Decodes a Cohere Chat v2 SSE body into OpenAI chunks.
#[derive(Debug)]
pub struct CohereStreamDecoder {
    source: ChunkSource,
    sse: SseDecoder,
    id: Option<String>,
    /// Cohere tool-call index → OpenAI tool-call index.
    tool_calls: BTreeMap<u64, u32>,
    done: bool,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
}

impl CohereStreamDecoder {
    /// A decoder for the stream whose chunks come from `source`.
    pub fn new(source: ChunkSource) -> Self {
        CohereStreamDecoder {
            source,
            sse: SseDecoder::new(),
            id: None,
            tool_calls: BTreeMap::new(),
            done: false,
        }
    }

    fn chunk(&mut self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> ChatCompletionChunk {
        let id = self.id.get_or_insert_with(|| completion_id(None)).clone();
        provider_chunk(id, self.source.created, &self.source.model, choices, usage)
    }

    fn delta(&mut self, delta: Delta, logprobs: Option<Value>) -> ChatCompletionChunk {
        self.chunk(vec![first_choice(delta, logprobs, None)], None)
    }

    fn bad(&self, what: impl std::fmt::Display) -> Error {
        Error::bad_gateway(format!(
            "cannot decode {} stream event: {what}",
            self.source.provider
        ))
        .with_provider(self.source.provider.clone())
        .with_model(self.source.model.clone())
    }

    fn tool_index(&mut self, cohere_index: u64) -> u32 {
        let next = u32::try_from(self.tool_calls.len()).unwrap_or(u32::MAX);
        *self.tool_calls.entry(cohere_index).or_insert(next)
    }
}

impl SseChatEvents for CohereStreamDecoder {
    fn sse(&mut self) -> &mut SseDecoder {
        &mut self.sse
    }

    fn on_event(&mut self, event: SseEvent, out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        let data = event.data.trim();
        if data.is_empty() || data == "[DONE]" || self.done {
            return Ok(());
        }
        let v: Value = serde_json::from_str(data).map_err(|e| self.bad(e))?;
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default()
            .to_string();
        let message = v.get("delta").and_then(|d| d.get("message"));
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind.as_str() {
            "message-start" => {
                if let Some(id) = v
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                {
                    self.id = Some(id.to_string());
                }
                let chunk = self.delta(
                    Delta {
                        role: Some("assistant".into()),
                        ..Default::default()
                    },
                    None,
                );
                out.push(chunk);
            }
            "content-start" | "content-delta" => {
                let content = message.and_then(|m| m.get("content"));
                let text = content
                    .and_then(|c| c.get("text"))
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty());
                let thinking = content
                    .and_then(|c| c.get("thinking"))
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty());
                let logprobs = v
                    .get("logprobs")
                    .and_then(|l| serde_json::from_value::<LogprobItem>(l.clone()).ok())
                    .and_then(|l| crate::response::decode_logprobs(&[l]));
                if text.is_some() || thinking.is_some() {
                    let delta = Delta {
                        content: text.map(str::to_string),
                        reasoning_content: thinking.map(str::to_string),
                        ..Default::default()
                    };
                    let chunk = self.delta(delta, logprobs);
                    out.push(chunk);
                }
            }
            "tool-plan-delta" => {
                if let Some(plan) = message
                    .and_then(|m| m.get("tool_plan"))
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                {
                    let delta = Delta {
                        reasoning_content: Some(plan.to_string()),
                        ..Default::default()
                    };
                    let chunk = self.delta(delta, None);
                    out.push(chunk);
                }
            }
            "tool-call-start" => {
                let call = message.and_then(|m| m.get("tool_calls"));
                let call = match call {
                    Some(Value::Array(a)) => a.first(),
                    other => other,
                };
                let call = call.ok_or_else(|| self.bad("tool-call-start without tool_calls"))?;
                let openai_index = self.tool_index(index);
                let id = str_at(call, &["id"])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("call_{openai_index}"));
                let name = str_at(call, &["function", "name"]).unwrap_or_default();
                let arguments = str_at(call, &["function", "arguments"]).unwrap_or_default();
                let delta = tool_call_only(tool_call_delta(
                    openai_index,
                    Some(id),
                    Some(name.to_string()),
                    arguments.to_string(),
                ));
                let chunk = self.delta(delta, None);
                out.push(chunk);
            }
            "tool-call-delta" => {
                let args = message
                    .and_then(|m| str_at(m, &["tool_calls", "function", "arguments"]))
                    .filter(|a| !a.is_empty());
                if let Some(args) = args {
                    let openai_index = self.tool_index(index);
                    let delta =
                        tool_call_only(tool_call_delta(openai_index, None, None, args.to_string()));
                    let chunk = self.delta(delta, None);
                    out.push(chunk);
                }
            }
            "message-end" => {
                let delta = v.get("delta");
                if let Some(err) = delta
                    .and_then(|d| d.get("error"))
                    .and_then(Value::as_str)
                    .filter(|e| !e.is_empty())
                {
                    self.done = true;
                    return Err(stream_error(&self.source.provider, err)
                        .with_model(self.source.model.clone()));
                }
                let reason = delta
                    .and_then(|d| d.get("finish_reason"))
                    .and_then(Value::as_str)
                    .unwrap_or("COMPLETE");
                let finish = finish_reason(reason, !self.tool_calls.is_empty());
                let usage = delta
                    .and_then(|d| d.get("usage"))
                    .and_then(|u| serde_json::from_value::<CohereUsage>(u.clone()).ok())
                    .map(|u| u.to_usage());
                let chunk = self.chunk(
                    vec![first_choice(Delta::default(), None, Some(finish))],
                    None,
                );
                out.push(chunk);
                if let Some(u) = usage {
                    let chunk = self.chunk(Vec::new(), Some(u));
                    out.push(chunk);
                }
                self.done = true;
            }
            // content-end, tool-call-end, citation-start/-end, debug, and
            // event types added later carry nothing OpenAI chunks can hold.
            _ => {}
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn on_end(&mut self, _out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        if !self.done {
            return Err(ended_early(
                &self.source.provider,
                &self.source.model,
                "message-end",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::stream::{chunks_to_json, decode_pieces, replay};
    use llmux_core::ErrorKind;
    use serde_json::json;

    fn sse(events: &[Value]) -> Vec<u8> {
        events
            .iter()
            .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
            .collect::<String>()
            .into_bytes()
    }

    fn decode_all(pieces: &[&[u8]]) -> Result<Vec<Value>> {
        let mut d = CohereStreamDecoder::new(ChunkSource::at("cohere", "command-a-03-2025", 9));
        chunks_to_json(&decode_pieces(&mut d, pieces)?)
    }

    fn tool_events() -> Vec<Value> {
        vec![
            json!({"id": "m-1", "type": "message-start", "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
            json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will look"}}}),
            json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": " it up."}}}),
            json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {"id": "lookup_ab12", "type": "function", "function": {"name": "lookup", "arguments": ""}}}}}),
            json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {"function": {"arguments": "{\"q\": "}}}}}),
            json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {"function": {"arguments": "\"é\"}"}}}}}),
            json!({"type": "tool-call-end", "index": 0}),
            json!({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": {"billed_units": {"input_tokens": 20, "output_tokens": 9}, "tokens": {"input_tokens": 900, "output_tokens": 9}}}}),
        ]
    }

    fn tool_expected() -> Vec<Value> {
        let c = |choices: Value| json!({"id": "m-1", "object": "chat.completion.chunk", "created": 9, "model": "command-a-03-2025", "choices": choices});
        let d = |delta: Value| c(json!([{"index": 0, "delta": delta, "finish_reason": null}]));
        vec![
            d(json!({"role": "assistant"})),
            d(json!({"reasoning_content": "I will look"})),
            d(json!({"reasoning_content": " it up."})),
            d(
                json!({"tool_calls": [{"index": 0, "id": "lookup_ab12", "type": "function", "function": {"name": "lookup", "arguments": ""}}]}),
            ),
            d(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"q\": "}}]})),
            d(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"é\"}"}}]})),
            c(json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])),
            json!({"id": "m-1", "object": "chat.completion.chunk", "created": 9, "model": "command-a-03-2025", "choices": [],
                   "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29}}),
        ]
    }

    #[test]
    fn tool_stream_from_every_split_point() {
        let body = sse(&tool_events());
        assert_eq!(decode_all(&[&body]).unwrap(), tool_expected());
        for i in 0..=body.len() {
            let (a, b) = body.split_at(i);
            assert_eq!(
                decode_all(&[a, b]).unwrap(),
                tool_expected(),
                "split at {i}"
            );
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(decode_all(&bytes).unwrap(), tool_expected());
    }

    #[test]
    fn thinking_and_text_blocks() {
        let body = sse(&[
            json!({"id": "m-2", "type": "message-start", "delta": {"message": {"role": "assistant"}}}),
            json!({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}}}),
            json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "Hmm."}}}}),
            json!({"type": "content-end", "index": 0}),
            json!({"type": "content-start", "index": 1, "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
            json!({"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": "Hi"}}}, "logprobs": {"token_ids": [5], "text": "Hi", "logprobs": [-0.1]}}),
            json!({"type": "content-end", "index": 1}),
            json!({"type": "message-end", "delta": {"finish_reason": "MAX_TOKENS"}}),
        ]);
        let chunks = decode_all(&[&body]).unwrap();
        assert_eq!(chunks.len(), 4);
        assert_eq!(
            chunks[1]["choices"][0]["delta"],
            json!({"reasoning_content": "Hmm."})
        );
        assert_eq!(chunks[2]["choices"][0]["delta"], json!({"content": "Hi"}));
        assert_eq!(
            chunks[2]["choices"][0]["logprobs"],
            json!({"content": [{"token": "Hi", "logprob": -0.1, "top_logprobs": []}]})
        );
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], json!("length"));
    }

    #[test]
    fn truncation_error_and_garbage() {
        let mut events = tool_events();
        events.pop();
        let err = decode_all(&[&sse(&events)]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ApiConnection);
        assert_eq!(
            decode_all(&[b""]).unwrap_err().kind,
            ErrorKind::ApiConnection
        );

        let body = sse(&[
            json!({"id": "m-3", "type": "message-start", "delta": {"message": {"role": "assistant"}}}),
            json!({"type": "message-end", "delta": {"error": "too many tokens: prompt exceeds the limit", "finish_reason": "ERROR"}}),
        ]);
        let (out, end) = replay(
            &mut CohereStreamDecoder::new(ChunkSource::at("cohere", "m", 1)),
            &[&body],
        );
        let err = end.unwrap_err();
        assert_eq!(out.len(), 1);
        assert_eq!(err.kind, ErrorKind::ContextWindowExceeded);
        assert_eq!(err.message, "too many tokens: prompt exceeds the limit");

        assert_eq!(
            decode_all(&[b"data: {nope\n\n"]).unwrap_err().kind,
            ErrorKind::BadGateway
        );
        // Nothing after message-end is read.
        let mut body = sse(&tool_events());
        body.extend_from_slice(b"data: {nope\n\n");
        assert_eq!(decode_all(&[&body]).unwrap(), tool_expected());
    }
}
