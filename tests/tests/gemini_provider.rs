//! llmux-gemini against mock Gemini API and Vertex AI servers, through the
//! real transport: exact upstream requests, exact decoded results, Vertex
//! authentication through gcp_auth's real service-account flow (a signed JWT
//! exchanged at a local token endpoint); every Gemini API error status and
//! stream failure through the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use llmux_core::types::chat::{
    AssistantMessage, ChatMessage, FinishReason, FunctionDefinition, Tool, ToolChoice,
};
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingVector};
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_gemini::GeminiProvider;
use llmux_tests::conformance::{
    api_env, assert_error, assert_error_starts, assert_get, assert_recent, assert_sent_to,
    assert_unsupported, expected_chunk, expected_usage_chunk, hello, keyed_params_at, started,
    Conformance, ErrorCase, MidStreamError, PartialStream,
};
use llmux_tests::mock::gemini::{
    self, error_body, service_account_json, sse_parts, ACCESS_TOKEN, REPLY, RESPONSE_ID,
};
use llmux_tests::mock::{Behaviour, MockResponse, MockServer};
use serde_json::{json, Value};

fn gemini_at(server: &MockServer) -> GeminiProvider {
    GeminiProvider::from_params(
        "gemini",
        &ProviderParams {
            api_key: Some("test-key".into()),
            api_base: Some(server.url()),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap()
}

/// A Vertex provider whose key's `token_uri` is the mock token endpoint.
fn vertex_at(vertex: &MockServer, tokens: &MockServer) -> GeminiProvider {
    let mut params = ProviderParams {
        api_base: Some(vertex.url()),
        ..Default::default()
    };
    params.extra.insert(
        "vertex_credentials".into(),
        json!(service_account_json(
            &format!("{}/token", tokens.url()),
            "llmux-test-project"
        )),
    );
    params
        .extra
        .insert("vertex_location".into(), json!("us-central1"));
    GeminiProvider::from_params("vertex_ai", &params, &MapEnv::default()).unwrap()
}

fn hello_body() -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}]
    })
}

/// The OpenAI completion the default mock answer decodes to.
fn expected_completion(model: &str, created: u64) -> Value {
    json!({
        "id": RESPONSE_ID,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}
    })
}

#[tokio::test]
async fn gemini_chat_sends_exact_request_and_decodes_response() {
    let (server, provider) = started(gemini::start(), gemini_at).await;
    let mut req = hello("gemini-2.0-flash");
    req.temperature = Some(0.2);
    req.max_tokens = Some(50);
    req.stop = Some(llmux_core::types::OneOrMany::Many(vec!["END".into()]));

    let resp = provider.chat(req).await.unwrap();

    let sent = server.last_request().unwrap();
    assert_eq!(sent.method, http::Method::POST);
    assert_eq!(
        sent.path_and_query(),
        "/v1beta/models/gemini-2.0-flash:generateContent"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some("test-key"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("authorization"), None);
    let mut body = hello_body();
    body["generationConfig"] =
        json!({"temperature": 0.2, "maxOutputTokens": 50, "stopSequences": ["END"]});
    assert_eq!(sent.json(), body);
    assert_recent(resp.created);
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        expected_completion("gemini-2.0-flash", resp.created)
    );
}

#[tokio::test]
async fn gemini_from_env_key_and_base() {
    let server = gemini::start().await.unwrap();
    let env = api_env("GEMINI", "env-key", format!("{}/v1beta", server.url()));
    let provider = GeminiProvider::from_params("gemini", &ProviderParams::default(), &env).unwrap();
    assert_eq!(provider.name(), "gemini");
    assert_eq!(
        provider
            .chat(hello("gemini-2.5-flash"))
            .await
            .unwrap()
            .text(),
        Some(REPLY)
    );
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(sent.header("x-goog-api-key"), Some("env-key"));
}

