//! llmux-ollama against a mock Ollama server, through the real transport:
//! exact upstream requests, exact OpenAI-shaped results for chat, tools,
//! NDJSON streams (split anywhere on the wire), embeddings and the model
//! list, and every error status. Ollama sends no ids, so llmux makes them
//! (`chatcmpl-…`, `call_…`); tests check their form, then compare the rest
//! exactly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use llmux_core::stream::collect_stream;
use llmux_core::types::chat::{
    AssistantMessage, ChatCompletionRequest, ChatMessage, FunctionDefinition, Tool,
};
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingVector};
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_ollama::OllamaProvider;
use llmux_tests::mock::ollama::{self, error_body, ndjson_parts, ndjson_response, CREATED, REPLY};
use llmux_tests::mock::{MockResponse, MockServer, StreamPart};
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

fn hello(model: &str) -> ChatCompletionRequest {
    ChatCompletionRequest::new(
        model,
        vec![ChatMessage::system("Be brief."), ChatMessage::user("Hi")],
    )
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
    let server = ollama::start().await.unwrap();
    let provider = ollama_at(&server);
    let mut req = hello("llama3.2");
    req.temperature = Some(0.7);
    req.max_completion_tokens = Some(128);
    req.seed = Some(1);
    req.stop = Some(llmux_core::types::OneOrMany::Many(vec!["###".into()]));
    req.extra.insert("options".into(), json!({"num_ctx": 4096}));

    let resp = provider.chat(req).await.unwrap();

    let sent = server.last_request().unwrap();
    assert_eq!(sent.method, http::Method::POST);
    assert_eq!(sent.path_and_query(), "/api/chat");
    assert_eq!(sent.header("content-type"), Some("application/json"));
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
    let server = ollama::start().await.unwrap();
    let provider = ollama_at(&server);
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
    let chunk = |delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": CREATED, "model": "llama3.2",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
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
            json!({"id": id, "object": "chat.completion.chunk", "created": CREATED, "model": "llama3.2",
                   "choices": [], "usage": {"prompt_tokens": 26, "completion_tokens": 7, "total_tokens": 33}}),
        ]
    );
}

#[tokio::test]
async fn stream_split_on_the_wire_at_every_point_decodes_the_same() {
    let server = ollama::start().await.unwrap();
    let provider = ollama_at(&server);
    let whole = collect_stream(provider.chat_stream(hello("m")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(whole.text(), Some(REPLY));
    let body: String = ollama::stream_lines("m")
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    let bytes = body.as_bytes();
    // Byte by byte, then a sample of two-piece splits through the network.
    let mut splits: Vec<Vec<StreamPart>> = vec![bytes
        .iter()
        .map(|b| StreamPart::Bytes(Bytes::copy_from_slice(&[*b])))
        .collect()];
    for i in (1..bytes.len()).step_by(37) {
        splits.push(vec![
            StreamPart::Bytes(Bytes::copy_from_slice(&bytes[..i])),
            StreamPart::Delay(Duration::from_millis(2)),
            StreamPart::Bytes(Bytes::copy_from_slice(&bytes[i..])),
        ]);
    }
    for parts in splits {
        server.enqueue(MockResponse::stream("application/x-ndjson", parts));
        let split = collect_stream(provider.chat_stream(hello("m")).await.unwrap())
            .await
            .unwrap();
        assert_eq!(split.choices, whole.choices);
        assert_eq!(split.usage, whole.usage);
        assert_eq!(split.created, whole.created);
    }
}

fn weather_tool() -> Tool {
    Tool::function(FunctionDefinition {
        name: "get_current_weather".into(),
        description: Some("Get the current weather for a location".into()),
        parameters: Some(
            json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}),
        ),
        strict: None,
    })
}

