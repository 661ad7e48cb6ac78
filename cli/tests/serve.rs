//! `llmux serve` as an operator runs it: the real binary, a mock upstream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use llmux_tests::mock::openai;
use serde_json::{json, Value};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], env: &[(&str, String)]) -> Serve {
    let child = Command::new(env!("CARGO_BIN_EXE_llmux"))
        .arg("serve")
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.clone())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Serve(child)
}

/// Poll until the gateway answers, returning how long that took.
async fn wait_ready(port: u16) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::new();
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/health/liveliness"))
            .send()
            .await
        {
            if r.status() == 200 {
                return started.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gateway did not come up on port {port}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_from_the_environment_alone() {
    let up = openai::start().await.unwrap();
    let port = free_port();
    let _serve = spawn(
        &["--host", "127.0.0.1", "--port", &port.to_string()],
        &[
            ("OPENAI_API_KEY", "sk-env".into()),
            ("OPENAI_BASE_URL", up.url()),
        ],
    );
    wait_ready(port).await;
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
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
    let models: Value = reqwest::get(format!("http://127.0.0.1:{port}/v1/models"))
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
    let dir = std::env::temp_dir().join(format!("llmux-serve-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.yaml");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(
        f,
        "model_list:\n  - model_name: fast\n    litellm_params:\n      model: groq/llama-3.3-70b-versatile\n      api_key: os.environ/MY_GROQ_KEY\n      api_base: {}\ngeneral_settings:\n  master_key: sk-admin\n",
        up.url()
    )
    .unwrap();
    let port = free_port();
    let _serve = spawn(
        &[
            "--config",
            path.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ],
        &[
            ("MY_GROQ_KEY", "gsk-config".into()),
            (
                "DATABASE_URL",
                format!("sqlite://{}", dir.join("llmux.db").display()),
            ),
        ],
    );
    wait_ready(port).await;
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/chat/completions"))
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
