//! llmux-openai against a mock OpenAI-compatible server, through the real
//! transport: exact upstream requests and exact decoded results; every error
//! kind and stream failure through the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use llmux_core::stream::collect_stream;
use llmux_core::types::audio::{SpeechRequest, TranscriptionRequest, TranscriptionResponse};
use llmux_core::types::chat::{
    ChatMessage, FinishReason, FunctionDefinition, StreamOptions, Tool, ToolCall, ToolChoice,
};
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingVector};
use llmux_core::types::images::ImageGenerationRequest;
use llmux_core::types::moderations::ModerationRequest;
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_openai::OpenAiProvider;
use llmux_tests::conformance::{
    api_env, assert_error, assert_unsupported, hello, Conformance, ErrorCase, MidStreamError,
    PartialStream,
};
use llmux_tests::mock::openai::{self, chunk, error_body, sse_parts, REPLY};
use llmux_tests::mock::{Behaviour, MockResponse, StreamPart};
use serde_json::{json, Value};

fn params(base: String) -> ProviderParams {
    ProviderParams {
        api_key: Some("sk-test".into()),
        api_base: Some(base),
        ..Default::default()
    }
}

async fn openai_at(server: &llmux_tests::mock::MockServer) -> OpenAiProvider {
    OpenAiProvider::from_params(
        "openai",
        &params(format!("{}/v1", server.url())),
        &MapEnv::default(),
    )
    .unwrap()
}

#[tokio::test]
async fn chat_sends_exact_request_and_decodes_response() {
    let server = openai::start().await.unwrap();
    let provider = openai_at(&server).await;
    let mut req = hello("gpt-4o");
    req.temperature = Some(0.2);
    req.max_tokens = Some(50);
    req.extra.insert("top_k".into(), json!(40));

    let resp = provider.chat(req).await.unwrap();

    let sent = server.last_request().unwrap();
    assert_eq!(sent.method, http::Method::POST);
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(
        sent.json(),
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"}
            ],
            "temperature": 0.2,
            "max_tokens": 50,
            "top_k": 40
        })
    );
    // Equal to the upstream body, except that `"refusal": null` is omitted.
    let mut expected = openai::chat_completion("gpt-4o");
    expected["choices"][0]["message"]
        .as_object_mut()
        .unwrap()
        .remove("refusal");
    assert_eq!(serde_json::to_value(&resp).unwrap(), expected);
    assert_eq!(resp.text(), Some(REPLY));
    assert_eq!(resp.choices[0].finish_reason, Some(FinishReason::Stop));
}

#[tokio::test]
async fn chat_stream_yields_exact_chunks_and_usage() {
    let server = openai::start().await.unwrap();
    let provider = openai_at(&server).await;
    let mut req = hello("gpt-4o");
    req.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });

    let stream = provider.chat_stream(req).await.unwrap();
    let chunks: Vec<Value> = stream
        .map(|c| serde_json::to_value(c.unwrap()).unwrap())
        .collect()
        .await;

    let sent = server.last_request().unwrap().json();
    assert_eq!(sent["stream"], json!(true));
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    // Re-encoded chunks equal the upstream's (OpenAI's `"usage": null` aside).
    let mut expected = openai::stream_chunks("gpt-4o", true);
    for c in &mut expected {
        if let Some(choices) = c["choices"].as_array_mut() {
            for ch in choices {
                ch.as_object_mut().unwrap().remove("logprobs");
            }
        }
    }
    assert_eq!(chunks, expected);
}

#[tokio::test]
async fn chat_stream_aggregates_tool_call_fragments() {
    let server = openai::start().await.unwrap();
    let m = "gpt-4o";
    server.enqueue(openai::sse_response(&[
        chunk(m, json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}), None),
        chunk(m, json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"loc"}}]}), None),
        chunk(m, json!({"tool_calls": [{"index": 0, "function": {"arguments": "ation\": \"Paris\"}"}}]}), None),
        chunk(m, json!({"tool_calls": [{"index": 1, "id": "call_def", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}), None),
        chunk(m, json!({}), Some("tool_calls")),
    ]));
    let provider = openai_at(&server).await;
    let mut req = hello(m);
    req.tools = Some(vec![Tool::function(FunctionDefinition {
        name: "get_weather".into(),
        description: Some("Weather for a place".into()),
        parameters: Some(
            json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}),
        ),
        strict: Some(true),
    })]);
    req.tool_choice = Some(ToolChoice::Auto);
    req.parallel_tool_calls = Some(true);

    let done = collect_stream(provider.chat_stream(req).await.unwrap())
        .await
        .unwrap();

    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["tools"],
        json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather for a place", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}, "strict": true}}])
    );
    assert_eq!(sent["tool_choice"], json!("auto"));
    assert_eq!(sent["parallel_tool_calls"], json!(true));
    let choice = &done.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.message.content, None);
    assert_eq!(
        choice.message.tool_calls.clone().unwrap(),
        vec![
            ToolCall::function("call_abc", "get_weather", "{\"location\": \"Paris\"}"),
            ToolCall::function("call_def", "get_time", "{}"),
        ]
    );
}

