//! OpenAI's wire format, as the API reference documents it: the default answers
//! of a mock OpenAI-compatible server, plus builders for error bodies and
//! stream chunks that tests script with.

use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};

use super::{MockResponse, RecordedRequest, StreamPart};

/// Fixed `created` timestamp of every mock response.
pub const CREATED: u64 = 1_700_000_000;
/// Text of the default chat answer.
pub const REPLY: &str = "Hello from the mock!";
/// The default answer split into stream deltas.
pub const REPLY_DELTAS: [&str; 3] = ["Hello", " from the", " mock!"];

/// Start a mock OpenAI-compatible server.
pub async fn start() -> std::io::Result<super::MockServer> {
    super::MockServer::start(behaviour).await
}

/// The default behaviour, chosen by path suffix so any base path works
/// (`/v1`, `/openai/v1`, Azure's `/openai/deployments/{d}`).
pub fn behaviour(req: &RecordedRequest) -> MockResponse {
    let path = req.path.as_str();
    match (&req.method, path) {
        (&Method::POST, p) if p.ends_with("/chat/completions") => chat(req),
        (&Method::POST, p) if p.ends_with("/embeddings") => embeddings(req),
        (&Method::POST, p) if p.ends_with("/responses") => super::openai_responses::handle(req),
        (&Method::GET, p) if p.ends_with("/models") => MockResponse::json(200, &models()),
        (&Method::POST, p) if p.ends_with("/images/generations") => MockResponse::json(
            200,
            &json!({
                "created": CREATED,
                "data": [{"url": "https://example.invalid/image.png", "revised_prompt": "a revised prompt"}]
            }),
        ),
        (&Method::POST, p) if p.ends_with("/audio/transcriptions") => transcription(req),
        (&Method::POST, p) if p.ends_with("/audio/speech") => {
            MockResponse::raw(200, "audio/mpeg", Bytes::from_static(b"ID3\x04mock-mp3"))
        }
        (&Method::POST, p) if p.ends_with("/moderations") => MockResponse::json(200, &moderation()),
        _ => MockResponse::json(
            404,
            &error_body(
                &format!("Invalid URL ({} {})", req.method, req.path),
                "invalid_request_error",
                None,
                None,
            ),
        ),
    }
}

/// OpenAI's error body.
pub fn error_body(message: &str, r#type: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": r#type, "param": param, "code": code}})
}

/// The model named in a request body (or `mock-model`).
fn model_of(body: &Value) -> String {
    body.get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_string()
}

/// The default non-streaming chat completion for `model`.
pub fn chat_completion(model: &str) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": REPLY, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 5,
            "total_tokens": 14,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        }
    })
}

/// A chunk with `delta` and `finish_reason` for `model`.
pub fn chunk(model: &str, delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]
    })
}

/// The final usage chunk OpenAI sends with `stream_options.include_usage`.
pub fn usage_chunk(model: &str) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [],
        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}
    })
}

/// The default stream's chunks (without `[DONE]`).
pub fn stream_chunks(model: &str, include_usage: bool) -> Vec<Value> {
    let mut out = vec![chunk(
        model,
        json!({"role": "assistant", "content": ""}),
        None,
    )];
    for d in REPLY_DELTAS {
        out.push(chunk(model, json!({"content": d}), None));
    }
    out.push(chunk(model, json!({}), Some("stop")));
    if include_usage {
        out.push(usage_chunk(model));
    }
    out
}

/// An SSE body of `chunks` followed by `data: [DONE]`.
pub fn sse_response(chunks: &[Value]) -> MockResponse {
    let mut events: Vec<String> = chunks.iter().map(Value::to_string).collect();
    events.push("[DONE]".into());
    MockResponse::sse_data(events)
}

/// SSE parts (one per event) for `chunks`, without `[DONE]`: for truncation tests.
pub fn sse_parts(chunks: &[Value]) -> Vec<StreamPart> {
    chunks
        .iter()
        .map(|c| StreamPart::Bytes(Bytes::from(format!("data: {c}\n\n"))))
        .collect()
}

fn chat(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    if body.get("messages").and_then(Value::as_array).is_none() {
        return MockResponse::json(
            400,
            &error_body(
                "'messages' is a required property",
                "invalid_request_error",
                Some("messages"),
                None,
            ),
        );
    }
    let model = model_of(&body);
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage = body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
        sse_response(&stream_chunks(&model, include_usage))
    } else {
        MockResponse::json(200, &chat_completion(&model))
    }
}

fn embeddings(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    let count = match body.get("input") {
        Some(Value::Array(items)) if items.iter().all(Value::is_array) => items.len(),
        Some(Value::Array(items)) if items.iter().all(Value::is_number) => 1,
        Some(Value::Array(items)) => items.len(),
        Some(_) => 1,
        None => 0,
    };
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = (0..count)
        .map(|i| {
            let embedding = if base64 {
                // 0.5f32, -1.0f32 little-endian, base64-encoded.
                json!("AAAAPwAAgL8=")
            } else {
                json!([0.0023064255, -0.009327292, i as f64])
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    MockResponse::json(
        200,
        &json!({
            "object": "list",
            "data": data,
            "model": model_of(&body),
            "usage": {"prompt_tokens": 8, "total_tokens": 8}
        }),
    )
}

/// The default model list.
pub fn models() -> Value {
    json!({
        "object": "list",
        "data": [
            {"id": "gpt-4o", "object": "model", "created": 1686935002, "owned_by": "openai"},
            {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"}
        ]
    })
}

fn transcription(req: &RecordedRequest) -> MockResponse {
    let text = String::from_utf8_lossy(&req.body);
    let format = ["text", "srt", "vtt", "verbose_json"]
        .into_iter()
        .find(|f| text.contains(&format!("name=\"response_format\"\r\n\r\n{f}\r\n")));
    match format {
        Some("text") => MockResponse::raw(200, "text/plain; charset=utf-8", "hello world\n"),
        Some("srt") => MockResponse::raw(
            200,
            "text/plain; charset=utf-8",
            "1\n00:00:00,000 --> 00:00:01,000\nhello world\n\n",
        ),
        Some("vtt") => MockResponse::raw(
            200,
            "text/plain; charset=utf-8",
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhello world\n\n",
        ),
        Some(_) => MockResponse::json(
            200,
            &json!({
                "task": "transcribe",
                "language": "english",
                "duration": 1.0,
                "text": "hello world",
                "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 1.0, "text": "hello world"}]
            }),
        ),
        None => MockResponse::json(
            200,
            &json!({"text": "hello world", "usage": {"type": "duration", "seconds": 1}}),
        ),
    }
}

fn moderation() -> Value {
    json!({
        "id": "modr-mock",
        "model": "omni-moderation-latest",
        "results": [{
            "flagged": false,
            "categories": {"harassment": false, "violence": false},
            "category_scores": {"harassment": 0.0001, "violence": 0.0002},
            "category_applied_input_types": {"harassment": ["text"], "violence": ["text"]}
        }]
    })
}
