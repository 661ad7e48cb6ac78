//! What a logging callback receives for each call: LiteLLM's
//! `StandardLoggingPayload`, field for field (its names, including the
//! camel-case `startTime`), so a pipeline built for LiteLLM reads llmux's
//! events unchanged. Keys never appear: only the key's hash and alias.

use std::time::{SystemTime, UNIX_EPOCH};

use llmux_core::types::chat::Usage;
use llmux_core::Error;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::telemetry::trace::{AttemptSpan, TraceContext};

/// `success` or `failure`, as LiteLLM writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The call was answered (streams: to the end).
    Success,
    /// The call failed (before or during its answer).
    Failure,
}

/// One call, as LiteLLM's `StandardLoggingPayload`.
#[derive(Debug, Clone, Serialize)]
#[allow(non_snake_case)]
pub struct LoggingPayload {
    /// The call's id (`x-litellm-call-id`, the spend row's id).
    pub id: String,
    /// The trace the call belongs to: the client's W3C trace id when it sent
    /// a `traceparent`, else one made for the call.
    pub trace_id: String,
    /// The call's id again, under LiteLLM's newer name.
    pub call_id: String,
    /// LiteLLM's name for the kind of call (`acompletion`, `aembedding`, …).
    pub call_type: String,
    /// Whether the answer was streamed.
    pub stream: bool,
    /// Cost in USD (0 when unpriced or failed).
    pub response_cost: f64,
    /// Why the call has no cost, when it has none though it was served.
    pub response_cost_failure_debug_info: Option<Value>,
    /// `success` or `failure`.
    pub status: Status,
    /// `{"llm_api_status": …}`.
    pub status_fields: StatusFields,
    /// The provider that served (or failed) the call.
    pub custom_llm_provider: Option<String>,
    /// Tokens in all.
    pub total_tokens: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Unix seconds the call arrived.
    pub startTime: f64,
    /// Unix seconds the call ended (streams: the last event).
    pub endTime: f64,
    /// Unix seconds of the first token (streams) or of the answer.
    pub completionStartTime: f64,
    /// Seconds from `startTime` to `endTime`.
    pub response_time: f64,
    /// The price table entry used.
    pub model_map_information: ModelMapInformation,
    /// The model sent upstream (`provider/model`).
    pub model: String,
    /// The deployment id.
    pub model_id: Option<String>,
    /// The model group that served the call.
    pub model_group: Option<String>,
    /// The deployment's base URL.
    pub api_base: String,
    /// Who called, as LiteLLM names it.
    pub metadata: Metadata,
    /// Answered from the response cache.
    pub cache_hit: Option<bool>,
    /// Never set by llmux (its cache keys are not exported).
    pub cache_key: Option<String>,
    /// Cost a cache hit saved (0: llmux does not estimate it).
    pub saved_cache_cost: f64,
    /// `metadata.tags` / `tags` of the request.
    pub request_tags: Vec<Value>,
    /// The request's `user`.
    pub end_user: Option<String>,
    /// The client's address.
    pub requester_ip_address: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The request's messages (or input, prompt); `null` when message
    /// logging is off.
    pub messages: Option<Value>,
    /// The answer; `null` when message logging is off or for streams.
    pub response: Option<Captured>,
    /// The error's message, for failures.
    pub error_str: Option<String>,
    /// The error, for failures.
    pub error_information: Option<ErrorInformation>,
    /// The request's parameters (all but messages, model and metadata).
    pub model_parameters: Map<String, Value>,
    /// LiteLLM's hidden parameters.
    pub hidden_params: HiddenParams,
    /// Guardrails llmux ran (none yet).
    pub guardrail_information: Option<Value>,
    /// Built-in tool parameters (none).
    pub standard_built_in_tools_params: Option<Value>,
    /// What trace exporters need beyond LiteLLM's fields (not serialized).
    #[serde(skip)]
    pub spans: SpanFacts,
    /// About how many bytes the event holds (its request body and answer),
    /// for the queues' byte bounds (not serialized).
    #[serde(skip)]
    pub weight: usize,
}

/// What trace exporters need beyond LiteLLM's fields.
#[derive(Debug, Clone)]
pub struct SpanFacts {
    /// The trace the call belongs to.
    pub trace: TraceContext,
    /// The gateway request's span id (sent upstream as the parent).
    pub span_id: [u8; 8],
    /// The gateway route (`chat_completions`).
    pub route: &'static str,
    /// The model the client asked for.
    pub requested_model: String,
    /// Attempts in all.
    pub attempt_count: u32,
    /// The group first asked for, when a fallback served the call.
    pub fallback_from: Option<String>,
    /// Each attempt the router made.
    pub attempts: Vec<AttemptSpan>,
    /// The answer's finish reasons, when known.
    pub finish_reasons: Vec<String>,
}

impl Default for SpanFacts {
    fn default() -> Self {
        SpanFacts {
            trace: TraceContext::new_root(),
            span_id: crate::telemetry::trace::new_span_id(),
            route: "",
            requested_model: String::new(),
            attempt_count: 0,
            fallback_from: None,
            attempts: Vec::new(),
            finish_reasons: Vec::new(),
        }
    }
}

/// A captured JSON document: a value, or the very bytes a client was sent
/// (kept as they are: no second serialization, no tree of allocations).
#[derive(Debug, Clone)]
pub enum Captured {
    /// A parsed or built value.
    Value(Value),
    /// JSON text as sent.
    Json(bytes::Bytes),
}

