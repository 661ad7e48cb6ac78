//! llmux-anthropic against a mock Anthropic API, through the real transport:
//! exact upstream requests, exact OpenAI-shaped results, streams (whole, byte
//! by byte, and equal to the whole answer once aggregated), a full tool round
//! trip, JSON mode, thinking, prompt caching, every error status, count
//! tokens and the model list.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use llmux_anthropic::AnthropicProvider;
use llmux_core::stream::collect_stream;
use llmux_core::types::chat::{
    AssistantMessage, ChatCompletionRequest, ChatMessage, ContentPart, FunctionDefinition,
    ImageUrl, ImageUrlPart, JsonSchemaFormat, MessageContent, ResponseFormat, StreamOptions,
    SystemMessage, TextPart, Tool, ToolChoice, UserMessage,
};
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_tests::mock::anthropic::{
    self, error_response, events_for_message, message, sse_parts, usage, MESSAGE_ID, REPLY,
};
use llmux_tests::mock::{MockResponse, MockServer, StreamPart};
use serde_json::{json, Map, Value};

const MODEL: &str = "claude-sonnet-4-5";

fn provider_at(server: &MockServer) -> AnthropicProvider {
    AnthropicProvider::from_params(
        &ProviderParams {
            api_key: Some("sk-ant-test".into()),
            api_base: Some(server.url()),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap()
}

fn hello() -> ChatCompletionRequest {
    ChatCompletionRequest::new(
        MODEL,
        vec![ChatMessage::system("Be brief."), ChatMessage::user("Hi")],
    )
}

fn hello_body() -> Value {
    json!({
        "model": MODEL,
        "max_tokens": 4096,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    })
}

fn default_usage() -> Value {
    json!({"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15,
           "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_tokens": 0}})
}

fn assert_recent(created: u64) {
    let now = llmux_core::unix_now();
    assert!(
        created <= now && now - created < 60,
        "created {created}, now {now}"
    );
}

async fn chunks_of(provider: &AnthropicProvider, req: ChatCompletionRequest) -> Vec<Value> {
    provider
        .chat_stream(req)
        .await
        .unwrap()
        .map(|c| serde_json::to_value(c.unwrap()).unwrap())
        .collect()
        .await
}

#[tokio::test]
async fn chat_sends_exact_request_and_decodes_response() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    let mut req = hello();
    req.temperature = Some(0.2);
    req.max_tokens = Some(50);
    req.stop = Some(llmux_core::types::OneOrMany::Many(vec!["END".into()]));
    req.user = Some("user-1234".into());
    req.extra.insert("top_k".into(), json!(5));

    let resp = provider.chat(req).await.unwrap();

    let sent = server.last_request().unwrap();
    assert_eq!(sent.method, http::Method::POST);
    assert_eq!(sent.path_and_query(), "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("anthropic-beta"), None);
    assert_eq!(sent.header("authorization"), None);
    let mut body = hello_body();
    body["max_tokens"] = json!(50);
    body["temperature"] = json!(0.2);
    body["top_k"] = json!(5);
    body["stop_sequences"] = json!(["END"]);
    body["metadata"] = json!({"user_id": "user-1234"});
    assert_eq!(sent.json(), body);
    assert_recent(resp.created);
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({
            "id": MESSAGE_ID, "object": "chat.completion", "created": resp.created, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "logprobs": null, "finish_reason": "stop"}],
            "usage": default_usage()
        })
    );
}

