//! OpenAI's Responses API (`POST /v1/responses`) as the API reference
//! documents it: the `response` object and the streamed event sequence, in
//! the order OpenAI sends them (`response.created`, `response.in_progress`,
//! `response.output_item.added`, `response.content_part.added`,
//! `response.output_text.delta`…, `response.output_text.done`,
//! `response.content_part.done`, `response.output_item.done`,
//! `response.completed`), each with `sequence_number` from 0.

use bytes::Bytes;
use serde_json::{json, Value};

use super::openai::{error_body, CREATED, REPLY, REPLY_DELTAS};
use super::{MockResponse, RecordedRequest, StreamPart};

/// Id of every mock response.
pub const RESPONSE_ID: &str = "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b";
/// Id of the mock's output message.
pub const MESSAGE_ID: &str = "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b";

/// Usage of every mock response.
pub fn usage() -> Value {
    json!({
        "input_tokens": 36,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 87,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 123
    })
}

/// A `response` object for `model` with `status` and `output`.
pub fn response_with(model: &str, status: &str, output: Value, usage: Value) -> Value {
    json!({
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": null,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null},
        "store": true,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": null,
        "metadata": {}
    })
}

/// The assistant message item answering with `text`.
pub fn message_item(text: &str) -> Value {
    json!({
        "type": "message",
        "id": MESSAGE_ID,
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}]
    })
}

/// The default whole response for `model`.
pub fn response(model: &str) -> Value {
    response_with(model, "completed", json!([message_item(REPLY)]), usage())
}

/// The default stream's events for `model` (text answer in three deltas).
pub fn stream_events(model: &str) -> Vec<Value> {
    text_events(model, &REPLY_DELTAS)
}

/// `events` with `sequence_number` 0, 1, 2, …
pub fn numbered(events: Vec<Value>) -> Vec<Value> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e["sequence_number"] = json!(i);
            e
        })
        .collect()
}

/// SSE parts, one per event, each with its `event:` line as OpenAI sends it.
pub fn sse_parts(events: &[Value]) -> Vec<StreamPart> {
    events
        .iter()
        .map(|e| {
            let name = e["type"].as_str().unwrap_or("");
            StreamPart::Bytes(Bytes::from(format!("event: {name}\ndata: {e}\n\n")))
        })
        .collect()
}

/// A whole SSE answer of `events`.
pub fn sse_response(events: &[Value]) -> MockResponse {
    MockResponse::stream("text/event-stream", sse_parts(events))
}

/// The default answer to `POST …/responses`.
pub fn handle(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return MockResponse::json(
            400,
            &error_body(
                "Missing required parameter: 'model'.",
                "invalid_request_error",
                Some("model"),
                Some("missing_required_parameter"),
            ),
        );
    };
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        sse_response(&stream_events(model))
    } else {
        MockResponse::json(200, &response(model))
    }
}

/// The events of an answer that calls function `name` with `arguments`
/// (split in two deltas), as OpenAI streams a `function_call` item.
pub fn function_call_events(model: &str, call_id: &str, name: &str, arguments: &str) -> Vec<Value> {
    let item_id = "fc_67ccd3acc8d48190a77525dc6de64b550e4c9a1f3d8e7d42";
    let pending = response_with(model, "in_progress", json!([]), Value::Null);
    let item = |status: &str, args: &str| {
        json!({"type": "function_call", "id": item_id, "call_id": call_id, "name": name,
               "arguments": args, "status": status})
    };
    let mid = arguments
        .char_indices()
        .map(|(i, _)| i)
        .find(|i| *i >= arguments.len() / 2)
        .unwrap_or(arguments.len());
    let done = item("completed", arguments);
    numbered(vec![
        json!({"type": "response.created", "response": pending}),
        json!({"type": "response.in_progress", "response": pending}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item("in_progress", "")}),
        json!({"type": "response.function_call_arguments.delta", "item_id": item_id, "output_index": 0, "delta": &arguments[..mid]}),
        json!({"type": "response.function_call_arguments.delta", "item_id": item_id, "output_index": 0, "delta": &arguments[mid..]}),
        json!({"type": "response.function_call_arguments.done", "item_id": item_id, "output_index": 0, "arguments": arguments}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": done}),
        json!({"type": "response.completed", "response": response_with(model, "completed", json!([done]), usage())}),
    ])
}

/// The events of a text answer sent in `deltas`, as OpenAI streams a
/// `message` item.
pub fn text_events(model: &str, deltas: &[&str]) -> Vec<Value> {
    let text = deltas.concat();
    let pending = response_with(model, "in_progress", json!([]), Value::Null);
    let done = message_item(&text);
    let mut events = vec![
        json!({"type": "response.created", "response": pending}),
        json!({"type": "response.in_progress", "response": pending}),
        json!({"type": "response.output_item.added", "output_index": 0,
            "item": {"id": MESSAGE_ID, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
        json!({"type": "response.content_part.added", "item_id": MESSAGE_ID, "output_index": 0, "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []}}),
    ];
    events.extend(deltas.iter().map(|d| {
        json!({"type": "response.output_text.delta", "item_id": MESSAGE_ID, "output_index": 0,
            "content_index": 0, "delta": d, "logprobs": []})
    }));
    events.extend([
        json!({"type": "response.output_text.done", "item_id": MESSAGE_ID, "output_index": 0,
            "content_index": 0, "text": text, "logprobs": []}),
        json!({"type": "response.content_part.done", "item_id": MESSAGE_ID, "output_index": 0, "content_index": 0,
            "part": {"type": "output_text", "text": text, "annotations": []}}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": done}),
        json!({"type": "response.completed", "response": response_with(model, "completed", json!([done]), usage())}),
    ]);
    numbered(events)
}
