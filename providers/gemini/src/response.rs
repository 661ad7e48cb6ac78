//! Gemini `GenerateContentResponse` → OpenAI chat completion (pure).
//!
//! Candidates become choices; text parts are the content, `thought` parts the
//! `reasoning_content`, `functionCall` parts tool calls (with generated ids
//! that carry the part's `thoughtSignature`, so it goes back on the next
//! turn); `finishReason` maps onto OpenAI's values; `usageMetadata` becomes
//! `usage` with cached and reasoning token details. A prompt blocked before
//! generation (`promptFeedback.blockReason`) is a `ContentPolicyViolation`.

// Wire types: every field keeps its name from the Gemini API reference (GenerateContentResponse), which documents it.
#![allow(missing_docs)]

use llmux_core::completion::provider_completion;
use llmux_core::types::chat::{
    ChatCompletion, Choice, CompletionTokensDetails, Extra, FinishReason, PromptTokensDetails,
    ResponseMessage, ToolCall, Usage,
};
use llmux_core::{Error, ErrorKind, Result};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::request::THOUGHT_SIGNATURE_SEPARATOR;

/// One `GenerateContentResponse` (a whole answer, or one stream event).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GenerateContentResponse {
    pub candidates: Vec<Candidate>,
    pub prompt_feedback: Option<PromptFeedback>,
    pub usage_metadata: Option<UsageMetadata>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
}

/// One candidate answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Candidate {
    pub content: Option<CandidateContent>,
    pub finish_reason: Option<String>,
    pub index: Option<u32>,
    pub logprobs_result: Option<Value>,
}

/// A candidate's `content`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CandidateContent {
    pub parts: Vec<Part>,
}

/// One part of a candidate's content (the kinds llmux reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Part {
    pub text: Option<String>,
    pub thought: Option<bool>,
    pub thought_signature: Option<String>,
    pub function_call: Option<FunctionCallPart>,
}

/// `functionCall` part.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FunctionCallPart {
    pub name: String,
    #[serde(default)]
    pub args: Option<Value>,
    #[serde(default)]
    pub id: Option<String>,
}

/// `promptFeedback`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PromptFeedback {
    pub block_reason: Option<String>,
    pub block_reason_message: Option<String>,
}

/// `usageMetadata`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UsageMetadata {
    pub prompt_token_count: Option<u64>,
    pub candidates_token_count: Option<u64>,
    pub total_token_count: Option<u64>,
    pub cached_content_token_count: Option<u64>,
    pub thoughts_token_count: Option<u64>,
    pub tool_use_prompt_token_count: Option<u64>,
}

impl UsageMetadata {
    /// Whether any count is present (Vertex sends `{"trafficType": …}` alone mid-stream).
    pub fn has_counts(&self) -> bool {
        self.prompt_token_count.is_some()
            || self.candidates_token_count.is_some()
            || self.total_token_count.is_some()
    }

    /// OpenAI usage: prompt includes tool-use prompt tokens; completion
    /// includes thinking tokens (unless Google already counted them in
    /// `candidatesTokenCount`); total is Google's total when given.
    pub fn to_usage(&self) -> Usage {
        let prompt =
            self.prompt_token_count.unwrap_or(0) + self.tool_use_prompt_token_count.unwrap_or(0);
        let candidates = self.candidates_token_count.unwrap_or(0);
        let thoughts = self.thoughts_token_count.unwrap_or(0);
        let inclusive = self.total_token_count == Some(prompt + candidates);
        let completion = if inclusive {
            candidates
        } else {
            candidates + thoughts
        };
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: self.total_token_count.unwrap_or(prompt + completion),
            prompt_tokens_details: self
                .cached_content_token_count
                .map(|c| PromptTokensDetails {
                    cached_tokens: Some(c),
                    ..Default::default()
                }),
            completion_tokens_details: self.thoughts_token_count.map(|t| CompletionTokensDetails {
                reasoning_tokens: Some(t),
                ..Default::default()
            }),
            extra: Extra::new(),
        }
    }
}

