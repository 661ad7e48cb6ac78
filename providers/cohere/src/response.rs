//! Cohere Chat v2 response → OpenAI chat completion (pure).
//!
//! `message.content` text blocks become `content`, `thinking` blocks and the
//! `tool_plan` become `reasoning_content`, `tool_calls` keep their ids and
//! JSON-string arguments, `citations` ride along as `message.citations`.
//! `finish_reason`: `COMPLETE` / `STOP_SEQUENCE` → `stop`, `MAX_TOKENS` →
//! `length`, `TOOL_CALL` → `tool_calls`, `ERROR_TOXIC` → `content_filter`,
//! `ERROR` / `TIMEOUT` → `stop` (OpenAI has no error reason; LiteLLM does the
//! same). Usage is what Cohere bills (`usage.billed_units`), falling back to
//! `usage.tokens`; `cached_tokens` becomes `prompt_tokens_details.cached_tokens`.

// Wire types: every field keeps its name from Cohere's Chat v2, Embed and Rerank references, which documents it.
#![allow(missing_docs)]

use llmux_core::completion::{non_empty, only_choice, provider_completion};
use llmux_core::transport::decode_json;
use llmux_core::types::chat::{
    ChatCompletion, Extra, FinishReason, PromptTokensDetails, ResponseMessage, ToolCall, Usage,
};
use llmux_core::Result;
use serde::Deserialize;
use serde_json::{json, Value};

/// A Chat v2 response body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChatResponse {
    pub id: Option<String>,
    pub finish_reason: Option<String>,
    pub message: Option<AssistantOut>,
    pub usage: Option<CohereUsage>,
    pub logprobs: Option<Vec<LogprobItem>>,
}

/// The assistant message of a response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AssistantOut {
    #[serde(deserialize_with = "content_blocks")]
    pub content: Vec<ContentBlock>,
    pub tool_calls: Option<Vec<ToolCallOut>>,
    pub tool_plan: Option<String>,
    pub citations: Option<Vec<Value>>,
}

/// One content block (`text` or `thinking`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContentBlock {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub text: Option<String>,
    pub thinking: Option<String>,
}

/// Content is a list of blocks, or (rarely) a bare string.
fn content_blocks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ContentBlock>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(text)) => vec![ContentBlock {
            kind: Some("text".into()),
            text: Some(text),
            thinking: None,
        }],
        Some(v @ Value::Array(_)) => serde_json::from_value(v).map_err(serde::de::Error::custom)?,
        _ => Vec::new(),
    })
}

/// A tool call as Cohere sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ToolCallOut {
    pub id: Option<String>,
    pub function: Option<FunctionOut>,
}

/// A tool call's function.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FunctionOut {
    pub name: Option<String>,
    pub arguments: Option<String>,
}

/// `usage` of a chat response (counts are JSON numbers, possibly with a fraction).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CohereUsage {
    pub billed_units: Option<Units>,
    pub tokens: Option<Units>,
    pub cached_tokens: Option<f64>,
}

/// `billed_units` / `tokens`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Units {
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
}

/// One `logprobs` item: a piece of text, its token ids and their log probabilities.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LogprobItem {
    pub text: Option<String>,
    pub logprobs: Vec<f64>,
}

fn count(v: Option<f64>) -> Option<u64> {
    v.filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| x.round() as u64)
}

impl CohereUsage {
    /// OpenAI usage: billed units first, raw token counts when nothing is billed.
    pub fn to_usage(&self) -> Usage {
        let pick = |f: fn(&Units) -> Option<f64>| {
            count(self.billed_units.as_ref().and_then(f))
                .or_else(|| count(self.tokens.as_ref().and_then(f)))
                .unwrap_or(0)
        };
        let mut usage = Usage::new(pick(|u| u.input_tokens), pick(|u| u.output_tokens));
        if let Some(cached) = count(self.cached_tokens).filter(|c| *c > 0) {
            usage.prompt_tokens_details = Some(PromptTokensDetails {
                cached_tokens: Some(cached),
                ..Default::default()
            });
        }
        usage
    }
}

