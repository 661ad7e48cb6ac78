//! llmux-ollama against a mock Ollama server, through the real transport:
//! exact upstream requests, exact OpenAI-shaped results for chat, tools,
//! NDJSON streams, embeddings and the model list; every error status and
//! stream failure through the shared conformance suite. Ollama sends no ids, so llmux makes them
//! (`chatcmpl-…`, `call_…`); tests check their form, then compare the rest
//! exactly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use llmux_core::stream::collect_stream;
use llmux_core::types::chat::{AssistantMessage, ChatCompletionRequest, ChatMessage, Tool};
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingVector};
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_ollama::OllamaProvider;
use llmux_tests::conformance::{
    assert_error, assert_json_post, expected_chunk, expected_usage_chunk, function_tool, hello,
    params_at, started, Conformance, ErrorCase, MidStreamError, PartialStream,
};
use llmux_tests::mock::ollama::{self, error_body, ndjson_parts, ndjson_response, CREATED, REPLY};
use llmux_tests::mock::{Behaviour, MockResponse, MockServer, StreamPart};
use serde_json::{json, Value};

fn ollama_at(server: &MockServer) -> OllamaProvider {
    OllamaProvider::from_params(
        "ollama_chat",
        &ProviderParams {
            api_base: Some(server.url()),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap()
}

fn hello_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "stream": stream
    })
}

fn generated(id: &Value, prefix: &str) -> String {
    let id = id.as_str().unwrap();
    let hex = id
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{id} lacks {prefix}"));
    assert_eq!(hex.len(), 24, "{id}");
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    id.to_string()
}

#[tokio::test]
async fn chat_sends_exact_request_and_decodes_response() {
    let (server, provider) = started(ollama::start(), ollama_at).await;
    let mut req = hello("llama3.2");
    req.temperature = Some(0.7);
    req.max_completion_tokens = Some(128);
    req.seed = Some(1);
    req.stop = Some(llmux_core::types::OneOrMany::Many(vec!["###".into()]));
    req.extra.insert("options".into(), json!({"num_ctx": 4096}));

    let resp = provider.chat(req).await.unwrap();

    let sent = server.last_request().unwrap();
    assert_json_post(&sent, "/api/chat");
    assert_eq!(sent.header("authorization"), None);
    let mut body = hello_body("llama3.2", false);
    body["options"] = json!({"num_ctx": 4096, "temperature": 0.7, "num_predict": 128, "stop": ["###"], "seed": 1});
    assert_eq!(sent.json(), body);
    let value = serde_json::to_value(&resp).unwrap();
    let id = generated(&value["id"], "chatcmpl-");
    assert_eq!(
        value,
        json!({"id": id, "object": "chat.completion", "created": CREATED, "model": "llama3.2",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY},
                            "logprobs": null, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 26, "completion_tokens": 7, "total_tokens": 33}})
    );
}

/// `OLLAMA_API_BASE` (even written as the full `/api/chat` URL) configures
/// the server; no key is needed.
#[tokio::test]
async fn base_from_environment() {
    let server = ollama::start().await.unwrap();
    let env = MapEnv::new([("OLLAMA_API_BASE", format!("{}/api/chat", server.url()))]);
    let provider = OllamaProvider::from_params("ollama", &ProviderParams::default(), &env).unwrap();
    assert_eq!(provider.name(), "ollama");
    assert_eq!(
        provider.chat(hello("mistral")).await.unwrap().text(),
        Some(REPLY)
    );
    assert_eq!(server.last_request().unwrap().path, "/api/chat");
}

