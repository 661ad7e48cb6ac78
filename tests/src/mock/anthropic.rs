//! Anthropic's wire format, as the Messages API reference
//! (docs.anthropic.com/en/api/messages, /messages-streaming, /errors,
//! /messages-count-tokens, /models-list) documents it: a mock server for
//! `POST /v1/messages` (whole or streamed), `POST /v1/messages/count_tokens`
//! and `GET /v1/models`, authenticated by `x-api-key` with a required
//! `anthropic-version` header.
//!
//! Streams are SSE events framed `event: <type>\ndata: {json}\n\n`:
//! `message_start`, then per content block `content_block_start`,
//! `content_block_delta`s and `content_block_stop`, then `message_delta`
//! (stop reason, cumulative usage) and `message_stop`; `ping` may appear
//! anywhere and `error` ends a stream. Errors are
//! `{"type": "error", "error": {"type", "message"}, "request_id"}`.

use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};

use super::{MockResponse, MockServer, RecordedRequest, StreamPart};

/// Text of the default answer.
pub const REPLY: &str = "Hello from the mock Claude!";
/// The default answer split into `text_delta`s.
pub const REPLY_DELTAS: [&str; 3] = ["Hello", " from the mock", " Claude!"];
/// `id` of every default answer.
pub const MESSAGE_ID: &str = "msg_01XFDUDYJgAACzvnptvVoYEL";
/// `request_id` of every mock error body.
pub const REQUEST_ID: &str = "req_011CSHoEeqs5C35K2UUqR7Fy";
/// Input tokens of the default answer.
pub const INPUT_TOKENS: u64 = 9;
/// Output tokens of the default answer.
pub const OUTPUT_TOKENS: u64 = 6;

/// Start a mock Anthropic API server.
pub async fn start() -> std::io::Result<MockServer> {
    MockServer::start(behaviour).await
}

/// Anthropic's error body.
pub fn error_body(error_type: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type, "message": message}, "request_id": REQUEST_ID})
}

/// An error answer with `status`.
pub fn error_response(status: u16, error_type: &str, message: &str) -> MockResponse {
    MockResponse::json(status, &error_body(error_type, message))
        .with_header("request-id", REQUEST_ID)
}

/// A whole `Message` answer.
pub fn message(model: &str, content: Value, stop_reason: &str, usage: Value) -> Value {
    json!({
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage
    })
}

/// Usage as the API reports it (no cache activity).
pub fn usage(input: u64, output: u64) -> Value {
    json!({"input_tokens": input, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
           "output_tokens": output, "service_tier": "standard"})
}

/// The default answer for `model`.
pub fn default_message(model: &str) -> Value {
    message(
        model,
        json!([{"type": "text", "text": REPLY}]),
        "end_turn",
        usage(INPUT_TOKENS, OUTPUT_TOKENS),
    )
}

/// Split `s` into two pieces at a character boundary near its middle.
fn halves(s: &str) -> Vec<String> {
    let mid = s
        .char_indices()
        .map(|(i, _)| i)
        .find(|i| *i >= s.len() / 2)
        .unwrap_or(s.len());
    [&s[..mid], &s[mid..]]
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// The events the API streams for `message`: each block opened empty, its
/// text / thinking / tool input sent in two deltas (a thinking block's
/// signature in a `signature_delta`), a `ping` after the first block, then
/// `message_delta` with the stop reason and the final usage, and `message_stop`.
pub fn events_for_message(message: &Value) -> Vec<Value> {
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["stop_sequence"] = Value::Null;
    start["usage"]["output_tokens"] = json!(1);
    let mut events = vec![json!({"type": "message_start", "message": start})];
    let blocks = message["content"].as_array().cloned().unwrap_or_default();
    for (index, block) in blocks.iter().enumerate() {
        let (opened, deltas): (Value, Vec<Value>) = match block["type"].as_str() {
            Some("text") => (
                json!({"type": "text", "text": ""}),
                halves(block["text"].as_str().unwrap_or(""))
                    .into_iter()
                    .map(|t| json!({"type": "text_delta", "text": t}))
                    .collect(),
            ),
            Some("tool_use") => {
                let mut opened = block.clone();
                opened["input"] = json!({});
                (
                    opened,
                    halves(&block["input"].to_string())
                        .into_iter()
                        .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                        .collect(),
                )
            }
            Some("thinking") => {
                let mut deltas: Vec<Value> = halves(block["thinking"].as_str().unwrap_or(""))
                    .into_iter()
                    .map(|t| json!({"type": "thinking_delta", "thinking": t}))
                    .collect();
                deltas.push(json!({"type": "signature_delta", "signature": block["signature"]}));
                (
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    deltas,
                )
            }
            _ => (block.clone(), Vec::new()),
        };
        events
            .push(json!({"type": "content_block_start", "index": index, "content_block": opened}));
        for d in deltas {
            events.push(json!({"type": "content_block_delta", "index": index, "delta": d}));
        }
        events.push(json!({"type": "content_block_stop", "index": index}));
        if index == 0 {
            events.push(json!({"type": "ping"}));
        }
    }
    events.push(json!({
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
        "usage": message["usage"]
    }));
    events.push(json!({"type": "message_stop"}));
    events
}

/// The default stream for `model`: the default answer in [`REPLY_DELTAS`].
pub fn stream_events(model: &str) -> Vec<Value> {
    let mut start = default_message(model);
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"]["output_tokens"] = json!(1);
    let mut events = vec![
        json!({"type": "message_start", "message": start}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
    ];
    for text in REPLY_DELTAS {
        events.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}));
    }
    events.push(json!({"type": "content_block_stop", "index": 0}));
    events.push(
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                       "usage": {"output_tokens": OUTPUT_TOKENS}}),
    );
    events.push(json!({"type": "message_stop"}));
    events
}

