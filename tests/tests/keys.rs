//! Virtual keys end to end: the management API (master key only), keys stored
//! hashed, and enforcement on every call (blocked, expired, model access,
//! budget, rpm, parallel requests), on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use std::time::Duration;

use common::{assert_untouched, chat, get, post, send, Reply};
use llmux_tests::db::TestDb;
use llmux_tests::gateway::{config_yaml, master_key_settings, openai_deployment, TestGateway};
use llmux_tests::mock::{openai, MockResponse, MockServer};
use llmux_tests::services::{self, Service};
use serde_json::{json, Value};

const MASTER: &str = "sk-master-1234";

fn config(upstream: &MockServer) -> String {
    let base = upstream.url();
    config_yaml(
        &[
            openai_deployment("gpt-4o", "gpt-4o", &base, ""),
            openai_deployment("gpt-4o-mini", "gpt-4o-mini", &base, ""),
        ],
        &master_key_settings(MASTER),
    )
}

/// `POST path` with the master key.
async fn admin_post(gw: &TestGateway, path: &str, body: Value) -> Reply {
    post(gw, path, Some(MASTER), body).await
}

async fn generate(gw: &TestGateway, body: Value) -> String {
    common::new_key(gw, MASTER, body).await.0
}

fn error(r: &Reply) -> (u16, &str, &str) {
    r.error()
}

/// Every key operation, in the order a platform team uses them.
async fn lifecycle(gw: &TestGateway, db_url: &str) {
    let created = admin_post(gw, "/key/generate", json!({"key_alias": "team-a", "models": ["gpt-4o"], "max_budget": 10.5, "metadata": {"env": "test"}, "user_id": "u1", "team_id": "t1"})).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let key = created.body["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk-") && key.len() == 35, "{key}");
    let hash = created.body["token"].as_str().unwrap().to_string();
    assert_eq!(hash, llmux_proxy::auth::virtual_keys::hash_key(&key));
    assert_eq!(
        created.body["key_name"],
        json!(format!("sk-...{}", &key[key.len() - 4..]))
    );
    assert_eq!(created.body["max_budget"], json!(10.5));

    // The database holds the hash, never the key.
    let pool = sqlx_any_pool(db_url).await;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT token_hash, key_name FROM llmux_keys")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![(hash.clone(), format!("sk-...{}", &key[key.len() - 4..]))]
    );
    let dump: Vec<(String,)> = sqlx::query_as(
        "SELECT models || aliases || metadata || COALESCE(key_alias, '') FROM llmux_keys",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!dump[0].0.contains(&key));

    // The key calls the model it may use.
    let ok = chat(gw, &key, "gpt-4o").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.body["choices"][0]["message"]["content"],
        json!(openai::REPLY)
    );

    // ... and not another one.
    let denied = chat(gw, &key, "gpt-4o-mini").await;
    assert_eq!(
        error(&denied),
        (
            403,
            "permission_error",
            "this key is not allowed to access model=gpt-4o-mini. Allowed models: gpt-4o"
        )
    );

    // Info by key or by hash; never the key itself.
    gw.gateway.flush().await;
    let info = get(gw, &format!("/key/info?key={key}"), Some(MASTER)).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.body["key"], json!(hash));
    assert_eq!(info.body["info"]["key_alias"], json!("team-a"));
    assert_eq!(info.body["info"]["models"], json!(["gpt-4o"]));
    assert_eq!(info.body["info"]["metadata"], json!({"env": "test"}));
    assert_eq!(info.body["info"]["user_id"], json!("u1"));
    assert_eq!(info.body["info"]["team_id"], json!("t1"));
    assert!(!info.body.to_string().contains(&key));
    let by_hash = get(gw, &format!("/key/info?key={hash}"), Some(MASTER)).await;
    assert_eq!(by_hash.body, info.body);

    // An update takes effect on the next call (the key cache is invalidated).
    let updated = admin_post(
        gw,
        "/key/update",
        json!({"key": key, "models": ["gpt-4o", "gpt-4o-mini"]}),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(chat(gw, &key, "gpt-4o-mini").await.status, 200);

    // Block and unblock.
    assert_eq!(
        post(gw, "/key/block", Some(MASTER), json!({"key": key}))
            .await
            .status,
        200
    );
    let blocked = chat(gw, &key, "gpt-4o").await;
    assert_eq!(
        error(&blocked),
        (
            401,
            "authentication_error",
            "Authentication Error: this key has been blocked"
        )
    );
    assert_eq!(
        post(gw, "/key/unblock", Some(MASTER), json!({"key": key}))
            .await
            .status,
        200
    );
    assert_eq!(chat(gw, &key, "gpt-4o").await.status, 200);

    // List, filtered by owner.
    let other = generate(gw, json!({"user_id": "u2"})).await;
    let listed = get(gw, "/key/list?user_id=u1", Some(MASTER)).await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.body,
        json!({"keys": [hash], "current_page": 1, "page_size": 10})
    );
    let all = get(gw, "/key/list", Some(MASTER)).await;
    assert_eq!(all.body["keys"].as_array().unwrap().len(), 2);

    // Regenerate: same settings, new secret; the old one stops working.
    let regen = post(gw, "/key/regenerate", Some(MASTER), json!({"key": key})).await;
    assert_eq!(regen.status, 200, "{}", regen.body);
    let new_key = regen.body["key"].as_str().unwrap().to_string();
    assert_ne!(new_key, key);
    assert_eq!(regen.body["key_alias"], json!("team-a"));
    assert_eq!(error(&chat(gw, &key, "gpt-4o").await).0, 401);
    assert_eq!(chat(gw, &new_key, "gpt-4o").await.status, 200);

    // Delete.
    let deleted = admin_post(gw, "/key/delete", json!({"keys": [new_key, other]})).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.body, json!({"deleted_keys": [new_key, other]}));
    assert_eq!(
        error(&chat(gw, &new_key, "gpt-4o").await),
        (
            401,
            "authentication_error",
            "Authentication Error: invalid API key"
        )
    );
    let gone = get(gw, &format!("/key/info?key={new_key}"), Some(MASTER)).await;
    assert_eq!(
        error(&gone),
        (404, "invalid_request_error", "key not found")
    );
}

