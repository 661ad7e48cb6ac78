//! Spend and budgets end to end: every call priced and logged exactly, budgets
//! that hold under concurrency on one instance and across two (shared through
//! Redis), and no spend lost while the database is down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use llmux_tests::services::{self, Service};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use llmux_tests::db::TestDb;
use llmux_tests::gateway::{
    config_yaml, master_key_settings, openai_deployment, TestGateway, PRICED,
};
use llmux_tests::mock::{openai, MockResponse, MockServer};
use serde_json::{json, Value};

const MASTER: &str = "sk-master-spend";
/// The mock's usage (9 prompt, 5 completion tokens) at these prices:
/// 9 × 1000 + 5 × 2000 nano-dollars.
const CALL_COST_NANO: i64 = 19_000;

fn config(upstream: &MockServer, extra: &str) -> String {
    config_yaml(
        &[openai_deployment(
            "gpt-4o",
            "gpt-4o",
            &upstream.url(),
            PRICED,
        )],
        &format!("{extra}\n{}", master_key_settings(MASTER)),
    )
}

fn chat_body(stream: bool) -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 10, "stream": stream})
}

async fn call(
    client: &reqwest::Client,
    gw_url: &str,
    key: &str,
    stream: bool,
) -> (u16, Value, Option<String>) {
    let r = common::send_to(
        client,
        gw_url,
        reqwest::Method::POST,
        "/v1/chat/completions",
        Some(key),
        Some(chat_body(stream)),
    )
    .await;
    let cost = r.header("x-llmux-response-cost").map(str::to_string);
    (r.status, r.body, cost)
}

/// A chat call (streamed or not) carrying the client's `x-request-id`.
async fn call_with_request_id(
    client: &reqwest::Client,
    gw: &TestGateway,
    key: &str,
    request_id: &str,
    stream: bool,
) -> reqwest::Response {
    client
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(key)
        .header("x-request-id", request_id)
        .json(&chat_body(stream))
        .send()
        .await
        .unwrap()
}

async fn new_key(gw: &TestGateway, body: Value) -> (String, String) {
    common::new_key(gw, MASTER, body).await
}

/// `config(upstream, "")` served over a fresh SQLite database, and a key made
/// with `key_body`: (database, gateway, key, key hash).
async fn sqlite_gateway(
    upstream: &MockServer,
    key_body: Value,
) -> (TestDb, TestGateway, String, String) {
    let db = TestDb::sqlite();
    let gw = TestGateway::start_with(&config(upstream, ""), None, &db.url)
        .await
        .unwrap();
    let (key, hash) = new_key(&gw, key_body).await;
    (db, gw, key, hash)
}

async fn pool(url: &str) -> sqlx::AnyPool {
    llmux_tests::db::any_pool(url).await.unwrap()
}

/// (rows, summed spend) of a key's logs, and the key's own spend counter.
async fn recorded(url: &str, token_hash: &str) -> (i64, i64, i64) {
    let p = pool(url).await;
    let (rows, sum): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(spend_nano), 0) AS BIGINT) FROM llmux_spend_logs WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_one(&p)
    .await
    .unwrap();
    let (key_spend,): (i64,) =
        sqlx::query_as("SELECT spend_nano FROM llmux_keys WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_one(&p)
            .await
            .unwrap();
    p.close().await;
    (rows, sum, key_spend)
}

