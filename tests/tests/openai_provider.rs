//! llmux-openai against a mock OpenAI-compatible server, through the real
//! transport: exact upstream requests, exact decoded results, every error kind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use llmux_core::stream::collect_stream;
use llmux_core::types::audio::{SpeechRequest, TranscriptionRequest, TranscriptionResponse};
use llmux_core::types::chat::{
    ChatCompletionRequest, ChatMessage, FinishReason, FunctionDefinition, StreamOptions, Tool,
    ToolCall, ToolChoice,
};
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingVector};
use llmux_core::types::images::ImageGenerationRequest;
use llmux_core::types::moderations::ModerationRequest;
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_openai::OpenAiProvider;
use llmux_tests::mock::openai::{self, chunk, error_body, sse_parts, REPLY};
use llmux_tests::mock::{MockResponse, StreamPart};
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

fn hello(model: &str) -> ChatCompletionRequest {
    ChatCompletionRequest::new(
        model,
        vec![ChatMessage::system("Be brief."), ChatMessage::user("Hi")],
    )
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
    let err = provider
        .moderation(ModerationRequest {
            input: json!("x"),
            model: None,
            extra: Default::default(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
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
    let env = MapEnv::new([
        ("GROQ_API_KEY", "gsk-1".to_string()),
        ("GROQ_API_BASE", format!("{}/openai/v1", server.url())),
    ]);
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
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert_eq!(err.message, "groq does not support the embeddings endpoint");
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
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert_eq!(
        err.message,
        "no API key for openai: set the OPENAI_API_KEY environment variable or pass api_key"
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
    let expected = provider.encode_transcription(&req, boundary).unwrap();
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

/// Each upstream status maps to its kind, keeping the provider's message.
#[tokio::test]
async fn error_statuses_map_to_kinds() {
    let server = openai::start().await.unwrap();
    let provider = openai_at(&server).await;
    let cases: &[(u16, Value, ErrorKind)] = &[
        (
            400,
            error_body(
                "bad param",
                "invalid_request_error",
                Some("temperature"),
                None,
            ),
            ErrorKind::BadRequest,
        ),
        (
            400,
            error_body(
                "This model's maximum context length is 8192 tokens.",
                "invalid_request_error",
                Some("messages"),
                Some("context_length_exceeded"),
            ),
            ErrorKind::ContextWindowExceeded,
        ),
        (
            400,
            error_body(
                "Your request was rejected as a result of our safety system.",
                "invalid_request_error",
                None,
                Some("content_policy_violation"),
            ),
            ErrorKind::ContentPolicyViolation,
        ),
        (
            401,
            error_body(
                "Incorrect API key provided: sk-test.",
                "invalid_request_error",
                None,
                Some("invalid_api_key"),
            ),
            ErrorKind::Authentication,
        ),
        (
            403,
            error_body(
                "Country, region, or territory not supported",
                "request_forbidden",
                None,
                Some("unsupported_country_region_territory"),
            ),
            ErrorKind::PermissionDenied,
        ),
        (
            404,
            error_body(
                "The model `gpt-9` does not exist or you do not have access to it.",
                "invalid_request_error",
                None,
                Some("model_not_found"),
            ),
            ErrorKind::NotFound,
        ),
        (
            408,
            error_body("Request timed out.", "timeout", None, None),
            ErrorKind::Timeout,
        ),
        (
            422,
            error_body("Unprocessable", "invalid_request_error", None, None),
            ErrorKind::UnprocessableEntity,
        ),
        (
            429,
            error_body(
                "Rate limit reached for gpt-4o",
                "requests",
                None,
                Some("rate_limit_exceeded"),
            ),
            ErrorKind::RateLimit,
        ),
        (
            500,
            error_body(
                "The server had an error while processing your request.",
                "server_error",
                None,
                None,
            ),
            ErrorKind::InternalServer,
        ),
        (
            502,
            error_body("Bad gateway.", "server_error", None, None),
            ErrorKind::BadGateway,
        ),
        (
            503,
            error_body(
                "The engine is currently overloaded, please try again later.",
                "server_error",
                None,
                None,
            ),
            ErrorKind::ServiceUnavailable,
        ),
    ];
    for (status, body, kind) in cases {
        server.enqueue(MockResponse::json(*status, body).with_header("retry-after", "7"));
        let err = provider.chat(hello("gpt-4o")).await.unwrap_err();
        assert_eq!(err.kind, *kind, "status {status}");
        assert_eq!(err.upstream_status, Some(*status));
        assert_eq!(err.message, body["error"]["message"].as_str().unwrap());
        assert_eq!(err.code.as_deref(), body["error"]["code"].as_str());
        assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(err.provider.as_deref(), Some("openai"));
        assert_eq!(err.model.as_deref(), Some("gpt-4o"));
        assert_eq!(err.status(), kind.status());

        // The same error before a stream starts is returned by chat_stream itself.
        server.enqueue(MockResponse::json(*status, body));
        let err = provider.chat_stream(hello("gpt-4o")).await.err().unwrap();
        assert_eq!(err.kind, *kind, "stream, status {status}");
    }
}

#[tokio::test]
async fn mid_stream_error_event_ends_the_stream_with_that_error() {
    let server = openai::start().await.unwrap();
    let m = "gpt-4o";
    let mut parts = sse_parts(&[chunk(
        m,
        json!({"role": "assistant", "content": "Hel"}),
        None,
    )]);
    parts.push(StreamPart::Bytes(Bytes::from(format!(
        "data: {}\n\n",
        error_body("The server is overloaded", "server_error", None, None)
    ))));
    server.enqueue(MockResponse::stream("text/event-stream", parts));
    let provider = openai_at(&server).await;
    let items: Vec<_> = provider
        .chat_stream(hello(m))
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
        Some("Hel")
    );
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.kind, ErrorKind::InternalServer);
    assert_eq!(err.message, "The server is overloaded");
}

#[tokio::test]
async fn truncated_stream_is_an_error_not_a_clean_end() {
    let server = openai::start().await.unwrap();
    let m = "gpt-4o";
    // Body ends after one content chunk: no finish_reason, no [DONE].
    server.enqueue(MockResponse::stream(
        "text/event-stream",
        sse_parts(&[chunk(
            m,
            json!({"role": "assistant", "content": "Hel"}),
            None,
        )]),
    ));
    let provider = openai_at(&server).await;
    let items: Vec<_> = provider
        .chat_stream(hello(m))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1].as_ref().unwrap_err().kind,
        ErrorKind::ApiConnection
    );

    // Connection dropped mid-body.
    let mut parts = sse_parts(&[chunk(m, json!({"content": "Hel"}), None)]);
    parts.push(StreamPart::Abort);
    server.enqueue(MockResponse::stream("text/event-stream", parts));
    let items: Vec<_> = provider
        .chat_stream(hello(m))
        .await
        .unwrap()
        .collect()
        .await;
    assert!(items.last().unwrap().is_err(), "{items:?}");

    // A finish chunk without [DONE] is a complete stream (some vendors do this).
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

#[tokio::test]
async fn malformed_success_body_is_bad_gateway() {
    let server = openai::start().await.unwrap();
    server.enqueue(MockResponse::raw(200, "application/json", "{\"id\": 5"));
    let provider = openai_at(&server).await;
    let err = provider.chat(hello("gpt-4o")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadGateway);
    assert!(
        err.message.starts_with("cannot decode openai response"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn timeout_and_connection_refused() {
    let server = openai::start().await.unwrap();
    server.enqueue(
        MockResponse::json(200, &openai::chat_completion("gpt-4o"))
            .with_delay(Duration::from_millis(500)),
    );
    let mut p = params(server.url());
    p.timeout = Some(Duration::from_millis(50));
    let provider = OpenAiProvider::from_params("openai", &p, &MapEnv::default()).unwrap();
    let err = provider.chat(hello("gpt-4o")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);

    server.enqueue(
        MockResponse::json(200, &openai::chat_completion("gpt-4o"))
            .with_delay(Duration::from_millis(500)),
    );
    let err = provider.chat_stream(hello("gpt-4o")).await.err().unwrap();
    assert_eq!(err.kind, ErrorKind::Timeout);

    // Nothing listens on the port of a dropped server.
    let url = server.url();
    drop(server);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let provider = OpenAiProvider::from_params("openai", &params(url), &MapEnv::default()).unwrap();
    let err = provider.chat(hello("gpt-4o")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ApiConnection);
    assert_eq!(err.status(), 500);
}

#[tokio::test]
async fn an_upstream_that_drops_a_stream_does_not_break_the_next_call() {
    let server = openai::start().await.unwrap();
    let provider = openai_at(&server).await;
    let m = "gpt-4o";
    let mut parts = sse_parts(&[chunk(m, json!({"content": "Hel"}), None)]);
    parts.push(StreamPart::Abort);
    server.enqueue(MockResponse::stream("text/event-stream", parts));
    let items: Vec<_> = provider
        .chat_stream(hello(m))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1].as_ref().unwrap_err().kind,
        ErrorKind::ApiConnection
    );
    for _ in 0..3 {
        assert_eq!(provider.chat(hello(m)).await.unwrap().text(), Some(REPLY));
    }
}
