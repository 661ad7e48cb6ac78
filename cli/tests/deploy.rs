//! What `deploy/` ships, checked without a container runtime: the Dockerfile
//! lints (hadolint) and its entry point and health check are this binary's
//! real flags; the Compose file parses as a Compose file (the `compose_spec`
//! crate) and wires two gateways, PostgreSQL, Redis and a load balancer; the
//! Helm chart lints, renders and validates against the Kubernetes schemas
//! (helm, kubernetes-validate), and the config it renders is one
//! `llmux serve --check-config` accepts. Then the operations the files are
//! for, with real processes: a rolling restart of two gateways on one
//! PostgreSQL and Redis under load, and gateways on separate network hosts
//! (network namespaces) holding one key's limits and budget together.
//!
//! helm, hadolint and kubernetes-validate come from the client venv that
//! `cargo xtask clients` installs (pinned in tests/clients/python); without it
//! these tests fail and say so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmux_tests::db::{any_pool, TestDb};
use llmux_tests::mock::openai;
use llmux_tests::process::ServeProcess;
use llmux_tests::services::{self, Service};
use serde_json::{json, Value};

const LLMUX: &str = env!("CARGO_BIN_EXE_llmux");
const MASTER: &str = "sk-deploy-3f9a0c1d2e4b5a6c";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn deploy() -> PathBuf {
    root().join("deploy")
}

/// A tool from the client venv, or a failure saying how to install it.
fn venv_tool(name: &str) -> PathBuf {
    llmux_tests::venv_program(name).unwrap_or_else(|e| panic!("{e}"))
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("llmux-deploy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- the Dockerfile ----------------------------------------------------------

/// The final stage's instructions, as (INSTRUCTION, rest of the line), with
/// continuation lines joined.
fn final_stage(dockerfile: &str) -> Vec<(String, String)> {
    let joined = dockerfile.replace("\\\n", " ");
    let mut stage = Vec::new();
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (op, rest) = line.split_once(' ').unwrap_or((line, ""));
        let op = op.to_ascii_uppercase();
        if op == "FROM" {
            stage.clear();
        }
        stage.push((op, rest.trim().to_string()));
    }
    stage
}

fn instruction<'a>(stage: &'a [(String, String)], op: &str) -> &'a str {
    stage
        .iter()
        .rev()
        .find(|(o, _)| o == op)
        .map(|(_, rest)| rest.as_str())
        .unwrap_or_else(|| panic!("no {op} in the final stage"))
}

/// `["a", "b"]` (exec form) as its words.
fn exec_form(json_array: &str) -> Vec<String> {
    serde_json::from_str(json_array).unwrap_or_else(|e| panic!("not exec form: {json_array}: {e}"))
}

/// The image's `ENV` settings.
fn image_env(stage: &[(String, String)]) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (_, rest) in stage.iter().filter(|(o, _)| o == "ENV") {
        for pair in rest.split_whitespace() {
            let (k, v) = pair.split_once('=').unwrap();
            env.insert(k.to_string(), v.to_string());
        }
    }
    env
}

#[test]
fn dockerfile_lints_clean() {
    let out = run(
        &venv_tool("hadolint"),
        &[deploy().join("Dockerfile").to_str().unwrap()],
    );
    assert!(out.status.success(), "hadolint:\n{}", text(&out));
}