#[tokio::test]
async fn gemini_stream_yields_exact_chunks_then_usage() {
    let (server, provider) = started(gemini::start(), gemini_at).await;
    let stream = provider
        .chat_stream(hello("gemini-2.0-flash"))
        .await
        .unwrap();
    let chunks: Vec<Value> = stream
        .map(|c| serde_json::to_value(c.unwrap()).unwrap())
        .collect()
        .await;

    let sent = server.last_request().unwrap();
    assert_eq!(
        sent.path_and_query(),
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(sent.json(), hello_body());
    let created = chunks[0]["created"].as_u64().unwrap();
    assert_recent(created);
    let chunk = |delta: Value, finish: Value| {
        expected_chunk(RESPONSE_ID, created, "gemini-2.0-flash", delta, finish)
    };
    assert_eq!(
        chunks,
        vec![
            chunk(
                json!({"role": "assistant", "content": "Hello"}),
                Value::Null
            ),
            chunk(json!({"content": " from the mock"}), Value::Null),
            chunk(json!({"content": " Gemini!"}), json!("stop")),
            expected_usage_chunk(
                RESPONSE_ID,
                created,
                "gemini-2.0-flash",
                json!({"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15})
            ),
        ]
    );
}

#[tokio::test]
async fn tool_calls_round_trip() {
    let (server, provider) = started(gemini::start(), gemini_at).await;
    server.enqueue(MockResponse::json(
        200,
        &json!({
            "candidates": [{
                "content": {"role": "model", "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}, "thoughtSignature": "CiQB4/H/Xt5t"}
                ]},
                "finishReason": "STOP", "index": 0
            }],
            "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 5, "totalTokenCount": 25},
            "modelVersion": "gemini-2.5-flash", "responseId": "r-tools"
        }),
    ));
    let mut req = hello("gemini-2.5-flash");
    req.tools = Some(vec![Tool::function(FunctionDefinition {
        name: "get_weather".into(),
        description: Some("Weather for a place".into()),
        parameters: Some(json!({
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"type": ["string", "null"], "enum": ["c", "f"]}},
            "required": ["location"],
            "additionalProperties": false
        })),
        strict: Some(true),
    })]);
    req.tool_choice = Some(ToolChoice::Required);

    let resp = provider.chat(req.clone()).await.unwrap();

    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["tools"],
        json!([{"functionDeclarations": [{
            "name": "get_weather",
            "description": "Weather for a place",
            "parameters": {"type": "OBJECT", "properties": {
                "location": {"type": "STRING"},
                "unit": {"type": "STRING", "nullable": true, "format": "enum", "enum": ["c", "f"]}
            }, "required": ["location"]}
        }]}])
    );
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );
    let choice = &resp.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.message.content, None);
    let calls = choice.message.tool_calls.clone().unwrap();
    assert_eq!(calls.len(), 1);
    let (base_id, signature) = calls[0].id.split_once("__thought__").unwrap();
    assert!(
        base_id.starts_with("call_") && base_id.len() == 29,
        "{base_id}"
    );
    assert_eq!(signature, "CiQB4/H/Xt5t");
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(calls[0].function.arguments, "{\"location\":\"Paris\"}");
    assert_eq!(resp.id, "r-tools");

    // Send the call and its result back: the signature rides along.
    req.messages.push(ChatMessage::Assistant(AssistantMessage {
        tool_calls: Some(calls.clone()),
        ..Default::default()
    }));
    req.messages
        .push(ChatMessage::tool(calls[0].id.clone(), "{\"temp_c\": 21}"));
    req.tool_choice = Some(ToolChoice::Auto);
    provider.chat(req).await.unwrap();
    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}, "thoughtSignature": "CiQB4/H/Xt5t"}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}]}
        ])
    );
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
}