async fn sqlx_any_pool(url: &str) -> sqlx::AnyPool {
    llmux_tests::db::any_pool(url).await.unwrap()
}

#[tokio::test]
async fn key_lifecycle_on_sqlite() {
    let (_upstream, gw) = common::started(config).await;
    let url = gw.database_url.clone();
    lifecycle(&gw, &url).await;
}

#[tokio::test]
async fn key_lifecycle_on_postgres() {
    let upstream = openai::start().await.unwrap();
    let gw = TestGateway::start_on_postgres(&config(&upstream)).await;
    if let Some(gw) = gw.unwrap() {
        lifecycle(&gw, &gw.database_url).await;
    }
}

#[tokio::test]
async fn only_the_master_key_manages_keys() {
    let (_upstream, gw) = common::started(config).await;
    let key = generate(&gw, json!({})).await;

    let none = post(&gw, "/key/generate", None, json!({})).await;
    assert_eq!(error(&none).0, 401);
    let as_key = post(&gw, "/key/generate", Some(&key), json!({})).await;
    assert_eq!(
        error(&as_key),
        (
            403,
            "permission_error",
            "only the master key may manage keys"
        )
    );
    let wrong = chat(&gw, "sk-not-a-key", "gpt-4o").await;
    assert_eq!(
        error(&wrong),
        (
            401,
            "authentication_error",
            "Authentication Error: invalid API key"
        )
    );
    // The master key itself calls models.
    assert_eq!(chat(&gw, MASTER, "gpt-4o").await.status, 200);
}

/// Architecture issue: admin auth is one layer over the admin plane. Every
/// admin route, one by one, refuses no key, a wrong key and a virtual key
/// before it reads a body or a query, and lets the master key through.
#[tokio::test]
async fn every_admin_route_refuses_anything_but_the_master_key() {
    let (_upstream, gw) = common::started(config).await;
    let key = generate(&gw, json!({})).await;
    assert_eq!(llmux_proxy::admin::ADMIN_ROUTES.len(), 32);
    for (method, route) in llmux_proxy::admin::ADMIN_ROUTES {
        // A route with an id: one that does not exist (404 for the master key).
        let path = &route.replace("{id}", "unknown");
        let method: reqwest::Method = method.parse().unwrap();
        let body = (method == reqwest::Method::POST).then(|| json!({}));
        let none = send(&gw, method.clone(), path, None, body.clone()).await;
        assert_eq!(error(&none).0, 401, "{method} {path} without a key");
        let wrong = send(&gw, method.clone(), path, Some("sk-wrong"), body.clone()).await;
        assert_eq!(error(&wrong).0, 401, "{method} {path} with a wrong key");
        let as_key = send(&gw, method.clone(), path, Some(&key), body.clone()).await;
        assert_eq!(
            error(&as_key),
            (
                403,
                "permission_error",
                "only the master key may manage keys"
            ),
            "{method} {path} with a virtual key"
        );
        let admin = send(&gw, method.clone(), path, Some(MASTER), body).await;
        if path != route {
            assert_eq!(admin.status, 404, "{method} {path}: {}", admin.body);
            continue;
        }
        assert!(
            ![401, 403, 404, 405].contains(&admin.status),
            "{method} {path} with the master key: {} {}",
            admin.status,
            admin.body
        );
    }
}

