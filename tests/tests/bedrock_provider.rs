//! llmux-bedrock against a mock Bedrock runtime, through the real transport:
//! exact signed requests (the mock recomputes every SigV4 signature with its
//! own implementation, itself checked here against AWS's published test
//! vectors), exact OpenAI-shaped results, corrupted binary event streams and
//! each credential source; every error kind and stream failure (streams split
//! at every byte among them) through the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use llmux_bedrock::BedrockProvider;
use llmux_core::stream::collect_stream;
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest};
use llmux_core::Codec;
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_tests::conformance::{
    assert_error, assert_error_starts, assert_json_post, assert_unsupported, expected_chunk,
    expected_usage_chunk, hello, params_at, started, text_chunks, Conformance, ErrorCase,
    MidStreamError, PartialStream,
};
use llmux_tests::mock::bedrock::{
    self, canonical_request, error, event, exception, signature, stream_answer, verify_sigv4,
    ACCESS_KEY_ID, BEARER_KEY, REPLY, REQUEST_ID, SECRET_ACCESS_KEY, SESSION_TOKEN,
    TEMP_ACCESS_KEY_ID, TEMP_SECRET_ACCESS_KEY,
};
use llmux_tests::mock::{Behaviour, MockResponse, MockServer, RecordedRequest, StreamPart};
use serde_json::{json, Value};

const CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const CLAUDE_PATH: &str = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0";

fn params(server: &MockServer, pairs: &[(&str, &str)]) -> ProviderParams {
    let mut p = ProviderParams {
        api_base: Some(server.url()),
        ..Default::default()
    };
    for (k, v) in pairs {
        p.extra.insert((*k).into(), json!(v));
    }
    p
}

/// A provider from the environment `env` alone.
fn from_env(env: &MapEnv) -> BedrockProvider {
    BedrockProvider::from_params("bedrock", &ProviderParams::default(), env).unwrap()
}

/// The error a provider made from `p` and `env` gets for [`hello`].
async fn hello_error(p: &ProviderParams, env: &MapEnv) -> llmux_core::Error {
    BedrockProvider::from_params("bedrock", p, env)
        .unwrap()
        .chat(hello(CLAUDE))
        .await
        .unwrap_err()
}

/// `provider` answers [`hello`] with the mock's reply.
async fn assert_replies(provider: &BedrockProvider) {
    assert_eq!(
        provider.chat(hello(CLAUDE)).await.unwrap().text(),
        Some(REPLY)
    );
}

/// `provider` answers [`hello`], and `server` saw it signed with
/// `access_key_id` over `signed_headers`.
async fn assert_signed_reply(
    provider: &BedrockProvider,
    server: &MockServer,
    access_key_id: &str,
    signed_headers: &str,
) {
    assert_replies(provider).await;
    assert_sigv4_shape(
        &server.last_request().unwrap(),
        access_key_id,
        signed_headers,
    );
}

/// Params for `server` with a long-term or temporary access key.
fn access_key_params(server: &MockServer, id: &str, secret: &str) -> ProviderParams {
    params(
        server,
        &[("aws_access_key_id", id), ("aws_secret_access_key", secret)],
    )
}

/// An environment of `pairs` whose runtime endpoint is `server`.
fn endpoint_env(server: &MockServer, pairs: &[(&str, &str)]) -> MapEnv {
    let endpoint = ("AWS_BEDROCK_RUNTIME_ENDPOINT".to_string(), server.url());
    MapEnv::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([endpoint]),
    )
}

/// A mock server, and an environment of `pairs` whose runtime endpoint it is.
async fn server_and_env(pairs: &[(&str, &str)]) -> (MockServer, MapEnv) {
    let server = bedrock::start().await.unwrap();
    let env = endpoint_env(&server, pairs);
    (server, env)
}

