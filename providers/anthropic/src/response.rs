//! Anthropic `Message` → OpenAI chat completion (pure).
//!
//! Text blocks are the content; `tool_use` blocks become `tool_calls` (input
//! re-encoded as the JSON arguments string); `thinking` blocks become
//! `reasoning_content`, and every thinking and `redacted_thinking` block is
//! kept in `thinking_blocks` (with its signature) so it can go back on the
//! next turn. When `response_format` was emulated by the forced
//! [`JSON_TOOL_NAME`] tool, that call's input becomes the content. Usage
//! counts cache reads and writes in `prompt_tokens`, as OpenAI counts cached
//! tokens, and details them in `prompt_tokens_details`.

use llmux_core::completion::{non_empty, only_choice, provider_completion};
use llmux_core::types::chat::{ChatCompletion, FinishReason, ResponseMessage, ToolCall, Usage};
use llmux_core::{Error, Result};
use serde_json::Value;

use crate::request::{JsonMode, JSON_TOOL_NAME};
use crate::wire::{self, ContentBlock, MessagesResponse};

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn map_stop_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        None | Some("end_turn" | "stop_sequence" | "pause_turn") => FinishReason::Stop,
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_string()),
    }
}

/// Anthropic usage → OpenAI usage: prompt = input + cache reads + cache writes.
pub fn to_usage(u: &wire::Usage) -> Usage {
    Usage::with_cache(
        u.input_tokens.unwrap_or(0),
        u.output_tokens.unwrap_or(0),
        u.cache_read_input_tokens,
        u.cache_creation_input_tokens,
    )
}

/// The JSON text a `json_tool_call` input stands for.
pub fn json_mode_content(input: &Value, mode: JsonMode) -> String {
    let value = if mode.wrapped {
        input.get("values").unwrap_or(input)
    } else {
        input
    };
    value.to_string()
}

/// Decode a whole `/v1/messages` body.
pub fn decode_chat(
    body: &[u8],
    provider: &str,
    model: &str,
    json_mode: Option<JsonMode>,
) -> Result<ChatCompletion> {
    let response: MessagesResponse = serde_json::from_slice(body).map_err(|e| {
        Error::bad_gateway(format!("cannot decode {provider} response: {e}"))
            .with_provider(provider)
            .with_model(model)
    })?;
    Ok(from_response(
        response,
        model,
        llmux_core::unix_now(),
        json_mode,
    ))
}

