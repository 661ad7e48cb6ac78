//! llmux-cohere against a mock Cohere API v2 server, through the real
//! transport: exact upstream requests, exact OpenAI-shaped results for chat,
//! tools, streams (split anywhere on the wire), embeddings and rerank, and
//! every error status.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use llmux_cohere::CohereProvider;
use llmux_core::stream::collect_stream;
use llmux_core::types::chat::{
    AssistantMessage, ChatCompletionRequest, ChatMessage, FunctionDefinition, Tool, ToolCall,
    ToolChoice,
};
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingVector};
use llmux_core::types::rerank::RerankRequest;
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_tests::mock::cohere::{self, error_body, sse_parts, sse_response, REPLY, RESPONSE_ID};
use llmux_tests::mock::{MockResponse, MockServer, StreamPart};
use serde_json::{json, Value};

fn cohere_at(server: &MockServer) -> CohereProvider {
    CohereProvider::from_params(
        "cohere",
        &ProviderParams {
            api_key: Some("test-key".into()),
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

fn hello_body(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    })
}

fn assert_recent(created: u64) {
    let now = llmux_core::unix_now();
    assert!(
        created <= now && now - created < 60,
        "created {created}, now {now}"
    );
}

#[tokio::test]
async fn chat_sends_exact_request_and_decodes_response() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    let mut req = hello("command-a-03-2025");
    req.temperature = Some(0.3);
    req.top_p = Some(0.75);
    req.max_tokens = Some(100);
    req.seed = Some(42);
    req.stop = Some(llmux_core::types::OneOrMany::Many(vec!["END".into()]));
    req.extra.insert("top_k".into(), json!(10));

    let resp = provider.chat(req).await.unwrap();

    let sent = server.last_request().unwrap();
    assert_eq!(sent.method, http::Method::POST);
    assert_eq!(sent.path_and_query(), "/v2/chat");
    assert_eq!(sent.header("authorization"), Some("Bearer test-key"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let mut body = hello_body("command-a-03-2025");
    for (k, v) in [
        ("stop_sequences", json!(["END"])),
        ("temperature", json!(0.3)),
        ("p", json!(0.75)),
        ("max_tokens", json!(100)),
        ("seed", json!(42)),
        ("k", json!(10)),
    ] {
        body[k] = v;
    }
    assert_eq!(sent.json(), body);
    assert_recent(resp.created);
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({
            "id": RESPONSE_ID, "object": "chat.completion", "created": resp.created,
            "model": "command-a-03-2025",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}
        })
    );
}

/// LiteLLM's `api_base` for `cohere_chat` is the full `/v2/chat` URL; the key
/// may come from `CO_API_KEY`.
#[tokio::test]
async fn cohere_chat_with_full_url_base_and_co_api_key() {
    let server = cohere::start().await.unwrap();
    let env = MapEnv::new([
        ("CO_API_KEY", "co-key".to_string()),
        ("COHERE_API_BASE", format!("{}/v2/chat", server.url())),
    ]);
    let provider =
        CohereProvider::from_params("cohere_chat", &ProviderParams::default(), &env).unwrap();
    assert_eq!(provider.name(), "cohere_chat");
    let resp = provider.chat(hello("command-r-plus")).await.unwrap();
    assert_eq!(resp.text(), Some(REPLY));
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v2/chat");
    assert_eq!(sent.header("authorization"), Some("Bearer co-key"));
    // Embeddings and rerank go to their own paths under the same root.
    provider
        .embeddings(EmbeddingRequest::new(
            "embed-v4.0",
            EmbeddingInput::Text("x".into()),
        ))
        .await
        .unwrap();
    assert_eq!(server.last_request().unwrap().path, "/v2/embed");
}