/// Hardening issue, finding 9: `page=i64::MAX` overflowed the offset
/// (PostgreSQL 503, SQLite page 1), a NUL byte in an id came back as the
/// database's own error text, and a bad query string answered plain text.
#[tokio::test]
async fn huge_pages_nul_bytes_and_bad_queries_are_clear_400s() {
    let (_upstream, gw) = common::started(config).await;
    for path in [
        "/key/list?page=9223372036854775807",
        "/user/list?page=9223372036854775807&page_size=100",
    ] {
        let r = get(&gw, path, Some(MASTER)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(r.body["error"]["param"], "page", "{path}");
    }
    let r = get(&gw, "/user/info?user_id=a%00b", Some(MASTER)).await;
    assert_eq!(
        error(&r),
        (
            400,
            "invalid_request_error",
            "admin requests may not contain NUL characters (\\u0000 or %00)"
        )
    );
    let r = admin_post(&gw, "/user/new", json!({"user_id": "a\u{0}b"})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = get(&gw, "/key/list?page=lots", Some(MASTER)).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["error"]["type"], "invalid_request_error",
        "{}",
        r.body
    );
}

#[tokio::test]
async fn bad_management_input_is_a_400_naming_the_field() {
    let (_upstream, gw) = common::started(config).await;
    let cases = [
        (
            json!({"max_budget": -1}),
            "max_budget must be a non-negative number, got -1",
        ),
        (
            json!({"duration": "soon"}),
            "duration 'soon' is not like 30s, 30m, 24h, 30d (at most 1000 years)",
        ),
        (
            json!({"budget_duration": "x"}),
            "budget_duration 'x' is not like 30s, 30m, 24h, 30d (at most 1000 years)",
        ),
        // Found by reading for the OpenAPI description: now + this
        // overflowed (a panic in debug builds, a wrapped time in release).
        (
            json!({"duration": "9223372036854775000s"}),
            "duration '9223372036854775000s' is not like 30s, 30m, 24h, 30d (at most 1000 years)",
        ),
        (
            json!({"budget_duration": "1001y"}),
            "budget_duration '1001y' is not like 30s, 30m, 24h, 30d (at most 1000 years)",
        ),
        (
            json!({"rpm_limit": -5}),
            "rpm_limit must not be negative, got -5",
        ),
        (
            json!({"key": "abc"}),
            "a custom key must start with 'sk-' and be at least 8 characters",
        ),
    ];
    for (body, message) in cases {
        let r = post(&gw, "/key/generate", Some(MASTER), body.clone()).await;
        assert_eq!(error(&r), (400, "invalid_request_error", message), "{body}");
    }
    let unknown = admin_post(&gw, "/key/generate", json!({"modles": ["gpt-4o"]})).await;
    assert_eq!(unknown.status, 400);
    assert!(
        error(&unknown).2.contains("unknown field `modles`"),
        "{}",
        unknown.body
    );
    let wrong_type = admin_post(&gw, "/key/generate", json!({"models": "gpt-4o"})).await;
    assert_eq!(wrong_type.status, 400, "{}", wrong_type.body);

    // A custom key, then the same key again.
    let custom = admin_post(&gw, "/key/generate", json!({"key": "sk-my-custom-key"})).await;
    assert_eq!(
        (custom.status, custom.body["key"].clone()),
        (200, json!("sk-my-custom-key"))
    );
    let again = admin_post(&gw, "/key/generate", json!({"key": "sk-my-custom-key"})).await;
    assert_eq!(
        error(&again),
        (400, "invalid_request_error", "that key already exists")
    );

    let no_key = get(&gw, "/key/info", Some(MASTER)).await;
    assert_eq!(
        error(&no_key),
        (
            400,
            "invalid_request_error",
            "the key query parameter is required"
        )
    );
    let empty_delete = post(&gw, "/key/delete", Some(MASTER), json!({"keys": []})).await;
    assert_eq!(
        error(&empty_delete),
        (
            400,
            "invalid_request_error",
            "keys must list at least one key"
        )
    );
    let missing = admin_post(&gw, "/key/delete", json!({"keys": ["sk-missing-key"]})).await;
    assert_eq!(
        error(&missing),
        (404, "invalid_request_error", "key not found: sk-...-key")
    );
    // The gateway still serves.
    assert_eq!(chat(&gw, MASTER, "gpt-4o").await.status, 200);
}

#[tokio::test]
async fn exhausted_budget_is_a_400_like_litellm() {
    let (upstream, gw) = common::started(config).await;
    let key = generate(&gw, json!({"max_budget": 0})).await;
    let r = chat(&gw, &key, "gpt-4o").await;
    assert_eq!(
        error(&r),
        (
            400,
            "invalid_request_error",
            "Budget has been exceeded! Current cost: 0, Max budget: 0"
        )
    );
    assert_eq!(r.body["error"]["code"], json!("budget_exceeded"));
    assert_untouched(&upstream, "nothing may reach the upstream");
}

#[tokio::test]
async fn rpm_limit_answers_429_with_retry_after() {
    let (upstream, gw) = common::started(config).await;
    let key = generate(&gw, json!({"rpm_limit": 2})).await;
    assert_eq!(chat(&gw, &key, "gpt-4o").await.status, 200);
    assert_eq!(chat(&gw, &key, "gpt-4o").await.status, 200);
    let limited = chat(&gw, &key, "gpt-4o").await;
    assert_eq!(
        error(&limited),
        (
            429,
            "rate_limit_error",
            "rate limit exceeded for this key: 2 requests per minute"
        )
    );
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&retry),
        "retry-after is the rest of the minute: {retry}"
    );
    assert_eq!(upstream.requests().len(), 2);
    // Another key has its own limit.
    let other = generate(&gw, json!({"rpm_limit": 2})).await;
    assert_eq!(chat(&gw, &other, "gpt-4o").await.status, 200);
}