#[tokio::test]
async fn key_and_base_from_the_environment() {
    let server = anthropic::start().await.unwrap();
    let env = MapEnv::new([
        ("ANTHROPIC_API_KEY", "sk-ant-env".to_string()),
        ("ANTHROPIC_API_BASE", format!("{}/v1", server.url())),
    ]);
    let provider = AnthropicProvider::from_params(&ProviderParams::default(), &env).unwrap();
    assert_eq!(provider.name(), "anthropic");
    assert_eq!(provider.chat(hello()).await.unwrap().text(), Some(REPLY));
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-env"));

    // The mock refuses a wrong key the way the API does.
    let bad = AnthropicProvider::from_params(
        &ProviderParams {
            api_key: Some("bad-key".into()),
            api_base: Some(server.url()),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap();
    let err = bad.chat(hello()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert_eq!(err.message, "invalid x-api-key");
    assert_eq!(err.upstream_status, Some(401));
}

#[tokio::test]
async fn stream_yields_exact_chunks_then_usage() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    let mut req = hello();
    req.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    let chunks = chunks_of(&provider, req).await;

    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    let mut body = hello_body();
    body["stream"] = json!(true);
    assert_eq!(sent.json(), body);
    let created = chunks[0]["created"].as_u64().unwrap();
    assert_recent(created);
    let chunk = |delta: Value, finish: Value| {
        json!({"id": MESSAGE_ID, "object": "chat.completion.chunk", "created": created, "model": MODEL,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    assert_eq!(
        chunks,
        vec![
            chunk(json!({"role": "assistant"}), Value::Null),
            chunk(json!({"content": "Hello"}), Value::Null),
            chunk(json!({"content": " from the mock"}), Value::Null),
            chunk(json!({"content": " Claude!"}), Value::Null),
            chunk(json!({}), json!("stop")),
            json!({"id": MESSAGE_ID, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                   "choices": [], "usage": default_usage()}),
        ]
    );

    // Without include_usage there is no usage chunk.
    let chunks = chunks_of(&provider, hello()).await;
    assert_eq!(chunks.len(), 5);
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
}

/// A message with thinking, text and two tool calls.
fn rich_message() -> Value {
    message(
        MODEL,
        json!([
            {"type": "thinking", "thinking": "The user wants weather for two cities.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"},
            {"type": "text", "text": "Let me check both cities — one moment. 🌦"},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"city": "Paris", "unit": "celsius"}},
            {"type": "tool_use", "id": "toolu_01B09q90qw90lq917835lq9", "name": "get_weather", "input": {"city": "Zürich"}}
        ]),
        "tool_use",
        json!({"input_tokens": 412, "cache_creation_input_tokens": 1024, "cache_read_input_tokens": 2048, "output_tokens": 190}),
    )
}

#[tokio::test]
async fn streamed_answer_adds_up_to_the_whole_answer_from_any_split() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    let mut req = hello();
    req.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    server.enqueue(MockResponse::json(200, &rich_message()));
    let mut whole = provider.chat(req.clone()).await.unwrap();

    let body: Vec<u8> = events_for_message(&rich_message())
        .iter()
        .flat_map(|e| anthropic::sse_event(e).into_bytes())
        .collect();
    // Whole body in one piece, one byte per write, and split at every 97th index.
    let mut splits: Vec<Vec<StreamPart>> = vec![
        vec![StreamPart::Bytes(Bytes::from(body.clone()))],
        body.iter()
            .map(|b| StreamPart::Bytes(Bytes::copy_from_slice(&[*b])))
            .collect(),
    ];
    for i in (1..body.len()).step_by(97) {
        splits.push(vec![
            StreamPart::Bytes(Bytes::copy_from_slice(&body[..i])),
            StreamPart::Bytes(Bytes::copy_from_slice(&body[i..])),
        ]);
    }
    for parts in splits {
        server.enqueue(MockResponse::stream("text/event-stream", parts));
        let mut streamed = collect_stream(provider.chat_stream(req.clone()).await.unwrap())
            .await
            .unwrap();
        streamed.created = 0;
        whole.created = 0;
        assert_eq!(
            serde_json::to_value(&streamed).unwrap(),
            serde_json::to_value(&whole).unwrap()
        );
    }
    assert_eq!(
        serde_json::to_value(&whole).unwrap(),
        json!({
            "id": MESSAGE_ID, "object": "chat.completion", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "message": {
                "role": "assistant",
                "content": "Let me check both cities — one moment. 🌦",
                "tool_calls": [
                    {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"celsius\"}"}},
                    {"id": "toolu_01B09q90qw90lq917835lq9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Zürich\"}"}}
                ],
                "reasoning_content": "The user wants weather for two cities.",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "The user wants weather for two cities.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},
                    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"}
                ]
            }, "logprobs": null, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 3484, "completion_tokens": 190, "total_tokens": 3674,
                      "prompt_tokens_details": {"cached_tokens": 2048, "cache_creation_tokens": 1024}}
        })
    );
}