#[tokio::test]
async fn thoughts_cached_tokens_and_reasoning_effort() {
    let (server, provider) = started(gemini::start(), gemini_at).await;
    server.enqueue(MockResponse::json(
        200,
        &json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "The user greets me.", "thought": true},
                {"text": "Hi!"}
            ]}, "finishReason": "MAX_TOKENS", "index": 0}],
            "usageMetadata": {"promptTokenCount": 1200, "candidatesTokenCount": 2, "thoughtsTokenCount": 30,
                              "cachedContentTokenCount": 1024, "totalTokenCount": 1232},
            "responseId": "r-think"
        }),
    ));
    let mut req = hello("gemini-2.5-pro");
    req.reasoning_effort = Some("high".into());
    let resp = provider.chat(req).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().json()["generationConfig"],
        json!({"thinkingConfig": {"thinkingBudget": 4096, "includeThoughts": true}})
    );
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({
            "id": "r-think", "object": "chat.completion", "created": resp.created, "model": "gemini-2.5-pro",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!", "reasoning_content": "The user greets me."},
                         "logprobs": null, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 32, "total_tokens": 1232,
                      "prompt_tokens_details": {"cached_tokens": 1024},
                      "completion_tokens_details": {"reasoning_tokens": 30}}
        })
    );
}

#[tokio::test]
async fn structured_output_schema_is_converted_or_refused_without_a_call() {
    let (server, provider) = started(gemini::start(), gemini_at).await;
    let mut req = hello("gemini-2.0-flash");
    req.response_format = Some(llmux_core::types::chat::ResponseFormat::JsonSchema {
        json_schema: llmux_core::types::chat::JsonSchemaFormat {
            name: "answer".into(),
            description: None,
            schema: Some(
                json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": false}),
            ),
            strict: Some(true),
        },
    });
    provider.chat(req.clone()).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().json()["generationConfig"],
        json!({"responseMimeType": "application/json",
               "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]}})
    );
    let before = server.requests().len();
    req.response_format = Some(llmux_core::types::chat::ResponseFormat::JsonSchema {
        json_schema: llmux_core::types::chat::JsonSchemaFormat {
            name: "answer".into(),
            description: None,
            schema: Some(
                json!({"type": "object", "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}}}),
            ),
            strict: Some(true),
        },
    });
    let err = provider.chat(req).await.unwrap_err();
    assert_error(&err, ErrorKind::BadRequest, "response_format.json_schema.schema.properties.n.exclusiveMinimum: 'exclusiveMinimum' cannot be expressed in Gemini's response schema");
    assert_eq!(err.provider.as_deref(), Some("gemini"));
    assert_eq!(server.requests().len(), before);
}

#[tokio::test]
async fn gemini_embeddings_single_batch_and_base64() {
    let (server, provider) = started(gemini::start(), gemini_at).await;
    let mut req = EmbeddingRequest::new("text-embedding-004", EmbeddingInput::Text("hello".into()));
    req.dimensions = Some(256);
    let resp = provider.embeddings(req).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_sent_to(
        &sent,
        "/v1beta/models/text-embedding-004:embedContent",
        ("x-goog-api-key", "test-key"),
    );
    assert_eq!(
        sent.json(),
        json!({"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 256})
    );
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({"object": "list", "model": "text-embedding-004",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.0023064255, -0.009327292, 0.0]}],
               "usage": {"prompt_tokens": 0, "total_tokens": 0}})
    );

    let mut req = EmbeddingRequest::new(
        "text-embedding-004",
        EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
    );
    req.extra
        .insert("task_type".into(), json!("RETRIEVAL_DOCUMENT"));
    req.encoding_format = Some("base64".into());
    let resp = provider.embeddings(req).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(
        sent.path,
        "/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    assert_eq!(
        sent.json(),
        json!({"requests": [
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}, "taskType": "RETRIEVAL_DOCUMENT"},
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}, "taskType": "RETRIEVAL_DOCUMENT"}
        ]})
    );
    assert_eq!(resp.data.len(), 2);
    let EmbeddingVector::Base64(b64) = &resp.data[1].embedding else {
        panic!("expected base64");
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let floats: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(floats, vec![0.0023064255f32, -0.009327292, 1.0]);
}

