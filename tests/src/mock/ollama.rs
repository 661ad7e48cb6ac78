//! Ollama's native API, as its reference (github.com/ollama/ollama
//! `docs/api.md`) documents it: `POST /api/chat` (streams NDJSON unless the
//! body says `"stream": false`; the last line has `"done": true`,
//! `done_reason` and the eval counts), `POST /api/embed`, `GET /api/tags`.
//! Errors are `{"error": "…"}`; unknown routes answer a plain-text 404.

use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};

use super::{MockResponse, MockServer, RecordedRequest, StreamPart};

/// Text of the default answer.
pub const REPLY: &str = "Hello from the mock Ollama!";
/// The default answer split into stream lines.
pub const REPLY_DELTAS: [&str; 3] = ["Hello", " from the mock", " Ollama!"];
/// `created_at` of every default answer.
pub const CREATED_AT: &str = "2024-07-01T10:00:00.123456789Z";
/// [`CREATED_AT`] in Unix seconds.
pub const CREATED: u64 = 1_719_828_000;
/// A model name the mock says is not pulled.
pub const MISSING_MODEL: &str = "missing-model";

/// Start a mock Ollama server.
pub async fn start() -> std::io::Result<MockServer> {
    MockServer::start(behaviour).await
}

/// Ollama's error body.
pub fn error_body(message: &str) -> Value {
    json!({ "error": message })
}

/// The default whole `/api/chat` answer.
pub fn chat_response(model: &str) -> Value {
    json!({
        "model": model, "created_at": CREATED_AT,
        "message": {"role": "assistant", "content": REPLY},
        "done_reason": "stop", "done": true,
        "total_duration": 4883583458u64, "load_duration": 1334875, "prompt_eval_count": 26,
        "prompt_eval_duration": 342546000, "eval_count": 7, "eval_duration": 4535599000u64
    })
}

/// The default stream's lines.
pub fn stream_lines(model: &str) -> Vec<Value> {
    let mut lines: Vec<Value> = REPLY_DELTAS
        .iter()
        .map(|d| json!({"model": model, "created_at": CREATED_AT, "message": {"role": "assistant", "content": d}, "done": false}))
        .collect();
    lines.push(json!({"model": model, "created_at": CREATED_AT, "message": {"role": "assistant", "content": ""},
        "done_reason": "stop", "done": true, "total_duration": 4883583458u64, "load_duration": 1334875,
        "prompt_eval_count": 26, "prompt_eval_duration": 342546000, "eval_count": 7, "eval_duration": 4535599000u64}));
    lines
}

/// NDJSON parts, one line per value.
pub fn ndjson_parts(lines: &[Value]) -> Vec<StreamPart> {
    lines
        .iter()
        .map(|l| StreamPart::Bytes(Bytes::from(format!("{l}\n"))))
        .collect()
}

/// A 200 `application/x-ndjson` answer made of `lines`.
pub fn ndjson_response(lines: &[Value]) -> MockResponse {
    MockResponse::stream("application/x-ndjson", ndjson_parts(lines))
}

/// One embedding per input.
pub fn embedding_values(i: usize) -> Value {
    json!([0.010071029, -0.0017594862, i as f64])
}

/// The default model list.
pub fn tags() -> Value {
    json!({"models": [
        {"name": "llama3.2:latest", "model": "llama3.2:latest", "modified_at": "2023-12-12T14:13:43.416799Z",
         "size": 2019393189u64, "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
         "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"], "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}},
        {"name": "all-minilm:latest", "model": "all-minilm:latest", "modified_at": "2024-07-01T10:00:00-07:00",
         "size": 45960996, "digest": "1b226e2802dbb772b5fc32a58f103ca1804ef7501331012de126ab22f67475ef",
         "details": {"format": "gguf", "family": "bert", "parameter_size": "23M", "quantization_level": "F16"}}
    ]})
}

/// Ollama's default behaviour.
pub fn behaviour(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if model == MISSING_MODEL {
        return MockResponse::json(
            404,
            &error_body(&format!(
                "model \"{model}\" not found, try pulling it first"
            )),
        );
    }
    match (&req.method, req.path.as_str()) {
        (&Method::GET, "/api/tags") => MockResponse::json(200, &tags()),
        (&Method::POST, "/api/chat") => {
            if body.get("messages").and_then(Value::as_array).is_none() {
                return MockResponse::json(400, &error_body("messages is required"));
            }
            // Ollama streams unless told not to.
            if body.get("stream") == Some(&Value::Bool(false)) {
                MockResponse::json(200, &chat_response(&model))
            } else {
                ndjson_response(&stream_lines(&model))
            }
        }
        (&Method::POST, "/api/embed") => {
            let n = match body.get("input") {
                Some(Value::Array(items)) => items.len(),
                Some(Value::String(_)) => 1,
                _ => return MockResponse::json(400, &error_body("invalid input type")),
            };
            let embeddings: Vec<Value> = (0..n).map(embedding_values).collect();
            MockResponse::json(
                200,
                &json!({"model": model, "embeddings": embeddings, "total_duration": 14143917,
                        "load_duration": 1019500, "prompt_eval_count": 4 * n}),
            )
        }
        _ => MockResponse::raw(404, "text/plain", "404 page not found"),
    }
}