/// An OpenAI embedding list of `vectors` from `model`, `tokens` prompt tokens.
fn embedding_list(model: &str, vectors: &[Value], tokens: u64) -> Value {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
        .collect();
    json!({"object": "list", "data": data, "model": model,
           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
}

fn keyed(server: &MockServer) -> BedrockProvider {
    BedrockProvider::from_params(
        "bedrock",
        &params(
            server,
            &[
                ("aws_access_key_id", ACCESS_KEY_ID),
                ("aws_secret_access_key", SECRET_ACCESS_KEY),
                ("aws_region_name", "us-east-1"),
            ],
        ),
        &MapEnv::default(),
    )
    .unwrap()
}

fn hello_body() -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": "Hi"}]}], "system": [{"text": "Be brief."}]})
}

fn expected_completion(model: &str, created: u64) -> Value {
    json!({
        "id": format!("chatcmpl-{REQUEST_ID}"), "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}
    })
}

/// `AWS4-HMAC-SHA256 Credential=<id>/<today>/us-east-1/bedrock/aws4_request, SignedHeaders=<h>, Signature=<64 hex>`
fn assert_sigv4_shape(req: &RecordedRequest, access_key: &str, signed_headers: &str) {
    let auth = req.header("authorization").unwrap();
    let amz_date = req.header("x-amz-date").unwrap();
    assert_eq!(amz_date.len(), 16, "{amz_date}");
    let prefix = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{}/us-east-1/bedrock/aws4_request, SignedHeaders={signed_headers}, Signature=",
        &amz_date[..8]
    );
    let sig = auth
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{auth}"));
    assert_eq!(sig.len(), 64);
    assert!(sig
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}

fn recorded(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> RecordedRequest {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (path.to_string(), None),
    };
    RecordedRequest {
        method: method.parse().unwrap(),
        path,
        query,
        headers: map,
        body: Bytes::from(body.to_string()),
    }
}

/// 2015-08-30T12:36:00Z, the SigV4 test suite's time.
fn suite_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
}