/// Cohere `finish_reason` → OpenAI's; a call that made tool calls ends in `tool_calls`.
pub fn finish_reason(reason: &str, made_tool_calls: bool) -> FinishReason {
    match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "TOOL_CALL" => FinishReason::ToolCalls,
        "ERROR_TOXIC" => FinishReason::ContentFilter,
        _ if made_tool_calls => FinishReason::ToolCalls,
        // COMPLETE, STOP_SEQUENCE, ERROR, TIMEOUT, and anything new.
        _ => FinishReason::Stop,
    }
}

/// Cohere logprobs → OpenAI's `{"content": [{token, logprob, top_logprobs}]}`
/// (one entry per Cohere item, its log probabilities summed).
pub fn decode_logprobs(items: &[LogprobItem]) -> Option<Value> {
    if items.is_empty() {
        return None;
    }
    let content: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({"token": i.text.clone().unwrap_or_default(),
                   "logprob": i.logprobs.iter().sum::<f64>(), "top_logprobs": []})
        })
        .collect();
    Some(json!({ "content": content }))
}

/// A fresh completion id when Cohere sent none.
pub fn completion_id(id: Option<&str>) -> String {
    match id.filter(|s| !s.is_empty()) {
        Some(id) => id.to_string(),
        None => format!(
            "chatcmpl-{:016x}{:016x}",
            llmux_core::unix_now(),
            std::process::id()
        ),
    }
}

/// Decode a whole Chat v2 response body.
pub fn decode_chat(body: &[u8], provider: &str, model: &str) -> Result<ChatCompletion> {
    let response: ChatResponse = decode_json(body, provider, model)?;
    Ok(from_response(response, model, llmux_core::unix_now()))
}

/// Build the completion from a parsed response.
pub fn from_response(response: ChatResponse, model: &str, created: u64) -> ChatCompletion {
    let message = response.message.unwrap_or_default();
    let mut content: Option<String> = None;
    let mut reasoning: Option<String> = message.tool_plan.filter(|p| !p.is_empty());
    for block in &message.content {
        match block.kind.as_deref() {
            Some("thinking") => {
                if let Some(t) = block.thinking.as_deref().filter(|t| !t.is_empty()) {
                    reasoning.get_or_insert_with(String::new).push_str(t);
                }
            }
            _ => {
                if let Some(t) = block.text.as_deref() {
                    content.get_or_insert_with(String::new).push_str(t);
                }
            }
        }
    }
    let tool_calls: Vec<ToolCall> = message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let f = c.function.unwrap_or_default();
            ToolCall::function(
                c.id.filter(|s| !s.is_empty())
                    .unwrap_or_else(|| format!("call_{i}")),
                f.name.unwrap_or_default(),
                f.arguments
                    .filter(|a| !a.is_empty())
                    .unwrap_or_else(|| "{}".into()),
            )
        })
        .collect();
    let mut extra = Extra::new();
    if let Some(c) = message.citations.filter(|c| !c.is_empty()) {
        extra.insert("citations".into(), Value::Array(c));
    }
    let finish = response
        .finish_reason
        .as_deref()
        .map(|r| finish_reason(r, !tool_calls.is_empty()));
    let message = ResponseMessage {
        content,
        tool_calls: non_empty(tool_calls),
        reasoning_content: reasoning,
        extra,
        ..Default::default()
    };
    let logprobs = response.logprobs.as_deref().and_then(decode_logprobs);
    provider_completion(
        completion_id(response.id.as_deref()),
        created,
        model.to_string(),
        vec![only_choice(message, logprobs, finish)],
        response.usage.as_ref().map(CohereUsage::to_usage),
    )
}

