//! Agent CLIs through `llmux serve`, pinned in
//! `tests/clients/agents/package.json`: OpenAI's Codex CLI (`@openai/codex`)
//! in `codex exec` mode with a model provider pointed at the gateway's
//! Responses API, and Anthropic's Claude Code (`@anthropic-ai/claude-code`)
//! in `claude -p` mode with `ANTHROPIC_BASE_URL` on the gateway. Each
//! upstream is scripted: the first turn asks for a shell command, the agent
//! runs it and sends the output back, the second turn answers. Codex once
//! with an OpenAI upstream (native) and once with an Anthropic one
//! (translated); Claude Code with a model-group alias it does not know,
//! through an Anthropic upstream, Claude on Bedrock (InvokeModel), Claude on
//! Vertex AI (`rawPredict`) — all three native — and an OpenAI upstream
//! (translated).
//!
//! Codex is installed by `cargo xtask clients` (which `cargo xtask test`
//! runs first); without it these tests fail and say so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::time::Duration;

use llmux_tests::mock::{
    anthropic, bedrock, gemini, openai, openai_responses, MockResponse, MockServer, RecordedRequest,
};
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

/// What Claude Code's scripted upstream answers for a Messages API `body`:
/// its main loop offers the `Bash` tool, so the first turn calls it and the
/// one carrying the result answers; anything else it asks (titles,
/// summaries) gets text.
fn claude_message(body: &Value, model: &str) -> Value {
    let offers_bash = body["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == "Bash"));
    if has_result_of(body, CLAUDE_CALL_ID) {
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
    }
}

/// Anthropic's Messages API, streamed or not.
fn claude_upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    let message = claude_message(&body, body["model"].as_str().unwrap_or("claude"));
    if body["stream"] == true {
        anthropic::sse_response(&anthropic::events_for_message(&message))
    } else {
        MockResponse::json(200, &message)
    }
}

/// Claude on Bedrock: the request signed with the gateway's keys, the
/// answer InvokeModel's (streamed: each Anthropic event in a `chunk` frame).
fn bedrock_claude_upstream(req: &RecordedRequest) -> MockResponse {
    if let Err(r) = bedrock::verify_sigv4(
        req,
        bedrock::CREDENTIALS,
        "bedrock",
        std::time::SystemTime::now(),
    ) {
        return bedrock::error(403, r.exception, &r.message);
    }
    let body = req.json();
    assert_eq!(body["anthropic_version"], "bedrock-2023-05-31");
    assert!(
        body.get("model").is_none() && body.get("stream").is_none(),
        "{body}"
    );
    let message = claude_message(&body, "claude-sonnet-4-5");
    if req.path.ends_with("/invoke-with-response-stream") {
        use base64::Engine as _;
        let frames = anthropic::events_for_message(&message)
            .iter()
            .map(|e| {
                let bytes = base64::engine::general_purpose::STANDARD.encode(e.to_string());
                bedrock::event("chunk", &json!({ "bytes": bytes }))
            })
            .collect();
        bedrock::stream_answer(frames)
    } else {
        MockResponse::json(200, &message)
    }
}

/// Claude on Vertex AI: the gateway's OAuth token, `rawPredict` /
/// `streamRawPredict` on the `anthropic` publisher.
fn vertex_claude_upstream(req: &RecordedRequest) -> MockResponse {
    if req.path == "/token" {
        return gemini::token_behaviour(req);
    }
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {}", gemini::ACCESS_TOKEN).as_str())
    );
    assert!(
        req.path
            .contains("/publishers/anthropic/models/claude-sonnet-4-5:"),
        "{}",
        req.path
    );
    let body = req.json();
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    claude_upstream(req)
}

