//! Ollama's stream framing: NDJSON, one `/api/chat` object per line, the last
//! with `"done": true`, `done_reason` and the eval counts. Lines may arrive
//! split anywhere (inside a line, inside a UTF-8 character, inside `\r\n`).
//!
//! Chunks: the role on the first; `message.content` → `content`,
//! `message.thinking` → `reasoning_content`, each tool call as one whole
//! tool-call delta (Ollama sends calls complete); the `done` line → the finish
//! chunk, then a usage chunk with no choices. An `{"error": …}` line ends the
//! stream with that error; a body that ends before `done` is an
//! `ApiConnection` error.

use llmux_core::stream::{
    ended_early, first_choice, provider_chunk, tool_call_delta, DecodeStatus, StreamDecoder,
};
use llmux_core::types::chat::{ChatCompletionChunk, ChunkChoice, Delta, ToolCallDelta, Usage};
use llmux_core::{Error, Result};
use serde_json::Value;

use crate::error::{message_of, stream_error};
use crate::response::{finish_reason, new_completion_id, ChatResponse};

/// Decodes an Ollama NDJSON body into OpenAI chunks.
#[derive(Debug)]
pub struct OllamaStreamDecoder {
    provider: String,
    model: String,
    id: String,
    created: Option<u64>,
    fallback_created: u64,
    buf: Vec<u8>,
    started: bool,
    tool_calls: u32,
    done: bool,
}

impl OllamaStreamDecoder {
    /// A decoder for `provider`'s stream answering for `model`.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self::with_id(provider, model, new_completion_id())
    }

    /// Like [`new`](Self::new) with a fixed completion id.
    pub fn with_id(
        provider: impl Into<String>,
        model: impl Into<String>,
        id: impl Into<String>,
    ) -> Self {
        OllamaStreamDecoder {
            provider: provider.into(),
            model: model.into(),
            id: id.into(),
            created: None,
            fallback_created: llmux_core::unix_now(),
            buf: Vec::new(),
            started: false,
            tool_calls: 0,
            done: false,
        }
    }

    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> ChatCompletionChunk {
        provider_chunk(
            self.id.clone(),
            self.created.unwrap_or(self.fallback_created),
            &self.model,
            choices,
            usage,
        )
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let bad = |e: &dyn std::fmt::Display| {
            Error::bad_gateway(format!("cannot decode {} stream line: {e}", self.provider))
                .with_provider(self.provider.clone())
                .with_model(self.model.clone())
        };
        let value: Value = serde_json::from_slice(line).map_err(|e| bad(&e))?;
        if let Some(message) = message_of(&value) {
            return Err(stream_error(&self.provider, &message).with_model(self.model.clone()));
        }
        let response: ChatResponse = serde_json::from_value(value).map_err(|e| bad(&e))?;
        if self.created.is_none() {
            self.created = response.created();
        }
        let message = response.message.clone().unwrap_or_default();
        let tool_calls: Vec<ToolCallDelta> = message
            .tool_calls
            .iter()
            .flatten()
            .map(|c| {
                let call = c.to_openai();
                let delta = tool_call_delta(
                    self.tool_calls,
                    Some(call.id),
                    Some(call.function.name),
                    call.function.arguments,
                );
                self.tool_calls += 1;
                delta
            })
            .collect();
        let delta = Delta {
            role: (!self.started).then(|| "assistant".to_string()),
            content: message.content.filter(|c| !c.is_empty()),
            reasoning_content: message.thinking.filter(|t| !t.is_empty()),
            tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            ..Default::default()
        };
        let finish = response
            .done
            .then(|| finish_reason(response.done_reason.as_deref(), self.tool_calls > 0));
        if delta != Delta::default() {
            self.started = true;
            out.push(self.chunk(vec![first_choice(delta, None, None)], None));
        }
        if let Some(finish) = finish {
            out.push(self.chunk(
                vec![first_choice(Delta::default(), None, Some(finish))],
                None,
            ));
            if let Some(usage) = response.usage() {
                out.push(self.chunk(Vec::new(), Some(usage)));
            }
            self.done = true;
        }
        Ok(())
    }
}