impl Captured {
    /// The document as JSON text.
    pub fn to_json_string(&self) -> String {
        match self {
            Captured::Value(v) => v.to_string(),
            Captured::Json(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }
}

impl Serialize for Captured {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Captured::Value(v) => v.serialize(s),
            Captured::Json(b) => match serde_json::from_slice::<&serde_json::value::RawValue>(b) {
                Ok(raw) => raw.serialize(s),
                Err(_) => s.serialize_none(),
            },
        }
    }
}

/// `status_fields`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusFields {
    /// The call's status again.
    pub llm_api_status: Status,
}

/// `model_map_information`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelMapInformation {
    /// The model name prices were looked up by.
    pub model_map_key: String,
    /// The price entry (not exported: `null`).
    pub model_map_value: Option<Value>,
}

/// `metadata`: the caller, never its key.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Metadata {
    /// The key's SHA-256 hash.
    pub user_api_key_hash: Option<String>,
    /// The key's alias.
    pub user_api_key_alias: Option<String>,
    /// The key's team.
    pub user_api_key_team_id: Option<String>,
    /// The key's user.
    pub user_api_key_user_id: Option<String>,
    /// The team's alias.
    pub user_api_key_team_alias: Option<String>,
    /// The request's `user` (LiteLLM's end user).
    pub user_api_key_end_user_id: Option<String>,
    /// The route called (`/v1/chat/completions`).
    pub user_api_key_request_route: Option<String>,
    /// `metadata.spend_logs_metadata` of the request.
    pub spend_logs_metadata: Option<Value>,
    /// The client's address.
    pub requester_ip_address: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The request's own `metadata` object.
    pub requester_metadata: Option<Value>,
    /// The team again, under LiteLLM's newer name.
    pub team_id: Option<String>,
    /// The team's alias again.
    pub team_alias: Option<String>,
}

/// `error_information`.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorInformation {
    /// The HTTP status the error maps to.
    pub error_code: Option<String>,
    /// LiteLLM's exception name (`RateLimitError`, `Timeout`, …).
    pub error_class: Option<String>,
    /// The provider that failed, when one did.
    pub llm_provider: Option<String>,
    /// Never set (no tracebacks leave the gateway).
    pub traceback: Option<String>,
    /// The error's message.
    pub error_message: Option<String>,
}

/// `hidden_params`.
#[derive(Debug, Clone, Serialize)]
pub struct HiddenParams {
    /// The deployment id.
    pub model_id: Option<String>,
    /// Never set.
    pub cache_key: Option<String>,
    /// The deployment's base URL.
    pub api_base: Option<String>,
    /// The cost in USD, as text.
    pub response_cost: Option<String>,
    /// Milliseconds spent in llmux itself.
    pub litellm_overhead_time_ms: Option<f64>,
    /// Upstream rate-limit headers (not collected: empty).
    pub additional_headers: Map<String, Value>,
    /// The model name sent upstream.
    pub litellm_model_name: Option<String>,
}

/// Unix seconds, with fractions.
pub(crate) fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The parts of a captured request a payload shows: its content
/// (`messages`, `input`, `prompt`), its parameters, tags, end user and
/// `metadata`.
#[derive(Debug, Clone, Default)]
pub struct CapturedRequest {
    /// `messages`, else `input`, else `prompt`.
    pub content: Option<Value>,
    /// Every other field but `model`, `metadata` and `stream`.
    pub parameters: Map<String, Value>,
    /// `metadata.tags`, else `tags`.
    pub tags: Vec<Value>,
    /// `user`.
    pub end_user: Option<String>,
    /// `metadata`.
    pub metadata: Option<Value>,
}

/// Tags, end users and parameters are capped: a request is no bigger than
/// its body limit, but a payload is queued, so a caller must not make it
/// hold more than this many tags.
const MAX_TAGS: usize = 64;

impl CapturedRequest {
    /// Split a request's JSON body into what a payload shows.
    pub fn of(request: Value) -> CapturedRequest {
        let Value::Object(mut fields) = request else {
            return CapturedRequest::default();
        };
        let content = ["messages", "input", "prompt"]
            .iter()
            .find_map(|k| fields.remove(*k));
        fields.remove("model");
        fields.remove("stream");
        let metadata = fields.remove("metadata");
        let tags = metadata
            .as_ref()
            .and_then(|m| m.get("tags"))
            .or_else(|| fields.get("tags"))
            .and_then(Value::as_array)
            .map(|t| t.iter().take(MAX_TAGS).cloned().collect())
            .unwrap_or_default();
        let end_user = fields
            .get("user")
            .and_then(Value::as_str)
            .map(|u| llmux_core::text::truncate(u, 256).to_string());
        CapturedRequest {
            content,
            parameters: fields,
            tags,
            end_user,
            metadata,
        }
    }
}

/// The error fields of a failure.
pub(crate) fn error_information(err: &Error, provider: Option<&str>) -> ErrorInformation {
    ErrorInformation {
        error_code: Some(err.status().to_string()),
        error_class: Some(err.kind.name().to_string()),
        llm_provider: provider.map(str::to_string),
        traceback: None,
        error_message: Some(err.to_string()),
    }
}

/// Usage as the payload counts it.
pub(crate) fn token_counts(usage: Option<&Usage>) -> (u64, u64, u64) {
    usage.map_or((0, 0, 0), |u| {
        (u.prompt_tokens, u.completion_tokens, u.total_tokens)
    })
}