fn weather_tool() -> Tool {
    Tool::function(FunctionDefinition {
        name: "get_weather".into(),
        description: Some("Current weather for a city".into()),
        parameters: Some(json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"]
        })),
        strict: None,
    })
}

/// user → assistant tool call → tool result → final answer.
#[tokio::test]
async fn tool_round_trip_end_to_end() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    server.enqueue(MockResponse::json(
        200,
        &message(
            MODEL,
            json!([
                {"type": "text", "text": "I'll look that up."},
                {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {"city": "Paris"}}
            ]),
            "tool_use",
            usage(380, 60),
        ),
    ));
    let mut req = ChatCompletionRequest::new(
        MODEL,
        vec![ChatMessage::user("What's the weather in Paris?")],
    );
    req.tools = Some(vec![weather_tool()]);
    req.tool_choice = Some(ToolChoice::Auto);
    req.parallel_tool_calls = Some(false);

    let first = provider.chat(req.clone()).await.unwrap();

    assert_eq!(
        server.last_request().unwrap().json(),
        json!({
            "model": MODEL, "max_tokens": 4096,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What's the weather in Paris?"}]}],
            "tools": [{"name": "get_weather", "description": "Current weather for a city",
                       "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}
        })
    );
    let choice = &first.choices[0];
    assert_eq!(
        serde_json::to_value(choice).unwrap(),
        json!({"index": 0, "message": {"role": "assistant", "content": "I'll look that up.",
            "tool_calls": [{"id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            "logprobs": null, "finish_reason": "tool_calls"})
    );

    // Send the call and its result back; the model answers.
    let calls = choice.message.tool_calls.clone().unwrap();
    req.messages.push(ChatMessage::Assistant(AssistantMessage {
        content: choice.message.content.clone().map(MessageContent::Text),
        tool_calls: Some(calls.clone()),
        ..Default::default()
    }));
    req.messages
        .push(ChatMessage::tool(calls[0].id.clone(), "{\"temp_c\": 18}"));
    server.enqueue(MockResponse::json(
        200,
        &message(
            MODEL,
            json!([{"type": "text", "text": "It is 18°C in Paris."}]),
            "end_turn",
            usage(460, 12),
        ),
    ));
    let second = provider.chat(req).await.unwrap();
    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "What's the weather in Paris?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "I'll look that up."},
                {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "content": "{\"temp_c\": 18}"}
            ]}
        ])
    );
    assert_eq!(second.text(), Some("It is 18°C in Paris."));
    assert_eq!(
        second.choices[0].finish_reason,
        Some(llmux_core::types::chat::FinishReason::Stop)
    );
}

#[tokio::test]
async fn tool_call_deltas_stream_with_index_id_name_then_arguments() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    let msg = message(
        MODEL,
        json!([{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]),
        "tool_use",
        usage(10, 20),
    );
    server.enqueue(MockResponse::stream(
        "text/event-stream",
        sse_parts(&events_for_message(&msg)),
    ));
    let mut req = hello();
    req.tools = Some(vec![weather_tool()]);
    let chunks = chunks_of(&provider, req).await;
    let deltas: Vec<(Value, Value)> = chunks
        .iter()
        .map(|c| {
            (
                c["choices"][0]["delta"].clone(),
                c["choices"][0]["finish_reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        deltas,
        vec![
            (json!({"role": "assistant"}), Value::Null),
            (
                json!({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
                Value::Null
            ),
            (
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
                Value::Null
            ),
            (
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
                Value::Null
            ),
            (json!({}), json!("tool_calls")),
        ]
    );
}

#[tokio::test]
async fn json_response_format_through_a_forced_tool() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    let schema =
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let mut req = hello();
    req.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "person".into(),
            description: None,
            schema: Some(schema.clone()),
            strict: Some(true),
        },
    });
    let answer = message(
        MODEL,
        json!([{"type": "tool_use", "id": "toolu_json", "name": "json_tool_call", "input": {"name": "Ada"}}]),
        "tool_use",
        usage(30, 15),
    );
    server.enqueue(MockResponse::json(200, &answer));
    let resp = provider.chat(req.clone()).await.unwrap();
    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["tools"],
        json!([{"name": "json_tool_call", "input_schema": schema}])
    );
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "tool", "name": "json_tool_call"})
    );
    assert_eq!(
        serde_json::to_value(&resp.choices[0]).unwrap(),
        json!({"index": 0, "message": {"role": "assistant", "content": "{\"name\":\"Ada\"}"},
               "logprobs": null, "finish_reason": "stop"})
    );

    // Streamed, the tool input arrives as content.
    server.enqueue(MockResponse::stream(
        "text/event-stream",
        sse_parts(&events_for_message(&answer)),
    ));
    let streamed = collect_stream(provider.chat_stream(req).await.unwrap())
        .await
        .unwrap();
    assert_eq!(streamed.text(), Some("{\"name\":\"Ada\"}"));
    assert_eq!(streamed.choices[0].message.tool_calls, None);
    assert_eq!(
        streamed.choices[0].finish_reason,
        Some(llmux_core::types::chat::FinishReason::Stop)
    );
}