#[test]
fn mock_sigv4_verifier_accepts_aws_published_test_vectors() {
    // From AWS's SigV4 test suite (aws-c-auth's aws-signing-test-suite/v4),
    // header-signed-request.txt of each case.
    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let creds: &[(&str, &str, Option<&str>)] = &[(AKID, SECRET, None)];
    let cases = [
        (
            "GET",
            "/",
            vec![],
            "",
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "POST",
            "/",
            vec![],
            "",
            "host;x-amz-date",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        (
            "GET",
            "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
            vec![],
            "",
            "host;x-amz-date",
            "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
        ),
        (
            "POST",
            "/",
            vec![
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", "13"),
                (
                    "x-amz-content-sha256",
                    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
                ),
            ],
            "Param1=value1",
            "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
            "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        ),
    ];
    for (method, path, extra, body, signed, sig) in cases {
        let auth = format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={sig}");
        let mut headers = vec![
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", auth.as_str()),
        ];
        headers.extend(extra);
        let req = recorded(method, path, &headers, body);
        let ok = verify_sigv4(&req, creds, "service", suite_time()).unwrap();
        assert_eq!(ok.signature, sig);
        // One changed byte of the body, or another secret, is refused.
        let tampered = recorded(method, path, &headers, &format!("{body}x"));
        if !signed.contains("x-amz-content-sha256") {
            assert_eq!(
                verify_sigv4(&tampered, creds, "service", suite_time())
                    .unwrap_err()
                    .exception,
                "InvalidSignatureException"
            );
        }
        let other: &[(&str, &str, Option<&str>)] = &[(AKID, "wrong", None)];
        assert!(verify_sigv4(&req, other, "service", suite_time()).is_err());
        // A day later the same request has expired.
        let late = suite_time() + Duration::from_secs(86_400);
        assert_eq!(
            verify_sigv4(&req, creds, "service", late)
                .unwrap_err()
                .message,
            "Signature expired"
        );
    }
    // The session-token vector (get-vanilla-with-session-token).
    let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    let creds: &[(&str, &str, Option<&str>)] = &[(AKID, SECRET, Some(token))];
    let req = recorded("GET", "/", &[("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"), ("X-Amz-Security-Token", token),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8")], "");
    verify_sigv4(&req, creds, "service", suite_time()).unwrap();
}

#[test]
fn encode_chat_at_matches_an_independently_computed_signature() {
    // Sign with aws-sigv4 (the provider) and recompute with the mock's own
    // SigV4 code: the Authorization header must be identical, including the
    // double-encoded `%3A` of the model id and the session token.
    let server_url = "https://bedrock-runtime.us-west-2.amazonaws.com";
    let mut p = ProviderParams {
        api_base: Some(server_url.into()),
        ..Default::default()
    };
    for (k, v) in [
        ("aws_access_key_id", TEMP_ACCESS_KEY_ID),
        ("aws_secret_access_key", TEMP_SECRET_ACCESS_KEY),
        ("aws_session_token", SESSION_TOKEN),
        ("aws_region_name", "us-west-2"),
    ] {
        p.extra.insert(k.into(), json!(v));
    }
    let provider = BedrockProvider::from_params("bedrock", &p, &MapEnv::default()).unwrap();
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600); // 2025-01-01T00:00:00Z
    let http = provider.encode_chat_at(&hello(CLAUDE), true, time).unwrap();
    assert_eq!(
        http.uri().to_string(),
        format!("{server_url}{CLAUDE_PATH}/converse-stream")
    );
    let headers: Vec<(String, String)> = http
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        [
            "content-type",
            "host",
            "x-amz-date",
            "authorization",
            "x-amz-security-token"
        ]
    );
    assert_eq!(
        http.headers()["host"],
        "bedrock-runtime.us-west-2.amazonaws.com"
    );
    assert_eq!(http.headers()["x-amz-date"], "20250101T000000Z");
    assert_eq!(http.headers()["x-amz-security-token"], SESSION_TOKEN);
    let body = std::str::from_utf8(http.body()).unwrap().to_string();
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), hello_body());
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = recorded(
        "POST",
        &format!("{CLAUDE_PATH}/converse-stream"),
        &pairs,
        &body,
    );
    let signed = ["content-type", "host", "x-amz-date", "x-amz-security-token"].map(String::from);
    let canonical = canonical_request(&req, &signed);
    assert!(
        canonical
            .contains("/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse-stream\n"),
        "{canonical}"
    );
    let expected = signature(
        TEMP_SECRET_ACCESS_KEY,
        "20250101T000000Z",
        "20250101",
        "us-west-2",
        "bedrock",
        &canonical,
    );
    assert_eq!(
        http.headers()["authorization"],
        format!("AWS4-HMAC-SHA256 Credential={TEMP_ACCESS_KEY_ID}/20250101/us-west-2/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature={expected}").as_str()
    );
}

#[tokio::test]
async fn chat_sends_an_exact_signed_request_and_decodes_the_response() {
    let (server, provider) = started(bedrock::start(), keyed).await;
    let mut req = hello(CLAUDE);
    req.max_tokens = Some(64);
    req.temperature = Some(0.3);
    let resp = provider.chat(req).await.unwrap();

    let sent = server.last_request().unwrap();
    assert_json_post(&sent, &format!("{CLAUDE_PATH}/converse"));
    assert_eq!(
        sent.header("host"),
        Some(server.url().trim_start_matches("http://"))
    );
    assert_eq!(sent.header("x-amz-security-token"), None);
    assert_sigv4_shape(&sent, ACCESS_KEY_ID, "content-type;host;x-amz-date");
    // The mock recomputed the signature and accepted it:
    verify_sigv4(&sent, bedrock::CREDENTIALS, "bedrock", SystemTime::now()).unwrap();
    let mut body = hello_body();
    body["inferenceConfig"] = json!({"maxTokens": 64, "temperature": 0.3});
    assert_eq!(sent.json(), body);
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        expected_completion(CLAUDE, resp.created)
    );
}

