//! W3C Trace Context: the `traceparent` a client sends continues its trace
//! (the gateway's request span becomes a child of the client's span); a
//! call without one starts a trace of its own.

use std::time::{Duration, SystemTime};

/// The trace a call belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// 16 bytes, never all zero.
    pub trace_id: [u8; 16],
    /// The client's span the call continues, when it sent one.
    pub parent_span_id: Option<[u8; 8]>,
    /// Whether the client sampled its trace (flag `01`); ours are.
    pub sampled: bool,
}

fn hex_bytes<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2
        || !s
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

/// Lowercase hex of `bytes` (one allocation: this runs for every traced call).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

impl TraceContext {
    /// The context of a `traceparent` header (version `00`:
    /// `00-{trace id}-{parent id}-{flags}`); `None` when it is malformed or
    /// has an all-zero id, as the specification says to ignore those.
    pub fn parse(traceparent: &str) -> Option<TraceContext> {
        let mut parts = traceparent.trim().split('-');
        let version = parts.next()?;
        let trace_id: [u8; 16] = hex_bytes(parts.next()?)?;
        let parent: [u8; 8] = hex_bytes(parts.next()?)?;
        let flags: [u8; 1] = hex_bytes(parts.next()?)?;
        // Version 00 has exactly four parts; later versions may add more.
        if version == "ff" || hex_bytes::<1>(version).is_none() {
            return None;
        }
        if version == "00" && parts.next().is_some() {
            return None;
        }
        if trace_id == [0; 16] || parent == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            parent_span_id: Some(parent),
            sampled: flags[0] & 1 == 1,
        })
    }

    /// A new trace.
    pub fn new_root() -> TraceContext {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&fastrand::u64(1..).to_be_bytes());
        trace_id[8..].copy_from_slice(&fastrand::u64(..).to_be_bytes());
        TraceContext {
            trace_id,
            parent_span_id: None,
            sampled: true,
        }
    }

    /// The context of a request: its `traceparent` when valid, else a new trace.
    pub fn of(headers: &http::HeaderMap) -> TraceContext {
        headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(TraceContext::parse)
            .unwrap_or_else(TraceContext::new_root)
    }

    /// The `traceparent` naming `span_id` of this trace as the parent.
    pub fn traceparent(&self, span_id: [u8; 8]) -> http::HeaderValue {
        let mut text = String::with_capacity(55);
        text.push_str("00-");
        text.push_str(&hex(&self.trace_id));
        text.push('-');
        text.push_str(&hex(&span_id));
        text.push_str(if self.sampled { "-01" } else { "-00" });
        http::HeaderValue::from_str(&text).unwrap_or_else(|_| {
            http::HeaderValue::from_static(
                "00-00000000000000000000000000000000-0000000000000000-00",
            )
        })
    }

    /// The trace id as 32 hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }
}

/// A new span id (never zero).
pub fn new_span_id() -> [u8; 8] {
    fastrand::u64(1..).to_be_bytes()
}

/// One attempt the router made for a call: which deployment, when, how long,
/// and how it failed if it did.
#[derive(Debug, Clone)]
pub struct AttemptSpan {
    /// The deployment tried.
    pub deployment_id: String,
    /// The model group it belongs to.
    pub model_group: String,
    /// Its provider (`None` when the attempt failed before choosing one).
    pub provider: Option<String>,
    /// The model name sent upstream.
    pub upstream_model: String,
    /// When the attempt started.
    pub start: SystemTime,
    /// How long it took (streams: to the first event).
    pub duration: Duration,
    /// The error it ended in, as LiteLLM's exception name and message.
    pub error: Option<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_read_as_the_specification_says() {
        let t =
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(t.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&t.parent_span_id.unwrap()), "00f067aa0ba902b7");
        assert!(t.sampled);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
        // A later version may carry more fields.
        assert!(
            TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x")
                .is_some()
        );
        let root = TraceContext::new_root();
        assert_ne!(root.trace_id, [0; 16]);
        assert_eq!(root.parent_span_id, None);
    }
}
