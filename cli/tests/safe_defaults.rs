//! Safe-defaults issue: `llmux serve` never opens a keyless gateway to the
//! network by accident. The real binary, checked for the address it listens
//! on (from /proc/net/tcp), its exit code and its message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::PathBuf;
use std::process::Command;

use llmux_tests::mock::{openai, MockServer};
use llmux_tests::process::{free_port, listening_addresses, ServeProcess};
use serde_json::{json, Value};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llmux-safe-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `llmux serve ARGS` (nothing added) in the scratch directory `name`, with
/// an OpenAI key and a mock OpenAI upstream, which it returns to keep alive.
async fn serve_with_mock_openai(name: &str, args: &[&str]) -> (MockServer, PathBuf, ServeProcess) {
    let up = openai::start().await.unwrap();
    let dir = scratch(name);
    let env = [("OPENAI_API_KEY", "sk-env"), ("OPENAI_BASE_URL", &up.url())];
    let serve = ServeProcess::start_as_given(env!("CARGO_BIN_EXE_llmux"), &dir, args, &env)
        .await
        .unwrap();
    (up, dir, serve)
}

/// `llmux serve ARGS --port P` with exactly `env`, expected to refuse to start.
fn refused(dir: &PathBuf, args: &[&str], env: &[(&str, &str)]) -> String {
    let port = free_port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_llmux"))
        .arg("serve")
        .args(args)
        .args(["--port", &port])
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

/// Before: `llmux serve` with only a provider key listened on 0.0.0.0:4000
/// with no authentication.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_master_key_it_listens_on_loopback_only() {
    let (up, dir, serve) = serve_with_mock_openai("loopback", &[]).await;
    assert_eq!(listening_addresses(serve.port), ["127.0.0.1"]);
    // And it serves there, bare model names included.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", serve.url))
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.last_request().unwrap().json()["model"], "gpt-4o");
    drop(serve);
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("serve-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .unwrap();
    assert!(
        log.contains("no master key set") && log.contains("LLMUX_MASTER_KEY"),
        "says how to add a key: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_keyless_or_weak_gateway_beyond_loopback_is_refused() {
    let dir = scratch("refused");
    let provider = ("OPENAI_API_KEY", "sk-env");
    let err = refused(&dir, &["--host", "0.0.0.0"], &[provider]);
    assert!(
        err.contains("refusing to listen on 0.0.0.0: no master key is set")
            && err.contains("LLMUX_MASTER_KEY=sk-$(openssl rand -hex 16)")
            && err.contains("--dangerously-permit-weak-or-unset-master-key"),
        "{err}"
    );
    let err = refused(
        &dir,
        &["--host", "0.0.0.0"],
        &[provider, ("LLMUX_MASTER_KEY", "sk-1234")],
    );
    assert!(
        err.contains("refusing to listen on 0.0.0.0: the master key is publicly known"),
        "{err}"
    );
    let config = dir.join("empty-key.yaml");
    std::fs::write(&config, "general_settings:\n  master_key: \"\"\n").unwrap();
    let err = refused(
        &dir,
        &["--config", config.to_str().unwrap(), "--host", "::"],
        &[provider],
    );
    assert!(
        err.contains("refusing to listen on ::: the master key is empty"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The override (flag, LiteLLM's environment variable or its config
/// setting) lets the start go on. 192.0.2.1 (TEST-NET-1) is no address of
/// this machine, so the bind itself then fails: the test never opens a port
/// beyond loopback, and the message shows the safety check was passed.
#[test]
fn the_litellm_override_permits_it_for_local_development() {
    let dir = scratch("override");
    let provider = ("OPENAI_API_KEY", "sk-env");
    let config = dir.join("permit.yaml");
    std::fs::write(
        &config,
        "general_settings:\n  dangerously_permit_weak_or_unset_master_key: true\n",
    )
    .unwrap();
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let cases: [Case; 3] = [
        (
            vec![
                "--host",
                "192.0.2.1",
                "--dangerously-permit-weak-or-unset-master-key",
            ],
            vec![provider],
        ),
        (
            vec!["--host", "192.0.2.1"],
            vec![
                provider,
                (
                    "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY",
                    "true",
                ),
            ],
        ),
        (
            vec!["--host", "192.0.2.1", "--config", config.to_str().unwrap()],
            vec![provider],
        ),
    ];
    for (args, env) in cases {
        let err = refused(&dir, &args, &env);
        assert!(
            err.contains("cannot listen on 192.0.2.1:") && !err.contains("refusing"),
            "{args:?}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `GET /` answered 404 `model_not_found`; unknown routes were model errors.
#[tokio::test(flavor = "multi_thread")]
async fn the_root_points_the_way_and_unknown_routes_are_not_model_errors() {
    let (_up, dir, serve) = serve_with_mock_openai("routes", &["--host", "127.0.0.1"]).await;
    let root = reqwest::get(format!("{}/", serve.url)).await.unwrap();
    assert_eq!(root.status(), 200);
    let root: Value = root.json().await.unwrap();
    assert_eq!(root["name"], "llmux");
    assert_eq!(root["routes"]["openai"][0], "POST /v1/chat/completions");
    let missing = reqwest::Client::new()
        .post(format!("{}/v1/nothing/here", serve.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"error": {
            "message": "Unknown route: POST /v1/nothing/here. The OpenAI-compatible API is under /v1 (e.g. POST /v1/chat/completions); GET / lists the routes",
            "type": "invalid_request_error",
            "param": null,
            "code": "not_found"
        }})
    );
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}
