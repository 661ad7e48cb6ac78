//! Pass-through routes end to end: each provider's own API through the
//! gateway against that provider's mock — the exact upstream request (path,
//! query, body; the caller's credential gone, the gateway's in its place),
//! the answer passed back untouched, a spend row priced from the answer's
//! usage, key checks and budgets before any upstream call, custom routes,
//! and faults.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use std::time::Duration;

use llmux_core::types::chat::Usage;
use llmux_cost::{CostOptions, PriceTable};
use llmux_tests::gateway::TestGateway;
use llmux_tests::mock::{
    anthropic, bedrock, cohere, gemini, openai, MockResponse, MockServer, StreamPart,
};
use serde_json::{json, Value};

const MASTER: &str = "sk-master-pass-through";

/// The mocks a gateway forwards to.
struct Upstreams {
    openai: MockServer,
    anthropic: MockServer,
    gemini: MockServer,
    bedrock: MockServer,
    cohere: MockServer,
    vertex: MockServer,
    tokens: MockServer,
}

impl Upstreams {
    async fn start() -> Upstreams {
        Upstreams {
            openai: openai::start().await.unwrap(),
            anthropic: anthropic::start().await.unwrap(),
            gemini: gemini::start().await.unwrap(),
            bedrock: bedrock::start().await.unwrap(),
            cohere: cohere::start().await.unwrap(),
            vertex: gemini::start_vertex().await.unwrap(),
            tokens: gemini::start_token_endpoint().await.unwrap(),
        }
    }
}

/// Deployments marked `use_in_pass_through` for every mock, and `custom`
/// lines under `general_settings`.
fn config(u: &Upstreams, custom: &str) -> String {
    let vertex_key =
        gemini::service_account_json(&format!("{}/token", u.tokens.url()), "pt-project");
    format!(
        r#"
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {openai}/v1
      api_key: sk-openai-upstream
      use_in_pass_through: true
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {anthropic}
      api_key: sk-ant-upstream
      use_in_pass_through: true
  - model_name: gemini
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: {gemini}
      api_key: gemini-upstream-key
      use_in_pass_through: true
  - model_name: bedrock-claude
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      api_base: {bedrock}
      aws_access_key_id: {akid}
      aws_secret_access_key: {secret}
      aws_region_name: us-east-1
      use_in_pass_through: true
  - model_name: command
    litellm_params:
      model: cohere/command-a-03-2025
      api_base: {cohere}
      api_key: co-upstream
      use_in_pass_through: true
  - model_name: vertex-gemini
    litellm_params:
      model: vertex_ai/gemini-2.5-flash
      api_base: {vertex}
      vertex_location: us-central1
      vertex_credentials: '{vertex_key}'
      use_in_pass_through: true
router_settings:
  num_retries: 0
general_settings:
  master_key: {MASTER}
{custom}"#,
        openai = u.openai.url(),
        anthropic = u.anthropic.url(),
        gemini = u.gemini.url(),
        bedrock = u.bedrock.url(),
        cohere = u.cohere.url(),
        vertex = u.vertex.url(),
        akid = bedrock::ACCESS_KEY_ID,
        secret = bedrock::SECRET_ACCESS_KEY,
    )
}

async fn gateway(u: &Upstreams, custom: &str) -> TestGateway {
    TestGateway::start_with_env(
        &config(u, custom),
        None,
        &[("DATABASE_URL", &format!("sqlite://{}", tempfile_path()))],
    )
    .await
    .unwrap()
}

fn tempfile_path() -> String {
    std::env::temp_dir()
        .join(format!(
            "llmux-pass-through-{}-{}.db",
            std::process::id(),
            fastrand::u64(..)
        ))
        .display()
        .to_string()
}

/// What the price table charges `model` for `usage`, in nano-dollars.
fn table_cost(model: &str, usage: &Usage) -> i64 {
    PriceTable::embedded()
        .lookup(model)
        .unwrap()
        .cost_per_token(usage, &CostOptions::default())
        .unwrap()
        .total()
        .nano()
}