#[test]
fn image_is_static_distroless_non_root() {
    let dockerfile = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let stage = final_stage(&dockerfile);
    assert_eq!(
        instruction(&stage, "FROM"),
        "gcr.io/distroless/static-debian12:nonroot"
    );
    assert_eq!(instruction(&stage, "USER"), "65532:65532");
    // The build stage is Alpine's (musl): the binary is static, and
    // allocates with mimalloc (musl's allocator costs a third of the
    // throughput), a feature that must exist.
    assert!(dockerfile.contains("FROM rust:${RUST_VERSION}-alpine AS build"));
    assert!(dockerfile.contains("--bin llmux --features mimalloc"));
    let cli = std::fs::read_to_string(deploy().join("../cli/Cargo.toml")).unwrap();
    assert!(cli.contains("\nmimalloc = [\"dep:mimalloc\"]\n"));
    let env = image_env(&stage);
    assert_eq!(env["HOST"], "0.0.0.0");
    assert_eq!(env["PORT"], "4000");
    assert_eq!(env["LLMUX_CONFIG"], "/etc/llmux/config.yaml");
    assert_eq!(env["MIMALLOC_ARENA_EAGER_COMMIT"], "0");
    assert_eq!(instruction(&stage, "WORKDIR"), "/var/lib/llmux");
}

/// The image's entry point with its default command validates the image's
/// own config with `--check-config`, and its health check command, run as
/// the image would run it, passes against a serving gateway and fails
/// against none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_entry_point_and_health_check_are_real_flags() {
    let dockerfile = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let stage = final_stage(&dockerfile);
    let env = image_env(&stage);
    let entry = exec_form(instruction(&stage, "ENTRYPOINT"));
    let cmd = exec_form(instruction(&stage, "CMD"));
    assert_eq!(entry, vec!["/usr/local/bin/llmux"]);
    assert_eq!(cmd, vec!["serve"]);
    assert!(dockerfile.contains("COPY --from=build /llmux /usr/local/bin/llmux"));
    assert!(
        dockerfile.contains("COPY --chown=65532:65532 deploy/config.yaml /etc/llmux/config.yaml")
    );

    // ENTRYPOINT + CMD + --check-config, with the image's environment (the
    // config path pointing at deploy/config.yaml instead of /etc/llmux).
    let out = Command::new(LLMUX)
        .args(&cmd)
        .arg("--check-config")
        .env_clear()
        .env("HOST", &env["HOST"])
        .env("PORT", &env["PORT"])
        .env("LLMUX_CONFIG", deploy().join("config.yaml"))
        .env("LLMUX_MASTER_KEY", MASTER)
        .env("OPENAI_API_KEY", "sk-test")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "config OK: 1 model group (openai/*)"
    );

    // HEALTHCHECK … CMD [...]
    let health = instruction(&stage, "HEALTHCHECK");
    let probe = exec_form(&health[health.find("CMD").unwrap() + 3..]);
    assert_eq!(probe[0], "/usr/local/bin/llmux");
    let upstream = openai::start().await.unwrap();
    let dir = TempDir::new("health");
    let config = dir.0.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: sk-up\n      api_base: {}\n",
            upstream.url()
        ),
    )
    .unwrap();
    let gateway = ServeProcess::start(LLMUX, &config, &[]).await.unwrap();
    let port = gateway.port.to_string();
    let probe_with = |port: &str| {
        Command::new(LLMUX)
            .args(&probe[1..])
            .env_clear()
            .env("PORT", port)
            .output()
            .unwrap()
    };
    let ok = probe_with(&port);
    assert!(ok.status.success(), "{}", text(&ok));
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        format!("http://127.0.0.1:{port}/health/liveliness: 200 OK")
    );
    drop(gateway);
    let down = probe_with(&port);
    assert_eq!(down.status.code(), Some(1), "{}", text(&down));
    assert!(
        String::from_utf8_lossy(&down.stderr).starts_with(&format!(
            "error: http://127.0.0.1:{port}/health/liveliness: "
        )),
        "{}",
        text(&down)
    );
}

// ---- the Compose file --------------------------------------------------------

