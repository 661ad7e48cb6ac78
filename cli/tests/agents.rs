//! Agent CLIs through `llmux serve`, pinned in
//! `tests/clients/agents/package.json`: OpenAI's Codex CLI (`@openai/codex`)
//! in `codex exec` mode with a model provider pointed at the gateway's
//! Responses API, and Anthropic's Claude Code (`@anthropic-ai/claude-code`)
//! in `claude -p` mode with `ANTHROPIC_BASE_URL` on the gateway. Each
//! upstream is scripted: the first turn asks for a shell command, the agent
//! runs it and sends the output back, the second turn answers. Codex once
//! with an OpenAI upstream (native) and once with an Anthropic one
//! (translated); Claude Code with a model-group alias it does not know.
//!
//! Codex is installed by `cargo xtask clients` (which `cargo xtask test`
//! runs first); without it these tests fail and say so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::time::Duration;

use llmux_tests::mock::{anthropic, openai_responses, MockResponse, MockServer, RecordedRequest};
use llmux_tests::process::ServeProcess;
use serde_json::{json, Value};

const MASTER_KEY: &str = "sk-llmux-agents";
/// What the scripted command prints (and writes to a file in Codex's workdir).
const PROOF: &str = "llmux-codex-ok";
const COMMAND: &str = "echo llmux-codex-ok > proof.txt && cat proof.txt";
const FINAL: &str = "The command printed llmux-codex-ok.";
const CALL_ID: &str = "call_llmux_exec_1";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn codex() -> PathBuf {
    agent_bin("codex")
}

fn agent_bin(name: &str) -> PathBuf {
    let bin = root()
        .join("tests/clients/agents/node_modules/.bin")
        .join(name);
    assert!(
        bin.exists(),
        "the agent CLI {name} is not installed ({} is missing): run `cargo xtask clients` \
         (or `cargo xtask test`, which runs it)",
        bin.display()
    );
    bin
}

/// Whether a Responses request carries the output of the scripted call.
fn has_call_output(body: &Value) -> bool {
    body["input"].as_array().into_iter().flatten().any(|i| {
        i["type"] == "function_call_output"
            && i["call_id"] == CALL_ID
            && i["output"].to_string().contains(PROOF)
    })
}

/// The OpenAI upstream: Responses API, streamed.
fn openai_upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    if !req.path.ends_with("/responses") {
        return MockResponse::json(404, &json!({"error": {"message": "not here"}}));
    }
    let model = body["model"].as_str().unwrap_or("gpt-test");
    let events = if has_call_output(&body) {
        openai_responses::text_events(model, &[FINAL])
    } else {
        let args = json!({"cmd": COMMAND}).to_string();
        openai_responses::function_call_events(model, CALL_ID, "exec_command", &args)
    };
    openai_responses::sse_response(&events)
}

/// Whether an Anthropic request carries the scripted tool's result.
fn has_tool_result(body: &Value) -> bool {
    has_result_of(body, CALL_ID)
}

/// Whether an Anthropic request carries the result of tool call `id`.
fn has_result_of(body: &Value, id: &str) -> bool {
    body["messages"].as_array().into_iter().flatten().any(|m| {
        m["content"].as_array().into_iter().flatten().any(|b| {
            b["type"] == "tool_result"
                && b["tool_use_id"] == id
                && b["content"].to_string().contains(PROOF)
        })
    })
}

/// The Anthropic upstream: Messages API, streamed.
fn anthropic_upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    let model = body["model"].as_str().unwrap_or("claude");
    let message = if has_tool_result(&body) {
        anthropic::message(
            model,
            json!([{"type": "text", "text": FINAL}]),
            "end_turn",
            anthropic::usage(120, 12),
        )
    } else {
        anthropic::message(
            model,
            json!([{"type": "tool_use", "id": CALL_ID, "name": "exec_command", "input": {"cmd": COMMAND}}]),
            "tool_use",
            anthropic::usage(100, 20),
        )
    };
    anthropic::sse_response(&anthropic::events_for_message(&message))
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("llmux-agents-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("home/.codex")).unwrap();
    std::fs::create_dir_all(dir.join("work")).unwrap();
    TempDir(dir)
}

