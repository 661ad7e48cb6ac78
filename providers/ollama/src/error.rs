//! Ollama error bodies → core's [`Error`].
//!
//! Ollama answers `{"error": "<text>"}` with an HTTP status (404 for a model
//! that is not pulled, 400 for a bad request, 500 when the runner fails). In a
//! stream the same object arrives as an NDJSON line after a 200. The status
//! picks the kind; the text refines it: a context-length complaint becomes
//! `ContextWindowExceeded`, "not found" a `NotFound`.

use http::HeaderMap;
use llmux_core::error_body::{mentions_any, status_error};
use llmux_core::{Error, ErrorKind};
use serde_json::Value;

const CONTEXT_WINDOW_HINTS: &[&str] = &[
    "context length",
    "context window",
    "exceeds the maximum",
    "too many tokens",
    "prompt is too long",
];

fn refine(kind: ErrorKind, message: &str) -> ErrorKind {
    if matches!(
        kind,
        ErrorKind::BadRequest | ErrorKind::InternalServer | ErrorKind::UnprocessableEntity
    ) && mentions_any(message, CONTEXT_WINDOW_HINTS)
    {
        return ErrorKind::ContextWindowExceeded;
    }
    let lower = message.to_ascii_lowercase();
    if matches!(kind, ErrorKind::InternalServer | ErrorKind::BadRequest)
        && lower.contains("not found")
        && lower.contains("model")
    {
        return ErrorKind::NotFound;
    }
    kind
}

/// The text of an `{"error": …}` body.
pub fn message_of(v: &Value) -> Option<String> {
    match v.get("error")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Map an upstream error response to an [`Error`].
pub fn decode_error(provider: &str, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    status_error(provider, status, headers, body, message_of, |m| {
        refine(ErrorKind::from_status(status), m)
    })
}

/// An error line inside a 200 stream.
pub fn stream_error(provider: &str, message: &str) -> Error {
    Error::new(
        refine(ErrorKind::InternalServer, message),
        message.to_string(),
    )
    .with_provider(provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_messages() {
        let cases = [
            (400, "invalid options", ErrorKind::BadRequest),
            (
                400,
                "the input length exceeds the context length",
                ErrorKind::ContextWindowExceeded,
            ),
            (401, "unauthorized", ErrorKind::Authentication),
            (
                404,
                "model \"llama9\" not found, try pulling it first",
                ErrorKind::NotFound,
            ),
            (429, "too many requests", ErrorKind::RateLimit),
            (
                500,
                "llama runner process has terminated: signal: killed",
                ErrorKind::InternalServer,
            ),
            (
                503,
                "server busy, please try again.  maximum pending requests exceeded",
                ErrorKind::ServiceUnavailable,
            ),
        ];
        for (status, message, kind) in cases {
            let body = serde_json::json!({ "error": message }).to_string();
            let e = decode_error("ollama", status, &HeaderMap::new(), body.as_bytes());
            assert_eq!((e.kind, e.message.as_str()), (kind, message), "{status}");
            assert_eq!(e.upstream_status, Some(status));
        }
        let e = decode_error("ollama", 502, &HeaderMap::new(), b"bad gateway");
        assert_eq!(e.message, "upstream returned HTTP 502: bad gateway");
        assert_eq!(
            stream_error("ollama", "model 'x' not found").kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            stream_error("ollama", "boom").kind,
            ErrorKind::InternalServer
        );
    }
}