#[tokio::test]
async fn gemini_lists_models() {
    let (server, provider) = started(gemini::start(), gemini_at).await;
    let models = provider.list_models().await.unwrap();
    let sent = server.last_request().unwrap();
    assert_get(&sent, "/v1beta/models?pageSize=1000");
    assert_eq!(
        serde_json::to_value(&models).unwrap(),
        json!({"object": "list", "data": [
            {"id": "gemini-2.0-flash", "object": "model", "created": 0, "owned_by": "google"},
            {"id": "text-embedding-004", "object": "model", "created": 0, "owned_by": "google"}
        ]})
    );
}

#[tokio::test]
async fn quota_retry_delay_and_bad_key() {
    let (server, provider) = started(gemini::start(), gemini_at).await;
    server.enqueue(MockResponse::json(
        429,
        &json!({"error": {"code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "41s"}
            ]}}),
    ));
    let err = provider.chat(hello("gemini-2.0-flash")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimit);
    assert_eq!(err.retry_after, Some(Duration::from_secs(41)));

    let bad = GeminiProvider::from_params(
        "gemini",
        &ProviderParams {
            api_key: Some("bad-key".into()),
            api_base: Some(server.url()),
            ..Default::default()
        },
        &MapEnv::default(),
    )
    .unwrap();
    let err = bad.chat(hello("gemini-2.0-flash")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert_eq!(err.upstream_status, Some(400));
    assert_eq!(
        err.message,
        "API key not valid. Please pass a valid API key."
    );
}

#[tokio::test]
async fn blocked_prompt_is_a_content_policy_violation() {
    let (server, provider) = started(gemini::start(), gemini_at).await;
    let blocked = json!({
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]},
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
        "modelVersion": "gemini-2.0-flash", "responseId": "r-blocked"
    });
    server.enqueue(MockResponse::json(200, &blocked));
    let err = provider.chat(hello("gemini-2.0-flash")).await.unwrap_err();
    assert_error(
        &err,
        ErrorKind::ContentPolicyViolation,
        "the prompt was blocked by gemini (blockReason SAFETY)",
    );
    assert_eq!(err.model.as_deref(), Some("gemini-2.0-flash"));

    server.enqueue(gemini::sse_response(&[blocked]));
    let items: Vec<_> = provider
        .chat_stream(hello("gemini-2.0-flash"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_ref().unwrap_err().kind,
        ErrorKind::ContentPolicyViolation
    );

    // A candidate stopped by the safety filter is a content_filter finish.
    server.enqueue(MockResponse::json(
        200,
        &json!({"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": []}], "responseId": "r"}),
    ));
    let resp = provider.chat(hello("gemini-2.0-flash")).await.unwrap();
    assert_eq!(
        resp.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
    assert_eq!(resp.choices[0].message.content, None);
}

/// The Gemini API through the shared conformance suite.
struct GeminiHarness;

const GEMINI_MODEL: &str = "gemini-2.0-flash";

impl Conformance for GeminiHarness {
    const PROVIDER: &'static str = "gemini";
    const REPLY: &'static str = REPLY;
    const CHAT_MODEL: &'static str = GEMINI_MODEL;
    const TRUNCATED_MESSAGE: &'static str =
        "upstream stream ended before it was complete (no finishReason)";

    fn behaviour() -> Behaviour {
        gemini::behaviour
    }

    fn provider(base_url: &str, timeout: Option<Duration>) -> Arc<dyn Provider> {
        let params = keyed_params_at(base_url, timeout, "AIza-conformance-key");
        llmux_router::resolve(
            &format!("gemini/{GEMINI_MODEL}"),
            &params,
            &MapEnv::default(),
        )
        .unwrap()
        .provider
    }