async fn spend_exact_under_concurrency(db: TestDb) {
    let upstream = openai::start().await.unwrap();
    let url = db.url.clone();
    let gw = TestGateway::start_with(&config(&upstream, ""), None, &url)
        .await
        .unwrap();
    let (key, hash) = new_key(&gw, json!({"max_budget": 1000})).await;
    let client = reqwest::Client::new();
    let calls = (0..1000).map(|i| {
        let (client, gw_url, key) = (client.clone(), gw.url.clone(), key.clone());
        tokio::spawn(async move { call(&client, &gw_url, &key, i % 4 == 0).await })
    });
    let results = join_all(calls).await;
    for r in &results {
        let (status, body, cost) = r.as_ref().unwrap();
        assert_eq!(*status, 200, "{body}");
        if body.is_object() {
            assert_eq!(cost.as_deref(), Some("0.000019"));
        }
    }
    // Streams are priced exactly like plain calls (usage forced upstream).
    let streamed: Vec<_> = upstream
        .requests()
        .iter()
        .filter(|r| r.json()["stream"] == json!(true))
        .map(|r| r.json()["stream_options"].clone())
        .collect();
    assert_eq!(streamed.len(), 250);
    assert!(streamed
        .iter()
        .all(|o| *o == json!({"include_usage": true})));
    let gateway = gw.gateway.clone();
    gw.stop().await.unwrap();
    drop(gateway);
    assert_eq!(
        recorded(&url, &hash).await,
        (1000, 1000 * CALL_COST_NANO, 1000 * CALL_COST_NANO)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recorded_spend_is_exact_under_1000_concurrent_calls_sqlite() {
    spend_exact_under_concurrency(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recorded_spend_is_exact_under_1000_concurrent_calls_postgres() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    spend_exact_under_concurrency(TestDb::postgres().await.unwrap()).await;
}

#[tokio::test]
async fn spend_log_row_has_every_field() {
    let upstream = openai::start().await.unwrap();
    let (db, gw, key, hash) =
        sqlite_gateway(&upstream, json!({"user_id": "u1", "team_id": "t1"})).await;
    let url = db.url.clone();
    let resp = call_with_request_id(&reqwest::Client::new(), &gw, &key, "req-spend-1", false).await;
    assert_eq!(resp.status(), 200);
    gw.stop().await.unwrap();
    let p = pool(&url).await;
    let text: (String, String, String, String, String, String, String, String, String) = sqlx::query_as(
        "SELECT request_id, token_hash, user_id, team_id, model, model_group, deployment_id, provider, status FROM llmux_spend_logs",
    )
    .fetch_one(&p)
    .await
    .unwrap();
    let deployment = text.6.clone();
    assert_eq!(
        text,
        (
            "req-spend-1".into(),
            hash,
            "u1".into(),
            "t1".into(),
            "openai/gpt-4o".into(),
            "gpt-4o".into(),
            deployment,
            "openai".into(),
            "success".into(),
        )
    );
    let numbers: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT prompt_tokens, completion_tokens, total_tokens, spend_nano, cache_hit FROM llmux_spend_logs",
    )
    .fetch_one(&p)
    .await
    .unwrap();
    assert_eq!(numbers, (9, 5, 14, CALL_COST_NANO, 0));
}

/// Fire `n` concurrent calls with `key` spread over `gateways`; return the
/// number that succeeded, checking every refusal is the budget's.
async fn burst(gateways: &[&str], key: &str, n: usize) -> i64 {
    let client = reqwest::Client::new();
    let calls = (0..n).map(|i| {
        let (client, url, key) = (
            client.clone(),
            gateways[i % gateways.len()].to_string(),
            key.to_string(),
        );
        tokio::spawn(async move { call(&client, &url, &key, false).await })
    });
    let mut ok = 0;
    for r in join_all(calls).await {
        let (status, body, _) = r.unwrap();
        match status {
            200 => ok += 1,
            400 => assert_eq!(body["error"]["code"], json!("budget_exceeded"), "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    ok
}

/// Budget 0.0002 USD; each call may cost up to 28,000 nano (8 prompt tokens,
/// counted with gpt-4o's tokenizer, at 1,000 + 10 max tokens at 2,000) and
/// costs 19,000. Called one at a time, 10 calls fit (the 10th reserves at
/// 171,000 + 28,000); at once, never more.
const BUDGET_USD: f64 = 0.0002;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budget_holds_under_concurrency() {
    let upstream = openai::start().await.unwrap();
    for _ in 0..200 {
        upstream.enqueue(
            MockResponse::json(200, &openai::chat_completion("gpt-4o"))
                .with_delay(Duration::from_millis(30)),
        );
    }
    let (db, gw, key, hash) = sqlite_gateway(&upstream, json!({"max_budget": BUDGET_USD})).await;
    let url = db.url.clone();
    let mut ok = burst(&[&gw.url], &key, 100).await;
    // One at a time, the rest of the budget is used up exactly as computed.
    loop {
        let (status, body, _) = call(&reqwest::Client::new(), &gw.url, &key, false).await;
        if status != 200 {
            assert_eq!(body["error"]["code"], json!("budget_exceeded"));
            break;
        }
        ok += 1;
    }
    assert_eq!(ok, 10);
    gw.stop().await.unwrap();
    let (rows, sum, key_spend) = recorded(&url, &hash).await;
    assert_eq!(
        (rows, sum, key_spend),
        (10, 10 * CALL_COST_NANO, 10 * CALL_COST_NANO)
    );
}

/// Architecture issue defect: `/global/spend` always answered
/// `"max_budget": null`. LiteLLM's proxy-wide `litellm_settings.max_budget`
/// is now reported there and enforced on every call, counting the spend
/// the database held at start.
#[tokio::test]
async fn the_proxy_wide_max_budget_is_enforced_and_reported() {
    let upstream = openai::start().await.unwrap();
    let db = TestDb::sqlite();
    let budget = format!("litellm_settings:\n  max_budget: {BUDGET_USD}");
    let gw = TestGateway::start_with(&config(&upstream, &budget), None, &db.url)
        .await
        .unwrap();
    let (key, _) = new_key(&gw, json!({})).await;
    for _ in 0..4 {
        assert_eq!(
            call(&reqwest::Client::new(), &gw.url, &key, false).await.0,
            200
        );
    }
    gw.stop().await.unwrap();
    // A restart starts from the spend already recorded.
    let gw = TestGateway::start_with(&config(&upstream, &budget), None, &db.url)
        .await
        .unwrap();
    let mut ok = 4;
    loop {
        let (status, body, _) = call(&reqwest::Client::new(), &gw.url, MASTER, false).await;
        if status != 200 {
            assert_eq!(body["error"]["code"], json!("budget_exceeded"), "{body}");
            assert_eq!(body["error"]["param"], json!("proxy"), "{body}");
            break;
        }
        ok += 1;
    }
    assert_eq!(ok, 10);
    gw.gateway.flush().await;
    let spend = common::get_json(&gw, "/global/spend", Some(MASTER)).await;
    assert_eq!(spend["max_budget"], json!(BUDGET_USD));
    assert_eq!(spend["requests"], json!(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_one_budget_through_redis() {
    if !services::available(&[Service::Postgres, Service::Redis]).await {
        return;
    }
    let upstream = openai::start().await.unwrap();
    for _ in 0..400 {
        upstream.enqueue(
            MockResponse::json(200, &openai::chat_completion("gpt-4o"))
                .with_delay(Duration::from_millis(30)),
        );
    }
    let db = TestDb::postgres().await.unwrap();
    let url = db.url.clone();
    let yaml = config(&upstream, "  redis_url: redis://127.0.0.1:6379/");
    let a = TestGateway::start_with(&yaml, None, &url).await.unwrap();
    let b = TestGateway::start_with(&yaml, None, &url).await.unwrap();
    let (key, hash) = new_key(&a, json!({"max_budget": BUDGET_USD})).await;
    let mut ok = burst(&[&a.url, &b.url], &key, 200).await;
    for gw in [&a.url, &b.url].iter().cycle().take(40) {
        let (status, _, _) = call(&reqwest::Client::new(), gw, &key, false).await;
        if status == 200 {
            ok += 1;
        }
    }
    // Local budgets alone would let each instance spend 10 calls' worth.
    assert_eq!(ok, 10);
    b.stop().await.unwrap();
    a.stop().await.unwrap();
    let (rows, sum, _) = recorded(&url, &hash).await;
    assert_eq!((rows, sum), (10, 10 * CALL_COST_NANO));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spend_survives_a_database_outage_through_the_spill_file() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let upstream = openai::start().await.unwrap();
    let db = TestDb::postgres().await.unwrap();
    let url = db.url.clone();
    let spill = std::env::temp_dir().join(format!("llmux-spill-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&spill);
    let spill_s = spill.display().to_string();
    let gw = Arc::new(
        TestGateway::start_with_env(
            &config(&upstream, ""),
            None,
            &[
                ("DATABASE_URL", url.as_str()),
                ("LLMUX_SPEND_SPILL_PATH", spill_s.as_str()),
            ],
        )
        .await
        .unwrap(),
    );
    let client = reqwest::Client::new();
    // Half the calls before the outage, half during it (the master key needs
    // no database to authenticate).
    for _ in 0..20 {
        assert_eq!(call(&client, &gw.url, MASTER, false).await.0, 200);
    }
    gw.gateway.flush().await;
    db.set_postgres_up(false).await.unwrap();
    for _ in 0..20 {
        assert_eq!(call(&client, &gw.url, MASTER, false).await.0, 200);
    }
    gw.gateway.flush().await;
    let spilled = std::fs::read_to_string(&spill).unwrap_or_default();
    assert_eq!(
        spilled.lines().count(),
        20,
        "the outage's rows wait in the spill file"
    );
    db.set_postgres_up(true).await.unwrap();
    // The writer retries on its own; wait for the replay (bounded).
    let p = pool(&url).await;
    let mut total = 0;
    for _ in 0..100 {
        let (n,): (i64,) = sqlx::query_as("SELECT CAST(COUNT(*) AS BIGINT) FROM llmux_spend_logs")
            .fetch_one(&p)
            .await
            .unwrap();
        total = n;
        if n == 40 && !spill.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(total, 40);
    assert!(!spill.exists(), "a replayed spill file is removed");
    let (sum,): (i64,) =
        sqlx::query_as("SELECT CAST(SUM(spend_nano) AS BIGINT) FROM llmux_spend_logs")
            .fetch_one(&p)
            .await
            .unwrap();
    assert_eq!(sum, 40 * CALL_COST_NANO);
    p.close().await;
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_started_on_one_instance_holds_on_the_other() {
    if !services::available(&[Service::Redis]).await {
        return;
    }
    let bad = MockServer::start(|_| {
        MockResponse::json(
            500,
            &openai::error_body("The server had an error", "server_error", None, None),
        )
    })
    .await
    .unwrap();
    let good = openai::start().await.unwrap();
    let yaml = config_yaml(
        &[
            openai_deployment(
                "gpt-4o",
                "gpt-4o",
                &bad.url(),
                "    model_info:\n      id: dep-bad\n",
            ),
            openai_deployment(
                "gpt-4o",
                "gpt-4o",
                &good.url(),
                "    model_info:\n      id: dep-good\n",
            ),
        ],
        "  allowed_fails: 0\n  cooldown_time: 60\n  redis_url: redis://127.0.0.1:6379/\n",
    );
    // A unique prefix per run is not configurable; clear this test's keys.
    let redis = redis_client().await;
    let _: () = redis::cmd("DEL")
        .arg("llmux:cooldown:dep-bad")
        .arg("llmux:cooldown:dep-good")
        .query_async(&mut redis.clone())
        .await
        .unwrap();
    let db = TestDb::sqlite();
    let a = TestGateway::start_with(&yaml, None, &db.url).await.unwrap();
    let b = TestGateway::start_with(&yaml, None, &db.url).await.unwrap();
    let client = reqwest::Client::new();
    // On A, calls until the bad deployment fails once and cools down.
    for _ in 0..50 {
        if !bad.requests().is_empty() {
            break;
        }
        call(&client, &a.url, MASTER_LESS, false).await;
    }
    assert_eq!(bad.requests().len(), 1);
    // B learns of it within a poll and sends nothing to the bad deployment.
    tokio::time::sleep(llmux_proxy::cluster::POLL * 2).await;
    for _ in 0..20 {
        let (status, body, _) = call(&client, &b.url, MASTER_LESS, false).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        bad.requests().len(),
        1,
        "B must not call the cooling deployment"
    );
    let _: () = redis::cmd("DEL")
        .arg("llmux:cooldown:dep-bad")
        .query_async(&mut redis.clone())
        .await
        .unwrap();
}

/// No master key in that config: calls need no key.
const MASTER_LESS: &str = "";

async fn redis_client() -> redis::aio::MultiplexedConnection {
    redis::Client::open("redis://127.0.0.1:6379/")
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployments_rpm_holds_across_instances() {
    if !services::available(&[Service::Redis]).await {
        return;
    }
    let upstream = openai::start().await.unwrap();
    let info = format!(
        "      rpm: 3\n    model_info:\n      id: dep-rpm-shared-{}\n",
        std::process::id()
    );
    let yaml = config_yaml(
        &[openai_deployment(
            "gpt-4o",
            "gpt-4o",
            &upstream.url(),
            &info,
        )],
        "  redis_url: redis://127.0.0.1:6379/\n",
    );
    // Usage is counted per wall-clock minute: do not start just before one ends.
    let second = llmux_core::unix_now() % 60;
    if second > 50 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
    let db = TestDb::sqlite();
    let a = TestGateway::start_with(&yaml, None, &db.url).await.unwrap();
    let b = TestGateway::start_with(&yaml, None, &db.url).await.unwrap();
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(call(&client, &a.url, MASTER_LESS, false).await.0, 200);
    }
    // Within two polls B knows the deployment's minute is used up.
    tokio::time::sleep(llmux_proxy::cluster::POLL * 3).await;
    let (status, body, _) = call(&client, &b.url, MASTER_LESS, false).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body["error"]["message"],
        json!("every deployment of model group 'gpt-4o' is at its rpm/tpm limit")
    );
    assert_eq!(upstream.requests().len(), 3);
}

/// A provider that reports no usage on a stream, and a client that leaves an
/// Anthropic-format stream halfway: both calls are priced from the estimate
/// and logged, never recorded as free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_without_usage_and_abandoned_streams_are_still_priced() {
    use futures::StreamExt;
    use llmux_tests::mock::openai::{chunk, sse_parts};
    use llmux_tests::mock::StreamPart;

    let upstream = openai::start().await.unwrap();
    let (db, gw, key, hash) = sqlite_gateway(&upstream, json!({})).await;
    let url = db.url.clone();
    let client = reqwest::Client::new();

    // A whole stream from an upstream that ignores include_usage.
    upstream.enqueue(openai::sse_response(&openai::stream_chunks(
        "gpt-4o", false,
    )));
    let resp = call_with_request_id(&client, &gw, &key, "req-no-usage", true).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().ends_with("data: [DONE]\n\n"));

    // An Anthropic-format stream the client leaves after its first bytes.
    let mut parts = sse_parts(&[chunk(
        "gpt-4o",
        json!({"role": "assistant", "content": "Hello"}),
        None,
    )]);
    for _ in 0..50 {
        parts.push(StreamPart::Delay(Duration::from_millis(100)));
        parts.extend(sse_parts(&[chunk(
            "gpt-4o",
            json!({"content": " again"}),
            None,
        )]));
    }
    upstream.enqueue(MockResponse::stream("text/event-stream", parts));
    let resp = client
        .post(format!("{}/v1/messages", gw.url))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .header("x-request-id", "req-left")
        .json(&json!({"model": "gpt-4o", "max_tokens": 10, "stream": true,
                      "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    body.next().await.unwrap().unwrap();
    drop(body);
    for _ in 0..50 {
        if upstream.streams_cut_short() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(upstream.streams_cut_short(), 1);

    gw.stop().await.unwrap();
    let p = pool(&url).await;
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT request_id, prompt_tokens, completion_tokens, spend_nano FROM llmux_spend_logs WHERE token_hash = $1 ORDER BY request_id",
    )
    .bind(&hash)
    .fetch_all(&p)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    // "Hi": 2 characters → 1 token + 3 for the message + 3 for the reply.
    // "Hello from the mock!" is 5 tokens: 7 × 1000 + 5 × 2000 nano-dollars.
    assert_eq!(rows[1], ("req-no-usage".into(), 7, 5, 17_000));
    // What the abandoned stream had produced: "Hello" and perhaps " again"s.
    let (id, prompt, completion, spend) = rows[0].clone();
    assert_eq!((id.as_str(), prompt), ("req-left", 7));
    assert!(completion >= 1, "{rows:?}");
    assert_eq!(spend, 7 * 1000 + completion * 2000);
}

/// Calls that share a client's `x-request-id` are each logged and spent.
#[tokio::test]
async fn calls_sharing_a_request_id_are_each_spent() {
    let upstream = openai::start().await.unwrap();
    let (db, gw, key, hash) = sqlite_gateway(&upstream, json!({})).await;
    let url = db.url.clone();
    for _ in 0..3 {
        let resp =
            call_with_request_id(&reqwest::Client::new(), &gw, &key, "req-same", false).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-request-id"], "req-same");
    }
    gw.stop().await.unwrap();
    assert_eq!(
        recorded(&url, &hash).await,
        (3, 3 * CALL_COST_NANO, 3 * CALL_COST_NANO)
    );
}

/// Rerank calls are priced as LiteLLM prices them — Cohere per search unit
/// (`input_cost_per_query`), Voyage per token — and logged with that cost.
#[tokio::test]
async fn rerank_calls_are_priced_per_query_or_per_token() {
    let cohere = llmux_tests::mock::cohere::start().await.unwrap();
    let voyage = openai::start().await.unwrap();
    voyage.enqueue(MockResponse::json(
        200,
        &json!({"object": "list", "data": [{"relevance_score": 0.5, "index": 0}],
                "model": "rerank-2", "usage": {"total_tokens": 26}}),
    ));
    let config = format!(
        r#"
model_list:
  - model_name: cohere-rerank
    litellm_params:
      model: cohere/rerank-v3.5
      api_base: {cohere}
      api_key: co-key
  - model_name: voyage-rerank
    litellm_params:
      model: voyage/rerank-2
      api_base: {voyage}/v1
      api_key: pa-key
general_settings:
  master_key: {MASTER}
"#,
        cohere = cohere.url(),
        voyage = voyage.url()
    );
    let db = TestDb::sqlite();
    let url = db.url.clone();
    let gw = TestGateway::start_with(&config, None, &url).await.unwrap();
    let (key, hash) = new_key(&gw, json!({})).await;
    let mut costs = Vec::new();
    for model in ["cohere-rerank", "voyage-rerank"] {
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/rerank", gw.url))
            .bearer_auth(&key)
            .json(&json!({"model": model, "query": "capital of France?", "documents": ["Paris", "Berlin"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{model}");
        costs.push(
            resp.headers()["x-llmux-response-cost"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    // rerank-v3.5: 1 search unit × $0.002; rerank-2: 26 tokens × $0.05 / 1M.
    assert_eq!(costs, ["0.002", "0.0000013"]);
    gw.stop().await.unwrap();
    assert_eq!(recorded(&url, &hash).await, (2, 2_001_300, 2_001_300));
}

/// Provider fidelity finding: Gemini's batch embeddings answer carries no
/// usage, and the call was recorded at $0 with 0 tokens. The gateway counts
/// the input's tokens, answers with them and prices the call.
#[tokio::test]
async fn embeddings_without_reported_usage_are_counted_and_priced() {
    let gemini = llmux_tests::mock::gemini::start().await.unwrap();
    let config = format!(
        "model_list:\n  - model_name: embed\n    litellm_params:\n      model: gemini/gemini-embedding-001\n      api_base: {}\n      api_key: g-key\ngeneral_settings:\n  master_key: {MASTER}\n",
        gemini.url()
    );
    let db = TestDb::sqlite();
    let url = db.url.clone();
    let gw = TestGateway::start_with(&config, None, &url).await.unwrap();
    let (key, hash) = new_key(&gw, json!({})).await;
    let texts = ["The quick brown fox", "jumps over the lazy dog"];
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/embeddings", gw.url))
        .bearer_auth(&key)
        .json(&json!({"model": "embed", "input": texts}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(gemini
        .last_request()
        .unwrap()
        .path
        .ends_with(":batchEmbedContents"));
    let cost = resp.headers()["x-llmux-response-cost"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = resp.json().await.unwrap();
    let tokens: u64 = texts
        .iter()
        .map(|t| llmux_cost::token_counter("gemini-embedding-001", *t))
        .sum();
    assert!(tokens > 0);
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": tokens, "total_tokens": tokens})
    );
    let info = llmux_cost::get_model_info("gemini/gemini-embedding-001").unwrap();
    let nano = info
        .cost_per_token(
            &llmux_core::types::chat::Usage {
                prompt_tokens: tokens,
                total_tokens: tokens,
                ..Default::default()
            },
            &llmux_cost::CostOptions::default(),
        )
        .unwrap()
        .total()
        .nano();
    assert!(nano > 0);
    assert_eq!(cost, llmux_store::from_nano(nano).to_string());
    gw.stop().await.unwrap();
    assert_eq!(recorded(&url, &hash).await, (1, nano, nano));
}

/// Hardening issue, spend at scale: `/spend/logs` pages by keyset (the
/// `x-llmux-next-cursor` header names where the next page starts), and the
/// retention setting deletes old rows while `/global/spend` keeps counting
/// them.
#[tokio::test]
async fn spend_logs_page_by_cursor_and_retention_keeps_totals() {
    let upstream = openai::start().await.unwrap();
    let config = config(&upstream, "").replace(
        "general_settings:\n",
        "general_settings:\n  maximum_spend_logs_retention_period: 1d\n  maximum_spend_logs_retention_interval: 10m\n",
    );
    let gw = TestGateway::start(&config).await.unwrap();
    let (key, _) = new_key(&gw, json!({})).await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(call(&client, &gw.url, &key, false).await.0, 200);
    }
    gw.gateway.flush().await;

    let mut ids = Vec::new();
    let mut path = "/spend/logs?limit=2".to_string();
    loop {
        let r = common::get(&gw, &path, Some(MASTER)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        ids.extend(
            r.body
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row["request_id"].as_str().unwrap().to_string()),
        );
        match r.header("x-llmux-next-cursor") {
            Some(cursor) => path = format!("/spend/logs?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 3, "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "a row twice: {ids:?}");
    let bad = common::get(&gw, "/spend/logs?cursor=yesterday", Some(MASTER)).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["error"]["param"], "cursor");

    let before = common::get(&gw, "/global/spend", Some(MASTER)).await;
    let retention = llmux_proxy::gateway::SpendRetention {
        keep_seconds: 86_400,
        every_minutes: 10,
    };
    // Nothing is a day old yet.
    assert_eq!(gw.gateway.purge_spend_logs(retention).await, 0);
    gw.clock.advance(2 * 86_400);
    assert_eq!(gw.gateway.purge_spend_logs(retention).await, 3);
    let logs = common::get(&gw, "/spend/logs", Some(MASTER)).await;
    assert_eq!(logs.body, json!([]));
    let after = common::get(&gw, "/global/spend", Some(MASTER)).await;
    assert_eq!(after.body["spend"], before.body["spend"]);
    assert_eq!(
        after.body["spend"],
        json!(3.0 * CALL_COST_NANO as f64 / 1e9)
    );
}

#[tokio::test]
async fn a_bad_retention_period_is_refused_at_start() {
    let upstream = openai::start().await.unwrap();
    let config = config(&upstream, "").replace(
        "general_settings:\n",
        "general_settings:\n  maximum_spend_logs_retention_period: forever\n",
    );
    let err = TestGateway::start(&config).await.err().unwrap();
    assert!(
        err.contains("general_settings.maximum_spend_logs_retention_period: expected a duration such as 30d or 12h, got 'forever'"),
        "{err}"
    );
}