#[tokio::test]
async fn thinking_from_reasoning_effort_and_blocks_sent_back() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    server.enqueue(MockResponse::json(
        200,
        &message(
            MODEL,
            json!([
                {"type": "thinking", "thinking": "Simple greeting.", "signature": "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve"},
                {"type": "text", "text": "Hi!"}
            ]),
            "max_tokens",
            usage(12, 40),
        ),
    ));
    let mut req = hello();
    req.reasoning_effort = Some("medium".into());
    let resp = provider.chat(req.clone()).await.unwrap();
    let mut body = hello_body();
    body["max_tokens"] = json!(2048 + 4096);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 2048});
    assert_eq!(server.last_request().unwrap().json(), body);
    let message_json = serde_json::to_value(&resp.choices[0]).unwrap();
    assert_eq!(
        message_json,
        json!({"index": 0, "message": {"role": "assistant", "content": "Hi!",
            "reasoning_content": "Simple greeting.",
            "thinking_blocks": [{"type": "thinking", "thinking": "Simple greeting.", "signature": "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve"}]},
            "logprobs": null, "finish_reason": "length"})
    );

    // The assistant turn goes back with its signed thinking block first.
    let mut extra = Map::new();
    extra.insert(
        "thinking_blocks".into(),
        json!(resp.choices[0].message.thinking_blocks.clone().unwrap()),
    );
    req.messages.push(ChatMessage::Assistant(AssistantMessage {
        content: Some(MessageContent::Text("Hi!".into())),
        extra,
        ..Default::default()
    }));
    req.messages.push(ChatMessage::user("And again?"));
    provider.chat(req).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().json()["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Simple greeting.", "signature": "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve"},
                {"type": "text", "text": "Hi!"}
            ]},
            {"role": "user", "content": [{"type": "text", "text": "And again?"}]}
        ])
    );
}