#[tokio::test]
async fn tool_round_trip_sends_assistant_tool_calls_and_tool_results() {
    let server = openai::start().await.unwrap();
    let provider = openai_at(&server).await;
    let mut req = hello("gpt-4o");
    req.messages.push(ChatMessage::Assistant(
        llmux_core::types::chat::AssistantMessage {
            tool_calls: Some(vec![ToolCall::function(
                "call_1",
                "get_weather",
                "{\"location\":\"Paris\"}",
            )]),
            ..Default::default()
        },
    ));
    req.messages
        .push(ChatMessage::tool("call_1", "{\"temp_c\": 21}"));
    req.tool_choice = Some(ToolChoice::Function("get_weather".into()));
    provider.chat(req).await.unwrap();
    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["messages"][2],
        json!({"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]})
    );
    assert_eq!(
        sent["messages"][3],
        json!({"role": "tool", "content": "{\"temp_c\": 21}", "tool_call_id": "call_1"})
    );
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
}

#[tokio::test]
async fn non_stream_call_strips_stream_fields() {
    let server = openai::start().await.unwrap();
    let provider = openai_at(&server).await;
    let mut req = hello("gpt-4o");
    req.stream = Some(true);
    req.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    provider.chat(req).await.unwrap();
    let sent = server.last_request().unwrap().json();
    assert!(
        sent.get("stream").is_none() && sent.get("stream_options").is_none(),
        "{sent}"
    );
}

#[tokio::test]
async fn azure_deployment_url_and_api_key_header() {
    let server = openai::start().await.unwrap();
    let p = ProviderParams {
        api_key: Some("azure-key".into()),
        api_base: Some(format!("{}/", server.url())),
        api_version: Some("2024-10-21".into()),
        ..Default::default()
    };
    let provider = OpenAiProvider::from_params("azure", &p, &MapEnv::default()).unwrap();
    let resp = provider.chat(hello("my-gpt4o-deployment")).await.unwrap();
    assert_eq!(resp.text(), Some(REPLY));
    let sent = server.last_request().unwrap();
    assert_eq!(
        sent.path_and_query(),
        "/openai/deployments/my-gpt4o-deployment/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(sent.header("api-key"), Some("azure-key"));
    assert_eq!(sent.header("authorization"), None);

    provider
        .embeddings(EmbeddingRequest::new(
            "embed-deploy",
            EmbeddingInput::Text("x".into()),
        ))
        .await
        .unwrap();
    assert_eq!(
        server.last_request().unwrap().path_and_query(),
        "/openai/deployments/embed-deploy/embeddings?api-version=2024-10-21"
    );
    assert_unsupported(
        provider
            .moderation(ModerationRequest {
                input: json!("x"),
                model: None,
                extra: Default::default(),
            })
            .await,
    );
}

#[tokio::test]
async fn azure_from_env_with_ad_token_and_v1_api() {
    let server = openai::start().await.unwrap();
    let env = MapEnv::new([
        ("AZURE_API_BASE", server.url()),
        ("AZURE_AD_TOKEN", "entra-token".to_string()),
        ("AZURE_API_VERSION", "v1".to_string()),
    ]);
    let provider = OpenAiProvider::from_params("azure", &ProviderParams::default(), &env).unwrap();
    provider.chat(hello("gpt-4o")).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path_and_query(), "/openai/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer entra-token"));
    assert_eq!(sent.json()["model"], json!("gpt-4o"));

    let err = OpenAiProvider::from_params(
        "azure",
        &ProviderParams::default(),
        &MapEnv::new([("AZURE_API_BASE", "https://x.openai.azure.com")]),
    )
    .unwrap_err();
    assert!(err.message.contains("AZURE_API_KEY"), "{}", err.message);
}