/// Convert a decoded message (`created` given, for tests and replays).
pub fn from_response(
    response: MessagesResponse,
    model: &str,
    created: u64,
    json_mode: Option<JsonMode>,
) -> ChatCompletion {
    let mut text: Option<String> = None;
    let mut json_text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for block in &response.content {
        match block {
            ContentBlock::Text(t) => text.get_or_insert_with(String::new).push_str(&t.text),
            ContentBlock::ToolUse(t) => match json_mode {
                Some(mode) if t.name == JSON_TOOL_NAME => {
                    json_text = Some(json_mode_content(&t.input, mode));
                }
                _ => tool_calls.push(ToolCall::function(
                    t.id.clone(),
                    t.name.clone(),
                    t.input.to_string(),
                )),
            },
            ContentBlock::Thinking(t) => {
                reasoning
                    .get_or_insert_with(String::new)
                    .push_str(&t.thinking);
                thinking_blocks.extend(serde_json::to_value(block).ok());
            }
            ContentBlock::RedactedThinking(_) => {
                thinking_blocks.extend(serde_json::to_value(block).ok());
            }
            _ => {}
        }
    }
    let mut finish = map_stop_reason(response.stop_reason.as_deref());
    if json_text.is_some() && tool_calls.is_empty() && finish == FinishReason::ToolCalls {
        finish = FinishReason::Stop;
    }
    let content = json_text.or(text.filter(|t| !t.is_empty()));
    let message = ResponseMessage {
        content,
        tool_calls: non_empty(tool_calls),
        reasoning_content: reasoning,
        thinking_blocks: non_empty(thinking_blocks),
        ..Default::default()
    };
    let usage = Some(to_usage(&response.usage));
    let model = if response.model.is_empty() {
        model.to_string()
    } else {
        response.model
    };
    let choices = vec![only_choice(message, None, Some(finish))];
    provider_completion(response.id, created, model, choices, usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value, json_mode: Option<JsonMode>) -> Value {
        let resp = from_response(
            serde_json::from_value(v).unwrap(),
            "claude-sonnet-4-5",
            7,
            json_mode,
        );
        serde_json::to_value(resp).unwrap()
    }

    #[test]
    fn text_and_cache_usage() {
        let got = decode(
            json!({
                "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
                "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}],
                "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": 10, "cache_creation_input_tokens": 200, "cache_read_input_tokens": 1000,
                          "output_tokens": 5, "service_tier": "standard"}
            }),
            None,
        );
        assert_eq!(
            got,
            json!({
                "id": "msg_01", "object": "chat.completion", "created": 7, "model": "claude-sonnet-4-5-20250929",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there"},
                             "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1210, "completion_tokens": 5, "total_tokens": 1215,
                          "prompt_tokens_details": {"cached_tokens": 1000, "cache_creation_tokens": 200}}
            })
        );
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(map_stop_reason(Some("end_turn")), FinishReason::Stop);
        assert_eq!(map_stop_reason(Some("stop_sequence")), FinishReason::Stop);
        assert_eq!(map_stop_reason(Some("max_tokens")), FinishReason::Length);
        assert_eq!(map_stop_reason(Some("tool_use")), FinishReason::ToolCalls);
        assert_eq!(
            map_stop_reason(Some("refusal")),
            FinishReason::ContentFilter
        );
        assert_eq!(map_stop_reason(Some("pause_turn")), FinishReason::Stop);
        assert_eq!(
            map_stop_reason(Some("new_reason")),
            FinishReason::Other("new_reason".into())
        );
    }

    #[test]
    fn thinking_and_tool_use() {
        let got = decode(
            json!({
                "id": "msg_02", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [
                    {"type": "thinking", "thinking": "Need weather.", "signature": "EqQBCgIYAh=="},
                    {"type": "redacted_thinking", "data": "EmwKAhgB"},
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 50, "output_tokens": 30}
            }),
            None,
        );
        assert_eq!(
            got["choices"][0],
            json!({"index": 0, "message": {
                "role": "assistant", "content": "Let me check.",
                "tool_calls": [{"id": "toolu_01", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
                "reasoning_content": "Need weather.",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "Need weather.", "signature": "EqQBCgIYAh=="},
                    {"type": "redacted_thinking", "data": "EmwKAhgB"}
                ]
            }, "logprobs": null, "finish_reason": "tool_calls"})
        );
        assert_eq!(
            got["usage"],
            json!({"prompt_tokens": 50, "completion_tokens": 30, "total_tokens": 80})
        );
    }

    #[test]
    fn json_mode_call_becomes_content() {
        let msg = |input: Value| {
            json!({
                "id": "msg_03", "type": "message", "role": "assistant", "model": "m",
                "content": [{"type": "tool_use", "id": "toolu_j", "name": "json_tool_call", "input": input}],
                "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 2}
            })
        };
        let got = decode(
            msg(json!({"name": "Ada"})),
            Some(JsonMode { wrapped: false }),
        );
        assert_eq!(
            got["choices"][0],
            json!({"index": 0, "message": {"role": "assistant", "content": "{\"name\":\"Ada\"}"},
                   "logprobs": null, "finish_reason": "stop"})
        );
        let got = decode(
            msg(json!({"values": ["a", "b"]})),
            Some(JsonMode { wrapped: true }),
        );
        assert_eq!(
            got["choices"][0]["message"]["content"],
            json!("[\"a\",\"b\"]")
        );
        // Without json mode the same call is an ordinary tool call.
        let got = decode(msg(json!({"x": 1})), None);
        assert_eq!(got["choices"][0]["finish_reason"], json!("tool_calls"));
    }

    #[test]
    fn malformed_body_is_bad_gateway() {
        let err = decode_chat(b"{\"id\": 5}", "anthropic", "m", None).unwrap_err();
        assert_eq!(err.kind, llmux_core::ErrorKind::BadGateway);
        assert!(err.message.starts_with("cannot decode anthropic response"));
    }
}
