//! Real clients against `llmux serve`: the official `openai` Python and Node
//! packages and the `anthropic` Python package, run as scripts
//! (`tests/clients/`) against the built binary in front of the mock OpenAI
//! upstream. Each script prints one line per case; the whole output is
//! compared exactly.
//!
//! The clients are installed by `cargo xtask clients` (which `cargo xtask test`
//! runs first). Without them these tests fail and say so: they never pass by
//! skipping.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::time::Duration;

use llmux_tests::mock::{
    anthropic, bedrock, cohere, gemini, openai, openai_responses, MockResponse, MockServer,
    RecordedRequest,
};
use llmux_tests::process::ServeProcess;
use serde_json::{json, Value};

const MASTER_KEY: &str = "sk-llmux-master";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn clients_dir() -> PathBuf {
    root().join("tests/clients")
}

fn install_hint(what: &str, missing: &Path) -> String {
    format!(
        "{what} is not installed ({} is missing): run `cargo xtask clients` \
         (or `cargo xtask test`, which runs it) to install the real SDK clients",
        missing.display()
    )
}

/// The venv's Python, or a failure saying how to install it.
fn python() -> PathBuf {
    let py = root().join("target/clients/venv/bin/python");
    assert!(
        py.exists(),
        "{}",
        install_hint("the Python client venv", &py)
    );
    py
}

/// Checks that the Node client is installed.
fn node_client() {
    let pkg = clients_dir().join("node/node_modules/openai/package.json");
    assert!(
        pkg.exists(),
        "{}",
        install_hint("the openai Node package", &pkg)
    );
}

// ---- the upstream ------------------------------------------------------------

const TOOL_CALL_ID: &str = "call_mock_weather";

fn tool_call_completion(model: &str) -> Value {
    json!({
        "id": "chatcmpl-mock-tools",
        "object": "chat.completion",
        "created": openai::CREATED,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": null,
                "refusal": null,
                "tool_calls": [{
                    "id": TOOL_CALL_ID,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}
                }]
            },
            "logprobs": null,
            "finish_reason": "tool_calls"
        }],
        "usage": {"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28}
    })
}

fn tool_call_chunks(model: &str, include_usage: bool) -> Vec<Value> {
    let mut chunks = vec![
        openai::chunk(
            model,
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "index": 0, "id": TOOL_CALL_ID, "type": "function",
                "function": {"name": "get_weather", "arguments": ""}
            }]}),
            None,
        ),
        openai::chunk(
            model,
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
            None,
        ),
        openai::chunk(
            model,
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
            None,
        ),
        openai::chunk(model, json!({}), Some("tool_calls")),
    ];
    if include_usage {
        chunks.push(openai::usage_chunk(model));
    }
    chunks
}

/// The mock OpenAI upstream, plus a tool call when tools are offered and a
/// 429 for the `rate-limited` model.
fn upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    let model = body["model"].as_str().unwrap_or("mock-model").to_string();
    if req.path.ends_with("/chat/completions") && model == "rate-limited" {
        return MockResponse::json(
            429,
            &openai::error_body(
                "Rate limit reached for requests",
                "requests",
                None,
                Some("rate_limit_exceeded"),
            ),
        );
    }
    if req.path.ends_with("/chat/completions") && body.get("tools").is_some() {
        if body["stream"] == true {
            let usage = body.pointer("/stream_options/include_usage") == Some(&json!(true));
            return openai::sse_response(&tool_call_chunks(&model, usage));
        }
        return MockResponse::json(200, &tool_call_completion(&model));
    }
    openai::behaviour(req)
}

// ---- the gateway -------------------------------------------------------------