#[tokio::test]
async fn stream_yields_exact_chunks_then_usage() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    let chunks: Vec<Value> = provider
        .chat_stream(hello("command-r"))
        .await
        .unwrap()
        .map(|c| serde_json::to_value(c.unwrap()).unwrap())
        .collect()
        .await;

    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v2/chat");
    let mut body = hello_body("command-r");
    body["stream"] = json!(true);
    assert_eq!(sent.json(), body);
    let created = chunks[0]["created"].as_u64().unwrap();
    assert_recent(created);
    let chunk = |delta: Value, finish: Value| {
        json!({"id": RESPONSE_ID, "object": "chat.completion.chunk", "created": created, "model": "command-r",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    assert_eq!(
        chunks,
        vec![
            chunk(json!({"role": "assistant"}), Value::Null),
            chunk(json!({"content": "Hello"}), Value::Null),
            chunk(json!({"content": " from the mock"}), Value::Null),
            chunk(json!({"content": " Cohere!"}), Value::Null),
            chunk(json!({}), json!("stop")),
            json!({"id": RESPONSE_ID, "object": "chat.completion.chunk", "created": created, "model": "command-r",
                   "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}}),
        ]
    );
}

#[tokio::test]
async fn stream_split_into_single_bytes_on_the_wire_decodes_the_same() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    let whole = collect_stream(provider.chat_stream(hello("m")).await.unwrap())
        .await
        .unwrap();
    let body: String = cohere::stream_events()
        .iter()
        .map(cohere::sse_event)
        .collect();
    let parts = body
        .as_bytes()
        .iter()
        .map(|b| StreamPart::Bytes(Bytes::copy_from_slice(&[*b])))
        .collect();
    server.enqueue(MockResponse::stream("text/event-stream", parts));
    let split = collect_stream(provider.chat_stream(hello("m")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(split.choices, whole.choices);
    assert_eq!(split.usage, whole.usage);
    assert_eq!(whole.text(), Some(REPLY));
}

fn weather_tool() -> Tool {
    Tool::function(FunctionDefinition {
        name: "get_weather".into(),
        description: Some("Weather for a place".into()),
        parameters: Some(
            json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}),
        ),
        strict: None,
    })
}

#[tokio::test]
async fn tool_calls_round_trip() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    server.enqueue(MockResponse::json(
        200,
        &json!({
            "id": "r-tools", "finish_reason": "TOOL_CALL",
            "message": {"role": "assistant", "tool_plan": "I will look up the weather in Paris.",
                "tool_calls": [{"id": "get_weather_k3x9", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
            "usage": {"billed_units": {"input_tokens": 40, "output_tokens": 21}, "tokens": {"input_tokens": 1100, "output_tokens": 21}}
        }),
    ));
    let mut req = hello("command-a-03-2025");
    req.tools = Some(vec![weather_tool()]);
    req.tool_choice = Some(ToolChoice::Required);
    let resp = provider.chat(req.clone()).await.unwrap();

    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["tools"],
        json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather for a place",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}])
    );
    assert_eq!(sent["tool_choice"], json!("REQUIRED"));
    assert_eq!(
        serde_json::to_value(&resp.choices[0]).unwrap(),
        json!({"index": 0, "message": {"role": "assistant", "content": null,
            "reasoning_content": "I will look up the weather in Paris.",
            "tool_calls": [{"id": "get_weather_k3x9", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
            "logprobs": null, "finish_reason": "tool_calls"})
    );

    // The next turn sends the call (with its plan) and the result back.
    let call = resp.choices[0].message.tool_calls.clone().unwrap();
    let mut assistant = AssistantMessage {
        tool_calls: Some(call),
        ..Default::default()
    };
    assistant.extra.insert(
        "reasoning_content".into(),
        json!("I will look up the weather in Paris."),
    );
    req.messages.push(ChatMessage::Assistant(assistant));
    req.messages
        .push(ChatMessage::tool("get_weather_k3x9", "{\"temp_c\": 18}"));
    req.tool_choice = None;
    provider.chat(req).await.unwrap();
    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "tool_calls": [{"id": "get_weather_k3x9", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}],
             "tool_plan": "I will look up the weather in Paris."},
            {"role": "tool", "tool_call_id": "get_weather_k3x9", "content": "{\"temp_c\": 18}"}
        ])
    );
    assert!(sent.get("tool_choice").is_none());
}

#[tokio::test]
async fn streamed_tool_calls_aggregate_to_the_whole_call() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    let events = vec![
        json!({"id": "m-tool", "type": "message-start", "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
        json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "Checking."}}}),
        json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {"id": "get_weather_a1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}}}}),
        json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {"function": {"arguments": "{\"location\""}}}}}),
        json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {"function": {"arguments": ": \"Paris\"}"}}}}}),
        json!({"type": "tool-call-end", "index": 0}),
        json!({"type": "tool-call-start", "index": 1, "delta": {"message": {"tool_calls": {"id": "get_weather_b2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": \"Oslo\"}"}}}}}),
        json!({"type": "tool-call-end", "index": 1}),
        json!({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": {"billed_units": {"input_tokens": 40, "output_tokens": 30}}}}),
    ];
    server.enqueue(sse_response(&events));
    let mut req = hello("command-a-03-2025");
    req.tools = Some(vec![weather_tool()]);
    let done = collect_stream(provider.chat_stream(req).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&done.choices).unwrap(),
        json!([{"index": 0, "message": {"role": "assistant", "content": null, "reasoning_content": "Checking.",
            "tool_calls": [
                {"id": "get_weather_a1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\"}"}},
                {"id": "get_weather_b2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": \"Oslo\"}"}}
            ]}, "logprobs": null, "finish_reason": "tool_calls"}])
    );
    assert_eq!(done.id, "m-tool");
    assert_eq!(done.usage.unwrap().total_tokens, 70);
}