/// A raw call: (status, headers, body text).
async fn raw(
    gw: &TestGateway,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", gw.url));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

/// The spend rows written so far: (call_type, model, prompt, completion, spend_nano).
async fn spend_rows(gw: &TestGateway) -> Vec<(String, String, i64, i64, i64)> {
    gw.gateway.flush().await;
    let pool = llmux_tests::db::any_pool(&gw.database_url).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT call_type, model, prompt_tokens, completion_tokens, spend_nano FROM llmux_spend_logs ORDER BY start_time, call_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let mut rows: Vec<(String, String, i64, i64, i64)> = rows;
    rows.sort();
    rows
}

async fn key(gw: &TestGateway, body: Value) -> String {
    common::new_key(gw, MASTER, body).await.0
}

#[tokio::test]
async fn openai_chat_is_forwarded_untouched_with_the_gateways_key_and_priced() {
    let u = Upstreams::start().await;
    let gw = gateway(&u, "").await;
    let k = key(&gw, json!({})).await;
    let body =
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":20}"#;
    let bearer = format!("Bearer {k}");
    let (status, headers, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/openai/v1/chat/completions?trace=1",
        &[
            ("authorization", &bearer),
            ("openai-beta", "x"),
            ("accept-encoding", "gzip"),
        ],
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let expected = openai::chat_completion("gpt-4o-mini");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
    assert!(headers.get("x-request-id").is_some());
    let sent = u.openai.last_request().unwrap();
    assert_eq!(sent.path_and_query(), "/v1/chat/completions?trace=1");
    assert_eq!(sent.body, body.as_bytes());
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer sk-openai-upstream")
    );
    assert_eq!(sent.header("openai-beta"), Some("x"));
    assert_eq!(sent.header("accept-encoding"), None);

    // Streamed: priced from the last chunk's usage.
    let stream = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}"#;
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/openai/v1/chat/completions",
        &[("authorization", &bearer)],
        Some(stream),
    )
    .await;
    assert_eq!(status, 200);
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    // An endpoint llmux does not model is forwarded too, and costs nothing.
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::GET,
        "/openai/v1/models",
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&text).unwrap()),
        (200, openai::models())
    );

    let cost = table_cost("openai/gpt-4o-mini", &Usage::new(9, 5));
    assert!(cost > 0);
    assert_eq!(
        spend_rows(&gw).await,
        vec![
            ("pass_through/openai".into(), "openai/".into(), 0, 0, 0),
            (
                "pass_through/openai".into(),
                "openai/gpt-4o-mini".into(),
                9,
                5,
                cost
            ),
            (
                "pass_through/openai".into(),
                "openai/gpt-4o-mini".into(),
                9,
                5,
                cost
            ),
        ]
    );
}

#[tokio::test]
async fn gemini_keys_in_header_or_query_are_swapped_and_streams_priced() {
    let u = Upstreams::start().await;
    let gw = gateway(&u, "").await;
    let k = key(&gw, json!({})).await;
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#;
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
        &[("x-goog-api-key", &k)],
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        gemini::generate_content_response("gemini-2.5-flash")
    );
    let sent = u.gemini.last_request().unwrap();
    assert_eq!(
        sent.path_and_query(),
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some("gemini-upstream-key"));
    assert_eq!(sent.body, body.as_bytes());

    let path =
        format!("/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key={k}");
    let (status, _, text) = raw(&gw, reqwest::Method::POST, &path, &[], Some(body)).await;
    assert_eq!(status, 200, "{text}");
    let expected: String = gemini::stream_events("gemini-2.5-flash")
        .iter()
        .map(|e| format!("data: {e}\r\n\r\n"))
        .collect();
    assert_eq!(text, expected);
    let sent = u.gemini.last_request().unwrap();
    assert_eq!(
        sent.path_and_query(),
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some("gemini-upstream-key"));

    let cost = table_cost("gemini/gemini-2.5-flash", &Usage::new(9, 6));
    let row = (
        "pass_through/gemini".to_string(),
        "gemini/gemini-2.5-flash".to_string(),
        9,
        6,
        cost,
    );
    assert_eq!(spend_rows(&gw).await, vec![row.clone(), row]);
}