#[tokio::test]
async fn stream_yields_exact_chunks_then_usage() {
    let (server, provider) = started(ollama::start(), ollama_at).await;
    let chunks: Vec<Value> = provider
        .chat_stream(hello("llama3.2"))
        .await
        .unwrap()
        .map(|c| serde_json::to_value(c.unwrap()).unwrap())
        .collect()
        .await;
    assert_eq!(
        server.last_request().unwrap().json(),
        hello_body("llama3.2", true)
    );
    let id = generated(&chunks[0]["id"], "chatcmpl-");
    let chunk =
        |delta: Value, finish: Value| expected_chunk(&id, CREATED, "llama3.2", delta, finish);
    assert_eq!(
        chunks,
        vec![
            chunk(
                json!({"role": "assistant", "content": "Hello"}),
                Value::Null
            ),
            chunk(json!({"content": " from the mock"}), Value::Null),
            chunk(json!({"content": " Ollama!"}), Value::Null),
            chunk(json!({}), json!("stop")),
            expected_usage_chunk(
                &id,
                CREATED,
                "llama3.2",
                json!({"prompt_tokens": 26, "completion_tokens": 7, "total_tokens": 33})
            ),
        ]
    );
}

fn weather_tool() -> Tool {
    function_tool(
        "get_current_weather",
        "Get the current weather for a location",
        json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}),
    )
}

#[tokio::test]
async fn tool_calls_round_trip() {
    let (server, provider) = started(ollama::start(), ollama_at).await;
    server.enqueue(MockResponse::json(
        200,
        &json!({"model": "qwen3", "created_at": ollama::CREATED_AT,
            "message": {"role": "assistant", "content": "", "thinking": "The user wants the weather.",
                "tool_calls": [{"function": {"name": "get_current_weather", "arguments": {"location": "Paris, FR"}}}]},
            "done_reason": "stop", "done": true, "prompt_eval_count": 150, "eval_count": 24}),
    ));
    let mut req = hello("qwen3");
    req.tools = Some(vec![weather_tool()]);
    req.extra.insert("think".into(), json!(true));
    let resp = provider.chat(req.clone()).await.unwrap();
    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["tools"],
        json!([{"type": "function", "function": {"name": "get_current_weather",
            "description": "Get the current weather for a location",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}])
    );
    assert_eq!(sent["think"], json!(true));
    let choice = serde_json::to_value(&resp.choices[0]).unwrap();
    let call_id = generated(&choice["message"]["tool_calls"][0]["id"], "call_");
    assert_eq!(
        choice,
        json!({"index": 0, "message": {"role": "assistant", "content": null,
            "reasoning_content": "The user wants the weather.",
            "tool_calls": [{"id": call_id, "type": "function",
                "function": {"name": "get_current_weather", "arguments": "{\"location\":\"Paris, FR\"}"}}]},
            "logprobs": null, "finish_reason": "tool_calls"})
    );

    // The next turn: arguments go back as an object, the result names its tool.
    req.messages.push(ChatMessage::Assistant(AssistantMessage {
        tool_calls: resp.choices[0].message.tool_calls.clone(),
        ..Default::default()
    }));
    req.messages
        .push(ChatMessage::tool(call_id, "22 degrees, sunny"));
    provider.chat(req).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().json()["messages"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_current_weather", "arguments": {"location": "Paris, FR"}}}]},
            {"role": "tool", "content": "22 degrees, sunny", "tool_name": "get_current_weather"}
        ])
    );
}

#[tokio::test]
async fn streamed_tool_calls_and_thinking() {
    let (server, provider) = started(ollama::start(), ollama_at).await;
    let at = ollama::CREATED_AT;
    server.enqueue(ndjson_response(&[
        json!({"model": "qwen3", "created_at": at, "message": {"role": "assistant", "content": "", "thinking": "Two cities."}, "done": false}),
        json!({"model": "qwen3", "created_at": at, "message": {"role": "assistant", "content": "",
            "tool_calls": [{"function": {"name": "get_current_weather", "arguments": {"location": "Paris"}}},
                           {"function": {"name": "get_current_weather", "arguments": {"location": "Oslo"}}}]}, "done": false}),
        json!({"model": "qwen3", "created_at": at, "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
               "prompt_eval_count": 90, "eval_count": 40}),
    ]));
    let mut req = hello("qwen3");
    req.tools = Some(vec![weather_tool()]);
    let done = collect_stream(provider.chat_stream(req).await.unwrap())
        .await
        .unwrap();
    let calls = done.choices[0].message.tool_calls.clone().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (
            calls[0].function.arguments.as_str(),
            calls[1].function.arguments.as_str()
        ),
        ("{\"location\":\"Paris\"}", "{\"location\":\"Oslo\"}")
    );
    assert_ne!(calls[0].id, calls[1].id);
    assert_eq!(
        done.choices[0].message.reasoning_content.as_deref(),
        Some("Two cities.")
    );
    assert_eq!(
        done.choices[0].finish_reason.as_ref().unwrap().as_str(),
        "tool_calls"
    );
    assert_eq!(done.usage.unwrap().total_tokens, 130);
}

