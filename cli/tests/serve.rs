//! `llmux serve` as an operator runs it: the real binary, a mock upstream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use llmux_tests::mock::openai;
use llmux_tests::process::ServeProcess;
use serde_json::{json, Value};

/// A scratch directory for one test's gateway, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("llmux-serve-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_from_the_environment_alone() {
    let up = openai::start().await.unwrap();
    let dir = TempDir::new("env");
    let serve = ServeProcess::start_in(
        env!("CARGO_BIN_EXE_llmux"),
        &dir.0,
        &[],
        &[("OPENAI_API_KEY", "sk-env"), ("OPENAI_BASE_URL", &up.url())],
    )
    .await
    .unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", serve.url))
        .json(&json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["choices"][0]["message"]["content"],
        openai::REPLY
    );
    assert_eq!(
        up.last_request().unwrap().header("authorization"),
        Some("Bearer sk-env")
    );
    let models: Value = reqwest::get(format!("{}/v1/models", serve.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "openai/*");
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_a_litellm_config_file() {
    let up = openai::start().await.unwrap();
    let dir = TempDir::new("config");
    let path = dir.0.join("config.yaml");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(
        f,
        "model_list:\n  - model_name: fast\n    litellm_params:\n      model: groq/llama-3.3-70b-versatile\n      api_key: os.environ/MY_GROQ_KEY\n      api_base: {}\ngeneral_settings:\n  master_key: sk-admin\n",
        up.url()
    )
    .unwrap();
    let serve = ServeProcess::start(
        env!("CARGO_BIN_EXE_llmux"),
        &path,
        &[("MY_GROQ_KEY", "gsk-config")],
    )
    .await
    .unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/chat/completions", serve.url))
        .bearer_auth("sk-admin")
        .json(&json!({"model": "fast", "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = up.last_request().unwrap();
    assert_eq!(sent.header("authorization"), Some("Bearer gsk-config"));
    assert_eq!(sent.json()["model"], "llama-3.3-70b-versatile");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_config_fails_at_start_with_file_path_and_reason() {
    let dir = std::env::temp_dir().join(format!("llmux-serve-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    std::fs::write(&path, "model_list:\n  - model_name: x\n    litellm_params:\n      model: openai/gpt-4o\n      rpm: many\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_llmux"))
        .args(["serve", "--config", path.to_str().unwrap(), "--port", "0"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "error: {}: model_list[0].litellm_params.rpm: expected a number, got 'many'",
            path.display()
        )),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_llmux"))
        .args(["serve", "--port", "0"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no models to serve"));
}

#[test]
fn check_config_validates_without_serving() {
    let dir = TempDir::new("check-config");
    let good = dir.0.join("good.yaml");
    std::fs::write(
        &good,
        "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: sk-x\n  - model_name: claude\n    litellm_params:\n      model: anthropic/claude-sonnet-4-5\n      api_key: sk-ant-x\ngeneral_settings:\n  master_key: sk-3f9a0c1d2e4b5a6c\n  database_url: postgres://nowhere.invalid/db\n  responses_retention: 7d\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_llmux"))
        .args([
            "serve",
            "--check-config",
            "--config",
            good.to_str().unwrap(),
        ])
        .env_clear()
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "config OK: 2 model groups (claude, gpt)\n"
    );
    // No database opened (the URL is unreachable), no file written.
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);

    let bad = dir.0.join("bad.yaml");
    std::fs::write(
        &bad,
        "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: sk-x\ngeneral_settings:\n  responses_retention: forever\n",
    )
    .unwrap();
    let check = |path: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_llmux"))
            .args([
                "serve",
                "--check-config",
                "--config",
                path.to_str().unwrap(),
            ])
            .env_clear()
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = check(&bad);
    assert!(
        err.contains("general_settings.responses_retention: expected a duration such as 30d or 12h, got 'forever'"),
        "{err}"
    );
    // A provider without its credentials is caught too.
    let keyless = dir.0.join("keyless.yaml");
    std::fs::write(
        &keyless,
        "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n",
    )
    .unwrap();
    let err = check(&keyless);
    assert!(
        err.contains("model_list entry 'gpt' (openai/gpt-4o): no API key for openai"),
        "{err}"
    );
}

#[test]
fn version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_llmux"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = format!("llmux {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&expected), "{text}");
    let date = text
        .trim_end()
        .trim_end_matches(')')
        .rsplit(", ")
        .next()
        .unwrap();
    assert!(
        date == "unknown" || (date.len() == 10 && date.as_bytes()[4] == b'-'),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_fails_readiness_then_drains_then_flushes_spend() {
    let up = openai::start().await.unwrap();
    let dir = TempDir::new("drain");
    let path = dir.0.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: sk-up\n      api_base: {}\ngeneral_settings:\n  master_key: sk-3f9a0c1d2e4b5a6c\n  drain_delay: 2s\n",
            up.url()
        ),
    )
    .unwrap();
    let mut serve = ServeProcess::start(env!("CARGO_BIN_EXE_llmux"), &path, &[])
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let chat = || {
        client
            .post(format!("{}/v1/chat/completions", serve.url))
            .bearer_auth("sk-3f9a0c1d2e4b5a6c")
            .json(&json!({"model": "gpt", "messages": [{"role": "user", "content": "Hi"}]}))
            .send()
    };
    let ready = || client.get(format!("{}/health/readiness", serve.url)).send();
    assert_eq!(chat().await.unwrap().status(), 200);
    assert_eq!(ready().await.unwrap().status(), 200);

    serve.terminate().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Readiness fails first, while calls are still served…
    let r = ready().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "draining"})
    );
    assert_eq!(chat().await.unwrap().status(), 200);
    // …then the gateway drains, flushes its spend and exits cleanly.
    let status = serve.wait_exit(Duration::from_secs(15)).await.unwrap();
    assert!(status.success(), "{status}");
    let store =
        llmux_store::Store::connect(&format!("sqlite://{}", dir.0.join("llmux.db").display()))
            .await
            .unwrap();
    let (_, rows) = store
        .spend_total(&llmux_store::SpendFilter::default())
        .await
        .unwrap();
    assert_eq!(rows, 2, "both served calls are in the spend log");
}