#[test]
fn compose_file_parses_and_wires_two_gateways_behind_a_load_balancer() {
    use compose_spec::service::{Command as ComposeCommand, Healthcheck};
    let yaml = std::fs::read_to_string(deploy().join("compose.yaml")).unwrap();
    let compose = compose_spec::Compose::options()
        .apply_merge(true)
        .from_yaml_str(&yaml)
        .unwrap_or_else(|e| panic!("deploy/compose.yaml is not a valid Compose file: {e}"));
    compose.validate_all().unwrap();
    let names: Vec<String> = compose.services.keys().map(|k| k.to_string()).collect();
    assert_eq!(names, vec!["llmux", "lb", "postgres", "redis"]);

    let gateway = &compose.services[&"llmux".parse::<compose_spec::Identifier>().unwrap()];
    let replicas = gateway.deploy.as_ref().and_then(|d| d.replicas);
    assert_eq!(replicas, Some(2));
    assert!(gateway.read_only);
    // The gateway's health check is the image's: this binary's real flags.
    let Some(Healthcheck::Command(check)) = &gateway.healthcheck else {
        panic!(
            "the gateway has no health check command: {:?}",
            gateway.healthcheck
        );
    };
    let words = match &check.test {
        Some(compose_spec::service::healthcheck::Test::Command(c)) => c.clone(),
        other => panic!("health check is not a CMD list: {other:?}"),
    };
    // The parser keeps the words after `CMD`.
    let words: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .skip_while(|w| *w == "CMD")
        .collect();
    assert_eq!(words[..2], ["/usr/local/bin/llmux", "healthcheck"]);
    let help = Command::new(LLMUX)
        .args(["healthcheck", "--help"])
        .output()
        .unwrap();
    for flag in words[2..].iter().filter(|w| w.starts_with("--")) {
        assert!(
            text(&help).contains(flag),
            "{flag} is not a flag of llmux healthcheck"
        );
    }
    assert_eq!(
        gateway.command,
        Some(ComposeCommand::List(vec!["serve".into()]))
    );
    // Shared state for every replica.
    let env = format!("{:?}", gateway.environment);
    for needle in [
        "DATABASE_URL",
        "postgres://llmux:",
        "@postgres:5432/llmux",
        "REDIS_URL",
        "redis://redis:6379/",
        "LLMUX_MASTER_KEY",
    ] {
        assert!(env.contains(needle), "{needle} missing from {env}");
    }
    // Stopping waits longer than the drain delay in deploy/config.yaml.
    assert_eq!(gateway.stop_grace_period.map(|d| d.as_secs()), Some(60));
    let config = std::fs::read_to_string(deploy().join("config.yaml")).unwrap();
    assert!(config.contains("  drain_delay: 5s\n"));

    // nginx balances over every replica of `llmux`.
    let nginx = std::fs::read_to_string(deploy().join("nginx.conf")).unwrap();
    assert!(nginx.contains("server llmux:4000 resolve"));
    assert!(nginx.contains("proxy_buffering off;"));
}

// ---- the Helm chart ----------------------------------------------------------

fn chart() -> String {
    deploy().join("helm/llmux").to_string_lossy().into_owned()
}

/// `helm template` with `--set` values: the rendered documents by kind, or
/// helm's error.
fn render(sets: &[&str]) -> Result<(String, BTreeMap<String, Value>), String> {
    let mut args = vec!["template", "t", chart().leak() as &str];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = run(&venv_tool("helm"), &args);
    if !out.status.success() {
        return Err(text(&out));
    }
    let yaml = String::from_utf8(out.stdout).unwrap();
    let mut docs = BTreeMap::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&yaml) {
        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
        if v.is_null() {
            continue;
        }
        docs.insert(v["kind"].as_str().unwrap().to_string(), v);
    }
    Ok((yaml, docs))
}

