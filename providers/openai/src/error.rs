//! OpenAI-format error bodies → core's [`Error`].
//!
//! OpenAI answers `{"error": {"message", "type", "param", "code"}}`; vendors
//! that copy the API sometimes send `{"error": "text"}`, `{"message": ...}` or
//! FastAPI's `{"detail": ...}`. The status picks the kind; code and message
//! refine it to context-window and content-policy errors, which the router
//! treats differently.

use http::HeaderMap;
use llmux_core::error::parse_retry_after;
use llmux_core::{Error, ErrorKind};
use serde_json::Value;

/// Message fragments vendors use for an over-long prompt.
const CONTEXT_WINDOW_HINTS: &[&str] = &[
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "reduce the length",
    "prompt is too long",
    "too many tokens",
    "input is too long",
];

/// Message fragments vendors use for a policy refusal.
const CONTENT_POLICY_HINTS: &[&str] = &[
    "content_policy_violation",
    "content management policy",
    "content_filter",
    "safety system",
];

/// Map an upstream error response to an [`Error`].
pub fn decode_error(provider: &str, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let (message, r#type, param, code) = match &parsed {
        Some(v) => fields(v),
        None => (None, None, None, None),
    };
    let message = message.unwrap_or_else(|| llmux_core::text::upstream_status_text(status, body));
    let kind = classify(status, &message, code.as_deref(), r#type.as_deref());
    let mut err = Error::new(kind, message)
        .with_provider(provider)
        .with_upstream_status(status)
        .with_retry_after(parse_retry_after(headers));
    if let Some(p) = param {
        err = err.with_param(p);
    }
    if let Some(c) = code {
        err = err.with_code(c);
    }
    err
}

/// Map an `{"error": ...}` object that arrived inside a stream.
pub fn decode_stream_error(provider: &str, value: &Value) -> Error {
    let (message, r#type, param, code) = fields(value);
    let message = message.unwrap_or_else(|| "upstream sent an error event mid-stream".into());
    let status = value
        .get("error")
        .and_then(|e| e.get("status").or_else(|| e.get("code")))
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(500);
    let kind = classify(status, &message, code.as_deref(), r#type.as_deref());
    let mut err = Error::new(kind, message).with_provider(provider);
    if let Some(p) = param {
        err = err.with_param(p);
    }
    if let Some(c) = code {
        err = err.with_code(c);
    }
    err
}

type Fields = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn fields(v: &Value) -> Fields {
    let as_string = |v: Option<&Value>| -> Option<String> {
        match v? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    match v.get("error") {
        Some(Value::Object(e)) => (
            as_string(e.get("message")),
            as_string(e.get("type")),
            as_string(e.get("param")),
            as_string(e.get("code")),
        ),
        Some(Value::String(s)) => (Some(s.clone()), None, None, None),
        _ => {
            let message = as_string(v.get("message")).or_else(|| match v.get("detail") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(other @ (Value::Array(_) | Value::Object(_))) => Some(other.to_string()),
                _ => None,
            });
            (
                message,
                as_string(v.get("type")),
                None,
                as_string(v.get("code")),
            )
        }
    }
}

fn classify(status: u16, message: &str, code: Option<&str>, r#type: Option<&str>) -> ErrorKind {
    let base = ErrorKind::from_status(status);
    if !matches!(base, ErrorKind::BadRequest | ErrorKind::UnprocessableEntity) {
        return base;
    }
    let haystack = format!(
        "{} {} {}",
        code.unwrap_or(""),
        r#type.unwrap_or(""),
        message.to_ascii_lowercase()
    );
    if CONTEXT_WINDOW_HINTS.iter().any(|h| haystack.contains(h)) {
        ErrorKind::ContextWindowExceeded
    } else if CONTENT_POLICY_HINTS.iter().any(|h| haystack.contains(h)) {
        ErrorKind::ContentPolicyViolation
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn openai_context_length_error() {
        let body = br#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let err = decode_error("openai", 400, &HeaderMap::new(), body);
        assert_eq!(err.kind, ErrorKind::ContextWindowExceeded);
        assert_eq!(err.param.as_deref(), Some("messages"));
        assert_eq!(err.code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(err.upstream_status, Some(400));
        assert_eq!(err.provider.as_deref(), Some("openai"));
    }

    #[test]
    fn azure_content_filter_error() {
        let body = br#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}}"#;
        let err = decode_error("azure", 400, &HeaderMap::new(), body);
        assert_eq!(err.kind, ErrorKind::ContentPolicyViolation);
    }

    #[test]
    fn rate_limit_with_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", http::HeaderValue::from_static("3"));
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let err = decode_error("groq", 429, &headers, body);
        assert_eq!(err.kind, ErrorKind::RateLimit);
        assert_eq!(err.retry_after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn vendor_shapes_and_garbage() {
        let err = decode_error("x", 401, &HeaderMap::new(), br#"{"error":"bad key"}"#);
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::Authentication, "bad key")
        );
        let err = decode_error(
            "x",
            422,
            &HeaderMap::new(),
            br#"{"detail":"field required"}"#,
        );
        assert_eq!(err.kind, ErrorKind::UnprocessableEntity);
        assert_eq!(err.message, "field required");
        let err = decode_error("x", 502, &HeaderMap::new(), b"<html>Bad Gateway</html>");
        assert_eq!(err.kind, ErrorKind::BadGateway);
        assert_eq!(
            err.message,
            "upstream returned HTTP 502: <html>Bad Gateway</html>"
        );
        let err = decode_error("x", 503, &HeaderMap::new(), b"");
        assert_eq!(err.message, "upstream returned HTTP 503 with an empty body");
    }
}
