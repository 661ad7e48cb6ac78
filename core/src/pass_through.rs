//! A provider's own API, reached as the caller wrote the request: the
//! gateway's pass-through routes (`/gemini/v1beta/models/…:generateContent`,
//! `/bedrock/model/…/converse`, …) forward method, path, query, headers and
//! body untouched, with the caller's credential replaced by the provider's.
//!
//! A [`Codec`](crate::Codec) says where its provider's API lives
//! ([`pass_through_base`](crate::Codec::pass_through_base)) and how its
//! credential goes on a request
//! ([`authorize_pass_through`](crate::Codec::authorize_pass_through)); the
//! generic provider sends it on the shared transport.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use serde_json::Value;

use crate::sse::SseDecoder;
use crate::types::chat::Usage;
use crate::types::responses::ResponseUsage;

/// A request for a provider's own API, caller credentials already removed.
pub struct PassThroughRequest {
    /// The caller's method.
    pub method: Method,
    /// Path and query after the route's prefix (`/v1beta/models/x:generateContent?alt=sse`).
    pub path_and_query: String,
    /// The caller's headers that are forwarded (no hop-by-hop headers, no credentials).
    pub headers: HeaderMap,
    /// The body: whole when the gateway read it (to price the call, or
    /// because the provider signs it), else streamed through as it arrives.
    pub body: PassThroughBody,
}

/// A pass-through request's body.
pub enum PassThroughBody {
    /// Read whole (JSON the gateway prices, or a body a signature covers).
    Whole(Bytes),
    /// Still arriving from the caller; sent upstream as it comes.
    Streamed(reqwest::Body),
}

impl PassThroughBody {
    /// The bytes of a whole body (`None` while streamed).
    pub fn whole(&self) -> Option<&Bytes> {
        match self {
            PassThroughBody::Whole(b) => Some(b),
            PassThroughBody::Streamed(_) => None,
        }
    }
}

/// Reads the usage out of a pass-through answer as its body goes by to the
/// caller, without holding it up: the gateway prices the call from it.
pub trait UsageReader: Send {
    /// Take in the next piece of the answer's body.
    fn push(&mut self, bytes: &[u8]);

    /// The usage the answer reported so far (at its end, or when the caller
    /// went away mid-stream); `None` when it reported none.
    fn usage(&mut self) -> Option<Usage>;
}

/// Reads a provider's usage from one JSON document of its answer (a whole
/// body, one SSE `data:` payload, one NDJSON line), merging it into what
/// earlier documents reported.
pub type DocumentUsage = fn(document: &Value, usage: &mut Option<Usage>);

/// The most of a whole (not streamed) answer kept to read its usage; a
/// larger answer is still forwarded, but not priced from its body.
pub const MAX_METERED_BODY: usize = 16 << 20;

/// A [`UsageReader`] for answers made of JSON documents, framed as the
/// answer's content type says: SSE events, NDJSON lines, or one JSON
/// document (an array's elements are read one by one, as Gemini streams
/// without `alt=sse`).
pub struct DocumentReader {
    framing: Framing,
    read: DocumentUsage,
    usage: Option<Usage>,
}

enum Framing {
    Sse(SseDecoder),
    Lines(Vec<u8>),
    Whole { body: Vec<u8>, overflowed: bool },
}

impl DocumentReader {
    /// A reader for an answer with `headers`, reading each document with `read`.
    pub fn new(headers: &HeaderMap, read: DocumentUsage) -> Self {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let framing = if content_type.contains("event-stream") {
            Framing::Sse(SseDecoder::new())
        } else if content_type.contains("ndjson") || content_type.contains("jsonl") {
            Framing::Lines(Vec::new())
        } else {
            Framing::Whole {
                body: Vec::new(),
                overflowed: false,
            }
        };
        DocumentReader {
            framing,
            read,
            usage: None,
        }
    }

    fn document(&mut self, bytes: &[u8]) {
        let Ok(doc) = serde_json::from_slice::<Value>(bytes) else {
            return;
        };
        match &doc {
            Value::Array(items) => items.iter().for_each(|d| (self.read)(d, &mut self.usage)),
            d => (self.read)(d, &mut self.usage),
        }
    }

