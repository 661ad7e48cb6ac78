//! Gemini's stream framing (`:streamGenerateContent?alt=sse`): SSE events whose
//! data is a whole `GenerateContentResponse` with the next slice of each
//! candidate. There is no terminal event (`[DONE]`); the stream ends with the
//! body. It is complete when every candidate it started carried a
//! `finishReason`; a body that ends before that is an `ApiConnection` error.
//!
//! Each event becomes one chunk (role on a candidate's first chunk, text as
//! `content`, thoughts as `reasoning_content`, each `functionCall` as one whole
//! tool-call delta, `finish_reason` when it arrives). Usage is taken from the
//! last `usageMetadata` that had counts and sent as a final chunk with no
//! choices, as OpenAI does with `stream_options.include_usage`.

use std::collections::{BTreeMap, BTreeSet};

use llmux_core::sse::{SseChatEvents, SseDecoder, SseEvent};
use llmux_core::stream::{ended_early, provider_chunk, tool_call_delta, ChunkSource};
use llmux_core::types::chat::{
    ChatCompletionChunk, ChunkChoice, Delta, Extra, ToolCallDelta, Usage,
};
use llmux_core::{Error, Result};
use serde_json::Value;

use crate::error::decode_stream_error;
use crate::response::{
    blocked_prompt, completion_id, decode_logprobs, decode_parts, finish_reason,
    GenerateContentResponse,
};

/// Decodes a Gemini / Vertex SSE body into OpenAI chunks.
#[derive(Debug)]
pub struct GeminiStreamDecoder {
    source: ChunkSource,
    sse: SseDecoder,
    id: Option<String>,
    /// Candidates that have sent their first chunk.
    started: BTreeSet<u32>,
    /// Candidates that have sent a finish reason.
    finished: BTreeSet<u32>,
    /// Tool calls emitted so far, per candidate.
    tool_calls: BTreeMap<u32, u32>,
    usage: Option<Usage>,
}

impl GeminiStreamDecoder {
    /// A decoder for the stream whose chunks come from `source`.
    pub fn new(source: ChunkSource) -> Self {
        GeminiStreamDecoder {
            source,
            sse: SseDecoder::new(),
            id: None,
            started: BTreeSet::new(),
            finished: BTreeSet::new(),
            tool_calls: BTreeMap::new(),
            usage: None,
        }
    }

    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> ChatCompletionChunk {
        provider_chunk(
            self.id.clone().unwrap_or_default(),
            self.source.created,
            &self.source.model,
            choices,
            usage,
        )
    }
}

/// Gemini's stream has no terminal event: it ends with the body, complete
/// when every candidate that started has sent a finish reason.
impl SseChatEvents for GeminiStreamDecoder {
    fn sse(&mut self) -> &mut SseDecoder {
        &mut self.sse
    }