#[tokio::test]
async fn tool_calls_round_trip() {
    let server = ollama::start().await.unwrap();
    let provider = ollama_at(&server);
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
    let server = ollama::start().await.unwrap();
    let provider = ollama_at(&server);
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
    let server = ollama::start().await.unwrap();
    let provider = ollama_at(&server);
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
    let server = ollama::start().await.unwrap();
    let provider = ollama_at(&server);
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
    let server = ollama::start().await.unwrap();
    let provider = ollama_at(&server);
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

#[tokio::test]
async fn error_statuses_map_to_kinds() {
    let server = ollama::start().await.unwrap();
    let provider = ollama_at(&server);
    let err = provider
        .chat(hello(ollama::MISSING_MODEL))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(
        err.message,
        "model \"missing-model\" not found, try pulling it first"
    );
    let err = provider
        .chat_stream(hello(ollama::MISSING_MODEL))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::NotFound);

    let cases: &[(u16, &str, ErrorKind)] = &[
        (
            400,
            "json: cannot unmarshal string into Go struct field ChatRequest.messages",
            ErrorKind::BadRequest,
        ),
        (
            400,
            "the input length exceeds the context length",
            ErrorKind::ContextWindowExceeded,
        ),
        (401, "unauthorized", ErrorKind::Authentication),
        (403, "forbidden", ErrorKind::PermissionDenied),
        (
            404,
            "model \"llama9\" not found, try pulling it first",
            ErrorKind::NotFound,
        ),
        (429, "too many requests", ErrorKind::RateLimit),
        (
            500,
            "llama runner process has terminated: exit status 2",
            ErrorKind::InternalServer,
        ),
        (502, "bad gateway", ErrorKind::BadGateway),
        (
            503,
            "server busy, please try again.  maximum pending requests exceeded",
            ErrorKind::ServiceUnavailable,
        ),
    ];
    for (status, message, kind) in cases {
        server.enqueue(
            MockResponse::json(*status, &error_body(message)).with_header("retry-after", "3"),
        );
        let err = provider.chat(hello("llama3.2")).await.unwrap_err();
        assert_eq!(err.kind, *kind, "{status}: {message}");
        assert_eq!(err.message, *message);
        assert_eq!(err.upstream_status, Some(*status));
        assert_eq!(err.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(err.provider.as_deref(), Some("ollama_chat"));
        assert_eq!(err.model.as_deref(), Some("llama3.2"));
        server.enqueue(MockResponse::json(*status, &error_body(message)));
        let err = provider.chat_stream(hello("llama3.2")).await.err().unwrap();
        assert_eq!(err.kind, *kind, "stream {status}");
        server.enqueue(MockResponse::json(*status, &error_body(message)));
        let err = provider
            .embeddings(EmbeddingRequest::new(
                "all-minilm",
                EmbeddingInput::Text("x".into()),
            ))
            .await
            .unwrap_err();
        assert_eq!(err.kind, *kind, "embed {status}");
    }
    // An unknown route answers Ollama's plain-text 404.
    server.enqueue(MockResponse::raw(404, "text/plain", "404 page not found"));
    let err = provider.list_models().await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::NotFound,
            "upstream returned HTTP 404: 404 page not found"
        )
    );
}

#[tokio::test]
async fn mid_stream_error_truncation_and_abort() {
    let server = ollama::start().await.unwrap();
    let provider = ollama_at(&server);
    let lines = ollama::stream_lines("m");

    let mut parts = ndjson_parts(&lines[..1]);
    parts.extend(ndjson_parts(&[error_body(
        "an error was encountered while running the model: CUDA error: out of memory",
    )]));
    server.enqueue(MockResponse::stream("application/x-ndjson", parts));
    let items: Vec<_> = provider
        .chat_stream(hello("m"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0].as_ref().unwrap().choices[0]
            .delta
            .content
            .as_deref(),
        Some("Hello")
    );
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.kind, ErrorKind::InternalServer);
    assert_eq!(
        err.message,
        "an error was encountered while running the model: CUDA error: out of memory"
    );

    // The body ends before "done": true.
    server.enqueue(ndjson_response(&lines[..2]));
    let items: Vec<_> = provider
        .chat_stream(hello("m"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[2].as_ref().unwrap_err().kind,
        ErrorKind::ApiConnection
    );

    // The connection drops mid-line.
    let mut parts = ndjson_parts(&lines[..1]);
    parts.push(StreamPart::Bytes(Bytes::from_static(
        b"{\"model\":\"m\",\"mess",
    )));
    parts.push(StreamPart::Abort);
    server.enqueue(MockResponse::stream("application/x-ndjson", parts));
    let items: Vec<_> = provider
        .chat_stream(hello("m"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1].as_ref().unwrap_err().kind,
        ErrorKind::ApiConnection
    );
    assert_eq!(provider.chat(hello("m")).await.unwrap().text(), Some(REPLY));
}

#[tokio::test]
async fn malformed_body_timeout_connection_refused_and_key() {
    let server = ollama::start().await.unwrap();
    server.enqueue(MockResponse::raw(200, "application/json", "{\"message\": "));
    let provider = ollama_at(&server);
    let err = provider.chat(hello("m")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadGateway);
    assert!(
        err.message
            .starts_with("cannot decode ollama_chat response"),
        "{}",
        err.message
    );

    server.enqueue(
        MockResponse::json(200, &ollama::chat_response("m")).with_delay(Duration::from_millis(500)),
    );
    let slow = OllamaProvider::from_params(
        "ollama",
        &ProviderParams {
            api_base: Some(server.url()),
            api_key: Some("secret".into()),
            timeout: Some(Duration::from_millis(50)),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap();
    assert_eq!(
        slow.chat(hello("m")).await.unwrap_err().kind,
        ErrorKind::Timeout
    );
    assert_eq!(
        server.last_request().unwrap().header("authorization"),
        Some("Bearer secret")
    );

    let url = server.url();
    drop(server);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let gone = OllamaProvider::from_params(
        "ollama",
        &ProviderParams {
            api_base: Some(url),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap();
    let err = gone.chat(hello("m")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ApiConnection);
    assert_eq!(err.provider.as_deref(), Some("ollama"));
}
