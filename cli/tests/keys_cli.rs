//! `llmux keys create|list|info|delete` as an operator runs them: the real
//! binary against a real `llmux serve` process, output compared exactly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use llmux_tests::mock::{openai, MockServer};
use llmux_tests::process::{free_port, ServeProcess};
use serde_json::{json, Value};

const MASTER: &str = "sk-master-cli";

/// A `llmux serve` process and its scratch directory, both gone on drop.
struct Serve {
    process: Option<ServeProcess>,
    dir: PathBuf,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        drop(self.process.take()); // stop the gateway before removing its files
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn serve(upstream: &MockServer, name: &str) -> Serve {
    let dir = std::env::temp_dir().join(format!("llmux-keys-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      api_base: {}\n      api_key: sk-upstream\ngeneral_settings:\n  master_key: {MASTER}\n",
            upstream.url()
        ),
    )
    .unwrap();
    let database_url = format!("sqlite://{}", dir.join("llmux.db").display());
    let process = ServeProcess::start(
        env!("CARGO_BIN_EXE_llmux"),
        &config,
        &[("DATABASE_URL", &database_url)],
    )
    .await
    .unwrap();
    let url = process.url.clone();
    Serve {
        process: Some(process),
        dir,
        url,
    }
}

/// What one `llmux` run printed.
#[derive(Debug, PartialEq)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run `llmux <args>` with exactly the environment `env`.
fn llmux(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_llmux"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `llmux keys <args> --base-url <gw>`, master key from the environment.
fn keys(gw: &Serve, args: &[&str]) -> Run {
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--base-url", &gw.url]);
    llmux(&all, &[("LLMUX_MASTER_KEY", MASTER)])
}

fn ok_json(run: &Run) -> Value {
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    serde_json::from_str(&run.stdout).unwrap()
}

fn failed(run: &Run) -> (i32, &str, &str) {
    (run.code, run.stdout.as_str(), run.stderr.as_str())
}

/// Unix seconds as RFC 3339, the way the CLI prints them (checked against
/// known dates in `llmux_core::calendar`'s unit tests).
fn rfc3339(secs: i64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn key_lifecycle_from_the_command_line() {
    let upstream = openai::start().await.unwrap();
    let gw = serve(&upstream, "lifecycle").await;

    // create --json: the gateway's answer as is, with every flag applied.
    let created = ok_json(&keys(
        &gw,
        &[
            "create",
            "--key",
            "sk-cli-test-0001",
            "--models",
            "gpt-4o,gpt-4o-mini",
            "--max-budget",
            "10.5",
            "--budget-duration",
            "30d",
            "--rpm",
            "60",
            "--tpm",
            "1000",
            "--max-parallel",
            "2",
            "--duration",
            "7d",
            "--alias",
            "ci",
            "--user-id",
            "u1",
            "--team-id",
            "t1",
            "--metadata",
            r#"{"env": "ci"}"#,
            "--json",
        ],
    ));
    let t = created["created_at"].as_i64().unwrap();
    let hash1 = llmux_proxy::auth::virtual_keys::hash_key("sk-cli-test-0001");
    assert_eq!(
        created,
        json!({
            "key": "sk-cli-test-0001", "token": hash1, "key_name": "sk-...0001", "key_alias": "ci",
            "user_id": "u1", "team_id": "t1", "models": ["gpt-4o", "gpt-4o-mini"], "aliases": {},
            "spend": 0.0, "max_budget": 10.5, "soft_budget": null, "budget_duration": "30d",
            "budget_reset_at": t + 30 * 86_400, "tpm_limit": 1000, "rpm_limit": 60,
            "max_parallel_requests": 2, "expires": t + 7 * 86_400, "blocked": false,
            "metadata": {"env": "ci"}, "created_at": t, "updated_at": t,
        })
    );

    // create, as a table; the reminder goes to stderr.
    let run = keys(
        &gw,
        &["create", "--key", "sk-cli-test-0002", "--alias", "second"],
    );
    let hash2 = llmux_proxy::auth::virtual_keys::hash_key("sk-cli-test-0002");
    let info2 = ok_json(&keys(&gw, &["info", "sk-cli-test-0002", "--json"]));
    let t2 = info2["info"]["created_at"].as_i64().unwrap();
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (0, "Save this key now: it is shown only once.\n")
    );
    assert_eq!(
        run.stdout,
        format!(
            "key            sk-cli-test-0002
token          {hash2}
name           sk-...0002
alias          second
user           -
team           -
models         all
aliases        -
spend          $0.00
max budget     -
soft budget    -
budget resets  -
tpm limit      -
rpm limit      -
max parallel   -
expires        -
blocked        no
metadata       -
created        {c}
updated        {c}
",
            c = rfc3339(t2)
        )
    );

    // info, by key or by token, as a table.
    let expected_info = format!(
        "token          {hash1}
name           sk-...0001
alias          ci
user           u1
team           t1
models         gpt-4o, gpt-4o-mini
aliases        -
spend          $0.00
max budget     $10.50 per 30d
soft budget    -
budget resets  {reset}
tpm limit      1000
rpm limit      60
max parallel   2
expires        {expires}
blocked        no
metadata       {{\"env\":\"ci\"}}
created        {c}
updated        {c}
",
        reset = rfc3339(t + 30 * 86_400),
        expires = rfc3339(t + 7 * 86_400),
        c = rfc3339(t)
    );
    let run = keys(&gw, &["info", "sk-cli-test-0001"]);
    assert_eq!(failed(&run), (0, expected_info.as_str(), ""));
    let run = keys(&gw, &["info", &hash1]);
    assert_eq!(failed(&run), (0, expected_info.as_str(), ""));

    // list: newest first (same second: by token).
    let mut rows = [
        (
            t,
            hash1.clone(),
            format!(
                "{hash1}  sk-...0001  ci      u1    t1    gpt-4o, gpt-4o-mini  $0.00  $10.50 per 30d  {}",
                rfc3339(t + 7 * 86_400)
            ),
        ),
        (
            t2,
            hash2.clone(),
            format!(
                "{hash2}  sk-...0002  second  -     -     all                  $0.00  -               -"
            ),
        ),
    ];
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let table = format!(
        "TOKEN{pad}  NAME        ALIAS   USER  TEAM  MODELS               SPEND  BUDGET          EXPIRES\n{}\n{}\n",
        rows[0].2,
        rows[1].2,
        pad = " ".repeat(59)
    );
    let run = keys(&gw, &["list"]);
    assert_eq!(failed(&run), (0, table.as_str(), ""));
    let listed = ok_json(&keys(&gw, &["list", "--json"]));
    assert_eq!(
        listed,
        json!({"keys": [rows[0].1, rows[1].1], "current_page": 1, "page_size": 10})
    );
    let run = keys(&gw, &["list", "--user-id", "u1", "--size", "5", "--json"]);
    assert_eq!(
        ok_json(&run),
        json!({"keys": [hash1], "current_page": 1, "page_size": 5})
    );

    // The key is real: it calls a model through the gateway (after the
    // tables above, so its spend cannot race them).
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth("sk-cli-test-0001")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // delete, then the key is gone for the API and for calls.
    let run = keys(&gw, &["delete", "sk-cli-test-0002"]);
    assert_eq!(failed(&run), (0, "deleted sk-cli-test-0002\n", ""));
    let run = keys(&gw, &["info", "sk-cli-test-0002"]);
    assert_eq!(
        failed(&run),
        (
            1,
            "",
            "error: gateway answered 404 Not Found: key not found\n"
        )
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth("sk-cli-test-0002")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let run = keys(&gw, &["delete", &hash1, "--json"]);
    assert_eq!(ok_json(&run), json!({"deleted_keys": [hash1]}));
    let run = keys(&gw, &["list"]);
    assert_eq!(failed(&run), (0, "no keys\n", ""));
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_clear_and_exit_non_zero() {
    let upstream = openai::start().await.unwrap();
    let gw = serve(&upstream, "errors").await;
    let base = gw.url.as_str();

    // No master key anywhere.
    let run = llmux(&["keys", "list", "--base-url", base], &[]);
    assert_eq!(
        failed(&run),
        (
            1,
            "",
            "error: no master key: pass --master-key or set LLMUX_MASTER_KEY (or LITELLM_MASTER_KEY)\n"
        )
    );
    // LiteLLM's variable is read too, and the flag wins over both.
    let run = llmux(
        &["keys", "list", "--base-url", base],
        &[("LITELLM_MASTER_KEY", MASTER)],
    );
    assert_eq!(failed(&run), (0, "no keys\n", ""));
    let run = llmux(
        &[
            "keys",
            "list",
            "--base-url",
            base,
            "--master-key",
            "sk-wrong",
        ],
        &[("LLMUX_MASTER_KEY", MASTER)],
    );
    assert_eq!(
        failed(&run),
        (
            1,
            "",
            "error: gateway answered 401 Unauthorized: Authentication Error: invalid API key\n"
        )
    );

    // The gateway's own validation message, shown as it gave it.
    let run = keys(&gw, &["create", "--max-budget", "-1"]);
    assert_eq!(
        failed(&run),
        (
            1,
            "",
            "error: gateway answered 400 Bad Request: max_budget must be a non-negative number, got -1\n"
        )
    );
    let run = keys(&gw, &["create", "--budget-duration", "soon"]);
    assert_eq!(
        failed(&run),
        (
            1,
            "",
            "error: gateway answered 400 Bad Request: budget_duration 'soon' is not like 30s, 30m, 24h, 30d (at most 1000 years)\n"
        )
    );
    let run = keys(&gw, &["delete", "sk-no-such-key"]);
    assert_eq!(
        failed(&run),
        (
            1,
            "",
            "error: gateway answered 404 Not Found: key not found: sk-...-key\n"
        )
    );

    // Checked before anything is sent.
    let run = keys(&gw, &["create", "--metadata", "[1]"]);
    assert_eq!(
        failed(&run),
        (1, "", "error: --metadata must be a JSON object, got [1]\n")
    );
    let run = keys(&gw, &["create", "--metadata", "{nope"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with(
            "error: --metadata is not valid JSON (key must be a string at line 1 column 2): {nope"
        ),
        "{}",
        run.stderr
    );
    let run = keys(&gw, &["list", "--json"]);
    assert_eq!(
        ok_json(&run),
        json!({"keys": [], "current_page": 1, "page_size": 10})
    );

    // Nothing listening.
    let port = free_port();
    let run = llmux(
        &[
            "keys",
            "list",
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
        ],
        &[("LLMUX_MASTER_KEY", MASTER)],
    );
    assert_eq!(
        failed(&run),
        (
            1,
            "",
            format!("error: cannot reach the gateway at http://127.0.0.1:{port} (Connection refused (os error 111)): is `llmux serve` running there?\n").as_str()
        )
    );
}

/// `llmux spend` against the same gateway after two calls: the report and
/// the logs, as tables and as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_reports_what_the_gateway_recorded() {
    let upstream = openai::start().await.unwrap();
    let gw = serve(&upstream, "spend").await;
    let client = reqwest::Client::new();
    for id in ["req-a", "req-b"] {
        let r = client
            .post(format!("{}/v1/chat/completions", gw.url))
            .bearer_auth(MASTER)
            .header("x-request-id", id)
            .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let spend = |args: &[&str]| {
        let mut all = vec!["spend"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--base-url", &gw.url]);
        llmux(&all, &[("LLMUX_MASTER_KEY", MASTER)])
    };
    // Spend is written in batches off the request path: wait for both rows.
    let started = Instant::now();
    loop {
        let report = ok_json(&spend(&["--group-by", "model", "--json"]));
        if report[0]["requests"] == json!(2) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{report}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // gpt-4o at $2.50 / $10 per million: 9 prompt + 5 completion tokens = $0.0000725 a call.
    let run = spend(&["--group-by", "model"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            0,
            "MODEL   SPEND      REQUESTS  PROMPT TOKENS  COMPLETION TOKENS\n\
             gpt-4o  $0.000145  2         18             10\n\
             TOTAL   $0.000145  2                        \n",
            ""
        )
    );
    let run = spend(&["--logs"]);
    assert_eq!(run.code, 0, "{run:?}");
    // Newest first; both calls may fall in the same second, so compare as a set.
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    lines[1..].sort_unstable();
    assert_eq!(
        lines,
        vec![
            "REQUEST  MODEL   USER  TEAM  TOKENS  SPEND       STATUS",
            "req-a    gpt-4o  -     -     14      $0.0000725  success",
            "req-b    gpt-4o  -     -     14      $0.0000725  success",
        ]
    );
    let run = spend(&["--group-by", "week"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("invalid value 'week' for '--group-by <GROUP_BY>'"),
        "{}",
        run.stderr
    );
    let run = spend(&["--start-date", "yesterday"]);
    assert_eq!(
        failed(&run),
        (1, "", "error: gateway answered 400 Bad Request: start_date must be a date like 2026-11-25, got 'yesterday'\n")
    );
}