#[tokio::test]
async fn anthropic_messages_stream_through_with_the_gateways_x_api_key() {
    let u = Upstreams::start().await;
    let gw = gateway(&u, "").await;
    let k = key(&gw, json!({})).await;
    let body = r#"{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;
    let (status, headers, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/anthropic/v1/messages",
        &[
            ("x-api-key", &k),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "b1"),
        ],
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let expected: String = anthropic::stream_events("claude-sonnet-4-5")
        .iter()
        .map(anthropic::sse_event)
        .collect();
    assert_eq!(text, expected);
    let sent = u.anthropic.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-upstream"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("anthropic-beta"), Some("b1"));
    assert_eq!(sent.body, body.as_bytes());
    let usage = Usage::with_cache(
        anthropic::INPUT_TOKENS,
        anthropic::OUTPUT_TOKENS,
        Some(0),
        Some(0),
    );
    let cost = table_cost("anthropic/claude-sonnet-4-5", &usage);
    assert_eq!(
        spend_rows(&gw).await,
        vec![(
            "pass_through/anthropic".into(),
            "anthropic/claude-sonnet-4-5".into(),
            9,
            6,
            cost
        )]
    );
}

#[tokio::test]
async fn bedrock_calls_are_signed_again_with_the_gateways_credentials() {
    let u = Upstreams::start().await;
    let gw = gateway(&u, "").await;
    let k = key(&gw, json!({})).await;
    // What boto3 sends: its own SigV4 signature, the llmux key beside it.
    let caller = [
        ("authorization", "AWS4-HMAC-SHA256 Credential=AKIDCALLER/20261206/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"),
        ("x-amz-date", "20261206T000000Z"),
        ("x-litellm-api-key", k.as_str()),
    ];
    let model = "anthropic.claude-3-5-sonnet-20240620-v1%3A0";
    let converse = r#"{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}"#;
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        &format!("/bedrock/model/{model}/converse"),
        &caller,
        Some(converse),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        bedrock::converse_response()
    );
    let sent = u.bedrock.last_request().unwrap();
    assert_eq!(sent.path, format!("/model/{model}/converse"));
    assert!(sent
        .header("authorization")
        .unwrap()
        .contains(bedrock::ACCESS_KEY_ID));
    assert_eq!(sent.header("x-litellm-api-key"), None);
    assert_eq!(sent.body, converse.as_bytes());

    let (status, headers, bytes) = {
        let resp = reqwest::Client::new()
            .post(format!("{}/bedrock/model/{model}/converse-stream", gw.url))
            .header("x-litellm-api-key", &k)
            .body(converse)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.headers().clone(),
            resp.bytes().await.unwrap(),
        )
    };
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "application/vnd.amazon.eventstream"
    );
    assert_eq!(bytes.to_vec(), bedrock::stream_events().concat());

    let invoke = r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}"#;
    for action in ["invoke", "invoke-with-response-stream"] {
        let (status, _, text) = raw(
            &gw,
            reqwest::Method::POST,
            &format!("/bedrock/model/{model}/{action}"),
            &caller,
            Some(invoke),
        )
        .await;
        assert_eq!(status, 200, "{action}: {text}");
    }
    let model = "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0";
    let cost = table_cost(model, &Usage::new(9, 6));
    let row = (
        "pass_through/bedrock".to_string(),
        model.to_string(),
        9,
        6,
        cost,
    );
    assert_eq!(
        spend_rows(&gw).await,
        vec![row.clone(), row.clone(), row.clone(), row]
    );
}