/// One SSE event in Anthropic's framing.
pub fn sse_event(event: &Value) -> String {
    let name = event["type"].as_str().unwrap_or("message");
    format!("event: {name}\ndata: {event}\n\n")
}

/// SSE parts, one event per part.
pub fn sse_parts(events: &[Value]) -> Vec<StreamPart> {
    events
        .iter()
        .map(|e| StreamPart::Bytes(Bytes::from(sse_event(e))))
        .collect()
}

/// A 200 `text/event-stream` answer made of `events`.
pub fn sse_response(events: &[Value]) -> MockResponse {
    MockResponse::stream("text/event-stream; charset=utf-8", sse_parts(events))
}

fn invalid(message: &str) -> MockResponse {
    error_response(400, "invalid_request_error", message)
}

/// What the API checks before answering a `/v1/messages` body.
fn validate(body: &Value, count_only: bool) -> Option<MockResponse> {
    if !body.is_object() {
        return Some(invalid(
            "There was an issue with the format of your request body",
        ));
    }
    if !body.get("model").is_some_and(Value::is_string) {
        return Some(invalid("model: Field required"));
    }
    if !count_only && !body.get("max_tokens").is_some_and(Value::is_u64) {
        return Some(invalid("max_tokens: Field required"));
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Some(invalid("messages: Field required"));
    };
    if messages.is_empty() {
        return Some(invalid("messages: at least one message is required"));
    }
    let mut uses_tools = false;
    for (i, m) in messages.iter().enumerate() {
        match m.get("role").and_then(Value::as_str) {
            // Current models take system turns mid-conversation too.
            Some("user" | "assistant" | "system") => {}
            _ => {
                return Some(invalid(&format!(
                    "messages.{i}.role: Input should be 'user', 'assistant' or 'system'"
                )))
            }
        }
        for block in m["content"].as_array().into_iter().flatten() {
            match block["type"].as_str() {
                Some("tool_use" | "tool_result") => uses_tools = true,
                Some("text") if block["text"].as_str().is_some_and(str::is_empty) => {
                    return Some(invalid(&format!(
                        "messages.{i}.content: text content blocks must be non-empty"
                    )))
                }
                _ => {}
            }
        }
    }
    if uses_tools && !body.get("tools").is_some_and(Value::is_array) {
        return Some(invalid(
            "Requests which include `tool_use` or `tool_result` blocks must define tools.",
        ));
    }
    None
}

/// Words of every text in the prompt, plus 3: the mock's token count.
fn count_tokens(body: &Value) -> u64 {
    fn words(v: &Value) -> u64 {
        match v {
            Value::String(s) => s.split_whitespace().count() as u64,
            Value::Array(items) => items.iter().map(words).sum(),
            Value::Object(o) => ["text", "content", "system", "messages"]
                .iter()
                .filter_map(|k| o.get(*k))
                .map(words)
                .sum(),
            _ => 0,
        }
    }
    words(body) + 3
}

/// The API's model list.
pub fn models() -> Value {
    json!({
        "data": [
            {"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"},
            {"type": "model", "id": "claude-3-5-haiku-20241022", "display_name": "Claude Haiku 3.5", "created_at": "2024-10-22T00:00:00Z"}
        ],
        "has_more": false,
        "first_id": "claude-sonnet-4-5-20250929",
        "last_id": "claude-3-5-haiku-20241022"
    })
}

/// The API's default behaviour.
pub fn behaviour(req: &RecordedRequest) -> MockResponse {
    match req.header("x-api-key") {
        None => return error_response(401, "authentication_error", "x-api-key header is required"),
        Some("bad-key") => return error_response(401, "authentication_error", "invalid x-api-key"),
        Some(_) => {}
    }
    if req.header("anthropic-version").is_none() {
        return invalid("anthropic-version: header is required");
    }
    let not_found = || error_response(404, "not_found_error", &format!("Not Found: {}", req.path));
    match (&req.method, req.path.as_str()) {
        (&Method::GET, "/v1/models") => MockResponse::json(200, &models()),
        (&Method::POST, "/v1/messages/count_tokens") => {
            let body = req.json();
            validate(&body, true).unwrap_or_else(|| {
                MockResponse::json(200, &json!({"input_tokens": count_tokens(&body)}))
            })
        }
        (&Method::POST, "/v1/messages") => {
            let body = req.json();
            if let Some(err) = validate(&body, false) {
                return err;
            }
            let model = body["model"].as_str().unwrap_or_default();
            if body["stream"] == json!(true) {
                sse_response(&stream_events(model))
            } else {
                MockResponse::json(200, &default_message(model))
            }
        }
        _ => not_found(),
    }
}