    fn drain_sse(&mut self) {
        loop {
            let event = match &mut self.framing {
                Framing::Sse(sse) => match sse.next_event() {
                    Ok(Some(e)) => e,
                    _ => return,
                },
                _ => return,
            };
            if event.data.starts_with('{') || event.data.starts_with('[') {
                self.document(event.data.as_bytes());
            }
        }
    }
}

impl UsageReader for DocumentReader {
    fn push(&mut self, bytes: &[u8]) {
        match &mut self.framing {
            Framing::Sse(sse) => {
                sse.push(bytes);
                self.drain_sse();
            }
            Framing::Lines(pending) => {
                pending.extend_from_slice(bytes);
                let mut lines = Vec::new();
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    lines.push(pending.drain(..=end).collect::<Vec<u8>>());
                }
                if pending.len() > MAX_METERED_BODY {
                    pending.clear();
                }
                for line in lines {
                    self.document(&line);
                }
            }
            Framing::Whole { body, overflowed } => {
                if *overflowed || body.len() + bytes.len() > MAX_METERED_BODY {
                    *overflowed = true;
                    body.clear();
                } else {
                    body.extend_from_slice(bytes);
                }
            }
        }
    }

    fn usage(&mut self) -> Option<Usage> {
        match &mut self.framing {
            Framing::Whole { body, .. } if !body.is_empty() => {
                let body = std::mem::take(body);
                self.document(&body);
            }
            Framing::Lines(pending) if !pending.is_empty() => {
                let line = std::mem::take(pending);
                self.document(&line);
            }
            _ => {}
        }
        self.usage.clone()
    }
}

/// OpenAI's usage, and every OpenAI-compatible server's: `usage` of a chat,
/// completion or embeddings answer (or its last stream chunk), and the
/// Responses API's (`usage` of a response, `response.usage` of its
/// `response.completed` / `response.incomplete` / `response.failed` event).
pub fn openai_usage(document: &Value, usage: &mut Option<Usage>) {
    let found = document.get("usage").or_else(|| {
        document
            .get("response")
            .filter(|_| document.get("type").and_then(Value::as_str).is_some())
            .and_then(|r| r.get("usage"))
    });
    let Some(found) = found.filter(|u| u.is_object()) else {
        return;
    };
    if found.get("input_tokens").is_some() {
        if let Ok(u) = serde_json::from_value::<ResponseUsage>(found.clone()) {
            *usage = Some(crate::responses::chat_usage(&u));
        }
    } else if let Ok(mut u) = serde_json::from_value::<Usage>(found.clone()) {
        // Embeddings answers report prompt and total tokens only.
        u.total_tokens = u.total_tokens.max(u.prompt_tokens + u.completion_tokens);
        *usage = Some(u);
    }
}

/// Anthropic's Messages API usage (also Claude's on Bedrock and Vertex AI):
/// a message's `usage`, or a stream's `message_start` (`message.usage`)
/// updated by each `message_delta`'s cumulative counts.
pub fn anthropic_usage(document: &Value, usage: &mut Option<Usage>) {
    let (found, fresh) = match document.get("type").and_then(Value::as_str) {
        Some("message_start") => (document.get("message").and_then(|m| m.get("usage")), true),
        Some("message_delta") => (document.get("usage"), false),
        Some("message") | None => (document.get("usage"), true),
        Some(_) => return,
    };
    let Some(found) = found.filter(|u| u.is_object()) else {
        return;
    };
    let count = |name: &str| found.get(name).and_then(Value::as_u64);
    let before = if fresh { None } else { usage.take() };
    let before = before.unwrap_or_default();
    let (read_before, write_before) = (before.cached_tokens(), before.cache_creation_tokens());
    let read = count("cache_read_input_tokens").or(Some(read_before).filter(|n| *n > 0));
    let write = count("cache_creation_input_tokens").or(Some(write_before).filter(|n| *n > 0));
    let input = count("input_tokens").unwrap_or_else(|| {
        before
            .prompt_tokens
            .saturating_sub(read_before + write_before)
    });
    let output = count("output_tokens").unwrap_or(before.completion_tokens);
    *usage = Some(Usage::with_cache(input, output, read, write));
}