#[tokio::test]
async fn cohere_chat_and_rerank_are_priced_by_tokens_and_search_units() {
    let u = Upstreams::start().await;
    let gw = gateway(&u, "").await;
    let k = key(&gw, json!({})).await;
    let bearer = format!("Bearer {k}");
    let chat = r#"{"model":"command-a-03-2025","messages":[{"role":"user","content":"Hi"}],"stream":true}"#;
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/cohere/v2/chat",
        &[("authorization", &bearer)],
        Some(chat),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let sent = u.cohere.last_request().unwrap();
    assert_eq!(sent.header("authorization"), Some("Bearer co-upstream"));
    let rerank = r#"{"model":"rerank-english-v3.0","query":"q","documents":["a","b"]}"#;
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/cohere/v2/rerank",
        &[("authorization", &bearer)],
        Some(rerank),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let units = serde_json::from_str::<Value>(&text).unwrap()["meta"]["billed_units"]
        ["search_units"]
        .as_u64()
        .unwrap();
    let rerank_cost = PriceTable::embedded()
        .lookup("cohere/rerank-english-v3.0")
        .unwrap()
        .rerank_cost(units, 0, &CostOptions::default())
        .unwrap()
        .total()
        .nano();
    assert!(rerank_cost > 0);
    let rows = spend_rows(&gw).await;
    let chat_cost = table_cost("cohere/command-a-03-2025", &Usage::new(9, 6));
    assert_eq!(
        rows[0],
        (
            "pass_through/cohere".into(),
            "cohere/command-a-03-2025".into(),
            9,
            6,
            chat_cost
        )
    );
    assert_eq!(
        (rows[1].1.as_str(), rows[1].4),
        ("cohere/rerank-english-v3.0", rerank_cost)
    );
}

#[tokio::test]
async fn vertex_calls_carry_the_gateways_oauth_token() {
    let u = Upstreams::start().await;
    let gw = gateway(&u, "").await;
    let k = key(&gw, json!({})).await;
    let path = "/v1/projects/pt-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent";
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#;
    let bearer = format!("Bearer {k}");
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        &format!("/vertex_ai{path}"),
        &[("authorization", &bearer)],
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let sent = u.vertex.last_request().unwrap();
    assert_eq!(sent.path, path);
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {}", gemini::ACCESS_TOKEN).as_str())
    );
    let cost = table_cost("vertex_ai/gemini-2.5-flash", &Usage::new(9, 6));
    assert_eq!(
        spend_rows(&gw).await,
        vec![(
            "pass_through/vertex_ai".into(),
            "vertex_ai/gemini-2.5-flash".into(),
            9,
            6,
            cost
        )]
    );
}

