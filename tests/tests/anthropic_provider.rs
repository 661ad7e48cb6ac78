//! llmux-anthropic against a mock Anthropic API, through the real transport:
//! exact upstream requests, exact OpenAI-shaped results, streams (exact, and
//! equal to the whole answer once aggregated), a full tool round trip, JSON
//! mode, thinking, prompt caching, count tokens and the model list; every
//! error status and stream failure through the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use llmux_anthropic::AnthropicProvider;
use llmux_core::stream::collect_stream;
use llmux_core::types::chat::{
    AssistantMessage, ChatCompletionRequest, ChatMessage, ContentPart, FinishReason, ImageUrl,
    ImageUrlPart, JsonSchemaFormat, MessageContent, ResponseFormat, StreamOptions, SystemMessage,
    TextPart, Tool, ToolChoice, UserMessage,
};
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_tests::conformance::{
    api_env, assert_error, assert_get, assert_json_post, assert_recent, assert_unsupported,
    expected_chunk, expected_usage_chunk, function_tool, hello, keyed_params_at, started,
    text_chunks, Conformance, ErrorCase, MidStreamError, PartialStream,
};
use llmux_tests::mock::anthropic::{
    self, error_response, events_for_message, message, sse_parts, usage, MESSAGE_ID, REPLY,
};
use llmux_tests::mock::{Behaviour, MockResponse, MockServer, StreamPart};
use serde_json::{json, Map, Value};

const MODEL: &str = "claude-sonnet-4-5";

fn provider_at(server: &MockServer) -> AnthropicProvider {
    keyed(server, "sk-ant-test")
}

/// A provider for `server` using the API key `key`.
fn keyed(server: &MockServer, key: &str) -> AnthropicProvider {
    AnthropicProvider::from_params(
        "anthropic",
        &ProviderParams {
            api_key: Some(key.into()),
            api_base: Some(server.url()),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap()
}

/// A 200 answer of `MODEL`'s with `content`, `stop_reason` and `usage`.
fn message_reply(content: Value, stop_reason: &str, usage: Value) -> MockResponse {
    MockResponse::json(200, &message(MODEL, content, stop_reason, usage))
}

/// [`hello`] asking for a usage chunk when streamed.
fn hello_with_usage() -> ChatCompletionRequest {
    let mut req = hello(MODEL);
    req.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    req
}

fn hello_body() -> Value {
    json!({
        "model": MODEL,
        // Claude Sonnet 4.5's maximum output (the price table's), as LiteLLM sends.
        "max_tokens": 64000,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    })
}

fn default_usage() -> Value {
    json!({"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15,
           "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_tokens": 0}})
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
    let (server, provider) = started(anthropic::start(), provider_at).await;
    let mut req = hello(MODEL);
    req.temperature = Some(0.2);
    req.max_tokens = Some(50);
    req.stop = Some(llmux_core::types::OneOrMany::Many(vec!["END".into()]));
    req.user = Some("user-1234".into());
    req.extra.insert("top_k".into(), json!(5));

    let resp = provider.chat(req).await.unwrap();

    let sent = server.last_request().unwrap();
    assert_json_post(&sent, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
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
    let env = api_env("ANTHROPIC", "sk-ant-env", format!("{}/v1", server.url()));
    let provider =
        AnthropicProvider::from_params("anthropic", &ProviderParams::default(), &env).unwrap();
    assert_eq!(provider.name(), "anthropic");
    assert_eq!(
        provider.chat(hello(MODEL)).await.unwrap().text(),
        Some(REPLY)
    );
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-env"));

    // The mock refuses a wrong key the way the API does.
    let bad = keyed(&server, "bad-key");
    let err = bad.chat(hello(MODEL)).await.unwrap_err();
    assert_error(&err, ErrorKind::Authentication, "invalid x-api-key");
    assert_eq!(err.upstream_status, Some(401));
}

#[tokio::test]
async fn stream_yields_exact_chunks_then_usage() {
    let (server, provider) = started(anthropic::start(), provider_at).await;
    let req = hello_with_usage();
    let chunks = chunks_of(&provider, req).await;

    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    let mut body = hello_body();
    body["stream"] = json!(true);
    assert_eq!(sent.json(), body);
    let created = chunks[0]["created"].as_u64().unwrap();
    assert_recent(created);
    let chunk =
        |delta: Value, finish: Value| expected_chunk(MESSAGE_ID, created, MODEL, delta, finish);
    let mut expected = text_chunks(chunk, &["Hello", " from the mock", " Claude!"]);
    expected.push(expected_usage_chunk(
        MESSAGE_ID,
        created,
        MODEL,
        default_usage(),
    ));
    assert_eq!(chunks, expected);

    // Without include_usage there is no usage chunk.
    let chunks = chunks_of(&provider, hello(MODEL)).await;
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

/// The rich answer streamed adds up to the whole answer: thinking, text and
/// tool calls alike. (The suite streams it split at every byte.)
#[tokio::test]
async fn streamed_answer_adds_up_to_the_whole_answer() {
    let (server, provider) = started(anthropic::start(), provider_at).await;
    let req = hello_with_usage();
    server.enqueue(MockResponse::json(200, &rich_message()));
    let mut whole = provider.chat(req.clone()).await.unwrap();
    server.enqueue(MockResponse::stream(
        "text/event-stream",
        sse_parts(&events_for_message(&rich_message())),
    ));
    let mut streamed = collect_stream(provider.chat_stream(req).await.unwrap())
        .await
        .unwrap();
    streamed.created = 0;
    whole.created = 0;
    assert_eq!(
        serde_json::to_value(&streamed).unwrap(),
        serde_json::to_value(&whole).unwrap()
    );
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
    function_tool(
        "get_weather",
        "Current weather for a city",
        json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"]
        }),
    )
}

/// user → assistant tool call → tool result → final answer.
#[tokio::test]
async fn tool_round_trip_end_to_end() {
    let (server, provider) = started(anthropic::start(), provider_at).await;
    server.enqueue(message_reply(
            json!([
                {"type": "text", "text": "I'll look that up."},
                {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {"city": "Paris"}}
            ]),
            "tool_use",
            usage(380, 60),
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
            "model": MODEL, "max_tokens": 64000,
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
    server.enqueue(message_reply(
        json!([{"type": "text", "text": "It is 18°C in Paris."}]),
        "end_turn",
        usage(460, 12),
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
    assert_eq!(second.choices[0].finish_reason, Some(FinishReason::Stop));
}

#[tokio::test]
async fn tool_call_deltas_stream_with_index_id_name_then_arguments() {
    let (server, provider) = started(anthropic::start(), provider_at).await;
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
    let mut req = hello(MODEL);
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
    let (server, provider) = started(anthropic::start(), provider_at).await;
    let schema =
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    // A model without native structured outputs: the forced tool.
    let old_model = "claude-3-5-haiku-20241022";
    let mut req = hello(old_model);
    req.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "person".into(),
            description: None,
            schema: Some(schema.clone()),
            strict: Some(true),
        },
    });
    let answer = message(
        old_model,
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
    assert_eq!(streamed.choices[0].finish_reason, Some(FinishReason::Stop));
}

/// Provider fidelity finding: `json_schema` was always emulated with a
/// forced tool; Claude Sonnet 4.5 gets Anthropic's native structured outputs.
#[tokio::test]
async fn json_schema_uses_native_structured_outputs_on_models_that_have_them() {
    let (server, provider) = started(anthropic::start(), provider_at).await;
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false});
    let mut req = hello(MODEL);
    req.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "person".into(),
            description: None,
            schema: Some(schema.clone()),
            strict: Some(true),
        },
    });
    server.enqueue(message_reply(
        json!([{"type": "text", "text": "{\"name\":\"Ada\"}"}]),
        "end_turn",
        usage(30, 8),
    ));
    let resp = provider.chat(req).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("structured-outputs-2025-11-13")
    );
    let body = sent.json();
    assert_eq!(
        body["output_format"],
        json!({"type": "json_schema", "schema": schema})
    );
    assert_eq!((body.get("tools"), body.get("tool_choice")), (None, None));
    assert_eq!(resp.text(), Some("{\"name\":\"Ada\"}"));
}