#[tokio::test]
async fn presets_use_their_env_vars_and_paths() {
    let server = openai::start().await.unwrap();
    let env = api_env("GROQ", "gsk-1", format!("{}/openai/v1", server.url()));
    let groq = OpenAiProvider::from_params("groq", &ProviderParams::default(), &env).unwrap();
    assert_eq!(groq.name(), "groq");
    groq.chat(hello("llama-3.3-70b-versatile")).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/openai/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer gsk-1"));
    assert_eq!(sent.json()["model"], json!("llama-3.3-70b-versatile"));
    // Groq has no embeddings endpoint: say so without a network call.
    let before = server.requests().len();
    let err = groq
        .embeddings(EmbeddingRequest::new("x", EmbeddingInput::Text("x".into())))
        .await
        .unwrap_err();
    assert_error(
        &err,
        ErrorKind::Unsupported,
        "groq does not support the embeddings endpoint",
    );
    assert_eq!(server.requests().len(), before);

    // Self-hosted vLLM needs a base URL but no key.
    let err = OpenAiProvider::from_params(
        "hosted_vllm",
        &ProviderParams::default(),
        &MapEnv::default(),
    )
    .unwrap_err();
    assert!(
        err.message.contains("HOSTED_VLLM_API_BASE"),
        "{}",
        err.message
    );
    let vllm = OpenAiProvider::from_params(
        "hosted_vllm",
        &ProviderParams {
            api_base: Some(format!("{}/v1", server.url())),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap();
    vllm.chat(hello("meta-llama/Llama-3.1-8B-Instruct"))
        .await
        .unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(
        sent.json()["model"],
        json!("meta-llama/Llama-3.1-8B-Instruct")
    );
}

#[tokio::test]
async fn every_preset_reaches_its_path_under_an_overridden_base() {
    let server = openai::start().await.unwrap();
    for preset in llmux_openai::presets::PRESETS
        .iter()
        .filter(|p| p.endpoints.contains(&llmux_openai::presets::Endpoint::Chat))
    {
        let p = ProviderParams {
            api_key: Some("k".into()),
            api_base: Some(format!("{}/{}", server.url(), preset.name)),
            ..Default::default()
        };
        let provider = OpenAiProvider::from_params(preset.name, &p, &MapEnv::default()).unwrap();
        let resp = provider.chat(hello("m")).await.unwrap();
        assert_eq!(resp.text(), Some(REPLY), "{}", preset.name);
        assert_eq!(
            server.last_request().unwrap().path,
            format!("/{}/chat/completions", preset.name)
        );
    }
}

#[tokio::test]
async fn custom_openai_endpoint_needs_no_key() {
    let server = openai::start().await.unwrap();
    let p = ProviderParams {
        api_base: Some(server.url()),
        ..Default::default()
    };
    let provider = OpenAiProvider::from_params("openai", &p, &MapEnv::default()).unwrap();
    provider.chat(hello("my-model")).await.unwrap();
    assert_eq!(server.last_request().unwrap().path, "/chat/completions");
    let err = OpenAiProvider::from_params("openai", &ProviderParams::default(), &MapEnv::default())
        .unwrap_err();
    assert_error(
        &err,
        ErrorKind::Authentication,
        "no API key for openai: set the OPENAI_API_KEY environment variable or pass api_key",
    );
}

#[tokio::test]
async fn organization_and_extra_headers_are_sent() {
    let server = openai::start().await.unwrap();
    let mut p = params(server.url());
    p.organization = Some("org-1".into());
    p.extra_headers = vec![("X-Team".into(), "blue".into())];
    let provider = OpenAiProvider::from_params("openai", &p, &MapEnv::default()).unwrap();
    provider.chat(hello("gpt-4o")).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.header("openai-organization"), Some("org-1"));
    assert_eq!(sent.header("x-team"), Some("blue"));
}

#[tokio::test]
async fn embeddings_float_base64_and_token_inputs() {
    let server = openai::start().await.unwrap();
    let provider = openai_at(&server).await;
    let mut req = EmbeddingRequest::new(
        "text-embedding-3-small",
        EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
    );
    req.dimensions = Some(256);
    let resp = provider.embeddings(req).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().json(),
        json!({"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 256})
    );
    assert_eq!(server.last_request().unwrap().path, "/v1/embeddings");
    assert_eq!(resp.data.len(), 2);
    assert_eq!(
        resp.data[1].embedding,
        EmbeddingVector::Float(vec![0.0023064255, -0.009327292, 1.0])
    );
    assert_eq!(resp.usage.prompt_tokens, 8);

    let mut req = EmbeddingRequest::new(
        "text-embedding-3-small",
        EmbeddingInput::Tokens(vec![1, 2, 3]),
    );
    req.encoding_format = Some("base64".into());
    let resp = provider.embeddings(req).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().json()["input"],
        json!([1, 2, 3])
    );
    assert_eq!(
        resp.data[0].embedding,
        EmbeddingVector::Base64("AAAAPwAAgL8=".into())
    );
}

#[tokio::test]
async fn models_images_speech_and_moderation() {
    let server = openai::start().await.unwrap();
    let provider = openai_at(&server).await;

    let models = provider.list_models().await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(serde_json::to_value(&models).unwrap(), openai::models());

    let images = provider
        .image_generation(ImageGenerationRequest {
            prompt: "a cat".into(),
            model: Some("dall-e-3".into()),
            size: Some("1024x1024".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        server.last_request().unwrap().json(),
        json!({"prompt": "a cat", "model": "dall-e-3", "size": "1024x1024"})
    );
    assert_eq!(
        images.data[0].url.as_deref(),
        Some("https://example.invalid/image.png")
    );
    assert_eq!(
        images.data[0].revised_prompt.as_deref(),
        Some("a revised prompt")
    );

    let speech = provider
        .speech(SpeechRequest {
            model: "gpt-4o-mini-tts".into(),
            input: "Hello".into(),
            voice: "alloy".into(),
            instructions: None,
            response_format: Some("mp3".into()),
            speed: None,
            extra: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(server.last_request().unwrap().path, "/v1/audio/speech");
    assert_eq!(speech.content_type, "audio/mpeg");
    assert_eq!(speech.audio, Bytes::from_static(b"ID3\x04mock-mp3"));

    let moderation = provider
        .moderation(ModerationRequest {
            input: json!("I want to hug you"),
            model: Some("omni-moderation-latest".into()),
            extra: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(server.last_request().unwrap().path, "/v1/moderations");
    assert!(!moderation.results[0].flagged);
    assert_eq!(
        moderation.results[0].category_scores["violence"],
        json!(0.0002)
    );
}

#[tokio::test]
async fn transcription_sends_exact_multipart() {
    let server = openai::start().await.unwrap();
    let provider = openai_at(&server).await;
    let mut req =
        TranscriptionRequest::new("whisper-1", Bytes::from_static(b"RIFFfake"), "hello.wav");
    req.language = Some("en".into());
    req.response_format = Some("verbose_json".into());
    req.timestamp_granularities = vec!["segment".into()];

    let resp = provider.transcription(req.clone()).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1/audio/transcriptions");
    let ct = sent.header("content-type").unwrap().to_string();
    let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
    let expected = provider.transcription_request(&req, boundary).unwrap();
    assert_eq!(sent.body, *expected.body());
    assert_eq!(
        String::from_utf8_lossy(&sent.body),
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"hello.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFFfake\r\n\
--{b}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n\
--{b}\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\nen\r\n\
--{b}\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\nverbose_json\r\n\
--{b}\r\nContent-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n\r\nsegment\r\n\
--{b}--\r\n",
            b = boundary
        )
    );
    match resp {
        TranscriptionResponse::Json(t) => {
            assert_eq!(t.text, "hello world");
            assert_eq!(t.language.as_deref(), Some("english"));
            assert_eq!(t.duration, Some(1.0));
            assert!(t.extra.contains_key("segments"));
        }
        other => panic!("expected JSON, got {other:?}"),
    }

    req.response_format = Some("srt".into());
    match provider.transcription(req).await.unwrap() {
        TranscriptionResponse::Text(t) => {
            assert_eq!(t, "1\n00:00:00,000 --> 00:00:01,000\nhello world\n\n")
        }
        other => panic!("expected text, got {other:?}"),
    }
}

/// Some OpenAI-compatible servers close after the finish chunk without
/// `[DONE]`: that stream is complete, not truncated.
#[tokio::test]
async fn finish_chunk_without_done_is_a_complete_stream() {
    let server = openai::start().await.unwrap();
    let provider = openai_at(&server).await;
    let m = "gpt-4o";
    server.enqueue(MockResponse::stream(
        "text/event-stream",
        sse_parts(&[
            chunk(m, json!({"content": "Hi"}), None),
            chunk(m, json!({}), Some("stop")),
        ]),
    ));
    let done = collect_stream(provider.chat_stream(hello(m)).await.unwrap())
        .await
        .unwrap();
    assert_eq!(done.text(), Some("Hi"));
}

/// OpenAI (and every OpenAI-compatible preset) through the shared suite.
struct OpenAiHarness;

/// The first chunk of an answer that is cut short.
fn hel_chunk() -> Value {
    chunk(
        "gpt-4o",
        json!({"role": "assistant", "content": "Hel"}),
        None,
    )
}

impl Conformance for OpenAiHarness {
    const PROVIDER: &'static str = "openai";
    const REPLY: &'static str = REPLY;
    const CHAT_MODEL: &'static str = "gpt-4o";
    const TRUNCATED_MESSAGE: &'static str =
        "upstream stream ended before it was complete (no [DONE] and no finish_reason)";

    fn behaviour() -> Behaviour {
        openai::behaviour
    }

    fn provider(base_url: &str, timeout: Option<Duration>) -> Arc<dyn Provider> {
        let mut p = params(format!("{base_url}/v1"));
        p.timeout = timeout;
        llmux_router::resolve("openai/gpt-4o", &p, &MapEnv::default())
            .unwrap()
            .provider
    }

    /// OpenAI's documented errors; `error.code` is kept when given.
    fn error_cases() -> Vec<ErrorCase> {
        use ErrorKind::*;
        let case = |status: u16,
                    kind: ErrorKind,
                    message: &'static str,
                    error_type: &str,
                    param: Option<&str>,
                    code: Option<&'static str>| {
            let body = error_body(message, error_type, param, code);
            ErrorCase::new(MockResponse::json(status, &body), kind, message).with_code(code)
        };
        vec![
            case(
                400,
                BadRequest,
                "bad param",
                "invalid_request_error",
                Some("temperature"),
                None,
            ),
            case(
                400,
                ContextWindowExceeded,
                "This model's maximum context length is 8192 tokens.",
                "invalid_request_error",
                Some("messages"),
                Some("context_length_exceeded"),
            ),
            case(
                400,
                ContentPolicyViolation,
                "Your request was rejected as a result of our safety system.",
                "invalid_request_error",
                None,
                Some("content_policy_violation"),
            ),
            case(
                401,
                Authentication,
                "Incorrect API key provided: sk-test.",
                "invalid_request_error",
                None,
                Some("invalid_api_key"),
            ),
            case(
                403,
                PermissionDenied,
                "Country, region, or territory not supported",
                "request_forbidden",
                None,
                Some("unsupported_country_region_territory"),
            ),
            case(
                404,
                NotFound,
                "The model `gpt-9` does not exist or you do not have access to it.",
                "invalid_request_error",
                None,
                Some("model_not_found"),
            ),
            case(408, Timeout, "Request timed out.", "timeout", None, None),
            case(
                422,
                UnprocessableEntity,
                "Unprocessable",
                "invalid_request_error",
                None,
                None,
            ),
            case(
                429,
                RateLimit,
                "Rate limit reached for gpt-4o",
                "requests",
                None,
                Some("rate_limit_exceeded"),
            ),
            case(
                500,
                InternalServer,
                "The server had an error while processing your request.",
                "server_error",
                None,
                None,
            ),
            case(502, BadGateway, "Bad gateway.", "server_error", None, None),
            case(
                503,
                ServiceUnavailable,
                "The engine is currently overloaded, please try again later.",
                "server_error",
                None,
                None,
            ),
        ]
    }

    fn stream_body() -> Vec<u8> {
        let mut body: String = openai::stream_chunks("gpt-4o", false)
            .iter()
            .map(|c| format!("data: {c}\n\n"))
            .collect();
        body.push_str("data: [DONE]\n\n");
        body.into_bytes()
    }

    fn truncated_stream() -> PartialStream {
        PartialStream {
            parts: sse_parts(&[hel_chunk()]),
            chunks: 1,
            text: "Hel",
        }
    }

    fn mid_stream_error() -> MidStreamError {
        let mut parts = sse_parts(&[hel_chunk()]);
        let error = error_body("The server is overloaded", "server_error", None, None);
        parts.push(StreamPart::Bytes(Bytes::from(format!("data: {error}\n\n"))));
        MidStreamError {
            stream: PartialStream {
                parts,
                chunks: 1,
                text: "Hel",
            },
            kind: ErrorKind::InternalServer,
            message: "The server is overloaded",
        }
    }

    fn malformed_body() -> MockResponse {
        MockResponse::raw(200, "application/json", "{\"id\": 5")
    }
}

llmux_tests::conformance_tests!(OpenAiHarness);