#[tokio::test]
async fn keys_are_checked_before_any_upstream_call() {
    let u = Upstreams::start().await;
    let gw = gateway(&u, "").await;
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#;
    let path = "/gemini/v1beta/models/gemini-2.5-flash:generateContent";
    // No key, a wrong key: 401 in Google's error shape.
    for headers in [vec![], vec![("x-goog-api-key", "sk-wrong")]] {
        let (status, _, text) = raw(&gw, reqwest::Method::POST, path, &headers, Some(body)).await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (
                status,
                v["error"]["code"].clone(),
                v["error"]["status"].clone()
            ),
            (401, json!(401), json!("UNAUTHENTICATED")),
            "{text}"
        );
    }
    // A key restricted to other models: 403 (Bedrock's shape).
    let limited = key(&gw, json!({"models": ["gpt-4o-mini"]})).await;
    let (status, headers, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/bedrock/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        &[("x-litellm-api-key", &limited)],
        Some(r#"{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}"#),
    )
    .await;
    assert_eq!(
        (status, &headers["x-amzn-errortype"]),
        (
            403,
            &"AccessDeniedException"
                .parse::<reqwest::header::HeaderValue>()
                .unwrap()
        ),
        "{text}"
    );
    assert!(u.gemini.requests().is_empty() && u.bedrock.requests().is_empty());
    // The same key may call the model it lists.
    let chat =
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"max_tokens":10}"#;
    let (status, _, _) = raw(
        &gw,
        reqwest::Method::POST,
        "/openai/v1/chat/completions",
        &[("authorization", &format!("Bearer {limited}"))],
        Some(chat),
    )
    .await;
    assert_eq!(status, 200);

    // A budget that one call spends refuses the next, before it is sent:
    // each reserves its worst case (a token per body byte, its max_tokens).
    let cost = table_cost("openai/gpt-4o-mini", &Usage::new(9, 5));
    let worst = table_cost("openai/gpt-4o-mini", &Usage::new(chat.len() as u64, 10));
    let budget = (worst + cost / 2) as f64 / 1e9;
    let tight = key(&gw, json!({"max_budget": budget})).await;
    let auth = format!("Bearer {tight}");
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/openai/v1/chat/completions",
        &[("authorization", &auth)],
        Some(chat),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let before = u.openai.requests().len();
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/openai/v1/chat/completions",
        &[("authorization", &auth)],
        Some(chat),
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("budget_exceeded")),
        "{text}"
    );
    assert_eq!(u.openai.requests().len(), before);
}

#[tokio::test]
async fn a_custom_route_forwards_headers_and_charges_per_request() {
    let u = Upstreams::start().await;
    let custom = format!(
        "  pass_through_endpoints:\n    - path: /custom/rerank\n      target: {}/v2/rerank\n      headers:\n        Authorization: \"Bearer os.environ/CUSTOM_CO_KEY\"\n      forward_headers: true\n      cost_per_request: 0.25\n",
        u.cohere.url()
    );
    let gw = TestGateway::start_with_env(
        &config(&u, &custom),
        None,
        &[
            ("DATABASE_URL", &format!("sqlite://{}", tempfile_path())),
            ("CUSTOM_CO_KEY", "co-custom"),
        ],
    )
    .await
    .unwrap();
    let k = key(&gw, json!({})).await;
    let body = r#"{"model":"rerank-english-v3.0","query":"q","documents":["a"]}"#;
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/custom/rerank?x=1",
        &[("authorization", &format!("Bearer {k}")), ("x-trace", "t1")],
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let sent = u.cohere.last_request().unwrap();
    assert_eq!(sent.path_and_query(), "/v2/rerank?x=1");
    assert_eq!(sent.header("authorization"), Some("Bearer co-custom"));
    assert_eq!(sent.header("x-trace"), Some("t1"));
    assert_eq!(sent.body, body.as_bytes());
    // Without a key: refused.
    let (status, _, _) = raw(
        &gw,
        reqwest::Method::POST,
        "/custom/rerank",
        &[],
        Some(body),
    )
    .await;
    assert_eq!(status, 401);
    let rows = spend_rows(&gw).await;
    assert_eq!(
        rows,
        vec![(
            "pass_through/custom/rerank".into(),
            "custom/".into(),
            0,
            0,
            250_000_000
        )]
    );
}

#[tokio::test]
async fn upstream_errors_pass_through_and_unreachable_upstreams_are_502() {
    let u = Upstreams::start().await;
    let gw = gateway(&u, "").await;
    let k = key(&gw, json!({})).await;
    let error = anthropic::error_body("overloaded_error", "Overloaded");
    u.anthropic
        .enqueue(MockResponse::json(529, &error).with_header("retry-after", "7"));
    let body = r#"{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":"Hi"}]}"#;
    let (status, headers, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/anthropic/v1/messages",
        &[("x-api-key", &k)],
        Some(body),
    )
    .await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&text).unwrap()),
        (529, error)
    );
    assert_eq!(headers["retry-after"], "7");
    assert!(
        spend_rows(&gw).await.is_empty(),
        "a failed call is not spent"
    );

    // The upstream goes away: 502 in its provider's shape.
    let gemini_url = u.gemini.url();
    drop(u);
    let _ = gemini_url;
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        &format!("/gemini/v1beta/models/gemini-2.5-flash:generateContent?key={k}"),
        &[],
        Some(r#"{"contents":[]}"#),
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (status, v["error"]["status"].as_str()),
        (502, Some("UNAVAILABLE")),
        "{text}"
    );
}