#[tokio::test]
async fn structured_output_is_sent_as_json_object_with_schema() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    let mut req = hello("command-a-03-2025");
    req.response_format = Some(
        serde_json::from_value(json!({"type": "json_schema", "json_schema": {"name": "city",
            "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}))
        .unwrap(),
    );
    provider.chat(req).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().json()["response_format"],
        json!({"type": "json_object", "json_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}})
    );
}

#[tokio::test]
async fn embeddings_exact_body_result_and_base64() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    let mut req = EmbeddingRequest::new(
        "embed-v4.0",
        EmbeddingInput::Texts(vec!["hello".into(), "goodbye".into()]),
    );
    req.dimensions = Some(512);
    req.extra
        .insert("input_type".into(), json!("classification"));
    let resp = provider.embeddings(req.clone()).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v2/embed");
    assert_eq!(sent.header("authorization"), Some("Bearer test-key"));
    assert_eq!(
        sent.json(),
        json!({"model": "embed-v4.0", "texts": ["hello", "goodbye"], "input_type": "classification",
               "embedding_types": ["float"], "output_dimension": 512})
    );
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({"object": "list", "model": "embed-v4.0",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.016296387, -0.008354187, 0.0]},
                        {"object": "embedding", "index": 1, "embedding": [0.016296387, -0.008354187, 1.0]}],
               "usage": {"prompt_tokens": 4, "total_tokens": 4}})
    );
    req.encoding_format = Some("base64".into());
    let resp = provider.embeddings(req).await.unwrap();
    let EmbeddingVector::Base64(b) = &resp.data[1].embedding else {
        panic!("expected base64");
    };
    let expected: Vec<u8> = [0.016296387f32, -0.008354187, 1.0]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
        expected
    );
}

#[tokio::test]
async fn rerank_exact_body_and_result() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    let req: RerankRequest = serde_json::from_value(json!({
        "model": "rerank-v3.5",
        "query": "What is the capital of the United States?",
        "documents": [
            "Carson City is the capital city of the American state of Nevada.",
            {"text": "Washington, D.C. is the capital of the United States.", "source": "wiki"}
        ],
        "top_n": 2,
        "return_documents": true
    }))
    .unwrap();
    let resp = provider.rerank(req).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v2/rerank");
    assert_eq!(
        sent.json(),
        json!({"model": "rerank-v3.5", "query": "What is the capital of the United States?",
               "documents": ["Carson City is the capital city of the American state of Nevada.",
                             "Washington, D.C. is the capital of the United States."],
               "top_n": 2})
    );
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({"id": "07734bd2-2473-4f07-94e1-0d9f0e6843cf",
               "results": [
                   {"index": 1, "relevance_score": 0.9, "document": {"text": "Washington, D.C. is the capital of the United States."}},
                   {"index": 0, "relevance_score": 0.8, "document": {"text": "Carson City is the capital city of the American state of Nevada."}}],
               "meta": {"api_version": {"version": "2", "is_experimental": false}, "billed_units": {"search_units": 1}}})
    );
}

/// Each Cohere status maps to its kind, keeping Cohere's message.
#[tokio::test]
async fn error_statuses_map_to_kinds() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    let cases: &[(u16, &str, ErrorKind)] = &[
        (400, "invalid request: message must be at least 1 token long or tool results must be specified.", ErrorKind::BadRequest),
        (400, "too many tokens: size limit exceeded by 11326 tokens. Try using shorter or fewer inputs, or setting prompt_truncation='AUTO'.", ErrorKind::ContextWindowExceeded),
        (401, "invalid api token", ErrorKind::Authentication),
        (402, "Please add or update your payment method to continue.", ErrorKind::PermissionDenied),
        (403, "Forbidden", ErrorKind::PermissionDenied),
        (404, "model 'command-x' not found, make sure the correct model ID was used and that you have access to the model.", ErrorKind::NotFound),
        (422, "invalid type: parameter temperature is of type string but should be of type float.", ErrorKind::UnprocessableEntity),
        (429, "You are using a Trial key, which is limited to 10 API calls / minute.", ErrorKind::RateLimit),
        (498, "blocked output: please adjust your prompt and try again, as this request violates our usage policy", ErrorKind::ContentPolicyViolation),
        (499, "request cancelled by user", ErrorKind::BadRequest),
        (500, "internal server error, this has been reported to our developers", ErrorKind::InternalServer),
        (503, "service unavailable", ErrorKind::ServiceUnavailable),
        (504, "gateway timeout", ErrorKind::Timeout),
    ];
    for (status, message, kind) in cases {
        let body = error_body(message);
        server.enqueue(MockResponse::json(*status, &body).with_header("retry-after", "7"));
        let err = provider.chat(hello("command-r")).await.unwrap_err();
        assert_eq!(err.kind, *kind, "{status}: {message}");
        assert_eq!(err.upstream_status, Some(*status));
        assert_eq!(err.message, *message);
        assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(err.provider.as_deref(), Some("cohere"));
        assert_eq!(err.model.as_deref(), Some("command-r"));
        assert_eq!(err.status(), kind.status());

        // Before a stream starts, chat_stream returns the same error itself.
        server.enqueue(MockResponse::json(*status, &body));
        let err = provider
            .chat_stream(hello("command-r"))
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind, *kind, "stream, {status}");

        // Embeddings and rerank classify alike.
        server.enqueue(MockResponse::json(*status, &body));
        let err = provider
            .embeddings(EmbeddingRequest::new(
                "embed-v4.0",
                EmbeddingInput::Text("x".into()),
            ))
            .await
            .unwrap_err();
        assert_eq!(err.kind, *kind, "embed, {status}");
    }
    // The mock's own auth check: a bad key is Authentication.
    let bad = CohereProvider::from_params(
        "cohere",
        &ProviderParams {
            api_key: Some(cohere::BAD_KEY.into()),
            api_base: Some(server.url()),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap();
    let err = bad.chat(hello("command-r")).await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::Authentication, "invalid api token")
    );
}

