//! llmux-cohere against a mock Cohere API v2 server, through the real
//! transport: exact upstream requests, exact OpenAI-shaped results for chat,
//! tools, streams, embeddings and rerank; every error status and stream
//! failure through the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use llmux_cohere::CohereProvider;
use llmux_core::stream::collect_stream;
use llmux_core::types::chat::{AssistantMessage, ChatMessage, Tool, ToolCall, ToolChoice};
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingVector};
use llmux_core::types::rerank::RerankRequest;
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_tests::conformance::{
    assert_error, assert_json_post, assert_recent, expected_chunk, expected_usage_chunk,
    function_tool, hello, keyed_params_at, started, text_chunks, Conformance, ErrorCase,
    MidStreamError, PartialStream,
};
use llmux_tests::mock::cohere::{self, error_body, sse_parts, sse_response, REPLY, RESPONSE_ID};
use llmux_tests::mock::{Behaviour, MockResponse, MockServer};
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

fn hello_body(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    })
}

#[tokio::test]
async fn chat_sends_exact_request_and_decodes_response() {
    let (server, provider) = started(cohere::start(), cohere_at).await;
    let mut req = hello("command-a-03-2025");
    req.temperature = Some(0.3);
    req.top_p = Some(0.75);
    req.max_tokens = Some(100);
    req.seed = Some(42);
    req.stop = Some(llmux_core::types::OneOrMany::Many(vec!["END".into()]));
    req.extra.insert("top_k".into(), json!(10));

    let resp = provider.chat(req).await.unwrap();

    let sent = server.last_request().unwrap();
    assert_json_post(&sent, "/v2/chat");
    assert_eq!(sent.header("authorization"), Some("Bearer test-key"));
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
    let (server, provider) = started(cohere::start(), cohere_at).await;
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
        expected_chunk(RESPONSE_ID, created, "command-r", delta, finish)
    };
    let mut expected = text_chunks(chunk, &["Hello", " from the mock", " Cohere!"]);
    expected.push(expected_usage_chunk(
        RESPONSE_ID,
        created,
        "command-r",
        json!({"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}),
    ));
    assert_eq!(chunks, expected);
}

fn weather_tool() -> Tool {
    function_tool(
        "get_weather",
        "Weather for a place",
        json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}),
    )
}

#[tokio::test]
async fn tool_calls_round_trip() {
    let (server, provider) = started(cohere::start(), cohere_at).await;
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
    let (server, provider) = started(cohere::start(), cohere_at).await;
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
    let (server, provider) = started(cohere::start(), cohere_at).await;
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
    let (server, provider) = started(cohere::start(), cohere_at).await;
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
    let (server, provider) = started(cohere::start(), cohere_at).await;
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

/// The API refuses a bad key with its own message.
#[tokio::test]
async fn a_bad_key_is_an_authentication_error() {
    let server = cohere::start().await.unwrap();
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
    assert_error(&err, ErrorKind::Authentication, "invalid api token");
}

#[tokio::test]
async fn unsupported_request_fails_before_any_call() {
    let (server, provider) = started(cohere::start(), cohere_at).await;
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

/// Cohere through the shared conformance suite.
struct CohereHarness;

impl Conformance for CohereHarness {
    const PROVIDER: &'static str = "cohere";
    const REPLY: &'static str = REPLY;
    const CHAT_MODEL: &'static str = "command-r";
    const TRUNCATED_MESSAGE: &'static str =
        "upstream stream ended before it was complete (no message-end)";

    fn behaviour() -> Behaviour {
        cohere::behaviour
    }

    fn provider(base_url: &str, timeout: Option<Duration>) -> Arc<dyn Provider> {
        let params = keyed_params_at(base_url, timeout, "co-conformance-key");
        llmux_router::resolve("cohere/command-r", &params, &MapEnv::default())
            .unwrap()
            .provider
    }

    /// Embed errors classify like chat's.
    fn embedding_request() -> Option<EmbeddingRequest> {
        Some(EmbeddingRequest::new(
            "embed-v4.0",
            EmbeddingInput::Text("x".into()),
        ))
    }

    /// Cohere's statuses, 402 (billing), 498 (blocked output) and 499
    /// (cancelled) included.
    fn error_cases() -> Vec<ErrorCase> {
        use ErrorKind::*;
        ErrorCase::json_table(
            &[
                (400, BadRequest, "invalid request: message must be at least 1 token long or tool results must be specified."),
                (400, ContextWindowExceeded, "too many tokens: size limit exceeded by 11326 tokens. Try using shorter or fewer inputs, or setting prompt_truncation='AUTO'."),
                (401, Authentication, "invalid api token"),
                (402, PermissionDenied, "Please add or update your payment method to continue."),
                (403, PermissionDenied, "Forbidden"),
                (404, NotFound, "model 'command-x' not found, make sure the correct model ID was used and that you have access to the model."),
                (422, UnprocessableEntity, "invalid type: parameter temperature is of type string but should be of type float."),
                (429, RateLimit, "You are using a Trial key, which is limited to 10 API calls / minute."),
                (498, ContentPolicyViolation, "blocked output: please adjust your prompt and try again, as this request violates our usage policy"),
                (499, BadRequest, "request cancelled by user"),
                (500, InternalServer, "internal server error, this has been reported to our developers"),
                (503, ServiceUnavailable, "service unavailable"),
                (504, Timeout, "gateway timeout"),
            ],
            error_body,
        )
    }

    fn stream_body() -> Vec<u8> {
        let body: String = cohere::stream_events()
            .iter()
            .map(cohere::sse_event)
            .collect();
        body.into_bytes()
    }

    /// Through the second delta, without `content-end` and `message-end`.
    fn truncated_stream() -> PartialStream {
        PartialStream {
            parts: sse_parts(&cohere::stream_events()[..4]),
            chunks: 3,
            text: "Hello from the mock",
        }
    }

    /// Through the first delta, then a `message-end` that carries an error.
    fn mid_stream_error() -> MidStreamError {
        let mut events = cohere::stream_events()[..3].to_vec();
        events.push(json!({"type": "message-end", "delta": {"error": "internal error", "finish_reason": "ERROR"}}));
        MidStreamError {
            stream: PartialStream {
                parts: sse_parts(&events),
                chunks: 2,
                text: "Hello",
            },
            kind: ErrorKind::InternalServer,
            message: "internal error",
        }
    }

    fn malformed_body() -> MockResponse {
        MockResponse::raw(200, "application/json", "{\"message\": 5")
    }
}

llmux_tests::conformance_tests!(CohereHarness);
