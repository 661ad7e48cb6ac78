//! Reading upstream error bodies: the steps every codec's `decode_error`
//! shares (the message field, the hint words that refine a kind, the
//! status-text fallback, status and `Retry-After`), so each codec keeps only
//! what its provider says differently.

use http::HeaderMap;
use serde_json::Value;

use crate::error::{parse_retry_after, Error, ErrorKind};
use crate::text::upstream_status_text;

/// A field of an error body (`obj.get("message")`), when it is a
/// non-empty string.
pub fn non_empty_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Whether `message`, in any case, contains one of the lower-case `hints`.
pub fn mentions_any(message: &str, hints: &[&str]) -> bool {
    let lower = message.to_ascii_lowercase();
    hints.iter().any(|h| lower.contains(h))
}

/// The error for a non-2xx answer: the message `message_of` finds in the
/// JSON body (else the status text), the kind `kind_of` gives for it, with
/// `provider`, the upstream status and `Retry-After`.
pub fn status_error(
    provider: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    message_of: fn(&Value) -> Option<String>,
    kind_of: impl FnOnce(&str) -> ErrorKind,
) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(message_of)
        .unwrap_or_else(|| upstream_status_text(status, body));
    Error::new(kind_of(&message), message)
        .with_provider(provider)
        .with_upstream_status(status)
        .with_retry_after(parse_retry_after(headers))
}