#[tokio::test]
async fn images_and_structured_output() {
    let (server, provider) = started(ollama::start(), ollama_at).await;
    let mut req = ChatCompletionRequest::new(
        "llava",
        vec![serde_json::from_value(json!({"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}}
        ]}))
        .unwrap()],
    );
    req.response_format = Some(
        serde_json::from_value(json!({"type": "json_schema", "json_schema": {"name": "answer",
            "schema": {"type": "object", "properties": {"objects": {"type": "array", "items": {"type": "string"}}}, "required": ["objects"]}}}))
        .unwrap(),
    );
    provider.chat(req).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().json(),
        json!({"model": "llava",
               "messages": [{"role": "user", "content": "What is in this picture?", "images": ["/9j/4AAQSkZJRg=="]}],
               "format": {"type": "object", "properties": {"objects": {"type": "array", "items": {"type": "string"}}}, "required": ["objects"]},
               "stream": false})
    );
}

#[tokio::test]
async fn embeddings_exact_body_result_and_base64() {
    let (server, provider) = started(ollama::start(), ollama_at).await;
    let mut req = EmbeddingRequest::new(
        "all-minilm",
        EmbeddingInput::Texts(vec![
            "Why is the sky blue?".into(),
            "Why is the grass green?".into(),
        ]),
    );
    req.extra.insert("truncate".into(), json!(true));
    let resp = provider.embeddings(req.clone()).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/api/embed");
    assert_eq!(
        sent.json(),
        json!({"model": "all-minilm", "input": ["Why is the sky blue?", "Why is the grass green?"], "truncate": true})
    );
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({"object": "list", "model": "all-minilm",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.010071029, -0.0017594862, 0.0]},
                        {"object": "embedding", "index": 1, "embedding": [0.010071029, -0.0017594862, 1.0]}],
               "usage": {"prompt_tokens": 8, "total_tokens": 8}})
    );
    req.input = EmbeddingInput::Text("one".into());
    req.encoding_format = Some("base64".into());
    let resp = provider.embeddings(req).await.unwrap();
    assert_eq!(server.last_request().unwrap().json()["input"], json!("one"));
    let EmbeddingVector::Base64(b) = &resp.data[0].embedding else {
        panic!("expected base64");
    };
    use base64::Engine;
    let expected: Vec<u8> = [0.010071029f32, -0.0017594862, 0.0]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
        expected
    );
}

#[tokio::test]
async fn lists_models_from_tags() {
    let (server, provider) = started(ollama::start(), ollama_at).await;
    let list = provider.list_models().await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(
        (sent.method, sent.path.as_str()),
        (http::Method::GET, "/api/tags")
    );
    assert_eq!(
        serde_json::to_value(&list).unwrap(),
        json!({"object": "list", "data": [
            {"id": "llama3.2:latest", "object": "model", "created": 1_702_390_423u64, "owned_by": "ollama"},
            {"id": "all-minilm:latest", "object": "model", "created": 1_719_853_200u64, "owned_by": "ollama"}]})
    );
}

/// A model that is not pulled is `NotFound` with Ollama's message, from
/// `chat_stream` too; an unknown route's plain-text 404 is `NotFound` as well.
#[tokio::test]
async fn missing_model_and_plain_text_404() {
    let (server, provider) = started(ollama::start(), ollama_at).await;
    let err = provider
        .chat(hello(ollama::MISSING_MODEL))
        .await
        .unwrap_err();
    assert_error(
        &err,
        ErrorKind::NotFound,
        "model \"missing-model\" not found, try pulling it first",
    );
    let err = provider
        .chat_stream(hello(ollama::MISSING_MODEL))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::NotFound);

    server.enqueue(MockResponse::raw(404, "text/plain", "404 page not found"));
    let err = provider.list_models().await.unwrap_err();
    assert_error(
        &err,
        ErrorKind::NotFound,
        "upstream returned HTTP 404: 404 page not found",
    );
}

