//! `llmux chat` as a user runs it: the real binary against a mock upstream.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::io::Write;
use std::process::{Command, Output, Stdio};

use llmux_tests::mock::openai::{self, chunk, error_body, sse_parts};
use llmux_tests::mock::{MockResponse, StreamPart};
use serde_json::{json, Value};

/// Run `llmux` with `args`, a clean environment plus `env`, and `stdin`.
async fn llmux(
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    stdin: Option<&'static str>,
) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmux"));
        cmd.args(&args).env_clear().envs(env);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

/// `llmux chat -m openai/gpt-4o --api-base <base> --api-key <key> <rest>`,
/// with no environment and no stdin.
async fn openai_chat(base: &str, key: &str, rest: &[&str]) -> Output {
    let head = [
        "chat",
        "-m",
        "openai/gpt-4o",
        "--api-base",
        base,
        "--api-key",
        key,
    ];
    llmux(args(&[&head[..], rest].concat()), vec![], None).await
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_the_answer_with_all_options() {
    let server = openai::start().await.unwrap();
    let base = format!("{}/v1", server.url());
    let out = openai_chat(
        &base,
        "sk-cli",
        &[
            "--system",
            "Be brief.",
            "--temperature",
            "0.5",
            "--max-tokens",
            "20",
            "Hello",
            "world",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello from the mock!\n"
    );
    let sent = server.last_request().unwrap();
    assert_eq!(sent.header("authorization"), Some("Bearer sk-cli"));
    assert_eq!(
        sent.json(),
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello world"}
            ],
            "temperature": 0.5,
            "max_tokens": 20,
            "stream": true
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_the_prompt_from_stdin_and_the_key_from_the_env() {
    let server = openai::start().await.unwrap();
    let out = llmux(
        args(&["chat", "-m", "groq/llama-3.3-70b-versatile"]),
        vec![
            ("GROQ_API_KEY", "gsk-env".into()),
            ("GROQ_API_BASE", server.url()),
        ],
        Some("What is Rust?\n"),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer gsk-env"));
    assert_eq!(
        sent.json()["messages"],
        json!([{"role": "user", "content": "What is Rust?"}])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_prints_the_raw_response() {
    let server = openai::start().await.unwrap();
    let out = llmux(
        args(&["chat", "-m", "openai/gpt-4o", "--json", "Hi"]),
        vec![
            ("OPENAI_API_KEY", "sk".into()),
            ("OPENAI_BASE_URL", server.url()),
        ],
        None,
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut expected = openai::chat_completion("gpt-4o");
    expected["choices"][0]["message"]
        .as_object_mut()
        .unwrap()
        .remove("refusal");
    assert_eq!(printed, expected);
    assert_eq!(server.last_request().unwrap().json().get("stream"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_key_names_the_env_var() {
    let out = llmux(args(&["chat", "-m", "openai/gpt-4o", "Hi"]), vec![], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: AuthenticationError: openai: no API key for openai: set the OPENAI_API_KEY environment variable or pass api_key\n"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_provider_lists_the_known_ones() {
    let out = llmux(args(&["chat", "-m", "llama-3-70b", "Hi"]), vec![], None).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "error: BadRequestError: LLM provider not provided for model 'llama-3-70b'"
        ),
        "{err}"
    );
    assert!(
        err.contains("groq") && err.contains("openrouter") && err.contains("azure"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_errors_exit_non_zero_with_the_providers_message() {
    let server = openai::start().await.unwrap();
    server.enqueue(MockResponse::json(
        401,
        &error_body(
            "Incorrect API key provided: sk-bad.",
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        ),
    ));
    let out = openai_chat(&server.url(), "sk-bad", &["Hi"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: AuthenticationError: openai: Incorrect API key provided: sk-bad.\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_cut_short_prints_what_came_then_fails() {
    let server = openai::start().await.unwrap();
    let mut parts = sse_parts(&[chunk(
        "gpt-4o",
        json!({"role": "assistant", "content": "Partial"}),
        None,
    )]);
    parts.push(StreamPart::Abort);
    server.enqueue(MockResponse::stream("text/event-stream", parts));
    let out = openai_chat(&server.url(), "k", &["Hi"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Partial\n");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: APIConnectionError: "));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_prompt_is_a_clear_error() {
    let out = llmux(
        args(&["chat", "-m", "openai/gpt-4o"]),
        vec![("OPENAI_API_KEY", "k".into())],
        Some(""),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no prompt: stdin was empty\n"
    );
}