/// Gemini `finishReason` → OpenAI `finish_reason` (LiteLLM's table).
pub fn map_finish_reason(reason: &str) -> FinishReason {
    match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "LANGUAGE"
        | "OTHER"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        // STOP, FINISH_REASON_UNSPECIFIED, MALFORMED_FUNCTION_CALL, … have no
        // closer OpenAI value.
        _ => FinishReason::Stop,
    }
}

/// The finish reason of a candidate that made `tool_calls` calls.
pub fn finish_reason(reason: &str, made_tool_calls: bool) -> FinishReason {
    match map_finish_reason(reason) {
        FinishReason::Stop if made_tool_calls => FinishReason::ToolCalls,
        other => other,
    }
}

/// A fresh tool-call id (`call_` + 24 hex digits), or Google's own id when it
/// sent one, with the thought signature appended after `__thought__`.
pub fn tool_call_id(call: &FunctionCallPart, signature: Option<&str>) -> String {
    let base = match call.id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => id.to_string(),
        None => format!("call_{:024x}", fastrand::u128(..) >> 32),
    };
    match signature.filter(|s| !s.is_empty()) {
        Some(sig) => format!("{base}{THOUGHT_SIGNATURE_SEPARATOR}{sig}"),
        None => base,
    }
}

/// What one candidate's parts add up to.
#[derive(Debug, Default)]
pub struct Decoded {
    pub content: Option<String>,
    pub reasoning: Option<String>,
    pub tool_calls: Vec<ToolCall>,
}

/// Split a candidate's parts into content, reasoning and tool calls.
pub fn decode_parts(parts: &[Part]) -> Decoded {
    let mut out = Decoded::default();
    for part in parts {
        if let Some(call) = &part.function_call {
            let args = match &call.args {
                Some(v @ Value::Object(_)) => v.to_string(),
                _ => "{}".to_string(),
            };
            out.tool_calls.push(ToolCall::function(
                tool_call_id(call, part.thought_signature.as_deref()),
                call.name.clone(),
                args,
            ));
            continue;
        }
        if let Some(text) = part.text.as_deref().filter(|t| !t.is_empty()) {
            let slot = if part.thought == Some(true) {
                &mut out.reasoning
            } else {
                &mut out.content
            };
            slot.get_or_insert_with(String::new).push_str(text);
        }
    }
    out
}

/// `logprobsResult` → OpenAI's `{"content": [{token, logprob, top_logprobs}]}`.
pub fn decode_logprobs(result: &Value) -> Option<Value> {
    let chosen = result.get("chosenCandidates")?.as_array()?;
    let top = result.get("topCandidates").and_then(Value::as_array);
    let entries: Vec<Value> = chosen
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let alternatives: Vec<Value> = top
                .and_then(|t| t.get(i))
                .and_then(|t| t.get("candidates"))
                .and_then(Value::as_array)
                .map(|cands| {
                    cands
                        .iter()
                        .map(|a| json!({"token": a.get("token"), "logprob": a.get("logProbability")}))
                        .collect()
                })
                .unwrap_or_default();
            json!({"token": c.get("token"), "logprob": c.get("logProbability"), "top_logprobs": alternatives})
        })
        .collect();
    Some(json!({ "content": entries }))
}

/// The error for a prompt Google refused to answer.
pub fn blocked_prompt(feedback: &PromptFeedback, provider: &str) -> Option<Error> {
    let reason = feedback.block_reason.as_deref()?;
    let mut message = format!("the prompt was blocked by {provider} (blockReason {reason})");
    if let Some(m) = feedback
        .block_reason_message
        .as_deref()
        .filter(|m| !m.is_empty())
    {
        message.push_str(": ");
        message.push_str(m);
    }
    Some(
        Error::new(ErrorKind::ContentPolicyViolation, message)
            .with_provider(provider)
            .with_code("content_policy_violation"),
    )
}

/// A fresh completion id when Google sent no `responseId`.
pub fn completion_id(response_id: Option<&str>) -> String {
    match response_id.filter(|s| !s.is_empty()) {
        Some(id) => id.to_string(),
        None => format!("chatcmpl-{:024x}", fastrand::u128(..) >> 32),
    }
}