impl StreamDecoder for OllamaStreamDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<ChatCompletionChunk>) -> Result<DecodeStatus> {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|b| *b == b'\n') {
            let end = start + pos;
            let line = self.buf[start..end].to_vec();
            start = end + 1;
            self.line(&line, out)?;
            if self.done {
                self.buf.clear();
                return Ok(DecodeStatus::Done);
            }
        }
        self.buf.drain(..start);
        Ok(DecodeStatus::More)
    }

    fn finish(&mut self, out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        if !self.done && !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            self.line(&rest, out)?;
        }
        if !self.done {
            return Err(ended_early(&self.provider, &self.model, "\"done\": true"));
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

    fn ndjson(lines: &[Value], eol: &str) -> Vec<u8> {
        lines
            .iter()
            .map(|l| format!("{l}{eol}"))
            .collect::<String>()
            .into_bytes()
    }

    fn lines() -> Vec<Value> {
        let at = "2024-07-01T10:00:00.5Z";
        vec![
            json!({"model": "qwen3", "created_at": at, "message": {"role": "assistant", "content": "", "thinking": "Hmm"}, "done": false}),
            json!({"model": "qwen3", "created_at": at, "message": {"role": "assistant", "content": "Héllo"}, "done": false}),
            json!({"model": "qwen3", "created_at": at, "message": {"role": "assistant", "content": " wörld 😀"}, "done": false}),
            json!({"model": "qwen3", "created_at": at, "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "length",
                   "total_duration": 1, "prompt_eval_count": 7, "eval_count": 3}),
        ]
    }

    fn expected() -> Vec<Value> {
        let c = |choices: Value| json!({"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1_719_828_000u64, "model": "qwen3", "choices": choices});
        vec![
            c(
                json!([{"index": 0, "delta": {"role": "assistant", "reasoning_content": "Hmm"}, "finish_reason": null}]),
            ),
            c(json!([{"index": 0, "delta": {"content": "Héllo"}, "finish_reason": null}])),
            c(json!([{"index": 0, "delta": {"content": " wörld 😀"}, "finish_reason": null}])),
            c(json!([{"index": 0, "delta": {}, "finish_reason": "length"}])),
            json!({"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1_719_828_000u64, "model": "qwen3", "choices": [],
                   "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}),
        ]
    }

    fn decode_all(pieces: &[&[u8]]) -> Result<Vec<Value>> {
        let mut d = OllamaStreamDecoder::with_id("ollama", "qwen3", "chatcmpl-x");
        chunks_to_json(&decode_pieces(&mut d, pieces)?)
    }

    #[test]
    fn every_split_point_byte_by_byte_and_crlf() {
        for eol in ["\n", "\r\n"] {
            let body = ndjson(&lines(), eol);
            assert_eq!(decode_all(&[&body]).unwrap(), expected());
            for i in 0..=body.len() {
                let (a, b) = body.split_at(i);
                assert_eq!(decode_all(&[a, b]).unwrap(), expected(), "split at {i}");
            }
            let bytes: Vec<&[u8]> = body.chunks(1).collect();
            assert_eq!(decode_all(&bytes).unwrap(), expected());
        }
        // A last line without its newline still counts.
        let mut body = ndjson(&lines(), "\n");
        body.pop();
        assert_eq!(decode_all(&[&body]).unwrap(), expected());
    }

    #[test]
    fn tool_calls_indexed_in_order() {
        let body = ndjson(
            &[
                json!({"message": {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "a", "arguments": {"x": 1}}}]}, "done": false}),
                json!({"message": {"role": "assistant", "content": "", "tool_calls": [{"id": "call_own", "function": {"name": "b", "arguments": {}}}]}, "done": false}),
                json!({"message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop"}),
            ],
            "\n",
        );
        let chunks = decode_all(&[&body]).unwrap();
        assert_eq!(chunks.len(), 3);
        let a = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(
            (a["index"].clone(), a["function"].clone()),
            (json!(0), json!({"name": "a", "arguments": "{\"x\":1}"}))
        );
        assert!(a["id"].as_str().unwrap().starts_with("call_"));
        assert_eq!(
            chunks[1]["choices"][0]["delta"]["tool_calls"][0]["index"],
            json!(1)
        );
        assert_eq!(
            chunks[1]["choices"][0]["delta"]["tool_calls"][0]["id"],
            json!("call_own")
        );
        assert_eq!(
            chunks[2]["choices"][0]["finish_reason"],
            json!("tool_calls")
        );
    }

    #[test]
    fn errors_truncation_and_garbage() {
        let mut body = ndjson(&lines()[..1], "\n");
        body.extend_from_slice(
            b"{\"error\":\"an error was encountered while running the model: unexpected EOF\"}\n",
        );
        let (out, end) = replay(
            &mut OllamaStreamDecoder::with_id("ollama", "m", "c"),
            &[&body],
        );
        let err = end.unwrap_err();
        assert_eq!(out.len(), 1);
        assert_eq!(err.kind, ErrorKind::InternalServer);
        assert_eq!(
            err.message,
            "an error was encountered while running the model: unexpected EOF"
        );

        let err = decode_all(&[&ndjson(&lines()[..3], "\n")]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ApiConnection);
        assert_eq!(
            decode_all(&[b""]).unwrap_err().kind,
            ErrorKind::ApiConnection
        );
        assert_eq!(
            decode_all(&[b"{nope\n"]).unwrap_err().kind,
            ErrorKind::BadGateway
        );
    }
}