#[tokio::test]
async fn max_parallel_requests_limits_calls_in_flight() {
    let (upstream, gw) = common::started(config).await;
    let key = generate(&gw, json!({"max_parallel_requests": 1})).await;
    upstream.enqueue(
        MockResponse::json(200, &openai::chat_completion("gpt-4o"))
            .with_delay(Duration::from_millis(500)),
    );
    let slow = {
        let url = gw.url.clone();
        let key = key.clone();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{url}/chat/completions"))
                .bearer_auth(key)
                .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    // Wait until the slow call is in flight upstream.
    for _ in 0..100 {
        if !upstream.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = chat(&gw, &key, "gpt-4o").await;
    assert_eq!(
        error(&second),
        (
            429,
            "rate_limit_error",
            "max parallel requests reached for this key: 1"
        )
    );
    assert_eq!(slow.await.unwrap(), 200);
    // The slot is released when the call ends.
    assert_eq!(chat(&gw, &key, "gpt-4o").await.status, 200);
}

#[tokio::test]
async fn expired_keys_are_refused() {
    let (_upstream, gw) = common::started(config).await;
    // A second passing on the wall clock mid-test made this flaky.
    gw.clock.freeze();
    let key = generate(&gw, json!({"duration": "1h"})).await;
    assert_eq!(chat(&gw, &key, "gpt-4o").await.status, 200);
    gw.clock.advance(3599);
    assert_eq!(chat(&gw, &key, "gpt-4o").await.status, 200);
    gw.clock.advance(1);
    let r = chat(&gw, &key, "gpt-4o").await;
    assert_eq!(
        error(&r),
        (
            401,
            "authentication_error",
            "Authentication Error: this key has expired"
        )
    );
}

/// Move `clocks` to one second past the next minute boundary, so a test's
/// one-minute windows do not roll over while it runs.
fn align_to_minute(clocks: &[&llmux_store::clock::OffsetClock]) {
    use llmux_store::clock::Clock;
    let now = clocks[0].now();
    let by = 60 - now.rem_euclid(60) + 1;
    for c in clocks {
        c.advance(by);
    }
}

/// A gateway whose clock is just past a minute boundary, and a key with
/// `limits`.
async fn key_at_a_minute_start(limits: Value) -> (MockServer, TestGateway, String) {
    let (upstream, gw) = common::started(config).await;
    align_to_minute(&[&gw.clock]);
    let key = generate(&gw, limits).await;
    (upstream, gw, key)
}

#[tokio::test]
async fn rpm_window_reopens_the_next_minute() {
    let (_upstream, gw, key) = key_at_a_minute_start(json!({"rpm_limit": 1})).await;
    assert_eq!(chat(&gw, &key, "gpt-4o").await.status, 200);
    let limited = chat(&gw, &key, "gpt-4o").await;
    assert_eq!(limited.status, 429);
    // The rest of the minute (the test started just after a boundary).
    let retry: i64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((40..=59).contains(&retry), "{retry}");
    gw.clock.advance(retry);
    assert_eq!(chat(&gw, &key, "gpt-4o").await.status, 200);
}

#[tokio::test]
async fn tpm_limit_counts_the_tokens_of_finished_calls() {
    // Each mock call uses 14 tokens: two fit under 20 (the second starts at 14).
    let (_upstream, gw, key) = key_at_a_minute_start(json!({"tpm_limit": 20})).await;
    assert_eq!(chat(&gw, &key, "gpt-4o").await.status, 200);
    wait_for(|| async { chat_probe_tokens(&gw, &key).await }).await;
    let limited = chat(&gw, &key, "gpt-4o").await;
    assert_eq!(
        error(&limited),
        (
            429,
            "rate_limit_error",
            "rate limit exceeded for this key: 20 tokens per minute"
        )
    );
}

/// Call once more; true when the call went through (the tokens of the first
/// call are counted asynchronously, so the second may need a moment).
async fn chat_probe_tokens(gw: &TestGateway, key: &str) -> bool {
    chat(gw, key, "gpt-4o").await.status == 200
}

async fn wait_for<F, Fut>(mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..50 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached in 1 s");
}

#[tokio::test]
async fn budget_resets_after_budget_duration() {
    let upstream = openai::start().await.unwrap();
    let yaml = config(&upstream).replace(
        "      model: openai/gpt-4o\n",
        "      model: openai/gpt-4o\n      input_cost_per_token: 0.000001\n      output_cost_per_token: 0.000002\n",
    );
    let gw = TestGateway::start(&yaml).await.unwrap();
    // One call may cost up to 28,000 nano (8 prompt tokens counted with
    // gpt-4o's tokenizer at 1,000 + 10 max tokens at 2,000) and costs 19,000:
    // one fits in 40,000, two do not.
    let created = admin_post(
        &gw,
        "/key/generate",
        json!({"max_budget": 0.00004, "budget_duration": "30d"}),
    )
    .await;
    let key = created.body["key"].as_str().unwrap().to_string();
    let first_reset = created.body["budget_reset_at"].as_i64().unwrap();
    let small = || {
        post(
            &gw,
            "/v1/chat/completions",
            Some(&key),
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 10}),
        )
    };
    let ok = small().await;
    assert_eq!(
        (
            ok.status,
            ok.headers["x-llmux-response-cost"].to_str().unwrap()
        ),
        (200, "0.000019")
    );
    let refused = small().await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"]["code"], json!("budget_exceeded"));

    // A new period begins at the reset time, before the reset job has run ...
    gw.clock.advance(30 * 86_400);
    assert_eq!(small().await.status, 200);
    // ... and the job writes it down.
    gw.gateway.flush().await;
    gw.gateway.reset_budgets().await;
    let info = get(&gw, &format!("/key/info?key={key}"), Some(MASTER)).await;
    assert_eq!(
        info.body["info"]["budget_reset_at"],
        json!(first_reset + 30 * 86_400)
    );
    // The new period's spend is what was logged since it began.
    assert_eq!(info.body["info"]["spend"], json!(0.000019));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_keys_rpm_through_redis() {
    if !services::available(&[Service::Postgres, Service::Redis]).await {
        return;
    }
    let upstream = openai::start().await.unwrap();
    let db = TestDb::postgres().await.unwrap();
    let yaml = config(&upstream).replace(
        "router_settings:\n",
        "router_settings:\n  redis_url: redis://127.0.0.1:6379/\n",
    );
    let a = TestGateway::start_with(&yaml, None, &db.url).await.unwrap();
    let b = TestGateway::start_with(&yaml, None, &db.url).await.unwrap();
    align_to_minute(&[&a.clock, &b.clock]);
    let key = generate(&a, json!({"rpm_limit": 3, "max_parallel_requests": 10})).await;
    let mut statuses = Vec::new();
    for gw in [&a, &b, &a, &b, &a, &b] {
        statuses.push(chat(gw, &key, "gpt-4o").await.status);
    }
    // Each instance alone would allow 3.
    assert_eq!(statuses, vec![200, 200, 200, 429, 429, 429]);
}

#[tokio::test]
async fn without_a_master_key_management_is_unavailable() {
    let upstream = openai::start().await.unwrap();
    let yaml =
        config(&upstream).replace(&format!("general_settings:\n  master_key: {MASTER}\n"), "");
    let gw = TestGateway::start(&yaml).await.unwrap();
    let r = post(&gw, "/key/generate", None, json!({})).await;
    assert_eq!(
        error(&r),
        (
            400,
            "invalid_request_error",
            "key management needs general_settings.master_key (and a database; SQLite llmux.db by default)"
        )
    );
}

/// Hardening issue, High 2: `/v1/models`, `/model/info` and `/health`
/// authenticated but skipped the key checks, so a blocked, over-budget or
/// rate-limited key still got 200 and `/health` sent one paid upstream call
/// per deployment for any key.
#[tokio::test]
async fn every_route_applies_every_key_check() {
    let (upstream, gw) = common::started(config).await;
    let routes = ["/v1/models", "/models/gpt-4o", "/model/info"];

    let blocked = generate(&gw, json!({})).await;
    let r = post(&gw, "/key/block", Some(MASTER), json!({"key": blocked})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let broke = generate(&gw, json!({"max_budget": 0})).await;
    let limited = generate(&gw, json!({"rpm_limit": 1})).await;
    // Its one request is counted per minute: the loop below must not cross into the next.
    align_to_minute(&[&gw.clock]);
    assert_eq!(get(&gw, "/v1/models", Some(&limited)).await.status, 200);
    for path in routes {
        let r = get(&gw, path, Some(&blocked)).await;
        assert_eq!(
            error(&r),
            (
                401,
                "authentication_error",
                "Authentication Error: this key has been blocked"
            ),
            "{path}"
        );
        let r = get(&gw, path, Some(&broke)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "budget_exceeded", "{path}");
        let r = get(&gw, path, Some(&limited)).await;
        assert_eq!(r.status, 429, "{path}: {}", r.body);
    }
    let expiring = generate(&gw, json!({"duration": "1h"})).await;
    gw.clock.advance(3600);
    let r = get(&gw, "/v1/models", Some(&expiring)).await;
    assert_eq!(
        error(&r).2,
        "Authentication Error: this key has expired",
        "{}",
        r.body
    );

    // /health calls every deployment: the master key only.
    let ok = generate(&gw, json!({})).await;
    let r = get(&gw, "/health", Some(&ok)).await;
    assert_eq!(
        error(&r),
        (
            403,
            "permission_error",
            "only the master key may call /health: it sends a call to every deployment"
        )
    );
    assert_untouched(&upstream, "no upstream call for a refused /health");
    let r = get(&gw, "/health", Some(MASTER)).await;
    assert_eq!(r.body["healthy_count"], 2, "{}", r.body);
    assert_eq!(upstream.requests().len(), 2);
}

/// Hardening issue, High 2: `/v1/models` listed every group to every key,
/// and `/model/info` showed every key where the upstreams live.
#[tokio::test]
async fn keys_see_only_their_models_and_no_api_base() {
    let (upstream, gw) = common::started(config).await;
    let ids = |r: &Reply, field: &str| -> Vec<String> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m[field].as_str().unwrap().to_string())
            .collect()
    };
    let mini = generate(&gw, json!({"models": ["gpt-4o-mini"]})).await;
    let r = get(&gw, "/v1/models", Some(&mini)).await;
    assert_eq!(ids(&r, "id"), ["gpt-4o-mini"]);
    assert_eq!(get(&gw, "/v1/models/gpt-4o", Some(&mini)).await.status, 404);
    assert_eq!(
        get(&gw, "/v1/models/gpt-4o-mini", Some(&mini)).await.status,
        200
    );
    let r = get(&gw, "/model/info", Some(&mini)).await;
    assert_eq!(ids(&r, "model_name"), ["gpt-4o-mini"]);
    assert_eq!(
        r.body["data"][0]["litellm_params"],
        json!({"model": "openai/gpt-4o-mini"}),
        "no api_base for a virtual key"
    );

    let all = generate(&gw, json!({})).await;
    let r = get(&gw, "/v1/models", Some(&all)).await;
    assert_eq!(ids(&r, "id"), ["gpt-4o", "gpt-4o-mini"]);
    let r = get(&gw, "/model/info", Some(MASTER)).await;
    assert_eq!(ids(&r, "model_name"), ["gpt-4o", "gpt-4o-mini"]);
    assert_eq!(
        r.body["data"][0]["litellm_params"]["api_base"],
        json!(upstream.url()),
        "the master key sees api_base"
    );
}