/// An OpenAI chat upstream scripted like [`claude_message`]: the gateway
/// translates Claude Code's Messages API to chat and back.
fn openai_chat_upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    let offers_bash = body["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["function"]["name"] == "Bash"));
    let answered = body["messages"].as_array().into_iter().flatten().any(|m| {
        m["role"] == "tool"
            && m["tool_call_id"] == CLAUDE_CALL_ID
            && m["content"].to_string().contains(PROOF)
    });
    let model = body["model"].as_str().unwrap_or("gpt");
    let (delta, finish) = if answered {
        (json!({"role": "assistant", "content": FINAL}), "stop")
    } else if offers_bash {
        let args =
            json!({"command": COMMAND, "description": "Prove the gateway works"}).to_string();
        (
            json!({"role": "assistant", "tool_calls": [{"index": 0, "id": CLAUDE_CALL_ID, "type": "function",
                   "function": {"name": "Bash", "arguments": args}}]}),
            "tool_calls",
        )
    } else {
        (json!({"role": "assistant", "content": "ok"}), "stop")
    };
    let chunks = vec![
        openai::chunk(model, delta, None),
        openai::chunk(model, json!({}), Some(finish)),
        openai::usage_chunk(model),
    ];
    openai::sse_response(&chunks)
}

const CLAUDE_CALL_ID: &str = "toolu_llmux_bash_1";