/// Decode a whole `generateContent` body for `model`.
pub fn decode_chat(body: &[u8], provider: &str, model: &str) -> Result<ChatCompletion> {
    let response: GenerateContentResponse = serde_json::from_slice(body).map_err(|e| {
        Error::bad_gateway(format!("cannot decode {provider} response: {e}"))
            .with_provider(provider)
            .with_model(model)
    })?;
    from_response(response, provider, model, llmux_core::unix_now())
}

/// Convert a decoded response (`created` given, for tests and replays).
pub fn from_response(
    response: GenerateContentResponse,
    provider: &str,
    model: &str,
    created: u64,
) -> Result<ChatCompletion> {
    if response.candidates.is_empty() {
        if let Some(err) = response
            .prompt_feedback
            .as_ref()
            .and_then(|f| blocked_prompt(f, provider))
        {
            return Err(err.with_model(model));
        }
    }
    let choices = response
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let decoded = c
                .content
                .as_ref()
                .map(|content| decode_parts(&content.parts))
                .unwrap_or_default();
            let made_calls = !decoded.tool_calls.is_empty();
            Choice {
                index: c.index.unwrap_or(u32::try_from(i).unwrap_or(u32::MAX)),
                message: ResponseMessage {
                    content: decoded.content,
                    reasoning_content: decoded.reasoning,
                    tool_calls: made_calls.then_some(decoded.tool_calls),
                    ..Default::default()
                },
                logprobs: c.logprobs_result.as_ref().and_then(decode_logprobs),
                finish_reason: Some(
                    c.finish_reason
                        .as_deref()
                        .map(|r| finish_reason(r, made_calls))
                        .unwrap_or(if made_calls {
                            FinishReason::ToolCalls
                        } else {
                            FinishReason::Stop
                        }),
                ),
                extra: Map::new(),
            }
        })
        .collect();
    Ok(provider_completion(
        completion_id(response.response_id.as_deref()),
        created,
        model.to_string(),
        choices,
        response
            .usage_metadata
            .as_ref()
            .map(UsageMetadata::to_usage),
    ))
}