/// Put a deployment's extra `headers` on a pass-through request, over the
/// caller's.
pub fn set_headers(parts: &mut http::request::Parts, headers: &[(HeaderName, HeaderValue)]) {
    for (k, v) in headers {
        parts.headers.insert(k, v.clone());
    }
}

/// `base` and a caller's path joined with exactly one `/`.
pub fn join(base: &str, path_and_query: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = path_and_query.trim_start_matches('/');
    format!("{base}/{path}")
}

/// `base` without a trailing API version segment (`https://api.openai.com/v1`
/// → `https://api.openai.com`): pass-through callers send the version in
/// their paths.
pub fn unversioned(base: &str, version: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    base.strip_suffix(version).unwrap_or(base).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
        h
    }

    fn read(content_type: &str, pieces: &[&str]) -> Option<Usage> {
        let mut r = DocumentReader::new(&headers(content_type), openai_usage);
        for p in pieces {
            r.push(p.as_bytes());
        }
        r.usage()
    }

    #[test]
    fn reads_openai_usage_whole_streamed_and_from_responses() {
        let whole = read(
            "application/json",
            &[
                r#"{"id":"x","usage":{"prompt_tokens":7,"#,
                r#""completion_tokens":3,"total_tokens":10}}"#,
            ],
        )
        .unwrap();
        assert_eq!(
            (
                whole.prompt_tokens,
                whole.completion_tokens,
                whole.total_tokens
            ),
            (7, 3, 10)
        );
        let embeddings = read(
            "application/json",
            &[r#"{"usage":{"prompt_tokens":5,"total_tokens":5}}"#],
        )
        .unwrap();
        assert_eq!((embeddings.prompt_tokens, embeddings.total_tokens), (5, 5));
        let stream = read(
            "text/event-stream; charset=utf-8",
            &[
                "data: {\"choices\":[],\"usage\":null}\n\n",
                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,",
                "\"completion_tokens\":4,\"total_tokens\":6}}\n\ndata: [DONE]\n\n",
            ],
        )
        .unwrap();
        assert_eq!((stream.prompt_tokens, stream.completion_tokens), (2, 4));
        let responses = read(
            "text/event-stream",
            &["event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":9,\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":2,\"output_tokens_details\":{\"reasoning_tokens\":1},\"total_tokens\":11}}}\n\n"],
        )
        .unwrap();
        assert_eq!(
            (
                responses.prompt_tokens,
                responses.completion_tokens,
                responses.cached_tokens()
            ),
            (9, 2, 4)
        );
        assert_eq!(
            read("text/event-stream", &["data: {\"choices\":[]}\n\n"]),
            None
        );
        assert_eq!(read("application/json", &["not json"]), None);
    }

    #[test]
    fn reads_anthropic_usage_from_messages_and_streams() {
        let mut r = DocumentReader::new(&headers("text/event-stream"), anthropic_usage);
        for event in [
            r#"{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":100,"output_tokens":1}}}"#,
            r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"hi"}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}"#,
        ] {
            r.push(format!("event: x\ndata: {event}\n\n").as_bytes());
        }
        let u = r.usage().unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.cached_tokens(),
                u.total_tokens
            ),
            (110, 7, 100, 117)
        );
        let mut r = DocumentReader::new(&headers("application/json"), anthropic_usage);
        r.push(br#"{"type":"message","usage":{"input_tokens":3,"output_tokens":4}}"#);
        let u = r.usage().unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.prompt_tokens_details
            ),
            (3, 4, None)
        );
    }

    #[test]
    fn joins_and_strips_versions() {
        assert_eq!(
            join("https://h/", "/v1/chat/completions?x=1"),
            "https://h/v1/chat/completions?x=1"
        );
        assert_eq!(
            unversioned("https://api.openai.com/v1/", "/v1"),
            "https://api.openai.com"
        );
        assert_eq!(
            unversioned("https://api.groq.com/openai/v1", "/v1"),
            "https://api.groq.com/openai"
        );
        assert_eq!(unversioned("http://h:1/xv1", "/v1"), "http://h:1/xv1");
        assert_eq!(unversioned("http://h:1", "/v1"), "http://h:1");
    }
}