/// `llmux serve` with the model group `claude-sonnet` (an alias Claude Code
/// does not know: it then sends `role: "system"` turns in the middle of
/// `messages`) served by the `litellm_params` lines `params`.
async fn claude_gateway(dir: &Path, params: &str) -> ServeProcess {
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: claude-sonnet\n    litellm_params:\n{params}\
             router_settings:\n  num_retries: 0\ngeneral_settings:\n  master_key: {MASTER_KEY}\n"
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

/// A virtual key for Claude Code, made with the master key.
async fn virtual_key(gw: &ServeProcess) -> String {
    let v: Value = reqwest::Client::new()
        .post(format!("{}/key/generate", gw.url))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"key_alias": "claude-code"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["key"].as_str().unwrap().to_string()
}

/// Run `claude -p` through the gateway with `key` in the environment
/// variable `key_var` (`ANTHROPIC_API_KEY` or `ANTHROPIC_AUTH_TOKEN`), and
/// check the tool loop ran.
async fn run_claude_code(dir: &Path, gw: &ServeProcess, key_var: &str, key: &str) {
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
    .env("HOME", dir.join("home"))
    .env("ANTHROPIC_BASE_URL", &gw.url)
    .env(key_var, key)
    .env("DISABLE_TELEMETRY", "1")
    .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    .current_dir(dir.join("work"))
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
    assert_tool_loop(dir, &stdout);
}

/// The upstream turns that offered the Bash tool: the first without the
/// command's result, the second with it.
fn assert_two_bash_turns(
    bodies: &[Value],
    offers_bash: fn(&Value) -> bool,
    answered: fn(&Value) -> bool,
) {
    let with_bash: Vec<&Value> = bodies.iter().filter(|b| offers_bash(b)).collect();
    assert_eq!(with_bash.len(), 2, "the tool loop took two upstream turns");
    assert!(!answered(with_bash[0]));
    assert!(answered(with_bash[1]));
}

fn anthropic_offers_bash(b: &Value) -> bool {
    b["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == "Bash"))
}

fn anthropic_answered(b: &Value) -> bool {
    has_result_of(b, CLAUDE_CALL_ID)
}

/// The spend rows of the calls Claude Code made: one per upstream call, each priced.
async fn assert_spent(gw: &ServeProcess, calls: usize) {
    for _ in 0..100 {
        let rows: Value = reqwest::Client::new()
            .get(format!("{}/spend/logs", gw.url))
            .bearer_auth(MASTER_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rows = rows.as_array().unwrap();
        if rows.len() >= calls {
            assert_eq!(rows.len(), calls);
            for r in rows {
                assert_eq!(r["call_type"], "anthropic_messages");
                assert!(r["spend"].as_f64().unwrap() > 0.0, "{r}");
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {calls} spend rows");
}

#[tokio::test]
async fn claude_code_bash_tool_loop_through_a_model_group_alias() {
    let up = MockServer::start(claude_upstream).await.unwrap();
    let dir = temp_dir("claude");
    let gw = claude_gateway(
        &dir.0,
        &format!("      model: anthropic/claude-sonnet-4-5\n      api_base: {}\n      api_key: sk-upstream\n", up.url()),
    )
    .await;
    run_claude_code(&dir.0, &gw, "ANTHROPIC_API_KEY", MASTER_KEY).await;
    let reqs = up.requests();
    let bodies: Vec<Value> = reqs.iter().map(RecordedRequest::json).collect();
    assert_two_bash_turns(&bodies, anthropic_offers_bash, anthropic_answered);
    for r in &reqs {
        assert_eq!(r.path, "/v1/messages");
        assert_eq!(r.header("x-api-key"), Some("sk-upstream"));
        assert_eq!(r.json()["model"], "claude-sonnet-4-5");
    }
    assert_spent(&gw, reqs.len()).await;
}

#[tokio::test]
async fn claude_code_through_claude_on_bedrock_with_a_virtual_key_as_auth_token() {
    let up = MockServer::start(bedrock_claude_upstream).await.unwrap();
    let dir = temp_dir("claude-bedrock");
    let gw = claude_gateway(
        &dir.0,
        &format!(
            "      model: bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0\n      api_base: {}\n      aws_access_key_id: {}\n      aws_secret_access_key: {}\n      aws_region_name: us-east-1\n",
            up.url(),
            bedrock::ACCESS_KEY_ID,
            bedrock::SECRET_ACCESS_KEY
        ),
    )
    .await;
    let key = virtual_key(&gw).await;
    run_claude_code(&dir.0, &gw, "ANTHROPIC_AUTH_TOKEN", &key).await;
    let reqs = up.requests();
    let bodies: Vec<Value> = reqs.iter().map(RecordedRequest::json).collect();
    assert_two_bash_turns(&bodies, anthropic_offers_bash, anthropic_answered);
    for r in &reqs {
        assert!(
            r.path
                .starts_with("/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"),
            "{}",
            r.path
        );
    }
    assert_spent(&gw, reqs.len()).await;
}

#[tokio::test]
async fn claude_code_through_claude_on_vertex() {
    let up = MockServer::start(vertex_claude_upstream).await.unwrap();
    let dir = temp_dir("claude-vertex");
    let key_file = gemini::service_account_json(&format!("{}/token", up.url()), "cc-project");
    let gw = claude_gateway(
        &dir.0,
        &format!(
            "      model: vertex_ai/claude-sonnet-4-5\n      api_base: {}\n      vertex_location: us-east5\n      vertex_credentials: '{key_file}'\n",
            up.url()
        ),
    )
    .await;
    let key = virtual_key(&gw).await;
    run_claude_code(&dir.0, &gw, "ANTHROPIC_API_KEY", &key).await;
    let reqs: Vec<RecordedRequest> = up
        .requests()
        .into_iter()
        .filter(|r| r.path != "/token")
        .collect();
    let bodies: Vec<Value> = reqs.iter().map(RecordedRequest::json).collect();
    assert_two_bash_turns(&bodies, anthropic_offers_bash, anthropic_answered);
    assert_spent(&gw, reqs.len()).await;
}

#[tokio::test]
async fn claude_code_through_an_openai_upstream_is_translated() {
    let up = MockServer::start(openai_chat_upstream).await.unwrap();
    let dir = temp_dir("claude-openai");
    let gw = claude_gateway(
        &dir.0,
        &format!(
            "      model: openai/gpt-4o\n      api_base: {}/v1\n      api_key: sk-upstream\n",
            up.url()
        ),
    )
    .await;
    run_claude_code(&dir.0, &gw, "ANTHROPIC_API_KEY", MASTER_KEY).await;
    let reqs = up.requests();
    let bodies: Vec<Value> = reqs.iter().map(RecordedRequest::json).collect();
    assert_two_bash_turns(
        &bodies,
        |b| {
            b["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["function"]["name"] == "Bash"))
        },
        |b| {
            b["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["role"] == "tool" && m["tool_call_id"] == CLAUDE_CALL_ID)
        },
    );
    for r in &reqs {
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(r.header("authorization"), Some("Bearer sk-upstream"));
    }
    assert_spent(&gw, reqs.len()).await;
}