#[tokio::test]
async fn inference_profiles_and_arns_are_one_encoded_segment() {
    let (server, provider) = started(bedrock::start(), keyed).await;
    for (model, path) in [
        ("us.amazon.nova-pro-v1:0", "/model/us.amazon.nova-pro-v1%3A0/converse"),
        ("meta.llama3-1-70b-instruct-v1:0", "/model/meta.llama3-1-70b-instruct-v1%3A0/converse"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        ),
        ("converse/us.amazon.nova-lite-v1:0", "/model/us.amazon.nova-lite-v1%3A0/converse"),
    ] {
        let resp = provider.chat(hello(model)).await.unwrap();
        assert_eq!(resp.text(), Some(REPLY), "{model}");
        assert_eq!(server.last_request().unwrap().path, path);
    }
    // `invoke/` serves Claude through InvokeModel; other models only on Converse.
    let resp = provider
        .chat(hello("invoke/anthropic.claude-v2"))
        .await
        .unwrap();
    assert_eq!(resp.text(), Some(REPLY));
    assert_eq!(
        server.last_request().unwrap().path,
        "/model/anthropic.claude-v2/invoke"
    );
    assert_unsupported(
        provider
            .chat(hello("invoke/meta.llama3-8b-instruct-v1:0"))
            .await,
    );
}

#[tokio::test]
async fn session_tokens_are_sent_and_signed() {
    let server = bedrock::start().await.unwrap();
    let mut p = access_key_params(&server, TEMP_ACCESS_KEY_ID, TEMP_SECRET_ACCESS_KEY);
    p.extra
        .insert("aws_session_token".into(), json!(SESSION_TOKEN));
    let provider = BedrockProvider::from_params("bedrock", &p, &MapEnv::default()).unwrap();
    assert_replies(&provider).await;
    let sent = server.last_request().unwrap();
    assert_eq!(sent.header("x-amz-security-token"), Some(SESSION_TOKEN));
    assert_sigv4_shape(
        &sent,
        TEMP_ACCESS_KEY_ID,
        "content-type;host;x-amz-date;x-amz-security-token",
    );

    // Without the token, or with the wrong one, the temporary key is refused.
    let mut p2 = p.clone();
    p2.extra.remove("aws_session_token");
    let err = hello_error(&p2, &MapEnv::default()).await;
    assert_error(
        &err,
        ErrorKind::Authentication,
        "The security token included in the request is invalid.",
    );
    assert_eq!(err.upstream_status, Some(403));
}

#[tokio::test]
async fn a_wrong_secret_is_an_authentication_error() {
    let server = bedrock::start().await.unwrap();
    let p = access_key_params(&server, ACCESS_KEY_ID, "not-the-secret");
    let err = hello_error(&p, &MapEnv::default()).await;
    assert_error_starts(
        &err,
        ErrorKind::Authentication,
        "The request signature we calculated does not match",
    );
    assert_eq!(err.provider.as_deref(), Some("bedrock"));
    assert_eq!(err.model.as_deref(), Some(CLAUDE));
}

#[tokio::test]
async fn bedrock_api_keys_are_bearer_tokens_from_params_or_env() {
    let (server, env) = server_and_env(&[
        ("AWS_BEARER_TOKEN_BEDROCK", BEARER_KEY),
        ("AWS_REGION", "eu-west-1"),
    ])
    .await;
    let provider = from_env(&env);
    assert_eq!(provider.region(), "eu-west-1");
    assert_replies(&provider).await;
    let sent = server.last_request().unwrap();
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {BEARER_KEY}").as_str())
    );
    assert_eq!(sent.header("x-amz-date"), None);
    assert_eq!(sent.json(), hello_body());

    let p = ProviderParams {
        api_key: Some("ABSKwrong".into()),
        api_base: Some(server.url()),
        ..Default::default()
    };
    let err = hello_error(&p, &env).await;
    assert_eq!(err.kind, ErrorKind::Authentication);
}