#[test]
fn helm_chart_lints() {
    let out = run(&venv_tool("helm"), &["lint", "--strict", &chart()]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn helm_chart_renders_valid_kubernetes_objects() {
    let dir = TempDir::new("helm");
    let all = [
        "autoscaling.enabled=true",
        "serviceMonitor.enabled=true",
        "database.secretName=llmux-db",
        "redis.url=redis://redis:6379/",
        "secretEnv[0].name=OPENAI_API_KEY",
        "secretEnv[0].secretName=llmux-provider-keys",
        "secretEnv[0].secretKey=openai",
    ];
    for (name, sets) in [("defaults", &[][..]), ("everything", &all[..])] {
        let (yaml, docs) = render(sets).unwrap();
        let file = dir.0.join(format!("{name}.yaml"));
        std::fs::write(&file, &yaml).unwrap();
        let out = run(
            &venv_tool("kubernetes-validate"),
            &["-k", "1.33.0", "--strict", file.to_str().unwrap()],
        );
        assert!(out.status.success(), "{name}: {}", text(&out));
        let mut kinds: Vec<&str> = docs.keys().map(String::as_str).collect();
        kinds.sort_unstable();
        // Every object but the ServiceMonitor (a CRD) has a schema there.
        for kind in &kinds {
            if *kind != "ServiceMonitor" {
                assert!(
                    text(&out).contains(&format!(
                        "passed for resource {}/t-llmux",
                        kind.to_lowercase()
                    )),
                    "{name}: {kind} not validated:\n{}",
                    text(&out)
                );
            }
        }
        if name == "defaults" {
            assert_eq!(
                kinds,
                [
                    "ConfigMap",
                    "Deployment",
                    "PodDisruptionBudget",
                    "Service",
                    "ServiceAccount"
                ]
            );
        } else {
            assert_eq!(
                kinds,
                [
                    "ConfigMap",
                    "Deployment",
                    "HorizontalPodAutoscaler",
                    "PodDisruptionBudget",
                    "Service",
                    "ServiceAccount",
                    "ServiceMonitor"
                ]
            );
            let monitor = &docs["ServiceMonitor"];
            assert_eq!(
                monitor["spec"]["endpoints"],
                json!([{"port": "http", "path": "/metrics", "interval": "30s"}])
            );
            assert_eq!(
                monitor["spec"]["selector"]["matchLabels"],
                docs["Deployment"]["spec"]["selector"]["matchLabels"]
            );
            assert!(docs["Deployment"]["spec"].get("replicas").is_none());
            assert_eq!(docs["HorizontalPodAutoscaler"]["spec"]["minReplicas"], 2);
        }
    }
}

#[test]
fn helm_deployment_probes_drains_and_runs_read_only_as_non_root() {
    let (_, docs) = render(&["database.secretName=llmux-db"]).unwrap();
    let pod = &docs["Deployment"]["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["args"], json!(["serve"]));
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"],
        "/health/liveliness"
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"],
        "/health/readiness"
    );
    assert_eq!(
        container["startupProbe"]["httpGet"]["path"],
        "/health/liveliness"
    );
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(pod["terminationGracePeriodSeconds"], 60);
    assert_eq!(
        docs["Deployment"]["spec"]["strategy"]["rollingUpdate"],
        json!({"maxUnavailable": 0, "maxSurge": 1})
    );
    // Keys come from Secrets, never from values in the clear.
    let env = &container["env"];
    let by_name = |name: &str| {
        env.as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {env}"))
    };
    assert_eq!(
        by_name("LLMUX_MASTER_KEY")["valueFrom"],
        json!({"secretKeyRef": {"name": "llmux-master-key", "key": "master-key"}})
    );
    assert_eq!(
        by_name("DATABASE_URL")["valueFrom"],
        json!({"secretKeyRef": {"name": "llmux-db", "key": "database-url"}})
    );
    // The init container validates the same config with the same environment.
    let init = &pod["initContainers"][0];
    assert_eq!(init["args"], json!(["serve", "--check-config"]));
    assert_eq!(init["env"], container["env"]);
    assert_eq!(docs["PodDisruptionBudget"]["spec"]["minAvailable"], 1);

    // A grace period that leaves no time to drain is refused at render time.
    let err = render(&["terminationGracePeriodSeconds=10"]).unwrap_err();
    assert!(
        err.contains("terminationGracePeriodSeconds (10) must exceed drainDelaySeconds (5) by more than 10 s"),
        "{err}"
    );
}

/// The ConfigMap's config.yaml is one the binary accepts, with the drain
/// delay the chart promises.
#[test]
fn helm_config_is_accepted_by_check_config() {
    let (_, docs) = render(&["drainDelaySeconds=7"]).unwrap();
    let config = docs["ConfigMap"]["data"]["config.yaml"].as_str().unwrap();
    assert!(config.contains("drain_delay: 7s"), "{config}");
    let dir = TempDir::new("helm-config");
    let path = dir.0.join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(LLMUX)
        .args([
            "serve",
            "--check-config",
            "--config",
            path.to_str().unwrap(),
        ])
        .env_clear()
        .env("LLMUX_MASTER_KEY", MASTER)
        .env("OPENAI_API_KEY", "sk-test")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "config OK: 1 model group (gpt-4o-mini)"
    );
    // Without the provider key the Secret should hold, the check fails and
    // names it: the init container stops a rollout that would not serve.
    let out = Command::new(LLMUX)
        .args([
            "serve",
            "--check-config",
            "--config",
            path.to_str().unwrap(),
        ])
        .env_clear()
        .env("LLMUX_MASTER_KEY", MASTER)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("OPENAI_API_KEY"), "{}", text(&out));
}