#[tokio::test]
async fn a_caller_that_goes_away_mid_stream_cancels_the_upstream_and_is_still_spent() {
    let u = Upstreams::start().await;
    let gw = gateway(&u, "").await;
    let k = key(&gw, json!({})).await;
    let events = anthropic::stream_events("claude-sonnet-4-5");
    let mut parts: Vec<StreamPart> = anthropic::sse_parts(&events[..2]);
    parts.push(StreamPart::Delay(Duration::from_secs(30)));
    parts.extend(anthropic::sse_parts(&events[2..]));
    u.anthropic
        .enqueue(MockResponse::stream("text/event-stream", parts));
    let body = r#"{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;
    let mut resp = reqwest::Client::new()
        .post(format!("{}/anthropic/v1/messages", gw.url))
        .header("x-api-key", &k)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("message_start"));
    drop(resp);
    // The gateway drops the upstream body, so the mock sees its stream cut.
    for _ in 0..100 {
        if u.anthropic.streams_cut_short() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(u.anthropic.streams_cut_short(), 1);
    // Priced from what arrived: message_start's usage (9 in, 1 out so far).
    let start_usage = &events[0]["message"]["usage"];
    let usage = Usage::with_cache(
        start_usage["input_tokens"].as_u64().unwrap(),
        start_usage["output_tokens"].as_u64().unwrap(),
        Some(0),
        Some(0),
    );
    let rows = spend_rows(&gw).await;
    assert_eq!(
        rows,
        vec![(
            "pass_through/anthropic".into(),
            "anthropic/claude-sonnet-4-5".into(),
            9,
            usage.completion_tokens as i64,
            table_cost("anthropic/claude-sonnet-4-5", &usage)
        )]
    );
}

#[tokio::test]
async fn a_route_without_an_upstream_names_what_to_set() {
    let up = openai::start().await.unwrap();
    let gw = TestGateway::start_with_env(
        &format!(
            "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_base: {}\n      api_key: sk-up\ngeneral_settings:\n  master_key: {MASTER}\n",
            up.url()
        ),
        None,
        &[("DATABASE_URL", &format!("sqlite://{}", tempfile_path()))],
    )
    .await
    .unwrap();
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/mistral/v1/chat/completions",
        &[("authorization", &format!("Bearer {MASTER}"))],
        Some("{}"),
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status, 500, "{text}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("/mistral pass-through has no upstream: mark a mistral deployment with `use_in_pass_through: true`")
            && message.contains("MISTRAL_API_KEY"),
        "{message}"
    );
}