/// A key, when given, goes out as a bearer token (for Ollama behind a proxy).
#[tokio::test]
async fn api_key_is_sent_as_a_bearer_token() {
    let server = ollama::start().await.unwrap();
    let keyed = OllamaProvider::from_params(
        "ollama",
        &ProviderParams {
            api_base: Some(server.url()),
            api_key: Some("secret".into()),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap();
    assert_eq!(keyed.chat(hello("m")).await.unwrap().text(), Some(REPLY));
    assert_eq!(
        server.last_request().unwrap().header("authorization"),
        Some("Bearer secret")
    );
}

/// Ollama's `ollama_chat` provider through the shared conformance suite.
struct OllamaHarness;

impl Conformance for OllamaHarness {
    const PROVIDER: &'static str = "ollama_chat";
    const REPLY: &'static str = REPLY;
    const CHAT_MODEL: &'static str = "llama3.2";
    const TRUNCATED_MESSAGE: &'static str =
        "upstream stream ended before it was complete (no \"done\": true)";

    fn behaviour() -> Behaviour {
        ollama::behaviour
    }

    /// No key: a local server.
    fn provider(base_url: &str, timeout: Option<Duration>) -> Arc<dyn Provider> {
        let params = params_at(base_url, timeout);
        llmux_router::resolve("ollama_chat/llama3.2", &params, &MapEnv::default())
            .unwrap()
            .provider
    }

    /// Embed errors classify like chat's.
    fn embedding_request() -> Option<EmbeddingRequest> {
        let input = EmbeddingInput::Texts(vec!["Why is the sky blue?".into()]);
        Some(EmbeddingRequest::new("all-minilm", input))
    }

    /// Ollama's statuses, with the messages its server writes.
    fn error_cases() -> Vec<ErrorCase> {
        use ErrorKind::*;
        ErrorCase::json_table(
            &[
                (
                    400,
                    BadRequest,
                    "json: cannot unmarshal string into Go struct field ChatRequest.messages",
                ),
                (
                    400,
                    ContextWindowExceeded,
                    "the input length exceeds the context length",
                ),
                (401, Authentication, "unauthorized"),
                (403, PermissionDenied, "forbidden"),
                (
                    404,
                    NotFound,
                    "model \"llama9\" not found, try pulling it first",
                ),
                (429, RateLimit, "too many requests"),
                (
                    500,
                    InternalServer,
                    "llama runner process has terminated: exit status 2",
                ),
                (502, BadGateway, "bad gateway"),
                (
                    503,
                    ServiceUnavailable,
                    "server busy, please try again.  maximum pending requests exceeded",
                ),
            ],
            error_body,
        )
    }

    fn stream_response(parts: Vec<StreamPart>) -> MockResponse {
        MockResponse::stream("application/x-ndjson", parts)
    }

    fn stream_body() -> Vec<u8> {
        ollama::stream_lines("llama3.2")
            .iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect()
    }

    /// Two lines, none with `"done": true`.
    fn truncated_stream() -> PartialStream {
        PartialStream {
            parts: ndjson_parts(&ollama::stream_lines("llama3.2")[..2]),
            chunks: 2,
            text: "Hello from the mock",
        }
    }

    /// One line, then an `{"error": …}` line.
    fn mid_stream_error() -> MidStreamError {
        let message = "an error was encountered while running the model: CUDA error: out of memory";
        let mut lines = ollama::stream_lines("llama3.2")[..1].to_vec();
        lines.push(error_body(message));
        MidStreamError {
            stream: PartialStream {
                parts: ndjson_parts(&lines),
                chunks: 1,
                text: "Hello",
            },
            kind: ErrorKind::InternalServer,
            message,
        }
    }

    fn malformed_body() -> MockResponse {
        MockResponse::raw(200, "application/json", "{\"message\": ")
    }
}

llmux_tests::conformance_tests!(OllamaHarness);