#[tokio::test]
async fn credentials_from_env_and_from_a_shared_credentials_profile() {
    let (server, env) = server_and_env(&[
        ("AWS_ACCESS_KEY_ID", TEMP_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", TEMP_SECRET_ACCESS_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
    ])
    .await;
    assert_signed_reply(
        &from_env(&env),
        &server,
        TEMP_ACCESS_KEY_ID,
        "content-type;host;x-amz-date;x-amz-security-token",
    )
    .await;

    let dir = std::env::temp_dir().join(format!("llmux-bedrock-it-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".aws")).unwrap();
    std::fs::write(
        dir.join(".aws/credentials"),
        format!("[default]\naws_access_key_id = AKIDNOPE\naws_secret_access_key = nope\n\n[llmux]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(".aws/config"),
        "[profile llmux]\nregion = us-east-1\n",
    )
    .unwrap();
    let env = endpoint_env(
        &server,
        &[("HOME", &dir.to_string_lossy()), ("AWS_PROFILE", "llmux")],
    );
    assert_signed_reply(
        &from_env(&env),
        &server,
        ACCESS_KEY_ID,
        "content-type;host;x-amz-date",
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);

    let err = BedrockProvider::from_params(
        "bedrock",
        &ProviderParams::default(),
        &MapEnv::new([("HOME", "/nonexistent")]),
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert!(err.message.contains("AWS_ACCESS_KEY_ID"));
}

#[tokio::test]
async fn default_endpoint_is_regional() {
    let env = MapEnv::new([
        ("AWS_BEARER_TOKEN_BEDROCK", "k"),
        ("AWS_DEFAULT_REGION", "ap-south-1"),
    ]);
    let provider = from_env(&env);
    assert_eq!(
        provider.endpoint(),
        "https://bedrock-runtime.ap-south-1.amazonaws.com"
    );
    assert_eq!(
        provider
            .encode_chat(&hello(CLAUDE), false)
            .unwrap()
            .uri()
            .to_string(),
        format!("https://bedrock-runtime.ap-south-1.amazonaws.com{CLAUDE_PATH}/converse")
    );
    let mut p = ProviderParams::default();
    p.extra.insert(
        "aws_bedrock_runtime_endpoint".into(),
        json!("https://vpce-0123.bedrock-runtime.us-east-1.vpce.amazonaws.com/"),
    );
    let provider = BedrockProvider::from_params("bedrock", &p, &env).unwrap();
    assert_eq!(
        provider.endpoint(),
        "https://vpce-0123.bedrock-runtime.us-east-1.vpce.amazonaws.com"
    );
    p.api_base = Some("not a url".into());
    assert_eq!(
        BedrockProvider::from_params("bedrock", &p, &env)
            .unwrap_err()
            .kind,
        ErrorKind::BadRequest
    );
}

async fn chunks_of(provider: &BedrockProvider, model: &str) -> Vec<Value> {
    provider
        .chat_stream(hello(model))
        .await
        .unwrap()
        .map(|c| serde_json::to_value(c.unwrap()).unwrap())
        .collect()
        .await
}

#[tokio::test]
async fn stream_yields_exact_chunks_then_usage() {
    let (server, provider) = started(bedrock::start(), keyed).await;
    let chunks = chunks_of(&provider, CLAUDE).await;
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, format!("{CLAUDE_PATH}/converse-stream"));
    assert_eq!(sent.json(), hello_body());
    assert_sigv4_shape(&sent, ACCESS_KEY_ID, "content-type;host;x-amz-date");
    let created = chunks[0]["created"].as_u64().unwrap();
    let id = format!("chatcmpl-{REQUEST_ID}");
    let chunk = |delta: Value, finish: Value| expected_chunk(&id, created, CLAUDE, delta, finish);
    let mut expected = text_chunks(chunk, &["Hello", " from the mock", " Bedrock!"]);
    expected.push(expected_usage_chunk(
        &id,
        created,
        CLAUDE,
        json!({"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}),
    ));
    assert_eq!(chunks, expected);
}

#[tokio::test]
async fn stream_with_tool_use_and_reasoning() {
    let (server, provider) = started(bedrock::start(), keyed).await;
    server.enqueue(stream_answer(vec![
        event("messageStart", &json!({"role": "assistant"})),
        event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Need weather."}}})),
        event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "EqoBCkgIARABGAIiQ"}}})),
        event("contentBlockStop", &json!({"contentBlockIndex": 0})),
        event("contentBlockStart", &json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "get_weather"}}})),
        event("contentBlockDelta", &json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"city\": \"Pa"}}})),
        event("contentBlockDelta", &json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "ris\"}"}}})),
        event("contentBlockStop", &json!({"contentBlockIndex": 1})),
        event("messageStop", &json!({"stopReason": "tool_use"})),
        event("metadata", &json!({"usage": {"inputTokens": 50, "outputTokens": 20, "totalTokens": 70, "cacheReadInputTokens": 30, "cacheWriteInputTokens": 5}, "metrics": {"latencyMs": 900}})),
    ]));
    let c = collect_stream(provider.chat_stream(hello(CLAUDE)).await.unwrap())
        .await
        .unwrap();
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(
        v["choices"][0],
        json!({"index": 0, "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}],
            "reasoning_content": "Need weather.",
            "thinking_blocks": [{"type": "thinking", "thinking": "Need weather.", "signature": "EqoBCkgIARABGAIiQ"}]},
            "logprobs": null, "finish_reason": "tool_calls"})
    );
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 85, "completion_tokens": 20, "total_tokens": 105, "prompt_tokens_details": {"cached_tokens": 30, "cache_creation_tokens": 5}})
    );
}