// ---- operations with real processes -----------------------------------------

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
    r["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string()
}

async fn chat(http: &reqwest::Client, url: &str, key: &str) -> Result<(u16, Value), String> {
    let r = http
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 10}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// Spend rows a key left in the database.
async fn spend_rows(database_url: &str, key: &str) -> i64 {
    let pool = any_pool(database_url).await.unwrap();
    let hash = llmux_store::keys::hash_key(key);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM llmux_spend_logs WHERE token_hash = $1")
        .bind(hash)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

fn gateway_config(dir: &Path, upstream_base: &str, drain_delay: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            r#"model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: {upstream_base}
      api_key: sk-upstream
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002
router_settings:
  num_retries: 0
general_settings:
  master_key: {MASTER}
  drain_delay: {drain_delay}
"#
        ),
    )
    .unwrap();
    path
}

/// A load balancer's view: the gateways in rotation, each probed on
/// `/health/readiness` every 100 ms and taken out at its first failure.
#[derive(Default)]
struct Rotation {
    gateways: Mutex<Vec<(String, bool)>>,
    next: AtomicUsize,
    taken_out: Mutex<Vec<String>>,
}

impl Rotation {
    fn add(&self, url: &str) {
        self.gateways.lock().unwrap().push((url.to_string(), true));
    }

    fn pick(&self) -> Option<String> {
        let gateways = self.gateways.lock().unwrap();
        let ready: Vec<&String> = gateways.iter().filter(|g| g.1).map(|g| &g.0).collect();
        if ready.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % ready.len();
        Some(ready[i].clone())
    }

    async fn probe(&self, http: &reqwest::Client) {
        let urls: Vec<String> = self
            .gateways
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.1)
            .map(|g| g.0.clone())
            .collect();
        for url in urls {
            let ready = http
                .get(format!("{url}/health/readiness"))
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if !ready {
                let mut gateways = self.gateways.lock().unwrap();
                if let Some(g) = gateways.iter_mut().find(|g| g.0 == url) {
                    g.1 = false;
                }
                self.taken_out.lock().unwrap().push(url);
            }
        }
    }
}

