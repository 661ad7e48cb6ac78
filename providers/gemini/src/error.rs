//! Google error bodies → core's [`Error`].
//!
//! Both the Gemini API and Vertex AI answer errors as
//! `{"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT", "details": [...]}}`
//! (some endpoints wrap it in a one-element array). The canonical `status`
//! string decides the kind; the message refines `INVALID_ARGUMENT` into a
//! context-window error or, for a bad Gemini API key, an authentication error.
//! A `google.rpc.RetryInfo` detail (`"retryDelay": "37s"`) becomes `retry_after`.

use std::time::Duration;

use http::HeaderMap;
use llmux_core::error::parse_retry_after;
use llmux_core::error_body::{mentions_any, non_empty_str};
use llmux_core::{Error, ErrorKind};
use serde_json::Value;

/// Message fragments Google uses when the prompt is over the model's limit.
const CONTEXT_WINDOW_HINTS: &[&str] = &[
    "input token count",
    "exceeds the maximum number of tokens",
    "token count exceeds",
    "exceeds the context window",
    "context length",
    "context window",
    "too many tokens",
    "prompt is too long",
];

/// The kind a Google canonical status (`RESOURCE_EXHAUSTED`, …) maps to.
pub fn kind_for_status(status: &str) -> Option<ErrorKind> {
    Some(match status {
        "INVALID_ARGUMENT"
        | "FAILED_PRECONDITION"
        | "OUT_OF_RANGE"
        | "ALREADY_EXISTS"
        | "UNIMPLEMENTED" => ErrorKind::BadRequest,
        "UNAUTHENTICATED" => ErrorKind::Authentication,
        "PERMISSION_DENIED" => ErrorKind::PermissionDenied,
        "NOT_FOUND" => ErrorKind::NotFound,
        "RESOURCE_EXHAUSTED" => ErrorKind::RateLimit,
        "UNAVAILABLE" | "ABORTED" => ErrorKind::ServiceUnavailable,
        "DEADLINE_EXCEEDED" => ErrorKind::Timeout,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => ErrorKind::InternalServer,
        _ => return None,
    })
}

/// Map an upstream error response to an [`Error`].
pub fn decode_error(provider: &str, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let fallback = || llmux_core::text::upstream_status_text(status, body);
    let err = match parsed.as_ref().and_then(error_object) {
        Some(obj) => from_object(provider, status, obj, fallback),
        None => Error::new(ErrorKind::from_status(status), fallback()).with_provider(provider),
    };
    let retry_after = parse_retry_after(headers).or(err.retry_after);
    err.with_upstream_status(status)
        .with_retry_after(retry_after)
}

/// Map an `{"error": …}` value that arrived inside a stream (HTTP 200).
pub fn decode_stream_error(provider: &str, value: &Value) -> Error {
    match error_object(value) {
        Some(obj) => {
            let code = obj
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500);
            from_object(provider, code, obj, || {
                "upstream sent an error event mid-stream".to_string()
            })
        }
        None => Error::new(
            ErrorKind::InternalServer,
            "upstream sent an error event mid-stream",
        )
        .with_provider(provider),
    }
}

/// The `error` object of a Google error body (`{"error":{…}}` or `[{"error":{…}}]`).
fn error_object(v: &Value) -> Option<&serde_json::Map<String, Value>> {
    let v = match v {
        Value::Array(items) => items.first()?,
        other => other,
    };
    v.get("error")?.as_object()
}

fn from_object(
    provider: &str,
    http_status: u16,
    obj: &serde_json::Map<String, Value>,
    fallback: impl FnOnce() -> String,
) -> Error {
    let message = non_empty_str(obj.get("message")).unwrap_or_else(fallback);
    let status = obj.get("status").and_then(Value::as_str).unwrap_or("");
    let details = obj.get("details").and_then(Value::as_array);
    let mut kind = kind_for_status(status).unwrap_or_else(|| ErrorKind::from_status(http_status));
    if kind == ErrorKind::BadRequest {
        let lower = message.to_ascii_lowercase();
        let bad_key = lower.contains("api key not valid")
            || lower.contains("api key expired")
            || details.is_some_and(|d| {
                d.iter().any(|x| {
                    matches!(
                        x.get("reason").and_then(Value::as_str),
                        Some("API_KEY_INVALID" | "API_KEY_EXPIRED")
                    )
                })
            });
        if bad_key {
            kind = ErrorKind::Authentication;
        } else if mentions_any(&message, CONTEXT_WINDOW_HINTS) {
            kind = ErrorKind::ContextWindowExceeded;
        }
    }
    let retry_after = details.and_then(|d| {
        d.iter().find_map(|x| {
            let is_retry_info = x
                .get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"));
            if !is_retry_info {
                return None;
            }
            x.get("retryDelay")
                .and_then(Value::as_str)
                .and_then(parse_duration)
        })
    });
    Error::new(kind, message)
        .with_provider(provider)
        .with_retry_after(retry_after)
}