/// Provider fidelity finding: `response_format` was refused on Bedrock. It
/// is sent as the forced `json_tool_call` tool, whose input comes back as
/// the content, whole and streamed.
#[tokio::test]
async fn response_format_through_a_forced_tool() {
    let (server, provider) = started(bedrock::start(), keyed).await;
    let mut req = hello(CLAUDE);
    req.response_format = Some(llmux_core::types::chat::ResponseFormat::JsonObject);
    server.enqueue(MockResponse::json(
        200,
        &json!({"output": {"message": {"role": "assistant", "content": [
                    {"toolUse": {"toolUseId": "tooluse_json", "name": "json_tool_call", "input": {"name": "Ada"}}}]}},
                "stopReason": "tool_use",
                "usage": {"inputTokens": 12, "outputTokens": 6, "totalTokens": 18}}),
    ));
    let c = provider.chat(req.clone()).await.unwrap();
    let sent = server.last_request().unwrap().json();
    assert_eq!(
        sent["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "json_tool_call", "inputSchema": {"json": {"type": "object"}}}}],
               "toolChoice": {"tool": {"name": "json_tool_call"}}})
    );
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(
        v["choices"][0],
        json!({"index": 0, "message": {"role": "assistant", "content": "{\"name\":\"Ada\"}"}, "logprobs": null, "finish_reason": "stop"})
    );
    server.enqueue(stream_answer(vec![
        event("messageStart", &json!({"role": "assistant"})),
        event("contentBlockStart", &json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "tooluse_json", "name": "json_tool_call"}}})),
        event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"name\":"}}})),
        event("contentBlockDelta", &json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "\"Ada\"}"}}})),
        event("contentBlockStop", &json!({"contentBlockIndex": 0})),
        event("messageStop", &json!({"stopReason": "tool_use"})),
        event("metadata", &json!({"usage": {"inputTokens": 12, "outputTokens": 6, "totalTokens": 18}})),
    ]));
    let c = collect_stream(provider.chat_stream(req).await.unwrap())
        .await
        .unwrap();
    assert_eq!(c.text(), Some("{\"name\":\"Ada\"}"));
    assert_eq!(c.choices[0].message.tool_calls, None);
    assert_eq!(
        c.choices[0].finish_reason,
        Some(llmux_core::types::chat::FinishReason::Stop)
    );
}