#[tokio::test]
async fn prompt_caching_markers_pass_through_and_usage_counts_cache() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    let eph = json!({"type": "ephemeral"});
    let mut cc = Map::new();
    cc.insert("cache_control".into(), eph.clone());
    let mut tool = weather_tool();
    tool.extra = cc.clone();
    let mut req = ChatCompletionRequest::new(
        MODEL,
        vec![
            ChatMessage::System(SystemMessage {
                content: MessageContent::Parts(vec![ContentPart::Text(TextPart {
                    text: "<the whole handbook>".into(),
                    extra: cc.clone(),
                })]),
                name: None,
                extra: Map::new(),
            }),
            ChatMessage::User(UserMessage {
                content: MessageContent::Parts(vec![
                    ContentPart::ImageUrl(ImageUrlPart {
                        image_url: ImageUrl {
                            url: "https://upload.wikimedia.org/cat.jpg".into(),
                            detail: None,
                            format: None,
                        },
                        extra: cc.clone(),
                    }),
                    ContentPart::Text(TextPart {
                        text: "Describe it".into(),
                        extra: Map::new(),
                    }),
                ]),
                name: None,
                extra: cc.clone(),
            }),
        ],
    );
    req.tools = Some(vec![tool]);
    server.enqueue(MockResponse::json(
        200,
        &message(
            MODEL,
            json!([{"type": "text", "text": "A cat."}]),
            "end_turn",
            json!({"input_tokens": 21, "cache_creation_input_tokens": 188086, "cache_read_input_tokens": 0, "output_tokens": 393}),
        ),
    ));
    let resp = provider.chat(req).await.unwrap();
    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "<the whole handbook>", "cache_control": eph}])
    );
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://upload.wikimedia.org/cat.jpg"}, "cache_control": eph},
            {"type": "text", "text": "Describe it", "cache_control": eph}
        ]}])
    );
    assert_eq!(sent["tools"][0]["cache_control"], eph);
    assert_eq!(
        serde_json::to_value(resp.usage.unwrap()).unwrap(),
        json!({"prompt_tokens": 188107, "completion_tokens": 393, "total_tokens": 188500,
               "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_tokens": 188086}})
    );
}

/// Each documented status and error type maps to its kind, keeping the message.
#[tokio::test]
async fn error_statuses_map_to_kinds() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    let cases: &[(u16, &str, &str, ErrorKind)] = &[
        (
            400,
            "invalid_request_error",
            "messages: roles must alternate between \"user\" and \"assistant\"",
            ErrorKind::BadRequest,
        ),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 208310 tokens > 200000 maximum",
            ErrorKind::ContextWindowExceeded,
        ),
        (
            401,
            "authentication_error",
            "invalid x-api-key",
            ErrorKind::Authentication,
        ),
        (
            403,
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
            ErrorKind::PermissionDenied,
        ),
        (
            404,
            "not_found_error",
            "model: claude-9",
            ErrorKind::NotFound,
        ),
        (
            413,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
            ErrorKind::BadRequest,
        ),
        (
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            ErrorKind::RateLimit,
        ),
        (
            500,
            "api_error",
            "Internal server error",
            ErrorKind::InternalServer,
        ),
        (
            529,
            "overloaded_error",
            "Overloaded",
            ErrorKind::ServiceUnavailable,
        ),
    ];
    for (status, error_type, message, kind) in cases {
        server
            .enqueue(error_response(*status, error_type, message).with_header("retry-after", "7"));
        let err = provider.chat(hello()).await.unwrap_err();
        assert_eq!(err.kind, *kind, "{error_type}: {message}");
        assert_eq!(err.upstream_status, Some(*status));
        assert_eq!(err.message, *message);
        assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(err.provider.as_deref(), Some("anthropic"));
        assert_eq!(err.model.as_deref(), Some(MODEL));
        assert_eq!(err.status(), kind.status());

        // The same error before a stream starts is returned by chat_stream itself.
        server.enqueue(error_response(*status, error_type, message));
        let err = provider.chat_stream(hello()).await.err().unwrap();
        assert_eq!(err.kind, *kind, "stream, {error_type}");
        assert_eq!(err.message, *message);
    }
    // The mock's own validation: a request without tools that carries tool blocks.
    let mut req = hello();
    req.messages.push(ChatMessage::tool("toolu_x", "42"));
    let err = provider.chat(req).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadRequest);
    assert_eq!(
        err.message,
        "Requests which include `tool_use` or `tool_result` blocks must define tools."
    );
}

