//! Ollama `/api/chat` response → OpenAI chat completion (pure).
//!
//! `message.content` → `content` (null when empty and the model called tools),
//! `message.thinking` → `reasoning_content`, `message.tool_calls` (arguments
//! as JSON objects) → OpenAI tool calls with generated `call_…` ids (or
//! Ollama's own `id` when it sends one). `done_reason`: `stop` → `stop`
//! (`tool_calls` when the model called tools), `length` → `length`, anything
//! else (`load`, `unload`) → `stop`. Usage: `prompt_eval_count` /
//! `eval_count`. `created` is the response's `created_at`.

// Wire types: every field keeps its name from Ollama's API reference (/api/chat, /api/embed), which documents it.
#![allow(missing_docs)]

use llmux_core::completion::{non_empty, only_choice, provider_completion};
use llmux_core::transport::decode_json;
use llmux_core::types::chat::{ChatCompletion, FinishReason, ResponseMessage, ToolCall, Usage};
use llmux_core::Result;
use serde::Deserialize;
use serde_json::Value;

/// One `/api/chat` object: a whole answer, or one NDJSON stream line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChatResponse {
    pub model: Option<String>,
    pub created_at: Option<String>,
    pub message: Option<OllamaMessage>,
    pub done: bool,
    pub done_reason: Option<String>,
    pub prompt_eval_count: Option<u64>,
    pub eval_count: Option<u64>,
}

/// An assistant message.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OllamaMessage {
    pub content: Option<String>,
    pub thinking: Option<String>,
    pub tool_calls: Option<Vec<OllamaToolCall>>,
}

/// A tool call (`{"function": {"name", "arguments": {…}}}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OllamaToolCall {
    pub id: Option<String>,
    pub function: OllamaFunction,
}

/// A tool call's function.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OllamaFunction {
    pub name: String,
    pub arguments: Option<Value>,
}

impl OllamaToolCall {
    /// The OpenAI tool call (arguments as a JSON string).
    pub fn to_openai(&self) -> ToolCall {
        let id = self
            .id
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(new_call_id);
        let arguments = match &self.function.arguments {
            Some(Value::String(s)) => s.clone(),
            Some(v @ Value::Object(_)) => v.to_string(),
            _ => "{}".to_string(),
        };
        ToolCall::function(id, self.function.name.clone(), arguments)
    }
}

/// A fresh tool-call id: `call_` and 24 hex digits.
pub fn new_call_id() -> String {
    format!("call_{:024x}", fastrand::u128(..) >> 32)
}

/// A fresh completion id (Ollama sends none): `chatcmpl-` and 24 hex digits.
pub fn new_completion_id() -> String {
    format!("chatcmpl-{:024x}", fastrand::u128(..) >> 32)
}

/// `done_reason` → OpenAI finish reason.
pub fn finish_reason(done_reason: Option<&str>, made_tool_calls: bool) -> FinishReason {
    match done_reason {
        Some("length") => FinishReason::Length,
        _ if made_tool_calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

impl ChatResponse {
    /// Usage from the eval counts, when Ollama sent any.
    pub fn usage(&self) -> Option<Usage> {
        (self.prompt_eval_count.is_some() || self.eval_count.is_some()).then(|| {
            Usage::new(
                self.prompt_eval_count.unwrap_or(0),
                self.eval_count.unwrap_or(0),
            )
        })
    }

    /// `created_at` as Unix seconds.
    pub fn created(&self) -> Option<u64> {
        self.created_at.as_deref().and_then(parse_rfc3339)
    }
}

/// Seconds since the epoch of an RFC 3339 time (`2024-07-01T10:00:00.12Z`,
/// `…-07:00`); fractions are dropped.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let oh = tz.get(1..3)?.parse::<i64>().ok()?;
            let om = tz.get(4..6)?.parse::<i64>().ok()?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let days = llmux_core::calendar::days_from_civil(y, mo, d);
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + sec - offset).ok()
}

/// Decode a whole `/api/chat` response body (`"stream": false`).
pub fn decode_chat(body: &[u8], provider: &str, model: &str) -> Result<ChatCompletion> {
    let response: ChatResponse = decode_json(body, provider, model)?;
    Ok(from_response(&response, model))
}

/// Build the completion from a parsed response.
pub fn from_response(response: &ChatResponse, model: &str) -> ChatCompletion {
    let message = response.message.clone().unwrap_or_default();
    let tool_calls: Vec<ToolCall> = message
        .tool_calls
        .iter()
        .flatten()
        .map(OllamaToolCall::to_openai)
        .collect();
    let content = message
        .content
        .filter(|c| !c.is_empty() || tool_calls.is_empty());
    let finish = finish_reason(response.done_reason.as_deref(), !tool_calls.is_empty());
    let message = ResponseMessage {
        content,
        reasoning_content: message.thinking.filter(|t| !t.is_empty()),
        tool_calls: non_empty(tool_calls),
        ..Default::default()
    };
    provider_completion(
        new_completion_id(),
        response.created().unwrap_or_else(llmux_core::unix_now),
        model.to_string(),
        vec![only_choice(message, None, Some(finish))],
        response.usage(),
    )
}

/// The usage in one document of a pass-through answer (`/api/chat`,
/// `/api/generate`, `/api/embed`): its eval counts, on the last line of a stream.
pub fn pass_through_usage(document: &serde_json::Value, usage: &mut Option<Usage>) {
    if let Ok(r) = serde_json::from_value::<ChatResponse>(document.clone()) {
        if let Some(u) = r.usage() {
            *usage = Some(u);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2023-12-12T14:13:43.416799Z"),
            Some(1_702_390_423)
        );
        assert_eq!(
            parse_rfc3339("2024-07-01T10:00:00.123456789-07:00"),
            Some(1_719_853_200)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00+01:00"),
            Some(1_709_161_200)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00"), None);
    }

    #[test]
    fn text_thinking_tools_and_usage() {
        let r: ChatResponse = serde_json::from_value(json!({
            "model": "qwen3", "created_at": "2023-12-12T14:13:43.416799Z",
            "message": {"role": "assistant", "content": "", "thinking": "Need weather.",
                "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
            "done": true, "done_reason": "stop", "total_duration": 5, "prompt_eval_count": 26, "eval_count": 12
        }))
        .unwrap();
        let c = serde_json::to_value(from_response(&r, "qwen3")).unwrap();
        let id = c["id"].as_str().unwrap();
        assert!(id.starts_with("chatcmpl-") && id.len() == 33, "{id}");
        let call_id = c["choices"][0]["message"]["tool_calls"][0]["id"]
            .as_str()
            .unwrap();
        assert!(
            call_id.starts_with("call_") && call_id.len() == 29,
            "{call_id}"
        );
        assert_eq!(
            c,
            json!({"id": id, "object": "chat.completion", "created": 1_702_390_423u64, "model": "qwen3",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
                       "reasoning_content": "Need weather.",
                       "tool_calls": [{"id": call_id, "type": "function",
                           "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
                       "logprobs": null, "finish_reason": "tool_calls"}],
                   "usage": {"prompt_tokens": 26, "completion_tokens": 12, "total_tokens": 38}})
        );
        assert_eq!(finish_reason(Some("length"), false), FinishReason::Length);
        assert_eq!(finish_reason(Some("unload"), false), FinishReason::Stop);
        assert_eq!(finish_reason(None, false), FinishReason::Stop);
    }
}