/// `llmux serve` with one model group `coder` on `model` at `api_base`.
async fn serve(dir: &Path, model: &str, api_base: &str) -> ServeProcess {
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: coder\n    litellm_params:\n      model: {model}\n      api_base: {api_base}\n      api_key: sk-upstream\n\
             litellm_settings:\n  drop_params: true\nrouter_settings:\n  num_retries: 0\n\
             general_settings:\n  master_key: {MASTER_KEY}\n"
        ),
    )
    .unwrap();
    ServeProcess::start(
        env!("CARGO_BIN_EXE_llmux"),
        &config,
        &[("LLMUX_LOG", "warn")],
    )
    .await
    .unwrap()
}

/// Run `codex exec` against the gateway; its stdout.
async fn run_codex(dir: &Path, gateway_url: &str) -> String {
    let provider = format!(
        "model_providers.llmux={{name=\"llmux\", base_url=\"{gateway_url}/v1\", env_key=\"LLMUX_KEY\", \
         wire_api=\"responses\", request_max_retries=0, stream_max_retries=0}}"
    );
    let mut cmd = tokio::process::Command::new(codex());
    cmd.args([
        "exec",
        "--dangerously-bypass-approvals-and-sandbox",
        "--skip-git-repo-check",
        "-c",
        "model_provider=\"llmux\"",
        "-c",
        &provider,
        "-m",
        "coder",
        "Run the command that proves the gateway works, then tell me what it printed.",
    ])
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("HOME", dir.join("home"))
    .env("CODEX_HOME", dir.join("home/.codex"))
    .env("LLMUX_KEY", MASTER_KEY)
    .current_dir(dir.join("work"))
    .stdin(std::process::Stdio::null())
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("codex exec timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "codex exec failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The tool loop's outcome: the command ran in Codex's workdir and the
/// final answer arrived.
fn assert_tool_loop(dir: &Path, stdout: &str) {
    let proof = std::fs::read_to_string(dir.join("work/proof.txt")).unwrap();
    assert_eq!(proof.trim(), PROOF);
    assert!(stdout.contains(FINAL), "final answer missing:\n{stdout}");
}

#[tokio::test]
async fn codex_exec_tool_loop_through_openai_upstream() {
    let up = MockServer::start(openai_upstream).await.unwrap();
    let dir = temp_dir("openai");
    let gw = serve(&dir.0, "openai/gpt-5-codex", &format!("{}/v1", up.url())).await;
    let stdout = run_codex(&dir.0, &gw.url).await;
    assert_tool_loop(&dir.0, &stdout);
    let reqs = up.requests();
    assert_eq!(reqs.len(), 2, "one request per turn");
    for r in &reqs {
        assert_eq!(r.path, "/v1/responses");
        assert_eq!(r.header("authorization"), Some("Bearer sk-upstream"));
        let body = r.json();
        assert_eq!(body["model"], "gpt-5-codex");
        assert_eq!(body["stream"], true);
    }
    assert!(!has_call_output(&reqs[0].json()));
    assert!(has_call_output(&reqs[1].json()));
}

#[tokio::test]
async fn codex_exec_tool_loop_through_anthropic_upstream() {
    let up = MockServer::start(anthropic_upstream).await.unwrap();
    let dir = temp_dir("anthropic");
    let gw = serve(&dir.0, "anthropic/claude-sonnet-4-5", &up.url()).await;
    let stdout = run_codex(&dir.0, &gw.url).await;
    assert_tool_loop(&dir.0, &stdout);
    let reqs = up.requests();
    assert_eq!(reqs.len(), 2, "one request per turn");
    for r in &reqs {
        assert_eq!(r.path, "/v1/messages");
        assert_eq!(r.header("x-api-key"), Some("sk-upstream"));
        let body = r.json();
        assert_eq!(body["model"], "claude-sonnet-4-5");
        assert_eq!(body["stream"], true);
        let tools: Vec<&str> = body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert!(tools.contains(&"exec_command"), "{tools:?}");
    }
    assert!(!has_tool_result(&reqs[0].json()));
    assert!(has_tool_result(&reqs[1].json()));
}

/// Claude Code's upstream: Anthropic's Messages API, streamed. Its main
/// loop offers the `Bash` tool: the first turn calls it, the one carrying
/// the result answers. Anything else it asks (titles, summaries) gets text.
fn claude_upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    let model = body["model"].as_str().unwrap_or("claude");
    let offers_bash = body["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == "Bash"));
    let message = if has_result_of(&body, CLAUDE_CALL_ID) {
        anthropic::message(
            model,
            json!([{"type": "text", "text": FINAL}]),
            "end_turn",
            anthropic::usage(220, 12),
        )
    } else if offers_bash {
        anthropic::message(
            model,
            json!([{"type": "tool_use", "id": CLAUDE_CALL_ID, "name": "Bash",
                    "input": {"command": COMMAND, "description": "Prove the gateway works"}}]),
            "tool_use",
            anthropic::usage(200, 20),
        )
    } else {
        anthropic::message(
            model,
            json!([{"type": "text", "text": "ok"}]),
            "end_turn",
            anthropic::usage(20, 2),
        )
    };
    if body["stream"] == true {
        anthropic::sse_response(&anthropic::events_for_message(&message))
    } else {
        MockResponse::json(200, &message)
    }
}

const CLAUDE_CALL_ID: &str = "toolu_llmux_bash_1";

#[tokio::test]
async fn claude_code_bash_tool_loop_through_a_model_group_alias() {
    let up = MockServer::start(claude_upstream).await.unwrap();
    let dir = temp_dir("claude");
    // `claude-sonnet` is a group alias Claude Code does not know: it then
    // sends `role: "system"` turns in the middle of `messages`.
    let config = dir.0.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: claude-sonnet\n    litellm_params:\n      model: anthropic/claude-sonnet-4-5\n      api_base: {}\n      api_key: sk-upstream\n\
             router_settings:\n  num_retries: 0\ngeneral_settings:\n  master_key: {MASTER_KEY}\n",
            up.url()
        ),
    )
    .unwrap();
    let gw = ServeProcess::start(
        env!("CARGO_BIN_EXE_llmux"),
        &config,
        &[("LLMUX_LOG", "warn")],
    )
    .await
    .unwrap();
    let mut cmd = tokio::process::Command::new(agent_bin("claude"));
    cmd.args([
        "-p",
        "Run the command that proves the gateway works, then tell me what it printed.",
        "--model",
        "claude-sonnet",
        "--allowedTools",
        "Bash",
    ])
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("HOME", dir.0.join("home"))
    .env("ANTHROPIC_BASE_URL", &gw.url)
    .env("ANTHROPIC_API_KEY", MASTER_KEY)
    .env("DISABLE_TELEMETRY", "1")
    .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    .current_dir(dir.0.join("work"))
    .stdin(std::process::Stdio::null())
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("claude -p timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "claude -p failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_tool_loop(&dir.0, &stdout);
    let reqs = up.requests();
    let with_bash: Vec<Value> = reqs
        .iter()
        .map(RecordedRequest::json)
        .filter(|b| {
            b["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["name"] == "Bash"))
        })
        .collect();
    assert_eq!(with_bash.len(), 2, "the tool loop took two upstream turns");
    assert!(!has_result_of(&with_bash[0], CLAUDE_CALL_ID));
    assert!(has_result_of(&with_bash[1], CLAUDE_CALL_ID));
    for r in &reqs {
        assert_eq!(r.path, "/v1/messages");
        assert_eq!(r.header("x-api-key"), Some("sk-upstream"));
        assert_eq!(r.json()["model"], "claude-sonnet-4-5");
    }
}