/// A running `llmux serve` and its scratch directory (config, `llmux.db`),
/// the process stopped before the directory is removed.
struct Gateway {
    process: ServeProcess,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `model_list` entry for `group` serving `model` at `base`.
fn entry(group: &str, model: &str, base: &str) -> String {
    format!(
        "  - model_name: {group}\n    litellm_params:\n      model: {model}\n      api_base: {base}\n      api_key: sk-upstream\n"
    )
}

async fn gateway(name: &str, up: &MockServer) -> Gateway {
    let base = format!("{}/v1", up.url());
    let entries = [
        entry("gpt", "openai/gpt-4o", &base),
        entry("embed", "openai/text-embedding-3-small", &base),
        entry("limited", "openai/rate-limited", &base),
    ];
    gateway_with(name, &entries.concat()).await
}

/// `llmux serve` with the model list `entries`.
async fn gateway_with(name: &str, entries: &str) -> Gateway {
    let dir =
        std::env::temp_dir().join(format!("llmux-real-clients-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n{entries}router_settings:\n  num_retries: 0\ngeneral_settings:\n  master_key: {MASTER_KEY}\n"
        ),
    )
    .unwrap();
    let process = ServeProcess::start(
        env!("CARGO_BIN_EXE_llmux"),
        &config,
        &[("LLMUX_LOG", "warn")],
    )
    .await
    .unwrap();
    Gateway {
        process,
        _dir: TempDir(dir),
    }
}

/// Run a client script against the gateway; its stdout (failing on a non-zero exit).
async fn run_client(program: &Path, script: &Path, gw: &Gateway) -> String {
    run_client_as(program, script, gw, MASTER_KEY).await
}

/// [`run_client`] with `key` as the script's llmux key.
async fn run_client_as(program: &Path, script: &Path, gw: &Gateway, key: &str) -> String {
    let mut cmd = tokio::process::Command::new(program);
    cmd.arg(script)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LLMUX_URL", &gw.process.url)
        .env("LLMUX_KEY", key)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .current_dir(script.parent().unwrap())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("client script timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// What the OpenAI clients' scenario must have sent upstream: only the calls
/// the gateway accepted, each with the upstream key, tools forwarded as the
/// client sent them, and usage asked for on every stream.
fn check_openai_upstream(up: &MockServer) {
    let reqs = up.requests();
    let summary: Vec<(String, String, Value)> = reqs
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                r.json()["model"].as_str().unwrap_or("").to_string(),
                r.json()["stream"].clone(),
            )
        })
        .collect();
    let chat = |model: &str, stream: Value| {
        (
            "/v1/chat/completions".to_string(),
            model.to_string(),
            stream,
        )
    };
    assert_eq!(
        summary,
        vec![
            chat("gpt-4o", Value::Null),
            chat("gpt-4o", json!(true)),
            chat("gpt-4o", json!(true)),
            chat("gpt-4o", Value::Null),
            chat("gpt-4o", json!(true)),
            (
                "/v1/embeddings".to_string(),
                "text-embedding-3-small".to_string(),
                Value::Null
            ),
            (
                "/v1/embeddings".to_string(),
                "text-embedding-3-small".to_string(),
                Value::Null
            ),
            chat("rate-limited", Value::Null),
        ]
    );
    for r in &reqs {
        assert_eq!(r.header("authorization"), Some("Bearer sk-upstream"));
        if r.json()["stream"] == true {
            assert_eq!(r.json()["stream_options"], json!({"include_usage": true}));
        }
    }
    let weather = json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"]
            }
        }
    }]);
    assert_eq!(reqs[3].json()["tools"], weather);
    assert_eq!(reqs[3].json()["tool_choice"], "auto");
    assert_eq!(reqs[4].json()["tools"], weather);
    assert_eq!(reqs[5].json()["input"], json!(["first", "second"]));
    assert_eq!(reqs[5].json()["encoding_format"], "base64");
    assert_eq!(reqs[6].json()["encoding_format"], "float");
}

