//! Bedrock Converse response → OpenAI chat completion (pure).
//!
//! `output.message.content` blocks: `text` → `content` (joined), `toolUse` →
//! `tool_calls` (input re-serialised as the arguments string),
//! `reasoningContent` → `reasoning_content` plus `thinking_blocks`
//! (`{"type":"thinking","thinking","signature"}` or
//! `{"type":"redacted_thinking","data"}`) to send back on the next turn.
//! Converse has no response id; the completion id is `chatcmpl-` plus the
//! `x-amzn-RequestId` response header.

// Wire types: every field keeps its name from the Bedrock Converse API reference, which documents it.
#![allow(missing_docs)]

use llmux_core::completion::{non_empty, only_choice, provider_completion};
use llmux_core::types::chat::{ChatCompletion, FinishReason, ResponseMessage, ToolCall, Usage};
use llmux_core::{Error, Result};
use serde::Deserialize;
use serde_json::{json, Value};

/// Converse's `usage`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConverseUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: Option<u64>,
    pub cache_write_input_tokens: Option<u64>,
}

impl ConverseUsage {
    /// OpenAI usage. Bedrock's `inputTokens` leaves out cached tokens, so the
    /// prompt count adds cache reads and writes back (as LiteLLM does).
    pub fn to_usage(&self) -> Usage {
        Usage::with_cache(
            self.input_tokens,
            self.output_tokens,
            self.cache_read_input_tokens,
            self.cache_write_input_tokens,
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseResponse {
    output: Output,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<ConverseUsage>,
}

#[derive(Debug, Deserialize)]
struct Output {
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(default)]
    content: Vec<Value>,
}

/// An OpenAI finish reason for a Converse `stopReason`.
pub fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// `chatcmpl-<request id>`, or a random id when the header is missing.
pub fn completion_id(request_id: Option<&str>) -> String {
    match request_id.filter(|r| !r.is_empty()) {
        Some(r) => format!("chatcmpl-{r}"),
        None => format!(
            "chatcmpl-{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        ),
    }
}

/// A `thinking_blocks` entry for one `reasoningContent` block.
pub fn thinking_block(reasoning: &Value) -> Option<Value> {
    if let Some(t) = reasoning.get("reasoningText") {
        let mut b = json!({"type": "thinking", "thinking": t.get("text").and_then(Value::as_str).unwrap_or("")});
        if let Some(sig) = t.get("signature").and_then(Value::as_str) {
            b["signature"] = json!(sig);
        }
        return Some(b);
    }
    reasoning
        .get("redactedContent")
        .and_then(Value::as_str)
        .map(|d| json!({"type": "redacted_thinking", "data": d}))
}

/// Decode a Converse response body.
/// With `json_mode`, the `json_tool_call` tool's input is the answer's
/// content (and a `tool_use` stop is a plain stop).
pub fn decode_chat(
    body: &[u8],
    request_id: Option<&str>,
    provider: &str,
    model: &str,
    json_mode: bool,
) -> Result<ChatCompletion> {
    let response: ConverseResponse = llmux_core::transport::decode_json(body, provider, model)?;
    let blocks = response.output.message.map(|m| m.content).ok_or_else(|| {
        Error::bad_gateway(format!("{provider} response has no output.message"))
            .with_provider(provider)
            .with_model(model)
    })?;
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut thinking = Vec::new();
    let mut tool_calls = Vec::new();
    for block in &blocks {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.get_or_insert_with(String::new).push_str(t);
        } else if let Some(u) = block.get("toolUse") {
            let id = u
                .get("toolUseId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let name = u.get("name").and_then(Value::as_str).unwrap_or_default();
            let input = u.get("input").cloned().unwrap_or_else(|| json!({}));
            if json_mode && name == crate::request::JSON_TOOL_NAME {
                text.get_or_insert_with(String::new)
                    .push_str(&input.to_string());
                continue;
            }
            tool_calls.push(ToolCall::function(id, name, input.to_string()));
        } else if let Some(r) = block.get("reasoningContent") {
            if let Some(t) = r.pointer("/reasoningText/text").and_then(Value::as_str) {
                reasoning.get_or_insert_with(String::new).push_str(t);
            }
            thinking.extend(thinking_block(r));
        }
    }
    let answered_by_json_tool = json_mode && tool_calls.is_empty();
    let message = ResponseMessage {
        content: text,
        tool_calls: non_empty(tool_calls),
        reasoning_content: reasoning,
        thinking_blocks: non_empty(thinking),
        ..Default::default()
    };
    let finish = response.stop_reason.as_deref().map(|r| match r {
        "tool_use" if answered_by_json_tool => FinishReason::Stop,
        r => finish_reason(r),
    });
    Ok(provider_completion(
        completion_id(request_id),
        llmux_core::unix_now(),
        model.to_string(),
        vec![only_choice(message, None, finish)],
        response.usage.map(|u| u.to_usage()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::ErrorKind;

    fn decode(v: Value) -> Result<Value> {
        let mut c = decode_chat(
            v.to_string().as_bytes(),
            Some("req-1"),
            "bedrock",
            "m",
            false,
        )?;
        c.created = 1;
        Ok(serde_json::to_value(c).unwrap())
    }

    #[test]
    fn text_reasoning_tools_and_cached_usage() {
        let got = decode(json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "The user wants weather.", "signature": "sig-1"}}},
                {"reasoningContent": {"redactedContent": "cmVk"}},
                {"text": "Let me check."},
                {"toolUse": {"toolUseId": "tooluse_abc", "name": "get_weather", "input": {"city": "Paris"}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 10, "outputTokens": 20, "totalTokens": 130, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 0},
            "metrics": {"latencyMs": 321}
        }))
        .unwrap();
        assert_eq!(
            got,
            json!({
                "id": "chatcmpl-req-1", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": {
                    "role": "assistant", "content": "Let me check.",
                    "tool_calls": [{"id": "tooluse_abc", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
                    "reasoning_content": "The user wants weather.",
                    "thinking_blocks": [
                        {"type": "thinking", "thinking": "The user wants weather.", "signature": "sig-1"},
                        {"type": "redacted_thinking", "data": "cmVk"}
                    ]
                }, "logprobs": null, "finish_reason": "tool_calls"}],
                "usage": {"prompt_tokens": 110, "completion_tokens": 20, "total_tokens": 130,
                          "prompt_tokens_details": {"cached_tokens": 100, "cache_creation_tokens": 0}}
            })
        );
    }

    #[test]
    fn stop_reasons() {
        for (reason, expected) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("guardrail_intervened", "content_filter"),
            ("content_filtered", "content_filter"),
            ("something_new", "something_new"),
        ] {
            let got = decode(json!({"output": {"message": {"role": "assistant", "content": [{"text": "x"}]}}, "stopReason": reason,
                "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}))
            .unwrap();
            assert_eq!(
                got["choices"][0]["finish_reason"],
                json!(expected),
                "{reason}"
            );
            assert_eq!(
                got["usage"],
                json!({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})
            );
        }
    }

    #[test]
    fn malformed_bodies_are_bad_gateway() {
        let err = decode_chat(b"{nope", None, "bedrock", "m", false).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadGateway);
        let err = decode_chat(br#"{"output": {}}"#, None, "bedrock", "m", false).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadGateway);
        assert_eq!(err.message, "bedrock response has no output.message");
        let c = decode_chat(br#"{"output": {"message": {"role": "assistant", "content": []}}, "stopReason": "end_turn"}"#, None, "bedrock", "m", false).unwrap();
        assert!(
            c.id.starts_with("chatcmpl-") && c.id.len() == 41,
            "{}",
            c.id
        );
        assert_eq!(c.choices[0].message.content, None);
    }
}