/// A flipped bit in the second frame's payload: the first chunk arrives,
/// then a BadGateway error (CRC mismatch), never a panic or a wrong chunk.
#[tokio::test]
async fn a_corrupted_frame_fails_the_stream_cleanly() {
    let (server, provider) = started(bedrock::start(), keyed).await;
    let mut frames = bedrock::stream_events();
    let n = frames[1].len();
    frames[1][n - 6] ^= 0x01;
    server.enqueue(stream_answer(frames));
    let items: Vec<_> = provider
        .chat_stream(hello(CLAUDE))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadGateway);
    assert!(
        err.message.contains("malformed AWS event stream"),
        "{}",
        err.message
    );
}

/// Bedrock's own validation of the model id is a `BadRequest` with its message.
#[tokio::test]
async fn an_unknown_model_id_is_a_bad_request() {
    let (_server, provider) = started(bedrock::start(), keyed).await;
    let err = provider.chat(hello("unknown.model-v1")).await.unwrap_err();
    assert_error(
        &err,
        ErrorKind::BadRequest,
        "The provided model identifier is invalid.",
    );
    assert_eq!(err.upstream_status, Some(400));
}

#[tokio::test]
async fn embeddings_titan_one_call_per_text_and_cohere_in_one() {
    let (server, provider) = started(bedrock::start(), keyed).await;
    let mut req = EmbeddingRequest::new(
        "amazon.titan-embed-text-v2:0",
        EmbeddingInput::Texts(vec!["hello world".into(), "a b c".into()]),
    );
    req.dimensions = Some(256);
    let resp = provider.embeddings(req).await.unwrap();
    let sent = server.requests();
    assert_eq!(sent.len(), 2);
    let mut bodies: Vec<Value> = sent.iter().map(RecordedRequest::json).collect();
    bodies.sort_by_key(|b| b["inputText"].as_str().unwrap().to_string());
    assert_eq!(
        bodies,
        vec![
            json!({"inputText": "a b c", "dimensions": 256}),
            json!({"inputText": "hello world", "dimensions": 256})
        ]
    );
    for r in &sent {
        assert_eq!(r.path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
        assert_sigv4_shape(r, ACCESS_KEY_ID, "content-type;host;x-amz-date");
    }
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        embedding_list(
            "amazon.titan-embed-text-v2:0",
            &[json!([0.125, -0.5, 11.0]), json!([0.125, -0.5, 5.0])],
            5
        )
    );

    let mut req = EmbeddingRequest::new(
        "cohere.embed-english-v3",
        EmbeddingInput::Texts(vec!["one two".into(), "three".into()]),
    );
    req.extra.insert("input_type".into(), json!("search_query"));
    let resp = provider.embeddings(req).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/model/cohere.embed-english-v3/invoke");
    assert_eq!(
        sent.json(),
        json!({"texts": ["one two", "three"], "input_type": "search_query"})
    );
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        embedding_list(
            "cohere.embed-english-v3",
            &[json!([0.25, -0.75, 7.0]), json!([0.25, -0.75, 5.0])],
            3
        )
    );
    assert_unsupported(
        provider
            .embeddings(EmbeddingRequest::new(
                "amazon.titan-embed-image-v1",
                EmbeddingInput::Text("x".into()),
            ))
            .await,
    );
}

/// Bedrock (SigV4 with a long-term key) through the shared conformance suite.
struct BedrockHarness;

impl Conformance for BedrockHarness {
    const PROVIDER: &'static str = "bedrock";
    const REPLY: &'static str = REPLY;
    const CHAT_MODEL: &'static str = CLAUDE;
    const TRUNCATED_MESSAGE: &'static str =
        "upstream stream ended before it was complete (no messageStop)";

    fn behaviour() -> Behaviour {
        bedrock::behaviour
    }

