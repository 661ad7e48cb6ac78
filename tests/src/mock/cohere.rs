//! Cohere's API v2 wire format, as its API reference (docs.cohere.com/reference)
//! documents it: `POST /v2/chat` (JSON, or SSE with `"stream": true`:
//! `event: <type>` / `data: {"type": <type>, …}` from `message-start` to
//! `message-end`), `POST /v2/embed` and `POST /v2/rerank`, bearer-token auth,
//! errors as `{"message": "…"}`.

use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};

use super::{MockResponse, MockServer, RecordedRequest, StreamPart};

/// Text of the default answer.
pub const REPLY: &str = "Hello from the mock Cohere!";
/// The default answer split into stream deltas.
pub const REPLY_DELTAS: [&str; 3] = ["Hello", " from the mock", " Cohere!"];
/// `id` of every default answer.
pub const RESPONSE_ID: &str = "c14c80c3-18eb-4519-9460-6c92edd8cfb4";
/// The key the mock rejects as invalid.
pub const BAD_KEY: &str = "bad-key";

/// Start a mock Cohere server.
pub async fn start() -> std::io::Result<MockServer> {
    MockServer::start(behaviour).await
}

/// Cohere's error body.
pub fn error_body(message: &str) -> Value {
    json!({ "message": message })
}

/// The default Chat v2 answer.
pub fn chat_response() -> Value {
    json!({
        "id": RESPONSE_ID,
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": REPLY}]},
        "usage": {
            "billed_units": {"input_tokens": 9, "output_tokens": 6},
            "tokens": {"input_tokens": 205, "output_tokens": 6}
        }
    })
}

/// The default stream's events.
pub fn stream_events() -> Vec<Value> {
    let mut events = vec![
        json!({"id": RESPONSE_ID, "type": "message-start", "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
        json!({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
    ];
    for d in REPLY_DELTAS {
        events.push(json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": d}}}}));
    }
    events.push(json!({"type": "content-end", "index": 0}));
    events.push(json!({"type": "message-end", "delta": {"finish_reason": "COMPLETE",
        "usage": {"billed_units": {"input_tokens": 9, "output_tokens": 6}, "tokens": {"input_tokens": 205, "output_tokens": 6}}}}));
    events
}

/// One SSE event as Cohere frames it.
pub fn sse_event(event: &Value) -> String {
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
    format!("event: {kind}\ndata: {event}\n\n")
}

/// SSE parts, one event per value.
pub fn sse_parts(events: &[Value]) -> Vec<StreamPart> {
    events
        .iter()
        .map(|e| StreamPart::Bytes(Bytes::from(sse_event(e))))
        .collect()
}

/// A 200 `text/event-stream` answer made of `events`.
pub fn sse_response(events: &[Value]) -> MockResponse {
    MockResponse::stream("text/event-stream", sse_parts(events))
}

/// One embedding per text.
pub fn embedding_values(i: usize) -> Value {
    json!([0.016296387, -0.008354187, i as f64])
}

/// Cohere's default behaviour.
pub fn behaviour(req: &RecordedRequest) -> MockResponse {
    match req.header("authorization") {
        Some(a) if a.starts_with("Bearer ") && a != format!("Bearer {BAD_KEY}") => {}
        Some(_) => return MockResponse::json(401, &error_body("invalid api token")),
        None => return MockResponse::json(401, &error_body("no api key supplied")),
    }
    if req.method != Method::POST {
        return not_found(req);
    }
    let body = req.json();
    match req.path.as_str() {
        "/v2/chat" => {
            let has_messages = body
                .get("messages")
                .and_then(Value::as_array)
                .is_some_and(|m| !m.is_empty());
            if !has_messages {
                return MockResponse::json(
                    400,
                    &error_body("invalid request: messages must be a non-empty list"),
                );
            }
            if body.get("stream") == Some(&Value::Bool(true)) {
                sse_response(&stream_events())
            } else {
                MockResponse::json(200, &chat_response())
            }
        }
        "/v2/embed" => {
            if body.get("input_type").is_none() {
                return MockResponse::json(
                    400,
                    &error_body(
                        "invalid request: input_type is required for embed models v3 and higher.",
                    ),
                );
            }
            let texts = body
                .get("texts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let vectors: Vec<Value> = (0..texts.len()).map(embedding_values).collect();
            MockResponse::json(
                200,
                &json!({
                    "id": "da6e531f-54c6-4a73-bf92-f60566d8d753",
                    "embeddings": {"float": vectors},
                    "texts": texts,
                    "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 2 * texts.len()}},
                    "response_type": "embeddings_by_type"
                }),
            )
        }
        "/v2/rerank" => {
            let n = body
                .get("documents")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let top = body
                .get("top_n")
                .and_then(Value::as_u64)
                .map_or(n, |t| (t as usize).min(n));
            // The last document ranks first, and so on.
            let results: Vec<Value> = (0..n)
                .rev()
                .take(top)
                .enumerate()
                .map(|(rank, index)| json!({"index": index, "relevance_score": 0.9 - 0.1 * rank as f64}))
                .collect();
            MockResponse::json(
                200,
                &json!({"id": "07734bd2-2473-4f07-94e1-0d9f0e6843cf", "results": results,
                        "meta": {"api_version": {"version": "2", "is_experimental": false}, "billed_units": {"search_units": 1}}}),
            )
        }
        _ => not_found(req),
    }
}

fn not_found(req: &RecordedRequest) -> MockResponse {
    MockResponse::json(
        404,
        &error_body(&format!("404 page not found: {}", req.path)),
    )
}