/// A protobuf JSON `Duration` (`"37s"`, `"0.250s"`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(code: u16, message: &str, status: &str) -> Vec<u8> {
        json!({"error": {"code": code, "message": message, "status": status}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn each_status_maps_to_its_kind() {
        let cases = [
            (400, "INVALID_ARGUMENT", ErrorKind::BadRequest),
            (400, "FAILED_PRECONDITION", ErrorKind::BadRequest),
            (401, "UNAUTHENTICATED", ErrorKind::Authentication),
            (403, "PERMISSION_DENIED", ErrorKind::PermissionDenied),
            (404, "NOT_FOUND", ErrorKind::NotFound),
            (429, "RESOURCE_EXHAUSTED", ErrorKind::RateLimit),
            (500, "INTERNAL", ErrorKind::InternalServer),
            (503, "UNAVAILABLE", ErrorKind::ServiceUnavailable),
            (504, "DEADLINE_EXCEEDED", ErrorKind::Timeout),
        ];
        for (code, status, kind) in cases {
            let err = decode_error("gemini", code, &HeaderMap::new(), &body(code, "m", status));
            assert_eq!(err.kind, kind, "{status}");
            assert_eq!(err.message, "m");
            assert_eq!(err.upstream_status, Some(code));
            assert_eq!(err.provider.as_deref(), Some("gemini"));
        }
    }

    #[test]
    fn token_limit_message_is_context_window() {
        let err = decode_error(
            "gemini",
            400,
            &HeaderMap::new(),
            &body(
                400,
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
                "INVALID_ARGUMENT",
            ),
        );
        assert_eq!(err.kind, ErrorKind::ContextWindowExceeded);
        let err = decode_error(
            "vertex_ai",
            400,
            &HeaderMap::new(),
            &body(
                400,
                "Unable to submit request because the input token count is 40000 but model only supports up to 32768. Reduce the input token count and try again.",
                "INVALID_ARGUMENT",
            ),
        );
        assert_eq!(err.kind, ErrorKind::ContextWindowExceeded);
    }

    #[test]
    fn invalid_api_key_is_authentication() {
        let b = json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}});
        let err = decode_error("gemini", 400, &HeaderMap::new(), b.to_string().as_bytes());
        assert_eq!(err.kind, ErrorKind::Authentication);
    }

    #[test]
    fn retry_info_and_array_wrapper() {
        let b = json!([{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}]);
        let err = decode_error("gemini", 429, &HeaderMap::new(), b.to_string().as_bytes());
        assert_eq!(err.kind, ErrorKind::RateLimit);
        assert_eq!(err.message, "Quota exceeded");
        assert_eq!(err.retry_after, Some(Duration::from_secs(37)));
        // A retry-after header wins over the body.
        let mut h = HeaderMap::new();
        h.insert("retry-after", http::HeaderValue::from_static("2"));
        let err = decode_error("gemini", 429, &h, b.to_string().as_bytes());
        assert_eq!(err.retry_after, Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("0.250s"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn unknown_status_and_garbage_fall_back_to_http_status() {
        let err = decode_error(
            "gemini",
            502,
            &HeaderMap::new(),
            b"<html>Bad Gateway</html>",
        );
        assert_eq!(err.kind, ErrorKind::BadGateway);
        assert_eq!(
            err.message,
            "upstream returned HTTP 502: <html>Bad Gateway</html>"
        );
        let err = decode_error("gemini", 503, &HeaderMap::new(), b"");
        assert_eq!(err.kind, ErrorKind::ServiceUnavailable);
        assert_eq!(err.message, "upstream returned HTTP 503 with an empty body");
        let err = decode_error("gemini", 409, &HeaderMap::new(), &body(409, "x", "WEIRD"));
        assert_eq!(err.kind, ErrorKind::BadRequest);
    }

    #[test]
    fn stream_error_uses_code_from_body() {
        let v = json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}});
        let err = decode_stream_error("gemini", &v);
        assert_eq!(err.kind, ErrorKind::ServiceUnavailable);
        assert_eq!(err.message, "The model is overloaded.");
    }
}