/// The usage in one document of a pass-through answer: `usageMetadata`
/// (cumulative in streams, so the latest wins), or Anthropic's shape for
/// Claude on Vertex AI.
pub fn pass_through_usage(document: &serde_json::Value, usage: &mut Option<Usage>) {
    match document.get("usageMetadata") {
        Some(found) => {
            if let Ok(u) = serde_json::from_value::<UsageMetadata>(found.clone()) {
                *usage = Some(u.to_usage());
            }
        }
        None => llmux_core::pass_through::anthropic_usage(document, usage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(v: Value) -> Result<ChatCompletion> {
        from_response(
            serde_json::from_value(v).unwrap(),
            "gemini",
            "gemini-2.5-flash",
            7,
        )
    }

    #[test]
    fn text_thoughts_and_usage() {
        let resp = decode(json!({
            "candidates": [{
                "content": {"role": "model", "parts": [
                    {"text": "Let me think.", "thought": true},
                    {"text": "Hello"}, {"text": " world"}
                ]},
                "finishReason": "STOP", "index": 0,
                "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]
            }],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 27,
                "cachedContentTokenCount": 4, "thoughtsTokenCount": 12,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}]},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp-1"
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&resp).unwrap(),
            json!({
                "id": "resp-1", "object": "chat.completion", "created": 7, "model": "gemini-2.5-flash",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello world", "reasoning_content": "Let me think."}, "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 17, "total_tokens": 27,
                    "prompt_tokens_details": {"cached_tokens": 4},
                    "completion_tokens_details": {"reasoning_tokens": 12}}
            })
        );
    }

    #[test]
    fn inclusive_candidate_count_is_not_double_counted() {
        let u = UsageMetadata {
            prompt_token_count: Some(10),
            candidates_token_count: Some(17),
            total_token_count: Some(27),
            thoughts_token_count: Some(12),
            ..Default::default()
        };
        assert_eq!(u.to_usage().completion_tokens, 17);
    }

    #[test]
    fn function_calls_get_ids_and_signatures() {
        let resp = decode(json!({
            "candidates": [{
                "content": {"role": "model", "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
                    {"functionCall": {"name": "now"}}
                ]},
                "finishReason": "STOP"
            }]
        }))
        .unwrap();
        let choice = &resp.choices[0];
        assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(choice.message.content, None);
        let calls = choice.message.tool_calls.clone().unwrap();
        assert_eq!(calls.len(), 2);
        let (id0, sig) = calls[0].id.split_once("__thought__").unwrap();
        assert_eq!(sig, "c2ln");
        assert!(id0.starts_with("call_") && id0.len() == 29, "{id0}");
        assert!(id0[5..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(calls[0].function.name, "get_weather");
        assert_eq!(calls[0].function.arguments, "{\"city\":\"Paris\"}");
        assert_eq!(calls[1].function.arguments, "{}");
        assert!(!calls[1].id.contains("__thought__"));
        assert_ne!(id0, calls[1].id);
        assert!(resp.id.starts_with("chatcmpl-"));
    }

    #[test]
    fn finish_reasons_map() {
        for (g, o) in [
            ("STOP", FinishReason::Stop),
            ("MAX_TOKENS", FinishReason::Length),
            ("SAFETY", FinishReason::ContentFilter),
            ("RECITATION", FinishReason::ContentFilter),
            ("BLOCKLIST", FinishReason::ContentFilter),
            ("PROHIBITED_CONTENT", FinishReason::ContentFilter),
            ("SPII", FinishReason::ContentFilter),
            ("MALFORMED_FUNCTION_CALL", FinishReason::Stop),
            ("FINISH_REASON_UNSPECIFIED", FinishReason::Stop),
        ] {
            assert_eq!(map_finish_reason(g), o, "{g}");
        }
        assert_eq!(finish_reason("MAX_TOKENS", true), FinishReason::Length);
        // A candidate stopped for safety has no content at all.
        let resp = decode(json!({"candidates": [{"finishReason": "SAFETY", "index": 0}]})).unwrap();
        assert_eq!(resp.choices[0].message.content, None);
        assert_eq!(
            resp.choices[0].finish_reason,
            Some(FinishReason::ContentFilter)
        );
    }

    #[test]
    fn blocked_prompt_is_content_policy_violation() {
        let err = decode(json!({
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
            "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}
        }))
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::ContentPolicyViolation);
        assert_eq!(
            err.message,
            "the prompt was blocked by gemini (blockReason SAFETY)"
        );
        assert_eq!(err.model.as_deref(), Some("gemini-2.5-flash"));
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn logprobs_and_multiple_candidates() {
        let resp = decode(json!({
            "candidates": [
                {"content": {"parts": [{"text": "A"}]}, "finishReason": "STOP", "index": 0,
                 "avgLogprobs": -0.1,
                 "logprobsResult": {
                    "topCandidates": [{"candidates": [{"token": "A", "logProbability": -0.1}, {"token": "B", "logProbability": -2.5}]}],
                    "chosenCandidates": [{"token": "A", "logProbability": -0.1}]}},
                {"content": {"parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS", "index": 1}
            ]
        }))
        .unwrap();
        assert_eq!(
            resp.choices[0].logprobs,
            Some(
                json!({"content": [{"token": "A", "logprob": -0.1, "top_logprobs": [{"token": "A", "logprob": -0.1}, {"token": "B", "logprob": -2.5}]}]})
            )
        );
        assert_eq!(resp.choices[1].index, 1);
        assert_eq!(resp.choices[1].message.content.as_deref(), Some("B"));
        assert_eq!(resp.choices[1].finish_reason, Some(FinishReason::Length));
    }

    #[test]
    fn malformed_body_is_bad_gateway() {
        let err = decode_chat(b"{\"candidates\": 5}", "gemini", "m").unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadGateway);
    }
}
