//! Anthropic error bodies → core's [`Error`].
//!
//! Anthropic answers errors as
//! `{"type": "error", "error": {"type": "...", "message": "..."}, "request_id": "req_…"}`
//! with these statuses and types: 400 `invalid_request_error`, 401
//! `authentication_error`, 402 `billing_error`, 403 `permission_error`, 404
//! `not_found_error`, 413 `request_too_large`, 429 `rate_limit_error`, 500
//! `api_error`, 504 `timeout_error`, 529 `overloaded_error`. The same
//! `error` object can arrive as an `error` event in the middle of a stream.
//! The type decides the kind; an over-long prompt (`prompt is too long: …`)
//! is refined to `ContextWindowExceeded` so the router can fall back.

use http::HeaderMap;
use llmux_core::error::parse_retry_after;
use llmux_core::error_body::{mentions_any, non_empty_str};
use llmux_core::{Error, ErrorKind};
use serde_json::Value;

/// Message fragments Anthropic uses when the prompt does not fit.
const CONTEXT_WINDOW_HINTS: &[&str] = &[
    "prompt is too long",
    "exceed context limit",
    "exceeds the context window",
    "context window",
    "context length",
    "too many total text bytes",
];

/// The kind an Anthropic `error.type` maps to.
pub fn kind_for_type(error_type: &str) -> Option<ErrorKind> {
    Some(match error_type {
        "invalid_request_error" | "request_too_large" => ErrorKind::BadRequest,
        "authentication_error" => ErrorKind::Authentication,
        // Out of credit: another deployment (another key) may still work.
        "permission_error" | "billing_error" => ErrorKind::PermissionDenied,
        "not_found_error" => ErrorKind::NotFound,
        "rate_limit_error" => ErrorKind::RateLimit,
        "api_error" => ErrorKind::InternalServer,
        "overloaded_error" => ErrorKind::ServiceUnavailable,
        "timeout_error" => ErrorKind::Timeout,
        _ => return None,
    })
}

/// The `error.type` Anthropic would answer for a kind: the inverse of
/// [`kind_for_type`], used where llmux itself speaks Anthropic's format.
pub fn type_for_kind(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::PermissionDenied => "permission_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::ServiceUnavailable => "overloaded_error",
        ErrorKind::Timeout => "timeout_error",
        ErrorKind::InternalServer | ErrorKind::BadGateway | ErrorKind::ApiConnection => "api_error",
        ErrorKind::BadRequest
        | ErrorKind::ContextWindowExceeded
        | ErrorKind::ContentPolicyViolation
        | ErrorKind::UnprocessableEntity
        | ErrorKind::Unsupported => "invalid_request_error",
    }
}

/// Map an upstream error response to an [`Error`].
pub fn decode_error(provider: &str, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let fallback = || llmux_core::text::upstream_status_text(status, body);
    let err = match parsed.as_ref().and_then(|v| v.get("error")) {
        Some(obj @ Value::Object(_)) => from_object(provider, Some(status), obj, fallback),
        _ => Error::new(ErrorKind::from_status(status), fallback()).with_provider(provider),
    };
    err.with_upstream_status(status)
        .with_retry_after(parse_retry_after(headers))
}

/// Map the `error` object of an `error` stream event (sent with HTTP 200).
pub fn decode_stream_error(provider: &str, error: &Value) -> Error {
    from_object(provider, None, error, || {
        "upstream sent an error event mid-stream".to_string()
    })
}