/// Architecture issue defect (hardening High 3): a key whose `models`
/// column could not be read was treated as "no restriction" (an empty list
/// means every model). Now the key is refused until the row is repaired.
#[tokio::test]
async fn a_key_with_an_unreadable_models_column_is_refused() {
    let (upstream, gw) = common::started(config).await;
    let url = gw.database_url.clone();
    let key = generate(&gw, json!({"models": ["gpt-4o-mini"]})).await;
    let pool = sqlx_any_pool(&url).await;
    sqlx::query("UPDATE llmux_keys SET models = '[\"gpt-4o-mini\"' WHERE token_hash = $1")
        .bind(llmux_proxy::auth::virtual_keys::hash_key(&key))
        .execute(&pool)
        .await
        .unwrap();
    // The key was cached with its readable list; drop it as a restart would.
    if let Some(keys) = &gw.gateway.keys {
        keys.invalidate(&llmux_proxy::auth::virtual_keys::hash_key(&key))
            .await;
    }
    let r = chat(&gw, &key, "gpt-4o").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        error(&r).2.contains("cannot check the API key")
            && error(&r).2.contains("models")
            && error(&r).2.contains("unreadable JSON"),
        "{}",
        r.body
    );
    assert_untouched(&upstream, "nothing reaches the upstream");
}