#[tokio::test]
async fn thinking_from_reasoning_effort_and_blocks_sent_back() {
    let (server, provider) = started(anthropic::start(), provider_at).await;
    server.enqueue(message_reply(
            json!([
                {"type": "thinking", "thinking": "Simple greeting.", "signature": "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve"},
                {"type": "text", "text": "Hi!"}
            ]),
            "max_tokens",
            usage(12, 40),
    ));
    let mut req = hello(MODEL);
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
    let (server, provider) = started(anthropic::start(), provider_at).await;
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
    server.enqueue(message_reply(
            json!([{"type": "text", "text": "A cat."}]),
            "end_turn",
            json!({"input_tokens": 21, "cache_creation_input_tokens": 188086, "cache_read_input_tokens": 0, "output_tokens": 393}),
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

/// The API refuses tool blocks in a request that defines no tools; the
/// refusal keeps its message.
#[tokio::test]
async fn tool_blocks_without_tools_are_a_bad_request() {
    let (_server, provider) = started(anthropic::start(), provider_at).await;
    // The mock's own validation: a request without tools that carries tool blocks.
    let mut req = hello(MODEL);
    req.messages.push(ChatMessage::tool("toolu_x", "42"));
    let err = provider.chat(req).await.unwrap_err();
    assert_error(
        &err,
        ErrorKind::BadRequest,
        "Requests which include `tool_use` or `tool_result` blocks must define tools.",
    );
}

#[tokio::test]
async fn count_tokens_and_list_models() {
    let (server, provider) = started(anthropic::start(), provider_at).await;
    let mut req = hello(MODEL);
    req.max_tokens = Some(10);
    req.tools = Some(vec![weather_tool()]);
    let n = provider.count_tokens(req.clone()).await.unwrap();
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
    assert_get(&sent, "/v1/models?limit=1000");
    assert_eq!(
        serde_json::to_value(&models).unwrap(),
        json!({"object": "list", "data": [
            {"id": "claude-sonnet-4-5-20250929", "object": "model", "created": 1759104000, "owned_by": "anthropic"},
            {"id": "claude-3-5-haiku-20241022", "object": "model", "created": 1729555200, "owned_by": "anthropic"}
        ]})
    );
    assert_unsupported(
        provider
            .embeddings(llmux_core::types::embeddings::EmbeddingRequest::new(
                "x",
                llmux_core::types::embeddings::EmbeddingInput::Text("y".into()),
            ))
            .await,
    );
}

#[tokio::test]
async fn bad_requests_fail_before_any_call() {
    let (server, provider) = started(anthropic::start(), provider_at).await;
    let mut req = hello(MODEL);
    req.logit_bias = Some(Map::from_iter([("50256".to_string(), json!(-100))]));
    let err = provider.chat(req).await.unwrap_err();
    assert_error(
        &err,
        ErrorKind::BadRequest,
        "Anthropic does not support logit_bias (set drop_params: true to drop it)",
    );
    assert_eq!(err.model.as_deref(), Some(MODEL));
    assert!(server.requests().is_empty());
}

/// Anthropic through the shared conformance suite.
struct AnthropicHarness;

impl Conformance for AnthropicHarness {
    const PROVIDER: &'static str = "anthropic";
    const REPLY: &'static str = REPLY;
    const CHAT_MODEL: &'static str = MODEL;
    /// The rich answer's text: multi-byte characters split at every byte.
    const STREAM_TEXT: &'static str = "Let me check both cities — one moment. 🌦";
    const TRUNCATED_MESSAGE: &'static str = "anthropic stream ended before message_stop";

    fn behaviour() -> Behaviour {
        anthropic::behaviour
    }

    fn provider(base_url: &str, timeout: Option<Duration>) -> Arc<dyn Provider> {
        let params = keyed_params_at(base_url, timeout, "sk-ant-conformance");
        llmux_router::resolve(&format!("anthropic/{MODEL}"), &params, &MapEnv::default())
            .unwrap()
            .provider
    }

    /// Each documented status and error type, 529 `overloaded_error` included.
    fn error_cases() -> Vec<ErrorCase> {
        use ErrorKind::*;
        let case = |status: u16, kind: ErrorKind, error_type: &str, message: &'static str| {
            ErrorCase::new(error_response(status, error_type, message), kind, message)
        };
        vec![
            case(
                400,
                BadRequest,
                "invalid_request_error",
                "messages: roles must alternate between \"user\" and \"assistant\"",
            ),
            case(
                400,
                ContextWindowExceeded,
                "invalid_request_error",
                "prompt is too long: 208310 tokens > 200000 maximum",
            ),
            case(
                401,
                Authentication,
                "authentication_error",
                "invalid x-api-key",
            ),
            case(
                403,
                PermissionDenied,
                "permission_error",
                "Your API key does not have permission to use the specified resource.",
            ),
            case(404, NotFound, "not_found_error", "model: claude-9"),
            case(
                413,
                BadRequest,
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
            ),
            case(
                429,
                RateLimit,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
            ),
            case(500, InternalServer, "api_error", "Internal server error"),
            case(529, ServiceUnavailable, "overloaded_error", "Overloaded"),
        ]
    }

    fn stream_response(parts: Vec<StreamPart>) -> MockResponse {
        MockResponse::stream("text/event-stream; charset=utf-8", parts)
    }

    /// The rich answer (thinking, text with multi-byte characters, tools).
    fn stream_body() -> Vec<u8> {
        events_for_message(&rich_message())
            .iter()
            .flat_map(|e| anthropic::sse_event(e).into_bytes())
            .collect()
    }

    /// Everything but `message_stop`: even after the stop reason arrived in
    /// `message_delta`, the stream is incomplete.
    fn truncated_stream() -> PartialStream {
        let events = anthropic::stream_events(MODEL);
        PartialStream {
            parts: sse_parts(&events[..events.len() - 1]),
            chunks: 5,
            text: REPLY,
        }
    }

    /// `message_start`, block start, ping and one delta, then an
    /// `overloaded_error` event.
    fn mid_stream_error() -> MidStreamError {
        let mut parts = sse_parts(&anthropic::stream_events(MODEL)[..4]);
        parts.push(StreamPart::Bytes(Bytes::from(
            "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
        )));
        MidStreamError {
            stream: PartialStream {
                parts,
                chunks: 2,
                text: "Hello",
            },
            kind: ErrorKind::ServiceUnavailable,
            message: "Overloaded",
        }
    }

    fn malformed_body() -> MockResponse {
        MockResponse::raw(
            200,
            "application/json",
            "{\"type\": \"message\", \"content\": 5",
        )
    }
}

llmux_tests::conformance_tests!(AnthropicHarness);
