//! Claude on Bedrock (InvokeModel) and on Vertex AI (`rawPredict`): the
//! native `/v1/messages` path forwards the client's body (the model moved to
//! the URL, the platform's `anthropic_version` added, Bedrock's betas in the
//! body) and streams Anthropic's events back; `/chat/completions` reaches
//! the same models through Anthropic's translation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use llmux_tests::gateway::TestGateway;
use llmux_tests::mock::{anthropic, bedrock, gemini, MockServer};
use serde_json::{json, Value};

const MASTER: &str = "sk-master-claude-platforms";
const BEDROCK_ID: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const BEDROCK_PATH_ID: &str = "anthropic.claude-3-5-sonnet-20240620-v1%3A0";

struct Setup {
    bedrock: MockServer,
    vertex: MockServer,
    _tokens: MockServer,
    gw: TestGateway,
}

async fn setup() -> Setup {
    let bedrock = bedrock::start().await.unwrap();
    let vertex = gemini::start_vertex().await.unwrap();
    let tokens = gemini::start_token_endpoint().await.unwrap();
    let key_file = gemini::service_account_json(&format!("{}/token", tokens.url()), "cp-project");
    let config = format!(
        r#"
model_list:
  - model_name: claude-bedrock
    litellm_params:
      model: bedrock/{BEDROCK_ID}
      api_base: {bedrock}
      aws_access_key_id: {akid}
      aws_secret_access_key: {secret}
      aws_region_name: us-east-1
  - model_name: claude-bedrock-invoke
    litellm_params:
      model: bedrock/invoke/{BEDROCK_ID}
      api_base: {bedrock}
      aws_access_key_id: {akid}
      aws_secret_access_key: {secret}
      aws_region_name: us-east-1
  - model_name: claude-vertex
    litellm_params:
      model: vertex_ai/claude-sonnet-4-5
      api_base: {vertex}
      vertex_location: us-east5
      vertex_credentials: '{key_file}'
router_settings:
  num_retries: 0
general_settings:
  master_key: {MASTER}
"#,
        bedrock = bedrock.url(),
        vertex = vertex.url(),
        akid = bedrock::ACCESS_KEY_ID,
        secret = bedrock::SECRET_ACCESS_KEY,
    );
    let gw = TestGateway::start(&config).await.unwrap();
    Setup {
        bedrock,
        vertex,
        _tokens: tokens,
        gw,
    }
}

async fn post(gw: &TestGateway, path: &str, body: &Value, beta: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", gw.url))
        .header("x-api-key", MASTER)
        .header("anthropic-version", "2023-06-01");
    if let Some(b) = beta {
        req = req.header("anthropic-beta", b);
    }
    req.json(body).send().await.unwrap()
}

/// A Messages API request with a thinking block and a beta-only field.
fn messages_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model, "max_tokens": 64, "stream": stream,
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "…", "signature": "sig-1"}, {"type": "text", "text": "Hello"}]},
            {"role": "user", "content": "Again"}
        ],
        "context_management": {"edits": [{"type": "clear_thinking_20251015"}]}
    })
}

#[tokio::test]
async fn messages_go_natively_to_claude_on_bedrock() {
    let s = setup().await;
    let resp = post(
        &s.gw,
        "/v1/messages",
        &messages_body("claude-bedrock", false),
        Some("context-management-2025-06-27"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(
        answer["content"],
        json!([{"type": "text", "text": bedrock::REPLY}])
    );
    let sent = s.bedrock.last_request().unwrap();
    assert_eq!(sent.path, format!("/model/{BEDROCK_PATH_ID}/invoke"));
    let mut expected = messages_body("", false);
    let m = expected.as_object_mut().unwrap();
    m.remove("model");
    m.remove("stream");
    m.insert("anthropic_version".into(), json!("bedrock-2023-05-31"));
    m.insert(
        "anthropic_beta".into(),
        json!(["context-management-2025-06-27"]),
    );
    assert_eq!(
        sent.json(),
        expected,
        "the client's body, model and stream moved to the URL"
    );

    // Streamed: each `chunk` frame's Anthropic event, as Anthropic's SSE.
    let text = post(
        &s.gw,
        "/v1/messages",
        &messages_body("claude-bedrock", true),
        None,
    )
    .await
    .text()
    .await
    .unwrap();
    let sent = s.bedrock.last_request().unwrap();
    assert_eq!(
        sent.path,
        format!("/model/{BEDROCK_PATH_ID}/invoke-with-response-stream")
    );
    let events: Vec<(String, Value)> = text
        .trim_end()
        .split("\n\n")
        .map(|frame| {
            let (event, data) = frame.split_once('\n').unwrap();
            (
                event.strip_prefix("event: ").unwrap().to_string(),
                serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
            )
        })
        .collect();
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for (kind, data) in &events {
        assert_eq!(data["type"], json!(kind));
    }
    let deltas: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(deltas, bedrock::REPLY);
}

#[tokio::test]
async fn an_exception_mid_stream_reaches_the_client_as_anthropics_error_event() {
    let s = setup().await;
    use base64::Engine as _;
    let start = json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "claude", "content": [], "stop_reason": null, "usage": {"input_tokens": 9, "output_tokens": 1}}});
    let chunk = bedrock::event(
        "chunk",
        &json!({"bytes": base64::engine::general_purpose::STANDARD.encode(start.to_string())}),
    );
    s.bedrock.enqueue(bedrock::stream_answer(vec![
        chunk,
        bedrock::exception(
            "throttlingException",
            "Too many tokens, please wait before trying again.",
        ),
    ]));
    let text = post(
        &s.gw,
        "/v1/messages",
        &messages_body("claude-bedrock", true),
        None,
    )
    .await
    .text()
    .await
    .unwrap();
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert_eq!(
        last,
        r#"event: error
data: {"type":"error","error":{"type":"rate_limit_error","message":"Too many tokens, please wait before trying again."}}"#
    );
}