    fn provider(base_url: &str, timeout: Option<Duration>) -> Arc<dyn Provider> {
        let mut params = params_at(base_url, timeout);
        for (k, v) in [
            ("aws_access_key_id", ACCESS_KEY_ID),
            ("aws_secret_access_key", SECRET_ACCESS_KEY),
            ("aws_region_name", "us-east-1"),
        ] {
            params.extra.insert(k.into(), json!(v));
        }
        llmux_router::resolve(&format!("bedrock/{CLAUDE}"), &params, &MapEnv::default())
            .unwrap()
            .provider
    }

    /// Bedrock's exceptions, named in `x-amzn-ErrorType`: one status can
    /// mean different kinds (429 throttling vs. model not ready).
    fn error_cases() -> Vec<ErrorCase> {
        use ErrorKind::*;
        let case = |status: u16, kind: ErrorKind, exception: &str, message: &'static str| {
            ErrorCase::new(error(status, exception, message), kind, message)
        };
        vec![
            case(
                400,
                BadRequest,
                "ValidationException",
                "Malformed input request: extraneous key [foo] is not permitted",
            ),
            case(
                400,
                ContextWindowExceeded,
                "ValidationException",
                "Too many input tokens. Max input tokens: 8192, request input token count: 9000",
            ),
            case(
                400,
                ContextWindowExceeded,
                "ValidationException",
                "Input is too long for requested model.",
            ),
            case(
                403,
                PermissionDenied,
                "AccessDeniedException",
                "You don't have access to the model with the specified model ID.",
            ),
            case(
                404,
                NotFound,
                "ResourceNotFoundException",
                "Could not resolve the foundation model from the provided model identifier.",
            ),
            case(
                429,
                RateLimit,
                "ThrottlingException",
                "Too many requests, please wait before trying again.",
            ),
            case(
                429,
                ServiceUnavailable,
                "ModelNotReadyException",
                "Model is not ready for inference. Wait and try your request again.",
            ),
            case(
                408,
                Timeout,
                "ModelTimeoutException",
                "Model has timed out in processing the request.",
            ),
            case(
                500,
                InternalServer,
                "InternalServerException",
                "The server encountered an internal error.",
            ),
            case(
                503,
                ServiceUnavailable,
                "ServiceUnavailableException",
                "Bedrock is unable to process your request.",
            ),
        ]
    }

    /// With the request id, which becomes the chunks' id.
    fn stream_response(parts: Vec<StreamPart>) -> MockResponse {
        MockResponse::stream("application/vnd.amazon.eventstream", parts)
            .with_header("x-amzn-RequestId", REQUEST_ID)
    }

    fn stream_body() -> Vec<u8> {
        bedrock::stream_events().concat()
    }

    /// `messageStart` and two deltas, no `messageStop`.
    fn truncated_stream() -> PartialStream {
        PartialStream {
            parts: frames(&bedrock::stream_events()[..3]),
            chunks: 3,
            text: "Hello from the mock",
        }
    }

    /// `messageStart` and one delta, then a `throttlingException` frame.
    fn mid_stream_error() -> MidStreamError {
        let message = "Too many tokens, please wait before trying again.";
        let mut events = bedrock::stream_events()[..2].to_vec();
        events.push(exception("throttlingException", message));
        MidStreamError {
            stream: PartialStream {
                parts: frames(&events),
                chunks: 2,
                text: "Hello",
            },
            kind: ErrorKind::RateLimit,
            message,
        }
    }

    /// JSON, but not a Converse response.
    fn malformed_body() -> MockResponse {
        MockResponse::raw(200, "application/json", "{\"output\": 1}")
    }
}

/// Event-stream frames as body parts, one frame each.
fn frames(events: &[Vec<u8>]) -> Vec<StreamPart> {
    events
        .iter()
        .map(|f| StreamPart::Bytes(Bytes::from(f.clone())))
        .collect()
}

llmux_tests::conformance_tests!(BedrockHarness);