#[tokio::test]
async fn mid_stream_error_truncation_and_abort() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    let events = anthropic::stream_events(MODEL);

    // message_start, block start, ping, one delta, then an overloaded error event.
    let mut parts = sse_parts(&events[..4]);
    parts.push(StreamPart::Bytes(Bytes::from(
        "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
    )));
    server.enqueue(MockResponse::stream("text/event-stream", parts));
    let items: Vec<_> = provider.chat_stream(hello()).await.unwrap().collect().await;
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[1].as_ref().unwrap().choices[0]
            .delta
            .content
            .as_deref(),
        Some("Hello")
    );
    let err = items[2].as_ref().unwrap_err();
    assert_eq!(err.kind, ErrorKind::ServiceUnavailable);
    assert_eq!(err.message, "Overloaded");
    assert_eq!(err.provider.as_deref(), Some("anthropic"));

    // The body ends before message_stop: an error, not a clean end.
    server.enqueue(MockResponse::stream(
        "text/event-stream",
        sse_parts(&events[..events.len() - 1]),
    ));
    let items: Vec<_> = provider.chat_stream(hello()).await.unwrap().collect().await;
    let last = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(last.kind, ErrorKind::ApiConnection);
    assert_eq!(last.message, "anthropic stream ended before message_stop");
    assert_eq!(items.len(), 6);

    // The connection drops mid-body.
    let mut parts = sse_parts(&events[..4]);
    parts.push(StreamPart::Abort);
    server.enqueue(MockResponse::stream("text/event-stream", parts));
    let items: Vec<_> = provider.chat_stream(hello()).await.unwrap().collect().await;
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[2].as_ref().unwrap_err().kind,
        ErrorKind::ApiConnection
    );
    // And the next call works.
    assert_eq!(provider.chat(hello()).await.unwrap().text(), Some(REPLY));
}

#[tokio::test]
async fn malformed_body_timeout_and_connection_refused() {
    let server = anthropic::start().await.unwrap();
    server.enqueue(MockResponse::raw(200, "application/json", "{\"id\": 5"));
    let provider = provider_at(&server);
    let err = provider.chat(hello()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadGateway);
    assert!(
        err.message.starts_with("cannot decode anthropic response"),
        "{}",
        err.message
    );

    server.enqueue(
        MockResponse::json(200, &anthropic::default_message(MODEL))
            .with_delay(Duration::from_millis(500)),
    );
    let slow = AnthropicProvider::from_params(
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
        slow.chat(hello()).await.unwrap_err().kind,
        ErrorKind::Timeout
    );

    let url = server.url();
    drop(server);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let gone = AnthropicProvider::from_params(
        &ProviderParams {
            api_key: Some("k".into()),
            api_base: Some(url),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap();
    assert_eq!(
        gone.chat(hello()).await.unwrap_err().kind,
        ErrorKind::ApiConnection
    );
}

#[tokio::test]
async fn count_tokens_and_list_models() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    let mut req = hello();
    req.max_tokens = Some(10);
    req.tools = Some(vec![weather_tool()]);
    let n = provider.count_tokens(&req).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let mut body = hello_body();
    body.as_object_mut().unwrap().remove("max_tokens");
    body["tools"] = json!([{"name": "get_weather", "description": "Current weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    assert_eq!(sent.json(), body);
    // "Be brief." + "Hi" = 3 words, plus the mock's 3.
    assert_eq!(n, 6);

    let models = provider.list_models().await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(
        (sent.method.as_str(), sent.path_and_query().as_str()),
        ("GET", "/v1/models?limit=1000")
    );
    assert_eq!(
        serde_json::to_value(&models).unwrap(),
        json!({"object": "list", "data": [
            {"id": "claude-sonnet-4-5-20250929", "object": "model", "created": 1759104000, "owned_by": "anthropic"},
            {"id": "claude-3-5-haiku-20241022", "object": "model", "created": 1729555200, "owned_by": "anthropic"}
        ]})
    );
    let err = provider
        .embeddings(llmux_core::types::embeddings::EmbeddingRequest::new(
            "x",
            llmux_core::types::embeddings::EmbeddingInput::Text("y".into()),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
}

#[tokio::test]
async fn bad_requests_fail_before_any_call() {
    let server = anthropic::start().await.unwrap();
    let provider = provider_at(&server);
    let mut req = hello();
    req.logit_bias = Some(Map::from_iter([("50256".to_string(), json!(-100))]));
    let err = provider.chat(req).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadRequest);
    assert_eq!(
        err.message,
        "Anthropic does not support logit_bias (set drop_params: true to drop it)"
    );
    assert_eq!(err.model.as_deref(), Some(MODEL));
    assert!(server.requests().is_empty());
}