/// Hardening issue, finding 7: bodies were read (up to the size limit) and
/// parsed before authentication, so unauthenticated clients could make the
/// gateway buffer 31 MB each. Now a request with no key or a wrong one is
/// answered from its headers while its body is still on the way.
#[tokio::test]
async fn callers_are_refused_before_their_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (upstream, gw) = common::started(config).await;
    let addr = gw.url.trim_start_matches("http://").to_string();
    for (path, auth) in [
        ("/v1/chat/completions", ""),
        ("/v1/embeddings", "Authorization: Bearer sk-wrong\r\n"),
        ("/v1/messages", "x-api-key: sk-wrong\r\n"),
    ] {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: 30000000\r\n\r\n{{\"model\": "
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer while the body was pending"))
            .unwrap();
        let text = String::from_utf8_lossy(&answer[..n]);
        assert!(text.starts_with("HTTP/1.1 401"), "{path}: {text}");
        let shape = if path == "/v1/messages" {
            "\"type\":\"authentication_error\""
        } else {
            "\"type\":\"authentication_error\",\"param\":null"
        };
        assert!(text.contains(shape), "{path}: {text}");
    }
    assert!(upstream.requests().is_empty());
}

/// Hardening finding 13: a client address that keeps failing
/// authentication is refused for a minute, before any key is looked up,
/// on the data plane and the admin plane alike.
#[tokio::test]
async fn an_address_guessing_keys_is_refused_for_a_minute() {
    let up = openai::start().await.unwrap();
    let deployments = [openai_deployment("gpt-4o", "gpt-4o", &up.url(), "")];
    let gw = TestGateway::start(&config_yaml(
        &deployments,
        &master_key_settings("sk-master-guess"),
    ))
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let models = |key: &str| {
        client
            .get(format!("{}/v1/models", gw.url))
            .bearer_auth(key)
            .send()
    };
    for i in 0..100 {
        let status = models(&format!("sk-guess-{i}")).await.unwrap().status();
        assert_eq!(status, 401, "attempt {i}");
    }
    let refused = models("sk-guess-100").await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "60");
    // The right key from the same address waits out the minute too, and so
    // does the admin plane.
    assert_eq!(models("sk-master-guess").await.unwrap().status(), 429);
    let admin = client
        .get(format!("{}/key/list", gw.url))
        .bearer_auth("sk-master-guess")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 429);
}