#[tokio::test]
async fn the_environment_is_the_fallback_and_uploads_stream_past_the_body_limit() {
    let up = openai::start().await.unwrap();
    // No deployment is marked for pass-through: OPENAI_API_KEY / OPENAI_BASE_URL serve it.
    let gw = TestGateway::start_with_env(
        &format!(
            "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_base: http://127.0.0.1:9/v1\n      api_key: sk-not-this-one\ngeneral_settings:\n  master_key: {MASTER}\n  max_request_size_mb: 1\n"
        ),
        None,
        &[
            ("DATABASE_URL", &format!("sqlite://{}", tempfile_path())),
            ("OPENAI_API_KEY", "sk-from-env"),
            ("OPENAI_BASE_URL", &format!("{}/v1", up.url())),
        ],
    )
    .await
    .unwrap();
    let auth = format!("Bearer {MASTER}");
    // A 3 MiB upload to an endpoint llmux does not price is streamed through,
    // not read whole, so the 1 MiB request limit does not apply to it.
    let upload = "x".repeat(3 << 20);
    let (status, _, _) = raw(
        &gw,
        reqwest::Method::POST,
        "/openai/v1/files",
        &[
            ("authorization", &auth),
            ("content-type", "application/octet-stream"),
        ],
        None,
    )
    .await;
    assert_eq!(
        status, 404,
        "the mock has no /files route: its 404 comes back"
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/openai/v1/files", gw.url))
        .header("authorization", &auth)
        .body(upload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let sent = up.last_request().unwrap();
    assert_eq!(
        (sent.path.as_str(), sent.body.len()),
        ("/v1/files", upload.len())
    );
    assert_eq!(sent.header("authorization"), Some("Bearer sk-from-env"));
    // A model endpoint is read whole, so the limit holds there.
    let big =
        format!(r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"{upload}"}}]}}"#);
    let (status, _, text) = raw(
        &gw,
        reqwest::Method::POST,
        "/openai/v1/chat/completions",
        &[("authorization", &auth)],
        Some(&big),
    )
    .await;
    assert_eq!(status, 413, "{text}");
}

#[tokio::test]
async fn every_provider_route_refuses_a_spent_budget_before_the_upstream() {
    let u = Upstreams::start().await;
    let gw = gateway(&u, "").await;
    let gemini_body = r#"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#;
    let cases: [(&str, &str, &str, &MockServer, Usage, &str); 5] = [
        (
            "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
            gemini_body,
            "gemini/gemini-2.5-flash",
            &u.gemini,
            Usage::new(9, 6),
            "authorization",
        ),
        (
            "/anthropic/v1/messages",
            r#"{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"Hi"}]}"#,
            "anthropic/claude-sonnet-4-5",
            &u.anthropic,
            Usage::with_cache(9, 6, Some(0), Some(0)),
            "authorization",
        ),
        (
            "/bedrock/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
            r#"{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"maxTokens":16}}"#,
            "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
            &u.bedrock,
            Usage::new(9, 6),
            "x-litellm-api-key",
        ),
        (
            "/cohere/v2/chat",
            r#"{"model":"command-a-03-2025","max_tokens":16,"messages":[{"role":"user","content":"Hi"}]}"#,
            "cohere/command-a-03-2025",
            &u.cohere,
            Usage::new(9, 6),
            "authorization",
        ),
        (
            "/vertex_ai/v1/projects/pt-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
            gemini_body,
            "vertex_ai/gemini-2.5-flash",
            &u.vertex,
            Usage::new(9, 6),
            "authorization",
        ),
    ];
    for (path, body, model, upstream, usage, header) in cases {
        let info = PriceTable::embedded().lookup(model).unwrap();
        let body_json: Value = serde_json::from_str(body).unwrap();
        let max_output = body_json
            .pointer("/max_tokens")
            .or_else(|| body_json.pointer("/inferenceConfig/maxTokens"))
            .and_then(Value::as_u64)
            .or(info.max_output_tokens)
            .unwrap();
        let worst = table_cost(model, &Usage::new(body.len() as u64, max_output));
        let cost = table_cost(model, &usage);
        let k = key(&gw, json!({"max_budget": (worst + cost / 2) as f64 / 1e9})).await;
        let value = if header == "authorization" {
            format!("Bearer {k}")
        } else {
            k.clone()
        };
        let (status, _, text) = raw(
            &gw,
            reqwest::Method::POST,
            path,
            &[(header, &value)],
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "{path}: {text}");
        let before = upstream.requests().len();
        let (status, _, text) = raw(
            &gw,
            reqwest::Method::POST,
            path,
            &[(header, &value)],
            Some(body),
        )
        .await;
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains("Budget has been exceeded"), "{path}: {text}");
        assert_eq!(upstream.requests().len(), before, "{path}: nothing sent");
    }
}