/// Compare line by line first, so a mismatch names the case.
fn assert_output(actual: &str, expected: &str) {
    let a: Vec<&str> = actual.lines().collect();
    let e: Vec<&str> = expected.lines().collect();
    for (i, (x, y)) in a.iter().zip(&e).enumerate() {
        assert_eq!(x, y, "line {} differs", i + 1);
    }
    assert_eq!(actual, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_python_client() {
    let py = python();
    let up = MockServer::start(upstream).await.unwrap();
    let gw = gateway("openai-py", &up).await;
    let out = run_client(&py, &clients_dir().join("python/openai_client.py"), &gw).await;
    assert_output(&out, OPENAI_PYTHON);
    check_openai_upstream(&up);
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_node_client() {
    node_client();
    let up = MockServer::start(upstream).await.unwrap();
    let gw = gateway("openai-node", &up).await;
    let out = run_client(
        Path::new("node"),
        &clients_dir().join("node/openai_client.mjs"),
        &gw,
    )
    .await;
    assert_output(&out, OPENAI_NODE);
    check_openai_upstream(&up);
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_python_client() {
    let py = python();
    let up = MockServer::start(upstream).await.unwrap();
    let gw = gateway("anthropic-py", &up).await;
    let out = run_client(&py, &clients_dir().join("python/anthropic_client.py"), &gw).await;
    assert_output(&out, ANTHROPIC_PYTHON);
    let reqs = up.requests();
    // Five accepted calls reached the upstream, as OpenAI chat completions.
    assert_eq!(reqs.len(), 5);
    assert!(reqs.iter().all(|r| r.path == "/v1/chat/completions"));
    assert_eq!(
        reqs[1].json()["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    );
    assert_eq!(reqs[1].json()["max_tokens"], 64);
    assert_eq!(
        reqs[4].json()["tools"][0]["function"]["name"],
        "get_weather"
    );
}

const OPENAI_PYTHON: &str = r#"chat: {"content":"Hello from the mock!","finish_reason":"stop","id":"chatcmpl-mock","model":"gpt-4o","usage":[9,5,14],"x-llmux-attempts":"1","x-llmux-model-group":"gpt"}
stream: {"chunks":6,"deltas":["Hello"," from the"," mock!"],"finish_reason":"stop","include_usage":true,"usage":[9,5,14]}
stream: {"chunks":5,"deltas":["Hello"," from the"," mock!"],"finish_reason":"stop","include_usage":false,"usage":null}
tools: {"arguments":{"city":"Paris"},"finish_reason":"tool_calls","id":"call_mock_weather","name":"get_weather","type":"function"}
tools stream: {"calls":[{"arguments":{"city":"Paris"},"id":"call_mock_weather","name":"get_weather"}],"finish_reason":"tool_calls"}
embeddings: {"model":"text-embedding-3-small","usage":[8,8],"vectors":[[0.5,-1.0],[0.5,-1.0]]}
embeddings float: {"vectors":[[0.0023064255,-0.009327292,0.0]]}
error 401: {"class":"AuthenticationError","code":"invalid_api_key","message":"Authentication Error: invalid API key","param":null,"status":401,"type":"authentication_error"}
error 404: {"class":"BadRequestError","code":"model_not_found","message":"Invalid model name passed in model=no-such-model. Available model groups: embed, gpt, limited","param":"model","status":400,"type":"invalid_request_error"}
error 400: {"class":"BadRequestError","code":null,"message":"Invalid request body at 'temperature': invalid type: string \"hot\", expected f64 at line 1 column 78","param":"temperature","status":400,"type":"invalid_request_error"}
error 429: {"class":"RateLimitError","code":"rate_limit_exceeded","message":"Rate limit reached for requests","param":null,"status":429,"type":"rate_limit_error"}
error 404 models: {"class":"NotFoundError","code":"model_not_found","message":"The model 'no-such-model' does not exist","param":"model","status":404,"type":"invalid_request_error"}
models: ["embed","gpt","limited"]
"#;
const OPENAI_NODE: &str = r#"chat: {"content":"Hello from the mock!","finish_reason":"stop","id":"chatcmpl-mock","model":"gpt-4o","usage":[9,5,14],"x-llmux-attempts":"1","x-llmux-model-group":"gpt"}
stream: {"chunks":6,"deltas":["Hello"," from the"," mock!"],"finish_reason":"stop","include_usage":true,"usage":[9,5,14]}
stream: {"chunks":5,"deltas":["Hello"," from the"," mock!"],"finish_reason":"stop","include_usage":false,"usage":null}
tools: {"arguments":{"city":"Paris"},"finish_reason":"tool_calls","id":"call_mock_weather","name":"get_weather","type":"function"}
tools stream: {"calls":[{"arguments":{"city":"Paris"},"id":"call_mock_weather","name":"get_weather"}],"finish_reason":"tool_calls"}
embeddings: {"model":"text-embedding-3-small","usage":[8,8],"vectors":[[0.5,-1],[0.5,-1]]}
embeddings float: {"vectors":[[0.0023064255,-0.009327292,0]]}
error 401: {"class":"AuthenticationError","code":"invalid_api_key","message":"Authentication Error: invalid API key","param":null,"status":401,"type":"authentication_error"}
error 404: {"class":"BadRequestError","code":"model_not_found","message":"Invalid model name passed in model=no-such-model. Available model groups: embed, gpt, limited","param":"model","status":400,"type":"invalid_request_error"}
error 400: {"class":"BadRequestError","code":null,"message":"Invalid request body at 'temperature': invalid type: string \"hot\", expected f64 at line 1 column 78","param":"temperature","status":400,"type":"invalid_request_error"}
error 429: {"class":"RateLimitError","code":"rate_limit_exceeded","message":"Rate limit reached for requests","param":null,"status":429,"type":"rate_limit_error"}
error 404 models: {"class":"NotFoundError","code":"model_not_found","message":"The model 'no-such-model' does not exist","param":"model","status":404,"type":"invalid_request_error"}
models: ["embed","gpt","limited"]
"#;
const ANTHROPIC_PYTHON: &str = r#"messages: {"content":[{"text":"Hello from the mock!","type":"text"}],"model":"gpt-4o","role":"assistant","stop_reason":"end_turn","stop_sequence":null,"type":"message","usage":[9,5]}
messages system: {"content":[{"text":"Hello from the mock!","type":"text"}],"model":"gpt-4o","role":"assistant","stop_reason":"end_turn","stop_sequence":null,"type":"message","usage":[9,5]}
messages stream: {"final":{"content":[{"text":"Hello from the mock!","type":"text"}],"model":"gpt-4o","role":"assistant","stop_reason":"end_turn","stop_sequence":null,"type":"message","usage":[9,5]},"texts":["Hello"," from the"," mock!"]}
messages stream events: ["message_start","content_block_start","content_block_delta","content_block_delta","content_block_delta","content_block_stop","message_delta","message_stop"]
messages tools: {"content":[{"id":"call_mock_weather","input":{"city":"Paris"},"name":"get_weather","type":"tool_use"}],"model":"gpt-4o","role":"assistant","stop_reason":"tool_use","stop_sequence":null,"type":"message","usage":[21,7]}
error 401: {"body":{"error":{"message":"Authentication Error: invalid API key","type":"authentication_error"},"type":"error"},"class":"AuthenticationError","status":401}
error 404: {"body":{"error":{"message":"Invalid model name passed in model=no-such-model. Available model groups: embed, gpt, limited","type":"invalid_request_error"},"type":"error"},"class":"BadRequestError","status":400}
error 400: {"body":{"error":{"message":"Invalid request body at 'max_tokens': invalid type: string \"many\", expected u32 at line 1 column 20","type":"invalid_request_error"},"type":"error"},"class":"BadRequestError","status":400}
"#;

// ---- the Responses API -------------------------------------------------------

/// Whether a request offers tools and carries no tool result yet (in any
/// provider's words: Responses, Anthropic, Gemini, Bedrock).
fn wants_tool_call(body: &Value) -> bool {
    let text = body.to_string();
    let offers = body.get("tools").is_some() || body.get("toolConfig").is_some();
    let answered = [
        "function_call_output",
        "tool_result",
        "functionResponse",
        "toolResult",
    ]
    .iter()
    .any(|k| text.contains(&format!("\"{k}\"")));
    offers && !answered
}

/// An OpenAI upstream serving the Responses API: a `get_weather` call when
/// tools are offered, the default answer otherwise.
fn responses_openai_upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    if req.path.ends_with("/responses") && wants_tool_call(&body) {
        let model = body["model"].as_str().unwrap_or("gpt-4o");
        let call = json!({"type": "function_call", "id": "fc_1", "call_id": TOOL_CALL_ID,
            "name": "get_weather", "arguments": "{\"city\":\"Paris\"}", "status": "completed"});
        let usage = openai_responses::usage();
        let response = openai_responses::response_with(model, "completed", json!([call]), usage);
        return MockResponse::json(200, &response);
    }
    openai::behaviour(req)
}

/// An Anthropic upstream: a `get_weather` tool use when tools are offered,
/// the default answer otherwise.
fn responses_anthropic_upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    if wants_tool_call(&body) {
        let model = body["model"].as_str().unwrap_or("claude");
        let content = json!([{"type": "tool_use", "id": TOOL_CALL_ID, "name": "get_weather", "input": {"city": "Paris"}}]);
        let message = anthropic::message(model, content, "tool_use", anthropic::usage(30, 10));
        return MockResponse::json(200, &message);
    }
    anthropic::behaviour(req)
}

/// A Gemini upstream: a `get_weather` function call when tools are offered.
fn responses_gemini_upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    if req.path.ends_with(":generateContent") && wants_tool_call(&body) {
        let mut answer = gemini::generate_content_response("gemini-2.0-flash");
        answer["candidates"][0]["content"]["parts"] =
            json!([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]);
        return MockResponse::json(200, &answer);
    }
    gemini::behaviour(req)
}

/// A Bedrock upstream (Converse): a `get_weather` tool use when tools are offered.
fn responses_bedrock_upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    if req.path.ends_with("/converse") && wants_tool_call(&body) {
        let mut answer = bedrock::converse_response();
        answer["output"]["message"]["content"] = json!([{"toolUse": {
            "toolUseId": TOOL_CALL_ID, "name": "get_weather", "input": {"city": "Paris"}}}]);
        answer["stopReason"] = json!("tool_use");
        return bedrock::converse_answer(&answer);
    }
    bedrock::behaviour(req)
}

/// What both SDKs' Responses scenario prints.
const RESPONSES_EXPECTED: &str = r#"gpt create: ["response","completed","Hello from the mock!",true,true]
gpt stream: ["response.created","response.completed","Hello from the mock!",true,true]
gpt tool: ["get_weather",{"city":"Paris"},"Hello from the mock!",true]
gpt chain: [true,true,5,["user","assistant","user","assistant","user"]]
gpt retrieve: true
gpt after delete: [404,true]
claude create: ["response","completed","Hello from the mock Claude!",true,true]
claude stream: ["response.created","response.completed","Hello from the mock Claude!",true,true]
claude tool: ["get_weather",{"city":"Paris"},"Hello from the mock Claude!",true]
claude chain: [true,true,5,["user","assistant","user","assistant","user"]]
claude retrieve: true
claude after delete: [404,true]
gemini create: ["response","completed","Hello from the mock Gemini!",true,true]
gemini stream: ["response.created","response.completed","Hello from the mock Gemini!",true,true]
gemini tool: ["get_weather",{"city":"Paris"},"Hello from the mock Gemini!",true]
gemini chain: [true,true,5,["user","assistant","user","assistant","user"]]
gemini retrieve: true
gemini after delete: [404,true]
bedrock create: ["response","completed","Hello from the mock Bedrock!",true,true]
bedrock stream: ["response.created","response.completed","Hello from the mock Bedrock!",true,true]
bedrock tool: ["get_weather",{"city":"Paris"},"Hello from the mock Bedrock!",true]
bedrock chain: [true,true,5,["user","assistant","user","assistant","user"]]
bedrock retrieve: true
bedrock after delete: [404,true]
"#;

/// The Responses scenario's upstreams: OpenAI (native), Anthropic, Gemini
/// and Bedrock (translated).
struct ResponsesUpstreams {
    oai: MockServer,
    claude: MockServer,
    _gem: MockServer,
    _aws: MockServer,
    gw: Gateway,
}

async fn responses_gateway(name: &str) -> ResponsesUpstreams {
    let oai = MockServer::start(responses_openai_upstream).await.unwrap();
    let claude = MockServer::start(responses_anthropic_upstream)
        .await
        .unwrap();
    let gem = MockServer::start(responses_gemini_upstream).await.unwrap();
    let aws = MockServer::start(responses_bedrock_upstream).await.unwrap();
    let bedrock_entry = format!(
        "  - model_name: bedrock\n    litellm_params:\n      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0\n      api_base: {}\n      aws_access_key_id: {}\n      aws_secret_access_key: {}\n      aws_region_name: us-east-1\n",
        aws.url(),
        bedrock::ACCESS_KEY_ID,
        bedrock::SECRET_ACCESS_KEY
    );
    let entries = [
        entry("gpt", "openai/gpt-4o", &format!("{}/v1", oai.url())),
        entry("claude", "anthropic/claude-sonnet-4-5", &claude.url()),
        entry("gemini", "gemini/gemini-2.0-flash", &gem.url()),
        bedrock_entry,
    ];
    let gw = gateway_with(name, &entries.concat()).await;
    ResponsesUpstreams {
        oai,
        claude,
        _gem: gem,
        _aws: aws,
        gw,
    }
}

/// What the scenario must have sent upstream.
fn check_responses_upstreams(u: &ResponsesUpstreams) {
    let (oai, claude) = (&u.oai, &u.claude);
    // Natively, each turn's whole conversation went upstream as Responses
    // input; the third turn carried five items and no previous_response_id.
    let turns: Vec<Value> = oai
        .requests()
        .iter()
        .map(RecordedRequest::json)
        .filter(|b| b["input"].to_string().contains("What is my name?"))
        .collect();
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0]["input"].as_array().unwrap().len(), 5);
    assert!(turns[0].get("previous_response_id").is_none());
    // Translated, the tool result went back to Anthropic as a tool_result block.
    let answered = claude
        .requests()
        .iter()
        .map(RecordedRequest::json)
        .find(|b| b.to_string().contains("\"tool_result\""))
        .unwrap();
    let last = answered["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last,
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": TOOL_CALL_ID, "content": "21C sunny"}]})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_python_responses_api() {
    let py = python();
    let u = responses_gateway("responses-py").await;
    let out = run_client(
        &py,
        &clients_dir().join("python/openai_responses.py"),
        &u.gw,
    )
    .await;
    assert_output(&out, RESPONSES_EXPECTED);
    check_responses_upstreams(&u);
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_node_responses_api() {
    node_client();
    let u = responses_gateway("responses-node").await;
    let script = clients_dir().join("node/openai_responses.mjs");
    let out = run_client(Path::new("node"), &script, &u.gw).await;
    assert_output(&out, RESPONSES_EXPECTED);
    check_responses_upstreams(&u);
}

// ---------------------------------------------------------------------------
// Pass-through: each provider's own SDK on its pass-through base URL.

/// The mocks behind the pass-through routes.
struct PassThroughUpstreams {
    openai: MockServer,
    anthropic: MockServer,
    gemini: MockServer,
    bedrock: MockServer,
    cohere: MockServer,
    gw: Gateway,
    /// A virtual key the scripts call with.
    key: String,
}

async fn pass_through_gateway(name: &str) -> PassThroughUpstreams {
    let openai = openai::start().await.unwrap();
    let anthropic = anthropic::start().await.unwrap();
    let gemini = gemini::start().await.unwrap();
    let bedrock = bedrock::start().await.unwrap();
    let cohere = cohere::start().await.unwrap();
    let marked = |group: &str, model: &str, base: &str| {
        format!(
            "{}      use_in_pass_through: true\n",
            entry(group, model, base)
        )
    };
    let entries = [
        marked("gpt", "openai/gpt-4o-mini", &format!("{}/v1", openai.url())),
        marked("claude", "anthropic/claude-sonnet-4-5", &anthropic.url()),
        marked("flash", "gemini/gemini-2.5-flash", &gemini.url()),
        marked("command", "cohere/command-a-03-2025", &cohere.url()),
        format!(
            "  - model_name: bedrock-claude\n    litellm_params:\n      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0\n      api_base: {}\n      aws_access_key_id: {}\n      aws_secret_access_key: {}\n      aws_region_name: us-east-1\n      use_in_pass_through: true\n",
            bedrock.url(),
            bedrock::ACCESS_KEY_ID,
            bedrock::SECRET_ACCESS_KEY
        ),
    ];
    let gw = gateway_with(name, &entries.concat()).await;
    let key = reqwest::Client::new()
        .post(format!("{}/key/generate", gw.process.url))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"key_alias": "sdk"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    PassThroughUpstreams {
        openai,
        anthropic,
        gemini,
        bedrock,
        cohere,
        gw,
        key,
    }
}

/// The `call_type` and `model` of every spend row, once `n` are written
/// (spend is written in batches).
async fn pass_through_spend(gw: &Gateway, n: usize) -> Vec<(String, String)> {
    for _ in 0..100 {
        let rows: Value = reqwest::Client::new()
            .get(format!("{}/spend/logs", gw.process.url))
            .bearer_auth(MASTER_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rows = rows.as_array().unwrap();
        if rows.len() >= n {
            let mut out: Vec<(String, String)> = rows
                .iter()
                .map(|r| {
                    assert!(r["spend"].as_f64().unwrap() > 0.0, "priced: {r}");
                    (
                        r["call_type"].as_str().unwrap().to_string(),
                        r["model"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            out.sort();
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} spend rows were written");
}

/// Every request `up` received: the caller's llmux key is nowhere in its
/// headers, and `credential` (header, value) is the gateway's.
fn check_credentials(up: &MockServer, key: &str, credential: (&str, &str)) -> Vec<RecordedRequest> {
    let reqs = up.requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        for (name, value) in &r.headers {
            assert!(
                !value.to_str().unwrap_or_default().contains(key),
                "{name} carries the caller's key"
            );
        }
        assert_eq!(r.header(credential.0), Some(credential.1), "{}", r.path);
    }
    reqs
}

fn paths(reqs: &[RecordedRequest]) -> Vec<String> {
    reqs.iter().map(RecordedRequest::path_and_query).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pass_through_python_sdks() {
    let py = python();
    let u = pass_through_gateway("pass-through").await;
    let dir = clients_dir().join("python");
    let mut out = String::new();
    for script in [
        "passthrough_openai.py",
        "passthrough_anthropic.py",
        "passthrough_gemini.py",
        "passthrough_bedrock.py",
        "passthrough_cohere.py",
    ] {
        out.push_str(&run_client_as(&py, &dir.join(script), &u.gw, &u.key).await);
    }
    assert_output(&out, PASS_THROUGH_EXPECTED);

    let reqs = check_credentials(&u.openai, &u.key, ("authorization", "Bearer sk-upstream"));
    assert_eq!(
        paths(&reqs),
        [
            "/v1/chat/completions",
            "/v1/chat/completions",
            "/v1/embeddings"
        ]
    );
    assert_eq!(
        reqs[0].json(),
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
    );
    let reqs = check_credentials(&u.anthropic, &u.key, ("x-api-key", "sk-upstream"));
    assert_eq!(paths(&reqs), ["/v1/messages", "/v1/messages"]);
    assert_eq!(
        reqs[0].json(),
        json!({"max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}], "model": "claude-sonnet-4-5"})
    );
    let reqs = check_credentials(&u.gemini, &u.key, ("x-goog-api-key", "sk-upstream"));
    assert_eq!(
        paths(&reqs),
        [
            "/v1beta/models/gemini-2.5-flash:generateContent",
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            "/v1beta/models/gemini-embedding-001:batchEmbedContents"
        ]
    );
    // The mock Bedrock verified each request's SigV4 signature with the gateway's keys.
    let reqs = u.bedrock.requests();
    let model = "anthropic.claude-3-5-sonnet-20240620-v1%3A0";
    assert_eq!(
        paths(&reqs),
        [
            format!("/model/{model}/converse"),
            format!("/model/{model}/converse-stream"),
            format!("/model/{model}/invoke")
        ]
    );
    for r in &reqs {
        let auth = r.header("authorization").unwrap();
        assert!(
            auth.contains(&format!("Credential={}/", bedrock::ACCESS_KEY_ID)),
            "{auth}"
        );
        assert_eq!(r.header("x-litellm-api-key"), None);
    }
    let reqs = check_credentials(&u.cohere, &u.key, ("authorization", "Bearer sk-upstream"));
    assert_eq!(
        paths(&reqs),
        ["/v2/chat", "/v2/chat", "/v2/embed", "/v2/rerank"]
    );

    let spend = pass_through_spend(&u.gw, 15).await;
    let count = |call_type: &str| spend.iter().filter(|(c, _)| c == call_type).count();
    assert_eq!(
        [
            count("pass_through/openai"),
            count("pass_through/anthropic"),
            count("pass_through/gemini"),
            count("pass_through/bedrock"),
            count("pass_through/cohere")
        ],
        [3, 2, 3, 3, 4],
        "{spend:?}"
    );
}

const PASS_THROUGH_EXPECTED: &str = r#"chat: {"content":"Hello from the mock!","finish_reason":"stop","model":"gpt-4o-mini","usage":[9,5]}
chat stream: {"deltas":["Hello"," from the"," mock!"],"finish_reason":"stop","usage":[9,5]}
embeddings: {"len":2,"model":"text-embedding-3-small","usage":[8,8]}
messages: {"content":[{"text":"Hello from the mock Claude!","type":"text"}],"model":"claude-sonnet-4-5","stop_reason":"end_turn","usage":[9,6]}
messages stream: {"final":{"content":[{"text":"Hello from the mock Claude!","type":"text"}],"model":"claude-sonnet-4-5","stop_reason":"end_turn","usage":[9,6]},"texts":["Hello"," from the mock"," Claude!"]}
generate: {"finish_reason":"STOP","text":"Hello from the mock Gemini!","usage":[9,6]}
generate stream: {"texts":["Hello"," from the mock"," Gemini!"],"usage":[9,6]}
embed: {"len":3}
converse: {"stopReason":"end_turn","text":"Hello from the mock Bedrock!","usage":[9,6,15]}
converse stream: {"deltas":["Hello"," from the mock"," Bedrock!"],"stopReason":"end_turn","usage":[9,6,15]}
invoke: {"stop_reason":"end_turn","text":"Hello from the mock Bedrock!","usage":[9,6]}
chat: {"finish_reason":"COMPLETE","text":"Hello from the mock Cohere!","usage":[9,6]}
chat stream: {"deltas":["Hello"," from the mock"," Cohere!"],"finish_reason":"COMPLETE","usage":[9,6]}
embed: {"len":3}
rerank: {"indexes":[1,0],"search_units":1}
"#;

// ---------------------------------------------------------------------------
// The anthropic SDK on the native `/v1/messages` path.

const THINKING_SIGNATURE: &str = "EqQBCkYIARgCKkA-mock-signature";

/// The Anthropic upstream, with a signed thinking block on requests that
/// turn thinking on.
fn native_anthropic_upstream(req: &RecordedRequest) -> MockResponse {
    let body = req.json();
    if req.path == "/v1/messages" && body.get("thinking").is_some() {
        let message = anthropic::message(
            body["model"].as_str().unwrap_or_default(),
            json!([
                {"type": "thinking", "thinking": "The user wants a greeting.", "signature": THINKING_SIGNATURE},
                {"type": "text", "text": "Hi!"}
            ]),
            "end_turn",
            anthropic::usage(30, 40),
        );
        return MockResponse::json(200, &message);
    }
    anthropic::behaviour(req)
}

const ANTHROPIC_NATIVE: &str = r#"messages: {"content":[{"text":"Hello from the mock Claude!","type":"text"}],"model":"claude-sonnet-4-5","usage":[9,6]}
stream: {"stop_reason":"end_turn","texts":["Hello"," from the mock"," Claude!"],"usage":[9,6]}
thinking turn 1: [{"signature":"EqQBCkYIARgCKkA-mock-signature","thinking":"The user wants a greeting.","type":"thinking"},{"text":"Hi!","type":"text"}]
thinking turn 2: [{"signature":"EqQBCkYIARgCKkA-mock-signature","thinking":"The user wants a greeting.","type":"thinking"},{"text":"Hi!","type":"text"}]
beta: {"content":[{"text":"Hello from the mock Claude!","type":"text"}]}
count_tokens: 6
"#;

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_python_client_on_the_native_path() {
    let py = python();
    let up = MockServer::start(native_anthropic_upstream).await.unwrap();
    let gw = gateway_with(
        "anthropic-native",
        &entry("claude", "anthropic/claude-sonnet-4-5", &up.url()),
    )
    .await;
    let out = run_client(&py, &clients_dir().join("python/anthropic_native.py"), &gw).await;
    assert_output(&out, ANTHROPIC_NATIVE);
    let reqs = up.requests();
    let paths: Vec<String> = reqs.iter().map(RecordedRequest::path_and_query).collect();
    assert_eq!(
        paths,
        [
            "/v1/messages",
            "/v1/messages",
            "/v1/messages",
            "/v1/messages",
            "/v1/messages",
            "/v1/messages/count_tokens"
        ]
    );
    for r in &reqs {
        assert_eq!(r.header("x-api-key"), Some("sk-upstream"));
        assert_eq!(r.json()["model"], "claude-sonnet-4-5");
    }
    // The second thinking turn carries the signed block back exactly as the
    // first turn's answer had it.
    assert_eq!(
        reqs[3].json()["messages"][1]["content"][0],
        json!({"type": "thinking", "thinking": "The user wants a greeting.", "signature": THINKING_SIGNATURE})
    );
    assert_eq!(
        reqs[3].json()["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert_eq!(
        reqs[4].header("anthropic-beta"),
        Some("context-management-2025-06-27")
    );
    assert_eq!(
        reqs[4].json()["context_management"],
        json!({"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]})
    );
    // Apart from `model`, each body is the client's, field for field.
    let first = reqs[0].json();
    assert_eq!(
        first,
        json!({"max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}], "model": "claude-sonnet-4-5"})
    );
}
