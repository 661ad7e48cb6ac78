//! Two `llmux serve` processes on different ports, one PostgreSQL and one
//! Redis: one key's rpm and budget hold across both, as a platform team runs
//! several instances behind a load balancer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use llmux_tests::services::{self, Service};
use std::path::PathBuf;
use std::time::Duration;

use llmux_tests::db::TestDb;
use llmux_tests::mock::{openai, MockServer};
use llmux_tests::process::ServeProcess;
use serde_json::{json, Value};

const MASTER: &str = "sk-master-two";

async fn serve(config: &std::path::Path, database_url: &str) -> ServeProcess {
    ServeProcess::start(
        env!("CARGO_BIN_EXE_llmux"),
        config,
        &[("DATABASE_URL", database_url)],
    )
    .await
    .unwrap()
}

fn config(dir: &std::path::Path, upstream: &MockServer) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            r#"model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: {}
      api_key: sk-upstream
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
router_settings:
  num_retries: 0
  redis_url: redis://127.0.0.1:6379/
general_settings:
  master_key: {MASTER}
"#,
            upstream.url()
        ),
    )
    .unwrap();
    path
}

async fn chat(url: &str, key: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 10}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn new_key(url: &str, body: Value) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!("{url}/key/generate"))
        .bearer_auth(MASTER)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["key"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_enforce_one_keys_rpm_and_budget_together() {
    if !services::available(&[Service::Postgres, Service::Redis]).await {
        return;
    }
    // Rate windows are wall-clock minutes: do not start just before one ends.
    let second = llmux_core::unix_now() % 60;
    if second > 50 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
    let upstream = openai::start().await.unwrap();
    let db = TestDb::postgres().await.unwrap();
    let dir = std::env::temp_dir().join(format!("llmux-two-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = config(&dir, &upstream);
    let a = serve(&config, &db.url).await;
    let b = serve(&config, &db.url).await;

    // rpm 3 across both instances.
    let key = new_key(&a.url, json!({"rpm_limit": 3})).await;
    let mut statuses = Vec::new();
    for url in [&a.url, &b.url, &a.url, &b.url, &a.url, &b.url] {
        statuses.push(chat(url, &key).await.0);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429, 429]);

    // A budget of 40,000 nano-dollars: each call may cost up to 28,000 and
    // costs 19,000, so across both instances exactly one call fits.
    let key = new_key(&b.url, json!({"max_budget": 0.00004})).await;
    let calls = [&a.url, &b.url, &a.url, &b.url].map(|u| {
        let (u, k) = (u.clone(), key.clone());
        tokio::spawn(async move { chat(&u, &k).await })
    });
    let mut ok = 0;
    for c in calls {
        let (status, body) = c.await.unwrap();
        match status {
            200 => ok += 1,
            400 => assert_eq!(body["error"]["code"], json!("budget_exceeded"), "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1);
    drop(a);
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