    /// Google's statuses, each with its `google.rpc` status string.
    fn error_cases() -> Vec<ErrorCase> {
        use ErrorKind::*;
        let case = |status: u16, kind: ErrorKind, google_status: &str, message: &'static str| {
            let body = error_body(status, message, google_status);
            ErrorCase::new(MockResponse::json(status, &body), kind, message)
        };
        vec![
            case(400, BadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"foo\": Cannot find field."),
            case(400, ContextWindowExceeded, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."),
            case(400, BadRequest, "FAILED_PRECONDITION", "User location is not supported for the API use."),
            case(401, Authentication, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
            case(403, PermissionDenied, "PERMISSION_DENIED", "The caller does not have permission"),
            case(404, NotFound, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent."),
            case(429, RateLimit, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
            case(500, InternalServer, "INTERNAL", "An internal error has occurred."),
            case(503, ServiceUnavailable, "UNAVAILABLE", "The model is overloaded. Please try again later."),
            case(504, Timeout, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
        ]
    }

    fn stream_body() -> Vec<u8> {
        gemini::stream_events(GEMINI_MODEL)
            .iter()
            .flat_map(|e| format!("data: {e}\r\n\r\n").into_bytes())
            .collect()
    }

    /// Two slices and no `finishReason` (Gemini has no terminal event).
    fn truncated_stream() -> PartialStream {
        PartialStream {
            parts: sse_parts(&gemini::stream_events(GEMINI_MODEL)[..2]),
            chunks: 2,
            text: "Hello from the mock",
        }
    }

    /// One slice, then an error object as the next event.
    fn mid_stream_error() -> MidStreamError {
        let message = "The model is overloaded. Please try again later.";
        let mut events = gemini::stream_events(GEMINI_MODEL)[..1].to_vec();
        events.push(error_body(503, message, "UNAVAILABLE"));
        MidStreamError {
            stream: PartialStream {
                parts: sse_parts(&events),
                chunks: 1,
                text: "Hello",
            },
            kind: ErrorKind::ServiceUnavailable,
            message,
        }
    }

    fn malformed_body() -> MockResponse {
        MockResponse::raw(200, "application/json", "{\"candidates\": 5")
    }
}

llmux_tests::conformance_tests!(GeminiHarness);

// ---------------------------------------------------------------- Vertex AI

/// base64url with or without padding (gcp_auth pads its JWT segments).
fn b64url(s: &str) -> Vec<u8> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(s).unwrap()
}

/// The test key's public half, as ring wants it (DER RSAPublicKey).
fn test_public_key() -> Vec<u8> {
    let b64: String = gemini::TEST_PRIVATE_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    ring::signature::KeyPair::public_key(&pair)
        .as_ref()
        .to_vec()
}

/// Check a token request is gcp_auth's JWT-bearer grant, signed with the test
/// key, for the cloud-platform scope, addressed to `token_uri`.
fn assert_signed_jwt_grant(req: &llmux_tests::mock::RecordedRequest, token_uri: &str) {
    assert_eq!(req.method, http::Method::POST);
    assert_eq!(req.path, "/token");
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        gemini::form_field(&req.body, "grant_type").as_deref(),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    let jwt = gemini::form_field(&req.body, "assertion").unwrap();
    let segments: Vec<&str> = jwt.split('.').collect();
    assert_eq!(segments.len(), 3);
    let header: Value = serde_json::from_slice(&b64url(segments[0])).unwrap();
    assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
    let claims: Value = serde_json::from_slice(&b64url(segments[1])).unwrap();
    assert_eq!(
        claims["iss"],
        json!("llmux-test@llmux-test-project.iam.gserviceaccount.com")
    );
    assert_eq!(claims["aud"], json!(token_uri));
    assert_eq!(
        claims["scope"],
        json!("https://www.googleapis.com/auth/cloud-platform")
    );
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 3595);
    assert_recent(u64::try_from(iat).unwrap());
    let signed = format!("{}.{}", segments[0], segments[1]);
    let public = test_public_key();
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &public)
        .verify(signed.as_bytes(), &b64url(segments[2]))
        .expect("the JWT is signed with the service-account key");
}

#[tokio::test]
async fn vertex_chat_authenticates_through_gcp_auth() {
    let tokens = gemini::start_token_endpoint().await.unwrap();
    let vertex = gemini::start_vertex().await.unwrap();
    let provider = vertex_at(&vertex, &tokens);
    assert_eq!(provider.name(), "vertex_ai");

    let resp = provider.chat(hello("gemini-2.5-flash")).await.unwrap();

    let token_requests = tokens.requests();
    assert_eq!(token_requests.len(), 1);
    assert_signed_jwt_grant(&token_requests[0], &format!("{}/token", tokens.url()));
    let sent = vertex.last_request().unwrap();
    assert_eq!(
        sent.path_and_query(),
        "/v1/projects/llmux-test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    assert_eq!(sent.header("x-goog-api-key"), None);
    assert_eq!(sent.json(), hello_body());
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        expected_completion("gemini-2.5-flash", resp.created)
    );
}

#[tokio::test]
async fn vertex_tokens_are_cached_and_refreshed_before_expiry() {
    let tokens = gemini::start_token_endpoint().await.unwrap();
    let vertex = gemini::start_vertex().await.unwrap();
    // The first token expires in 10 s: inside gcp_auth's 20 s margin, so it
    // is used once and replaced on the next call.
    tokens.enqueue(gemini::token_response("ya29.short-lived", 10));
    let provider = vertex_at(&vertex, &tokens);
    for _ in 0..4 {
        provider.chat(hello("gemini-2.0-flash")).await.unwrap();
    }
    assert_eq!(
        tokens.requests().len(),
        2,
        "one fetch, one refresh, then the cache"
    );
    let auth: Vec<String> = vertex
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(
        auth,
        vec![
            "Bearer ya29.short-lived".to_string(),
            format!("Bearer {ACCESS_TOKEN}"),
            format!("Bearer {ACCESS_TOKEN}"),
            format!("Bearer {ACCESS_TOKEN}"),
        ]
    );
    for r in tokens.requests() {
        assert_signed_jwt_grant(&r, &format!("{}/token", tokens.url()));
    }

    // A second provider for the same key shares the cached token.
    let again = vertex_at(&vertex, &tokens);
    again.chat(hello("gemini-2.0-flash")).await.unwrap();
    assert_eq!(tokens.requests().len(), 2);
}

#[tokio::test]
async fn vertex_credentials_from_a_file_via_google_application_credentials() {
    let tokens = gemini::start_token_endpoint().await.unwrap();
    let vertex = gemini::start_vertex().await.unwrap();
    let dir = std::env::temp_dir().join(format!(
        "llmux-vertex-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("key.json");
    std::fs::write(
        &path,
        service_account_json(&format!("{}/token", tokens.url()), "file-project"),
    )
    .unwrap();
    let env = MapEnv::new([
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            path.to_string_lossy().to_string(),
        ),
        ("VERTEXAI_LOCATION", "europe-west4".to_string()),
    ]);
    let provider = GeminiProvider::from_params(
        "vertex_ai",
        &ProviderParams {
            api_base: Some(vertex.url()),
            ..Default::default()
        },
        &env,
    )
    .unwrap();
    provider.chat(hello("gemini-2.0-flash")).await.unwrap();
    assert_eq!(tokens.requests().len(), 1);
    assert_eq!(
        vertex.last_request().unwrap().path,
        "/v1/projects/file-project/locations/europe-west4/publishers/google/models/gemini-2.0-flash:generateContent"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn vertex_stream_and_predict_embeddings() {
    let tokens = gemini::start_token_endpoint().await.unwrap();
    let vertex = gemini::start_vertex().await.unwrap();
    let provider = vertex_at(&vertex, &tokens);

    let chunks: Vec<Value> = provider
        .chat_stream(hello("gemini-2.0-flash"))
        .await
        .unwrap()
        .map(|c| serde_json::to_value(c.unwrap()).unwrap())
        .collect()
        .await;
    let sent = vertex.last_request().unwrap();
    assert_eq!(
        sent.path_and_query(),
        "/v1/projects/llmux-test-project/locations/us-central1/publishers/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    let created = chunks[0]["created"].as_u64().unwrap();
    let chunk = |delta: Value, finish: Value| {
        expected_chunk(RESPONSE_ID, created, "gemini-2.0-flash", delta, finish)
    };
    assert_eq!(
        chunks,
        vec![
            chunk(
                json!({"role": "assistant", "content": "Hello"}),
                Value::Null
            ),
            chunk(json!({"content": " from the mock"}), Value::Null),
            chunk(json!({"content": " Gemini!"}), Value::Null),
            chunk(json!({}), json!("stop")),
            expected_usage_chunk(
                RESPONSE_ID,
                created,
                "gemini-2.0-flash",
                json!({"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15})
            ),
        ]
    );

    let mut req = EmbeddingRequest::new(
        "text-embedding-005",
        EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
    );
    req.dimensions = Some(3);
    req.extra
        .insert("task_type".into(), json!("RETRIEVAL_QUERY"));
    let resp = provider.embeddings(req).await.unwrap();
    let sent = vertex.last_request().unwrap();
    assert_eq!(
        sent.path,
        "/v1/projects/llmux-test-project/locations/us-central1/publishers/google/models/text-embedding-005:predict"
    );
    assert_eq!(
        sent.json(),
        json!({"instances": [{"content": "a", "task_type": "RETRIEVAL_QUERY"}, {"content": "b", "task_type": "RETRIEVAL_QUERY"}],
               "parameters": {"outputDimensionality": 3}})
    );
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({"object": "list", "model": "text-embedding-005",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.0023064255, -0.009327292, 0.0]},
                        {"object": "embedding", "index": 1, "embedding": [0.0023064255, -0.009327292, 1.0]}],
               "usage": {"prompt_tokens": 8, "total_tokens": 8}})
    );
    // One token served all three calls.
    assert_eq!(tokens.requests().len(), 1);
    assert_unsupported(provider.list_models().await);
}

#[tokio::test]
async fn vertex_token_failure_is_an_authentication_error_and_nothing_is_sent() {
    let tokens = gemini::start_token_endpoint().await.unwrap();
    let vertex = gemini::start_vertex().await.unwrap();
    let mut params = ProviderParams {
        api_base: Some(vertex.url()),
        ..Default::default()
    };
    // The token endpoint refuses this path (only /token grants).
    params.extra.insert(
        "vertex_credentials".into(),
        json!(service_account_json(
            &format!("{}/refuse", tokens.url()),
            "llmux-test-project"
        )),
    );
    let provider = GeminiProvider::from_params("vertex_ai", &params, &MapEnv::default()).unwrap();
    let err = provider.chat(hello("gemini-2.0-flash")).await.unwrap_err();
    assert_error_starts(
        &err,
        ErrorKind::Authentication,
        "cannot get a Google Cloud access token",
    );
    assert_eq!(err.provider.as_deref(), Some("vertex_ai"));
    assert_eq!(err.model.as_deref(), Some("gemini-2.0-flash"));
    assert!(!tokens.requests().is_empty());
    assert!(vertex.requests().is_empty());
}

#[tokio::test]
async fn vertex_errors_map_like_gemini() {
    let tokens = gemini::start_token_endpoint().await.unwrap();
    let vertex = gemini::start_vertex().await.unwrap();
    let provider = vertex_at(&vertex, &tokens);
    vertex.enqueue(MockResponse::json(
        400,
        &error_body(
            400,
            "Unable to submit request because the input token count is 40000 but model only supports up to 32768. Reduce the input token count and try again.",
            "INVALID_ARGUMENT",
        ),
    ));
    let err = provider.chat(hello("gemini-2.0-flash")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ContextWindowExceeded);
    assert_eq!(err.provider.as_deref(), Some("vertex_ai"));
    vertex.enqueue(MockResponse::json(
        429,
        &error_body(
            429,
            "Resource exhausted. Please try again later.",
            "RESOURCE_EXHAUSTED",
        ),
    ));
    let err = provider.chat(hello("gemini-2.0-flash")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimit);
    vertex.enqueue(MockResponse::json(
        404,
        &error_body(404, "Publisher Model `projects/p/locations/us-central1/publishers/google/models/gemini-9` was not found or your project does not have access to it.", "NOT_FOUND"),
    ));
    let err = provider.chat(hello("gemini-9")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.model.as_deref(), Some("gemini-9"));
}