/// Two gateways on one PostgreSQL and Redis under steady load; one gets
/// SIGTERM and a new process takes its place, as a rolling update does. The
/// load balancer takes the draining one out on its failed readiness while it
/// still serves, so no call fails, and every answered call has its spend row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_under_load_loses_no_call_and_no_spend() {
    if !services::available(&[Service::Postgres, Service::Redis]).await {
        return;
    }
    let upstream = openai::start().await.unwrap();
    let db = TestDb::postgres().await.unwrap();
    let dir = TempDir::new("rolling");
    let config = gateway_config(&dir.0, &upstream.url(), "2s");
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("REDIS_URL", "redis://127.0.0.1:6379/"),
    ];
    let mut old = ServeProcess::start(LLMUX, &config, &env).await.unwrap();
    let other = ServeProcess::start(LLMUX, &config, &env).await.unwrap();
    let key = new_key(&old.url, json!({"key_alias": "rolling"})).await;

    let rotation = Arc::new(Rotation::default());
    rotation.add(&old.url);
    rotation.add(&other.url);
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::new();
    let prober = {
        let (rotation, stop, http) = (rotation.clone(), stop.clone(), http.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                rotation.probe(&http).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // Four clients in a loop, bounded by time (and a call count as a backstop).
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (rotation, stop, http, key) =
                (rotation.clone(), stop.clone(), http.clone(), key.clone());
            tokio::spawn(async move {
                let (mut answered, mut failed) = (0u32, Vec::new());
                while !stop.load(Ordering::Relaxed) && answered < 20_000 {
                    let Some(url) = rotation.pick() else {
                        failed.push("no gateway in rotation".to_string());
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    match chat(&http, &url, &key).await {
                        Ok((200, _)) => answered += 1,
                        Ok((status, body)) => failed.push(format!("{url}: {status} {body}")),
                        Err(e) => failed.push(format!("{url}: {e}")),
                    }
                }
                (answered, failed)
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The rolling update: the new process starts, the old one gets SIGTERM.
    let new = ServeProcess::start(LLMUX, &config, &env).await.unwrap();
    rotation.add(&new.url);
    old.terminate().unwrap();
    let status = old.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "old gateway exit: {status:?}"
    );
    assert_eq!(*rotation.taken_out.lock().unwrap(), vec![old.url.clone()]);
    tokio::time::sleep(Duration::from_millis(1000)).await;

    stop.store(true, Ordering::Relaxed);
    prober.await.unwrap();
    let mut answered = 0u32;
    let mut failed = Vec::new();
    for w in workers {
        let (a, f) = w.await.unwrap();
        answered += a;
        failed.extend(f);
    }
    assert!(
        failed.is_empty(),
        "{} failed calls, e.g. {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(answered > 50, "only {answered} calls answered");

    // The others stop gracefully too; then every answered call has its row.
    for mut g in [other, new] {
        g.terminate().unwrap();
        assert!(g
            .wait_exit(Duration::from_secs(20))
            .await
            .is_some_and(|s| s.success()));
    }
    assert_eq!(spend_rows(&db.url, &key).await, i64::from(answered));
}

// ---- gateways on separate hosts (network namespaces) -------------------------

/// Two network namespaces, each joined to this one by a veth pair: host
/// `10.R.N.2` in namespace N sees this namespace as `10.R.N.1`. Removed
/// (with the links) on drop.
struct Hosts {
    names: Vec<String>,
    subnet: u8,
}

impl Hosts {
    /// Make `count` hosts, or the reason this machine cannot.
    fn create(count: u8) -> Result<Hosts, String> {
        let id = std::process::id() % 10_000;
        let subnet = 100 + u8::try_from(id % 100).unwrap();
        let mut hosts = Hosts {
            names: Vec::new(),
            subnet,
        };
        for n in 1..=count {
            let name = format!("llmux-t{id}-{n}");
            ip(&["netns", "add", &name])?;
            hosts.names.push(name.clone());
            let (outer, inner) = (format!("lx{id}h{n}"), format!("lx{id}n{n}"));
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &inner, "netns", &name])?;
            ip(&[
                "addr",
                "add",
                &format!("10.{subnet}.{n}.1/24"),
                "dev",
                &outer,
            ])?;
            ip(&["link", "set", &outer, "up"])?;
            ip(&[
                "-n",
                &name,
                "addr",
                "add",
                &format!("10.{subnet}.{n}.2/24"),
                "dev",
                &inner,
            ])?;
            ip(&["-n", &name, "link", "set", &inner, "up"])?;
            ip(&["-n", &name, "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    /// Host `n`'s own address, and this namespace's address on its link.
    fn addresses(&self, n: u8) -> (String, String) {
        (
            format!("10.{}.{n}.2", self.subnet),
            format!("10.{}.{n}.1", self.subnet),
        )
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip (iproute2): {e}"))?;
    out.status
        .success()
        .then_some(())
        .ok_or_else(|| format!("ip {}: {}", args.join(" "), text(&out).trim()))
}

/// Forward TCP connections accepted on `listen` to `target` (PostgreSQL,
/// Redis and the mock upstream listen on loopback only; the hosts reach them
/// over their link). Stops with the test's runtime.
async fn relay(listen: &str, target: SocketAddr) -> u16 {
    let listener = tokio::net::TcpListener::bind((listen, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    port
}

/// Gateways on two separate network hosts share one PostgreSQL and one Redis
/// over their links: one key's rpm and budget hold across both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_on_separate_hosts_share_limits_and_budgets() {
    if !services::available(&[Service::Postgres, Service::Redis]).await {
        return;
    }
    let hosts = match Hosts::create(2) {
        Ok(h) => h,
        Err(why) => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped: this machine cannot make network namespaces for the test: {why}"
            );
            return;
        }
    };
    // Rate windows are wall-clock minutes: do not start just before one ends.
    let second = llmux_core::unix_now() % 60;
    if second > 50 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
    let upstream = openai::start().await.unwrap();
    let db = TestDb::postgres().await.unwrap();
    let dir = TempDir::new("hosts");
    let database_name = db.url.rsplit('/').next().unwrap();
    let mut gateways = Vec::new();
    for n in 1..=2u8 {
        let (own, link) = hosts.addresses(n);
        let pg = relay(&link, "127.0.0.1:5432".parse().unwrap()).await;
        let redis = relay(&link, "127.0.0.1:6379".parse().unwrap()).await;
        let up = relay(&link, upstream.addr()).await;
        let host_dir = dir.0.join(format!("host{n}"));
        std::fs::create_dir_all(&host_dir).unwrap();
        let config = gateway_config(&host_dir, &format!("http://{link}:{up}"), "1s");
        let database_url = format!("postgres://postgres@{link}:{pg}/{database_name}");
        let redis_url = format!("redis://{link}:{redis}/");
        // The same port on both hosts: they are separate network stacks.
        let gateway = ServeProcess::start_in_netns(
            &hosts.names[usize::from(n - 1)],
            LLMUX,
            &host_dir,
            &["--config", config.to_str().unwrap()],
            &[("DATABASE_URL", &database_url), ("REDIS_URL", &redis_url)],
            &own,
            4000,
        )
        .await
        .unwrap();
        gateways.push(gateway);
    }
    let (a, b) = (gateways[0].url.clone(), gateways[1].url.clone());
    assert_ne!(a, b);
    let http = reqwest::Client::new();

    // rpm 3 across both hosts.
    let key = new_key(&a, json!({"rpm_limit": 3})).await;
    let mut statuses = Vec::new();
    for url in [&a, &b, &a, &b, &a, &b] {
        statuses.push(chat(&http, url, &key).await.unwrap().0);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429, 429]);

    // A budget that one call fits (each may cost up to 28,000 nano-dollars
    // and costs 19,000): across both hosts at once, exactly one is answered.
    let key = new_key(&b, json!({"max_budget": 0.00004})).await;
    let calls = [&a, &b, &a, &b].map(|u| {
        let (u, k, http) = (u.clone(), key.clone(), http.clone());
        tokio::spawn(async move { chat(&http, &u, &k).await.unwrap() })
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

    for mut g in gateways {
        g.terminate().unwrap();
        assert!(g
            .wait_exit(Duration::from_secs(20))
            .await
            .is_some_and(|s| s.success()));
    }
    // Both hosts wrote their spend to the one database.
    assert_eq!(spend_rows(&db.url, &key).await, 1);
}