/// The usage in one document of a pass-through answer: a chat's `usage`, a
/// v2 stream's `message-end` (`delta.usage`), or `meta.billed_units` (v1
/// chat, embed, rerank). Rerank's search units are kept in the usage's
/// `search_units`, which is what rerank is priced by.
pub fn pass_through_usage(document: &serde_json::Value, usage: &mut Option<Usage>) {
    let found = match document.get("type").and_then(serde_json::Value::as_str) {
        Some("message-end") => document.get("delta").and_then(|d| d.get("usage")).cloned(),
        Some(_) => None,
        None => document.get("usage").cloned().or_else(|| {
            let units = document.get("meta")?.get("billed_units")?;
            Some(serde_json::json!({ "billed_units": units }))
        }),
    };
    let Some(found) = found else {
        return;
    };
    let search_units = found
        .get("billed_units")
        .and_then(|b| b.get("search_units"))
        .and_then(serde_json::Value::as_f64);
    if let Ok(u) = serde_json::from_value::<CohereUsage>(found) {
        let mut u = u.to_usage();
        if let Some(n) = search_units {
            u.extra.insert("search_units".into(), serde_json::json!(n));
        }
        *usage = Some(u);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(v: Value) -> Value {
        let r: ChatResponse = serde_json::from_value(v).unwrap();
        serde_json::to_value(from_response(r, "command-a-03-2025", 5)).unwrap()
    }

    #[test]
    fn text_thinking_citations_and_usage() {
        let got = decode(json!({
            "id": "c14c80c3",
            "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Greet."},
                {"type": "text", "text": "Hello"}, {"type": "text", "text": "!"}
            ], "citations": [{"start": 0, "end": 5, "text": "Hello", "sources": []}]},
            "usage": {"billed_units": {"input_tokens": 5, "output_tokens": 2},
                      "tokens": {"input_tokens": 71, "output_tokens": 2}, "cached_tokens": 3}
        }));
        assert_eq!(
            got,
            json!({"id": "c14c80c3", "object": "chat.completion", "created": 5, "model": "command-a-03-2025",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!",
                       "reasoning_content": "Greet.",
                       "citations": [{"start": 0, "end": 5, "text": "Hello", "sources": []}]},
                       "logprobs": null, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7,
                             "prompt_tokens_details": {"cached_tokens": 3}}})
        );
    }

    #[test]
    fn finish_reasons_map() {
        for (reason, calls, expected) in [
            ("COMPLETE", false, "stop"),
            ("STOP_SEQUENCE", false, "stop"),
            ("MAX_TOKENS", false, "length"),
            ("TOOL_CALL", false, "tool_calls"),
            ("COMPLETE", true, "tool_calls"),
            ("MAX_TOKENS", true, "length"),
            ("ERROR", false, "stop"),
            ("ERROR_TOXIC", false, "content_filter"),
            ("TIMEOUT", false, "stop"),
        ] {
            assert_eq!(finish_reason(reason, calls).as_str(), expected, "{reason}");
        }
    }

    #[test]
    fn tool_calls_plan_tokens_fallback_and_logprobs() {
        let got = decode(json!({
            "id": "r2", "finish_reason": "TOOL_CALL",
            "message": {"role": "assistant", "tool_plan": "I will check the weather.",
                "tool_calls": [{"id": "get_weather_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
            "usage": {"tokens": {"input_tokens": 30, "output_tokens": 12.0}},
            "logprobs": [{"token_ids": [1, 2], "text": "Hi", "logprobs": [-0.5, -0.25]}]
        }));
        assert_eq!(
            got["choices"][0],
            json!({"index": 0, "message": {"role": "assistant", "content": null,
                "reasoning_content": "I will check the weather.",
                "tool_calls": [{"id": "get_weather_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
                "logprobs": {"content": [{"token": "Hi", "logprob": -0.75, "top_logprobs": []}]},
                "finish_reason": "tool_calls"})
        );
        assert_eq!(
            got["usage"],
            json!({"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42})
        );
    }
}
