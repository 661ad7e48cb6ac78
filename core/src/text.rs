//! Small text helpers shared by every crate that shows untrusted text
//! (upstream error bodies, caller-sent names) in messages and logs.

/// At most `max` characters of `s`, cut at a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The message for an upstream error whose body says nothing usable:
/// `upstream returned HTTP 502: <html>…` (at most 500 characters of the
/// body), or `… with an empty body`.
pub fn upstream_status_text(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!("upstream returned HTTP {status} with an empty body")
    } else {
        format!("upstream returned HTTP {status}: {}", truncate(text, 500))
    }
}

/// Markers after which a credential follows, and the fewest characters that
/// make it look like one.
const SECRET_MARKERS: &[(&str, usize)] = &[
    ("Bearer ", 8),
    ("bearer ", 8),
    ("Basic ", 8),
    ("sk-", 16),
    ("AIza", 20),
    ("AKIA", 12),
    ("ASIA", 12),
    ("api-key: ", 8),
    ("api_key=", 8),
    ("x-api-key: ", 8),
    ("x-goog-api-key: ", 8),
];

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '=' | '~')
}

/// `s` with anything that looks like a credential replaced by `[redacted]`:
/// bearer tokens, `sk-…` keys, Google API keys, AWS access key ids, and the
/// values of `api-key`-style headers. Upstream error text is shown to
/// callers and logged; an upstream that echoes the request's headers must
/// not leak the provider key through it.
pub fn redact_secrets(s: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let hit = SECRET_MARKERS.iter().find_map(|(marker, min)| {
            if !rest.starts_with(marker) {
                return None;
            }
            // A key prefix only counts at the start of a word (`task-…` is no key).
            let word_start = !marker.ends_with(' ')
                && !marker.ends_with('=')
                && s[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if word_start {
                return None;
            }
            let token: usize = rest[marker.len()..]
                .chars()
                .take_while(|c| is_token_char(*c))
                .map(char::len_utf8)
                .sum();
            (token >= *min).then_some((marker.len(), token))
        });
        match hit {
            Some((marker, token)) => {
                out.push_str(&s[copied..i + marker]);
                out.push_str("[redacted]");
                i += marker + token;
                copied = i;
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    if copied == 0 {
        return std::borrow::Cow::Borrowed(s);
    }
    out.push_str(&s[copied..]);
    std::borrow::Cow::Owned(out)
}

/// `bytes` as lower-case hex (digests in keys, cache keys, file names).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{hex, redact_secrets, truncate, upstream_status_text};

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0, 1, 0xab, 0xff]), "0001abff");
        assert_eq!(hex(&[]), "");
    }

    /// Hardening issue, finding 12: an upstream that echoes its request's
    /// Authorization header would hand the provider key to the caller.
    #[test]
    fn credentials_in_upstream_text_are_redacted() {
        assert_eq!(
            redact_secrets("bad header Authorization: Bearer sk-proj-abcdefghijklmnop1234"),
            "bad header Authorization: Bearer [redacted]"
        );
        assert_eq!(
            redact_secrets("key sk-ant-api03-AAAABBBBCCCCDDDD is invalid"),
            "key sk-[redacted] is invalid"
        );
        assert_eq!(
            redact_secrets("GET /v1beta/models?key=AIzaSyA1234567890abcdefghijklm failed"),
            "GET /v1beta/models?key=AIza[redacted] failed"
        );
        assert_eq!(
            redact_secrets("x-api-key: abcdefgh12345678, AKIAIOSFODNN7EXAMPLE"),
            "x-api-key: [redacted], AKIA[redacted]"
        );
        for harmless in [
            "task-1234567890123456 failed",
            "Bearer short",
            "model gpt-4o not found",
            "héllo wörld",
        ] {
            assert_eq!(redact_secrets(harmless), harmless);
        }
    }

    #[test]
    fn upstream_status_text_is_short() {
        assert_eq!(
            upstream_status_text(503, b"  "),
            "upstream returned HTTP 503 with an empty body"
        );
        let long = "x".repeat(600);
        assert_eq!(
            upstream_status_text(502, long.as_bytes()),
            format!("upstream returned HTTP 502: {}", "x".repeat(500))
        );
    }

    #[test]
    fn cuts_at_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("", 0), "");
    }
}