#[tokio::test]
async fn mid_stream_error_truncation_and_abort() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    let events = cohere::stream_events();

    let mut parts = sse_parts(&events[..3]);
    parts.extend(sse_parts(&[json!({"type": "message-end", "delta": {"error": "internal error", "finish_reason": "ERROR"}})]));
    server.enqueue(MockResponse::stream("text/event-stream", parts));
    let items: Vec<_> = provider
        .chat_stream(hello("m"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[1].as_ref().unwrap().choices[0]
            .delta
            .content
            .as_deref(),
        Some("Hello")
    );
    let err = items[2].as_ref().unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::InternalServer, "internal error")
    );

    // The body ends before message-end: an error, not a clean end.
    server.enqueue(MockResponse::stream(
        "text/event-stream",
        sse_parts(&events[..4]),
    ));
    let items: Vec<_> = provider
        .chat_stream(hello("m"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[3].as_ref().unwrap_err().kind,
        ErrorKind::ApiConnection
    );

    // The connection drops mid-body.
    let mut parts = sse_parts(&events[..3]);
    parts.push(StreamPart::Abort);
    server.enqueue(MockResponse::stream("text/event-stream", parts));
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
    assert_eq!(provider.chat(hello("m")).await.unwrap().text(), Some(REPLY));
}

#[tokio::test]
async fn malformed_body_timeout_and_connection_refused() {
    let server = cohere::start().await.unwrap();
    server.enqueue(MockResponse::raw(
        200,
        "application/json",
        "{\"message\": 5",
    ));
    let provider = cohere_at(&server);
    let err = provider.chat(hello("m")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadGateway);
    assert!(
        err.message.starts_with("cannot decode cohere response"),
        "{}",
        err.message
    );

    server.enqueue(
        MockResponse::json(200, &cohere::chat_response()).with_delay(Duration::from_millis(500)),
    );
    let slow = CohereProvider::from_params(
        "cohere",
        &ProviderParams {
            api_key: Some("k".into()),
            api_base: Some(server.url()),
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

    let url = server.url();
    drop(server);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let gone = CohereProvider::from_params(
        "cohere",
        &ProviderParams {
            api_key: Some("k".into()),
            api_base: Some(url),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap();
    assert_eq!(
        gone.chat(hello("m")).await.unwrap_err().kind,
        ErrorKind::ApiConnection
    );
}

#[tokio::test]
async fn unsupported_request_fails_before_any_call() {
    let server = cohere::start().await.unwrap();
    let provider = cohere_at(&server);
    let mut req = hello("command-r");
    req.n = Some(3);
    let err = provider.chat(req).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadRequest);
    assert_eq!(err.provider.as_deref(), Some("cohere"));
    let mut req = hello("command-r");
    req.messages.push(ChatMessage::Assistant(AssistantMessage {
        tool_calls: Some(vec![ToolCall::function("c", "f", "{}")]),
        ..Default::default()
    }));
    req.tools = Some(vec![Tool {
        r#type: "web_search".into(),
        function: None,
        extra: Default::default(),
    }]);
    assert_eq!(
        provider.chat(req).await.unwrap_err().kind,
        ErrorKind::BadRequest
    );
    assert!(server.requests().is_empty());
    assert_eq!(
        provider.list_models().await.unwrap_err().kind,
        ErrorKind::Unsupported
    );
}