/// Hardening issue: every successful admin change is in the audit log —
/// who (the master key's hash), what (LiteLLM's action and table names),
/// when, the object before and after — with no secret in it; reads and
/// failed changes leave nothing; `GET /audit` filters and pages, `GET
/// /audit/{id}` reads one entry.
async fn audit_trail(gw: &TestGateway) {
    let created = admin_post(
        gw,
        "/key/generate",
        json!({"key_alias": "audited", "metadata": {"logging": [{"callback_name": "langfuse", "callback_vars": {"langfuse_public_key": "pk-lf-1", "langfuse_secret_key": "sk-lf-very-secret-9", "langfuse_host": "os.environ/LANGFUSE_HOST"}}]}}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let key = created.body["key"].as_str().unwrap().to_string();
    let hash = created.body["token"].as_str().unwrap().to_string();
    // Reads and failed changes are not changes.
    assert_eq!(
        get(gw, &format!("/key/info?key={key}"), Some(MASTER))
            .await
            .status,
        200
    );
    let missing = admin_post(
        gw,
        "/key/update",
        json!({"key": "sk-not-a-key", "max_budget": 1}),
    )
    .await;
    assert_eq!(missing.status, 404);
    let updated = admin_post(gw, "/key/update", json!({"key": key, "max_budget": 5.0})).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(
        admin_post(gw, "/key/block", json!({"key": key}))
            .await
            .status,
        200
    );
    let rotated = admin_post(gw, "/key/regenerate", json!({"key": key})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_key = rotated.body["key"].as_str().unwrap().to_string();
    let new_hash = rotated.body["token"].as_str().unwrap().to_string();
    let deleted = admin_post(gw, "/key/delete", json!({"keys": [new_key]})).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(
        admin_post(
            gw,
            "/team/new",
            json!({"team_id": "audit-team", "max_budget": 3})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        admin_post(
            gw,
            "/team/update",
            json!({"team_id": "audit-team", "max_budget": 4})
        )
        .await
        .status,
        200
    );

    let all = get(gw, "/audit?page_size=100", Some(MASTER)).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let text = all.body.to_string();
    for secret in [
        key.as_str(),
        new_key.as_str(),
        "sk-lf-very-secret-9",
        MASTER,
    ] {
        assert!(!text.contains(secret), "{secret} in the audit log: {text}");
    }
    let logs = all.body["audit_logs"].as_array().unwrap();
    let summary: Vec<(String, String, String)> = logs
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["table_name"].as_str().unwrap().to_string(),
                e["object_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let key_table = "LiteLLM_VerificationToken".to_string();
    let team_table = "LiteLLM_TeamTable".to_string();
    // Newest first.
    assert_eq!(
        summary,
        vec![
            ("updated".into(), team_table.clone(), "audit-team".into()),
            ("created".into(), team_table, "audit-team".into()),
            ("deleted".into(), key_table.clone(), new_hash.clone()),
            ("rotated".into(), key_table.clone(), hash.clone()),
            ("blocked".into(), key_table.clone(), hash.clone()),
            ("updated".into(), key_table.clone(), hash.clone()),
            ("created".into(), key_table, hash.clone()),
        ]
    );
    assert_eq!(all.body["total"], 7);
    let master_hash = llmux_proxy::auth::virtual_keys::hash_key(MASTER);
    for e in logs {
        assert_eq!(e["changed_by"], "master_key");
        assert_eq!(e["changed_by_api_key"], json!(master_hash));
        assert!(e["id"].as_str().unwrap().starts_with("audit_"));
        assert!(e["updated_at"].as_str().unwrap().ends_with('Z'), "{e}");
    }
    let by_action = |i: usize| &logs[i];
    // created: nothing before, the key after — its logging secret removed,
    // an environment reference kept.
    let made = by_action(6);
    assert_eq!(made["before_value"], Value::Null);
    assert_eq!(made["updated_values"]["key_alias"], "audited");
    assert_eq!(
        made["updated_values"]["metadata"]["logging"][0]["callback_vars"],
        json!({"langfuse_public_key": "pk-lf-1", "langfuse_secret_key": "[redacted]", "langfuse_host": "os.environ/LANGFUSE_HOST"})
    );
    // updated: the budget before and after.
    let update = by_action(5);
    assert_eq!(update["before_value"]["max_budget"], Value::Null);
    assert_eq!(update["updated_values"]["max_budget"], json!(5.0));
    assert_eq!(by_action(4)["before_value"]["blocked"], false);
    assert_eq!(by_action(4)["updated_values"]["blocked"], true);
    // rotated: the old hash before, the new one after.
    assert_eq!(by_action(3)["before_value"]["token"], json!(hash));
    assert_eq!(by_action(3)["updated_values"]["token"], json!(new_hash));
    // deleted: the key before, nothing after.
    assert_eq!(by_action(2)["before_value"]["token"], json!(new_hash));
    assert_eq!(by_action(2)["updated_values"], Value::Null);
    assert_eq!(by_action(0)["before_value"]["max_budget"], json!(3.0));
    assert_eq!(by_action(0)["updated_values"]["max_budget"], json!(4.0));

    // Filters and pages.
    let one_key = get(
        gw,
        &format!("/audit?object_id={hash}&page_size=2&page=2"),
        Some(MASTER),
    )
    .await;
    assert_eq!(one_key.status, 200, "{}", one_key.body);
    assert_eq!(
        (
            one_key.body["total"].clone(),
            one_key.body["page"].clone(),
            one_key.body["page_size"].clone(),
            one_key.body["total_pages"].clone()
        ),
        (json!(4), json!(2), json!(2), json!(2))
    );
    let actions: Vec<&str> = one_key.body["audit_logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["updated", "created"]);
    let teams = get(
        gw,
        "/audit?table_name=LiteLLM_TeamTable&action=created",
        Some(MASTER),
    )
    .await;
    assert_eq!(teams.body["total"], 1, "{}", teams.body);
    let today = get(
        gw,
        "/audit?start_date=2000-01-01&end_date=2999-12-31",
        Some(MASTER),
    )
    .await;
    assert_eq!(today.body["total"], 7, "{}", today.body);
    let before_2000 = get(gw, "/audit?end_date=1999-12-31", Some(MASTER)).await;
    assert_eq!(before_2000.body["total"], 0, "{}", before_2000.body);
    let bad_date = get(gw, "/audit?start_date=yesterday", Some(MASTER)).await;
    assert_eq!(bad_date.status, 400, "{}", bad_date.body);

    let id = logs[3]["id"].as_str().unwrap();
    let single = get(gw, &format!("/audit/{id}"), Some(MASTER)).await;
    assert_eq!(single.status, 200);
    assert_eq!(single.body, logs[3]);
    let unknown = get(gw, "/audit/audit_unknown", Some(MASTER)).await;
    assert_eq!(
        error(&unknown),
        (
            404,
            "invalid_request_error",
            "audit entry not found: audit_unknown"
        )
    );
}

#[tokio::test]
async fn admin_changes_are_audited_on_sqlite() {
    let (_upstream, gw) = common::started(config).await;
    audit_trail(&gw).await;
}

#[tokio::test]
async fn admin_changes_are_audited_on_postgres() {
    let upstream = openai::start().await.unwrap();
    if let Some(gw) = TestGateway::start_on_postgres(&config(&upstream))
        .await
        .unwrap()
    {
        audit_trail(&gw).await;
    }
}