#[tokio::test]
async fn messages_go_natively_to_claude_on_vertex() {
    let s = setup().await;
    let beta = Some("context-management-2025-06-27");
    let resp = post(
        &s.gw,
        "/v1/messages",
        &messages_body("claude-vertex", false),
        beta,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        anthropic::default_message("claude-sonnet-4-5")
    );
    let sent = s.vertex.last_request().unwrap();
    assert_eq!(
        sent.path,
        "/v1/projects/cp-project/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5:rawPredict"
    );
    assert_eq!(sent.header("anthropic-beta"), beta);
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {}", gemini::ACCESS_TOKEN).as_str())
    );
    let mut expected = messages_body("", false);
    let m = expected.as_object_mut().unwrap();
    m.remove("model");
    m.insert("anthropic_version".into(), json!("vertex-2023-10-16"));
    assert_eq!(sent.json(), expected);

    let text = post(
        &s.gw,
        "/v1/messages",
        &messages_body("claude-vertex", true),
        None,
    )
    .await
    .text()
    .await
    .unwrap();
    let expected: String = anthropic::stream_events("claude-sonnet-4-5")
        .iter()
        .map(anthropic::sse_event)
        .collect();
    assert_eq!(text, expected, "Vertex's own SSE, byte for byte");
    assert!(s
        .vertex
        .last_request()
        .unwrap()
        .path
        .ends_with(":streamRawPredict"));
}

#[tokio::test]
async fn chat_completions_reach_claude_on_bedrock_invoke_and_vertex() {
    let s = setup().await;
    for (group, reply) in [
        ("claude-bedrock-invoke", bedrock::REPLY),
        ("claude-vertex", anthropic::REPLY),
    ] {
        let body = json!({"model": group, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 32});
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", s.gw.url))
            .bearer_auth(MASTER)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{group}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], reply, "{group}");
        assert_eq!(
            (
                v["usage"]["prompt_tokens"].as_u64(),
                v["usage"]["completion_tokens"].as_u64()
            ),
            (Some(9), Some(6)),
            "{group}"
        );

        let mut stream = body.clone();
        stream["stream"] = json!(true);
        let text = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", s.gw.url))
            .bearer_auth(MASTER)
            .json(&stream)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let content: String = text
            .split("\n\n")
            .filter_map(|f| f.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|c| {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(content, reply, "{group} streamed");
        assert!(text.ends_with("data: [DONE]\n\n"), "{group}: {text}");
    }
    let invoked: Vec<String> = s
        .bedrock
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        invoked,
        [
            format!("/model/{BEDROCK_PATH_ID}/invoke"),
            format!("/model/{BEDROCK_PATH_ID}/invoke-with-response-stream")
        ]
    );
    let body = s.bedrock.requests()[0].json();
    assert_eq!(
        (
            body["anthropic_version"].as_str(),
            body.get("model"),
            body["max_tokens"].as_u64()
        ),
        (Some("bedrock-2023-05-31"), None, Some(32))
    );
    // `bedrock/<claude id>` without `invoke/` keeps the Converse route for chat.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", s.gw.url))
        .bearer_auth(MASTER)
        .json(&json!({"model": "claude-bedrock", "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(s
        .bedrock
        .last_request()
        .unwrap()
        .path
        .ends_with("/converse"));
}

#[tokio::test]
async fn count_tokens_is_answered_by_bedrock_and_vertex() {
    let s = setup().await;
    for group in ["claude-bedrock", "claude-vertex"] {
        let body = json!({"model": group, "messages": [{"role": "user", "content": "Hi"}], "system": "Be brief."});
        let resp = post(&s.gw, "/v1/messages/count_tokens", &body, None).await;
        assert_eq!(resp.status(), 200, "{group}");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"input_tokens": gemini::COUNTED_TOKENS}),
            "{group}"
        );
    }
    let sent = s.bedrock.last_request().unwrap();
    assert_eq!(sent.path, format!("/model/{BEDROCK_PATH_ID}/count-tokens"));
    let inner: Value = serde_json::from_str(
        sent.json()["input"]["invokeModel"]["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        inner,
        json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1, "system": "Be brief.", "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]})
    );
    let sent = s.vertex.last_request().unwrap();
    assert_eq!(
        sent.path,
        "/v1/projects/cp-project/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict"
    );
    assert_eq!(sent.json()["model"], "claude-sonnet-4-5");
}