fn from_object(
    provider: &str,
    status: Option<u16>,
    obj: &Value,
    fallback: impl FnOnce() -> String,
) -> Error {
    let message = non_empty_str(obj.get("message")).unwrap_or_else(fallback);
    let error_type = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let mut kind = kind_for_type(error_type)
        .unwrap_or_else(|| status.map_or(ErrorKind::InternalServer, ErrorKind::from_status));
    if kind == ErrorKind::BadRequest && mentions_any(&message, CONTEXT_WINDOW_HINTS) {
        kind = ErrorKind::ContextWindowExceeded;
    }
    let mut err = Error::new(kind, message).with_provider(provider);
    if error_type == "request_too_large" {
        err = err.with_code("request_too_large");
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn body(t: &str, message: &str) -> Vec<u8> {
        json!({"type": "error", "error": {"type": t, "message": message}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn each_type_maps_to_its_kind() {
        let cases = [
            (400, "invalid_request_error", ErrorKind::BadRequest),
            (401, "authentication_error", ErrorKind::Authentication),
            (402, "billing_error", ErrorKind::PermissionDenied),
            (403, "permission_error", ErrorKind::PermissionDenied),
            (404, "not_found_error", ErrorKind::NotFound),
            (413, "request_too_large", ErrorKind::BadRequest),
            (429, "rate_limit_error", ErrorKind::RateLimit),
            (500, "api_error", ErrorKind::InternalServer),
            (504, "timeout_error", ErrorKind::Timeout),
            (529, "overloaded_error", ErrorKind::ServiceUnavailable),
        ];
        for (status, t, kind) in cases {
            let err = decode_error("anthropic", status, &HeaderMap::new(), &body(t, "m"));
            assert_eq!(err.kind, kind, "{t}");
            assert_eq!(err.message, "m");
            assert_eq!(err.upstream_status, Some(status));
            assert_eq!(err.provider.as_deref(), Some("anthropic"));
        }
    }

    #[test]
    fn type_for_kind_inverts_kind_for_type() {
        for t in [
            "invalid_request_error",
            "authentication_error",
            "permission_error",
            "not_found_error",
            "rate_limit_error",
            "api_error",
            "overloaded_error",
            "timeout_error",
        ] {
            let kind = kind_for_type(t).unwrap();
            assert_eq!(type_for_kind(kind), t);
        }
    }

    #[test]
    fn prompt_too_long_is_context_window() {
        let err = decode_error(
            "anthropic",
            400,
            &HeaderMap::new(),
            &body(
                "invalid_request_error",
                "prompt is too long: 208310 tokens > 200000 maximum",
            ),
        );
        assert_eq!(err.kind, ErrorKind::ContextWindowExceeded);
        assert_eq!(
            err.to_openai_body().error.code.as_deref(),
            Some("context_length_exceeded")
        );
        let err = decode_error(
            "anthropic",
            400,
            &HeaderMap::new(),
            &body(
                "invalid_request_error",
                "input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000, decrease input length or `max_tokens` and try again",
            ),
        );
        assert_eq!(err.kind, ErrorKind::ContextWindowExceeded);
    }

    #[test]
    fn retry_after_and_non_json_bodies() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", http::HeaderValue::from_static("12"));
        let err = decode_error(
            "anthropic",
            429,
            &h,
            &body(
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            ),
        );
        assert_eq!(err.retry_after, Some(Duration::from_secs(12)));
        let err = decode_error(
            "anthropic",
            413,
            &HeaderMap::new(),
            b"<html>413 Request Entity Too Large</html>",
        );
        assert_eq!(err.kind, ErrorKind::BadRequest);
        assert_eq!(
            err.message,
            "upstream returned HTTP 413: <html>413 Request Entity Too Large</html>"
        );
        let err = decode_error("anthropic", 529, &HeaderMap::new(), b"");
        assert_eq!(err.kind, ErrorKind::ServiceUnavailable);
        let err = decode_error(
            "anthropic",
            418,
            &HeaderMap::new(),
            &body("teapot_error", "no"),
        );
        assert_eq!(err.kind, ErrorKind::BadRequest);
    }

    #[test]
    fn stream_errors() {
        let err = decode_stream_error(
            "anthropic",
            &json!({"type": "overloaded_error", "message": "Overloaded"}),
        );
        assert_eq!(err.kind, ErrorKind::ServiceUnavailable);
        assert_eq!(err.message, "Overloaded");
        let err = decode_stream_error("anthropic", &json!({"type": "something_new"}));
        assert_eq!(err.kind, ErrorKind::InternalServer);
        assert_eq!(err.message, "upstream sent an error event mid-stream");
    }
}