    fn on_event(&mut self, event: SseEvent, out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        let value: Value = serde_json::from_str(data).map_err(|e| {
            Error::bad_gateway(format!("cannot decode stream event: {e}"))
                .with_provider(self.source.provider.clone())
        })?;
        let is_error = match &value {
            Value::Object(o) => o.contains_key("error"),
            Value::Array(a) => a.first().is_some_and(|f| f.get("error").is_some()),
            _ => false,
        };
        if is_error {
            return Err(decode_stream_error(&self.source.provider, &value));
        }
        let response: GenerateContentResponse = serde_json::from_value(value).map_err(|e| {
            Error::bad_gateway(format!("cannot decode stream event: {e}"))
                .with_provider(self.source.provider.clone())
        })?;
        if self.id.is_none() {
            self.id = Some(completion_id(response.response_id.as_deref()));
        }
        if let Some(u) = response.usage_metadata.as_ref().filter(|u| u.has_counts()) {
            self.usage = Some(u.to_usage());
        }
        if response.candidates.is_empty() {
            if let Some(err) = response
                .prompt_feedback
                .as_ref()
                .and_then(|f| blocked_prompt(f, &self.source.provider))
            {
                return Err(err);
            }
            return Ok(());
        }
        let mut choices = Vec::new();
        for (pos, candidate) in response.candidates.iter().enumerate() {
            let index = candidate
                .index
                .unwrap_or(u32::try_from(pos).unwrap_or(u32::MAX));
            let decoded = candidate
                .content
                .as_ref()
                .map(|c| decode_parts(&c.parts))
                .unwrap_or_default();
            let first = self.started.insert(index);
            let counter = self.tool_calls.entry(index).or_insert(0);
            let tool_calls: Vec<ToolCallDelta> = decoded
                .tool_calls
                .into_iter()
                .map(|call| {
                    let delta = tool_call_delta(
                        *counter,
                        Some(call.id),
                        Some(call.function.name),
                        call.function.arguments,
                    );
                    *counter += 1;
                    delta
                })
                .collect();
            let made_calls = *counter > 0;
            let finish = candidate
                .finish_reason
                .as_deref()
                .map(|r| finish_reason(r, made_calls));
            if finish.is_some() {
                self.finished.insert(index);
            }
            let delta = Delta {
                role: first.then(|| "assistant".to_string()),
                content: decoded.content,
                reasoning_content: decoded.reasoning,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                ..Default::default()
            };
            if delta == Delta::default() && finish.is_none() {
                continue;
            }
            choices.push(ChunkChoice {
                index,
                delta,
                logprobs: candidate.logprobs_result.as_ref().and_then(decode_logprobs),
                finish_reason: finish,
                extra: Extra::new(),
            });
        }
        if !choices.is_empty() {
            out.push(self.chunk(choices, None));
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        false
    }

    fn on_end(&mut self, out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        let complete = !self.started.is_empty() && self.started.is_subset(&self.finished);
        if !complete {
            return Err(ended_early(
                &self.source.provider,
                &self.source.model,
                "finishReason",
            ));
        }
        if let Some(usage) = self.usage.take() {
            let chunk = self.chunk(Vec::new(), Some(usage));
            out.push(chunk);
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

    fn decode_all(pieces: &[&[u8]]) -> Result<Vec<Value>> {
        let mut d = GeminiStreamDecoder::new(ChunkSource::at("gemini", "gemini-2.5-flash", 9));
        chunks_to_json(&decode_pieces(&mut d, pieces)?)
    }

    fn sse(events: &[Value]) -> Vec<u8> {
        events
            .iter()
            .map(|e| format!("data: {e}\r\n\r\n"))
            .collect::<String>()
            .into_bytes()
    }

    fn events() -> Vec<Value> {
        vec![
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Plan: greet.", "thought": true}]}, "index": 0}],
                   "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "modelVersion": "gemini-2.5-flash", "responseId": "r-1"}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Héllo"}]}, "index": 0}],
                   "usageMetadata": {"trafficType": "ON_DEMAND"}, "responseId": "r-1"}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": " wörld 😀"}]}, "index": 0}], "responseId": "r-1"}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "", "thoughtSignature": "c2ln"}]}, "finishReason": "STOP", "index": 0}],
                   "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 4, "thoughtsTokenCount": 3, "totalTokenCount": 12}, "responseId": "r-1"}),
        ]
    }

    fn expected() -> Vec<Value> {
        let chunk = |choices: Value| json!({"id": "r-1", "object": "chat.completion.chunk", "created": 9, "model": "gemini-2.5-flash", "choices": choices});
        vec![
            chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "reasoning_content": "Plan: greet."}, "finish_reason": null}]),
            ),
            chunk(json!([{"index": 0, "delta": {"content": "Héllo"}, "finish_reason": null}])),
            chunk(json!([{"index": 0, "delta": {"content": " wörld 😀"}, "finish_reason": null}])),
            chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])),
            json!({"id": "r-1", "object": "chat.completion.chunk", "created": 9, "model": "gemini-2.5-flash", "choices": [],
                   "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12, "completion_tokens_details": {"reasoning_tokens": 3}}}),
        ]
    }

    #[test]
    fn decodes_whole_body() {
        assert_eq!(decode_all(&[&sse(&events())]).unwrap(), expected());
    }

    #[test]
    fn decodes_from_every_split_point_and_byte_by_byte() {
        let body = sse(&events());
        for i in 0..=body.len() {
            let (a, b) = body.split_at(i);
            assert_eq!(decode_all(&[a, b]).unwrap(), expected(), "split at {i}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(decode_all(&bytes).unwrap(), expected());
    }

    #[test]
    fn tool_calls_are_indexed_per_candidate() {
        let body = sse(&[
            json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "a", "args": {"x": 1}}}]}, "index": 0}]}),
            json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "b", "args": {}}}]}, "finishReason": "STOP", "index": 0}]}),
        ]);
        let chunks = decode_all(&[&body]).unwrap();
        assert_eq!(chunks.len(), 2);
        let calls0 = &chunks[0]["choices"][0]["delta"]["tool_calls"];
        assert_eq!(calls0[0]["index"], json!(0));
        assert_eq!(calls0[0]["type"], json!("function"));
        assert_eq!(
            calls0[0]["function"],
            json!({"name": "a", "arguments": "{\"x\":1}"})
        );
        let calls1 = &chunks[1]["choices"][0]["delta"]["tool_calls"];
        assert_eq!(calls1[0]["index"], json!(1));
        assert_eq!(
            chunks[1]["choices"][0]["finish_reason"],
            json!("tool_calls")
        );
        assert!(chunks[0]["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(chunks[0]["id"], chunks[1]["id"]);
    }

    #[test]
    fn truncated_and_empty_streams_are_errors() {
        let mut evs = events();
        evs.pop();
        let err = decode_all(&[&sse(&evs)]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ApiConnection);
        assert_eq!(
            decode_all(&[b""]).unwrap_err().kind,
            ErrorKind::ApiConnection
        );
        // Two candidates, only one finished.
        let body = sse(&[json!({"candidates": [
            {"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP", "index": 0},
            {"content": {"parts": [{"text": "b"}]}, "index": 1}]})]);
        assert_eq!(
            decode_all(&[&body]).unwrap_err().kind,
            ErrorKind::ApiConnection
        );
    }

    #[test]
    fn error_events_and_blocked_prompts_end_the_stream() {
        let mut body = sse(&events()[..1]);
        body.extend_from_slice(
            b"data: {\"error\": {\"code\": 429, \"message\": \"Resource exhausted\", \"status\": \"RESOURCE_EXHAUSTED\"}}\r\n\r\n",
        );
        let (out, end) = replay(
            &mut GeminiStreamDecoder::new(ChunkSource::at("gemini", "m", 1)),
            &[&body],
        );
        let err = end.unwrap_err();
        assert_eq!(out.len(), 1);
        assert_eq!(err.kind, ErrorKind::RateLimit);
        assert_eq!(err.message, "Resource exhausted");

        let body = sse(&[
            json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}}),
        ]);
        let err = decode_all(&[&body]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ContentPolicyViolation);
        assert_eq!(
            err.message,
            "the prompt was blocked by gemini (blockReason PROHIBITED_CONTENT)"
        );

        let err = decode_all(&[b"data: {not json\n\n"]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadGateway);
    }
}
