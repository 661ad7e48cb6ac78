//! Cohere error bodies → core's [`Error`].
//!
//! Cohere answers errors as `{"message": "..."}` (some gateways in front of it
//! add an `id`, or wrap it OpenAI-style as `{"error": {"message": ...}}`). The
//! HTTP status picks the kind; Cohere's own statuses are mapped too:
//! `402` (billing limit reached) → `PermissionDenied`, `498` (a blocked
//! prompt or answer) → `ContentPolicyViolation`, `499` (cancelled) → `BadRequest`.
//! The message refines a 400/422 into a context-window error ("too many
//! tokens") and a 401 stays Authentication.

use http::HeaderMap;
use llmux_core::error_body::{mentions_any, non_empty_str, status_error};
use llmux_core::{Error, ErrorKind};
use serde_json::Value;

/// Message fragments Cohere uses when the prompt is over the model's limit.
const CONTEXT_WINDOW_HINTS: &[&str] = &[
    "too many tokens",
    "context length",
    "context window",
    "maximum number of tokens",
    "exceeds the maximum",
    "prompt is too long",
];

/// Message fragments for a safety refusal.
const CONTENT_POLICY_HINTS: &[&str] = &["blocked", "safety", "deny-listed", "unsafe"];

/// The kind a Cohere HTTP status maps to before the message refines it.
pub fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        402 => ErrorKind::PermissionDenied,
        498 => ErrorKind::ContentPolicyViolation,
        499 => ErrorKind::BadRequest,
        501 => ErrorKind::BadRequest,
        s => ErrorKind::from_status(s),
    }
}

/// Map an upstream error response to an [`Error`].
pub fn decode_error(provider: &str, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    status_error(provider, status, headers, body, message_of, |m| {
        refine(kind_for_status(status), m)
    })
}

/// An error reported inside a 200 stream (`message-end` with `delta.error`).
pub fn stream_error(provider: &str, message: &str) -> Error {
    let kind = refine(ErrorKind::InternalServer, message);
    Error::new(kind, message.to_string()).with_provider(provider)
}

fn refine(kind: ErrorKind, message: &str) -> ErrorKind {
    match kind {
        ErrorKind::BadRequest | ErrorKind::UnprocessableEntity | ErrorKind::InternalServer
            if mentions_any(message, CONTEXT_WINDOW_HINTS) =>
        {
            ErrorKind::ContextWindowExceeded
        }
        ErrorKind::BadRequest if mentions_any(message, CONTENT_POLICY_HINTS) => {
            ErrorKind::ContentPolicyViolation
        }
        other => other,
    }
}

/// The human message of a Cohere (or OpenAI-shaped) error body.
fn message_of(v: &Value) -> Option<String> {
    non_empty_str(v.get("message"))
        .or_else(|| match v.get("error") {
            Some(Value::String(e)) if !e.is_empty() => Some(e.clone()),
            Some(e @ Value::Object(_)) => non_empty_str(e.get("message")),
            _ => None,
        })
        .or_else(|| non_empty_str(v.get("detail")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn err(status: u16, body: &str) -> Error {
        decode_error("cohere", status, &HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn each_status_maps_to_its_kind() {
        let cases = [
            (400, ErrorKind::BadRequest),
            (401, ErrorKind::Authentication),
            (402, ErrorKind::PermissionDenied),
            (403, ErrorKind::PermissionDenied),
            (404, ErrorKind::NotFound),
            (422, ErrorKind::UnprocessableEntity),
            (429, ErrorKind::RateLimit),
            (498, ErrorKind::ContentPolicyViolation),
            (499, ErrorKind::BadRequest),
            (500, ErrorKind::InternalServer),
            (501, ErrorKind::BadRequest),
            (503, ErrorKind::ServiceUnavailable),
            (504, ErrorKind::Timeout),
        ];
        for (status, kind) in cases {
            let e = err(status, r#"{"id":"e-1","message":"m"}"#);
            assert_eq!(e.kind, kind, "{status}");
            assert_eq!(e.message, "m");
            assert_eq!(e.upstream_status, Some(status));
            assert_eq!(e.provider.as_deref(), Some("cohere"));
        }
    }

    #[test]
    fn too_many_tokens_is_context_window() {
        let e = err(
            400,
            r#"{"message":"too many tokens: total number of tokens in the prompt cannot exceed 128000 - received 130412. Try using a shorter prompt"}"#,
        );
        assert_eq!(e.kind, ErrorKind::ContextWindowExceeded);
        assert_eq!(
            stream_error("cohere", "too many tokens").kind,
            ErrorKind::ContextWindowExceeded
        );
        assert_eq!(
            stream_error("cohere", "internal").kind,
            ErrorKind::InternalServer
        );
    }

    #[test]
    fn other_shapes_garbage_and_retry_after() {
        assert_eq!(err(401, r#"{"error":{"message":"bad"}}"#).message, "bad");
        assert_eq!(err(422, r#"{"detail":"x"}"#).message, "x");
        assert_eq!(
            err(502, "<html>Bad Gateway</html>").message,
            "upstream returned HTTP 502: <html>Bad Gateway</html>"
        );
        assert_eq!(
            err(503, "").message,
            "upstream returned HTTP 503 with an empty body"
        );
        let mut h = HeaderMap::new();
        h.insert("retry-after", http::HeaderValue::from_static("4"));
        let e = decode_error("cohere", 429, &h, br#"{"message":"slow down"}"#);
        assert_eq!(e.retry_after, Some(Duration::from_secs(4)));
    }
}
