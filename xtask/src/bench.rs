//! `cargo xtask bench`: what the gateway costs over a direct call.
//!
//! Builds `llmux` and this xtask in release, then (in the release xtask)
//! starts a fast mock OpenAI upstream in-process ([`upstream`]), starts
//! `llmux serve` in front of it (127.0.0.1 only), drives both from a bounded
//! load generator ([`load`]) and prints a Markdown report, direct vs through
//! the gateway:
//!
//! - time from process start to the first served request;
//! - sequential latency (one request at a time, alternating direct/gateway);
//! - streaming time to first token (first SSE event) and to the end;
//! - throughput at 32 connections, and the gateway's CPU time per request
//!   (from `/proc/<pid>/stat`);
//! - open-loop latency p50/p90/p99 at fixed arrival rates, and the knee;
//! - RSS idle and peak (from `/proc/<pid>/status`), also while 1,000 streams
//!   are open at once.
//!
//! Everything runs on one machine: load generator, upstream and gateway share
//! its cores, as the targets in the issue assume. Every loop is bounded in
//! count and in time. `--quick` runs short versions of every step.

mod load;
pub(crate) mod soak;
mod upstream;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;

use load::{Samples, Target};

const MASTER_KEY: &str = "sk-bench-master";
const DIRECT_BODY: &str =
    r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}"#;
const GATEWAY_BODY: &str = r#"{"model":"bench","messages":[{"role":"user","content":"Hello"}]}"#;
const DIRECT_STREAM_BODY: &str =
    r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}],"stream":true}"#;
const GATEWAY_STREAM_BODY: &str =
    r#"{"model":"bench","messages":[{"role":"user","content":"Hello"}],"stream":true}"#;
const DIRECT_RESPONSES_BODY: &str = r#"{"model":"gpt-4o-mini","input":"Hello"}"#;
const GATEWAY_RESPONSES_BODY: &str = r#"{"model":"bench","input":"Hello","store":false}"#;
const DIRECT_RESPONSES_STREAM_BODY: &str =
    r#"{"model":"gpt-4o-mini","input":"Hello","stream":true}"#;
const GATEWAY_RESPONSES_STREAM_BODY: &str =
    r#"{"model":"bench","input":"Hello","stream":true,"store":false}"#;
const DIRECT_MESSAGES_BODY: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}"#;
const GATEWAY_MESSAGES_BODY: &str =
    r#"{"model":"bench-claude","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}"#;
const DIRECT_MESSAGES_STREAM_BODY: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}],"stream":true}"#;
const GATEWAY_MESSAGES_STREAM_BODY: &str = r#"{"model":"bench-claude","max_tokens":64,"messages":[{"role":"user","content":"Hello"}],"stream":true}"#;
const SLOW_STREAM_BODY: &str =
    r#"{"model":"bench-slow","messages":[{"role":"user","content":"Hello"}],"stream":true}"#;

/// How much of everything to do.
struct Plan {
    startup_runs: usize,
    sequential: usize,
    streaming: usize,
    throughput_for: Duration,
    rates: Vec<u64>,
    rate_for: Duration,
    open_loop_conns: usize,
    streams: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            startup_runs: 5,
            sequential: 5_000,
            streaming: 2_000,
            throughput_for: Duration::from_secs(5),
            rates: vec![500, 1_000, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000],
            rate_for: Duration::from_secs(3),
            open_loop_conns: 64,
            streams: 1_000,
        }
    }

    fn quick() -> Plan {
        Plan {
            startup_runs: 2,
            sequential: 500,
            streaming: 200,
            throughput_for: Duration::from_secs(1),
            rates: vec![1_000, 4_000],
            rate_for: Duration::from_secs(1),
            open_loop_conns: 32,
            streams: 200,
        }
    }
}

/// `cargo xtask bench [--quick]`: build in release, then run the release xtask.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(llmux) = crate::flag_value(args, "--llmux")
        .map_err(|_| "bench: --llmux needs the path of the llmux binary")?
    {
        let quick = args.iter().any(|a| a == "--quick");
        return measure(Path::new(llmux), quick);
    }
    let root = crate::workspace_root();
    let llmux = crate::dist::build_release(&root)?;
    crate::cargo(
        "release build of the load generator",
        &["build", "--release", "-p", "xtask"],
    )?;
    let xtask = llmux.with_file_name("xtask");
    let mut cmd = Command::new(&xtask);
    cmd.arg("bench").arg("--llmux").arg(&llmux).args(args);
    let status = cmd
        .status()
        .map_err(|e| format!("bench: cannot run {}: {e}", xtask.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("bench failed ({status})"))
    }
}

// ---- /proc -----------------------------------------------------------------

/// CPU time (user + system) of a process, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / clock_ticks(),
    ))
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let v = l.strip_prefix(field)?.strip_prefix(':')?;
        Some(v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()? * 1024)
    })
}

// ---- the gateway ---------------------------------------------------------------

struct Gateway {
    child: Child,
}

impl Gateway {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("bench: no free port: {e}"))
}

fn write_config(dir: &Path, upstream: SocketAddr) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("bench: {}: {e}", dir.display()))?;
    let path = dir.join("config.yaml");
    let entry = |group: &str, model: &str| {
        format!(
            "  - model_name: {group}\n    litellm_params:\n      model: openai/{model}\n      api_base: http://{upstream}/v1\n      api_key: sk-bench-upstream\n"
        )
    };
    let claude = format!(
        "  - model_name: bench-claude\n    litellm_params:\n      model: anthropic/claude-sonnet-4-5\n      api_base: http://{upstream}\n      api_key: sk-bench-upstream\n"
    );
    let config = format!(
        "model_list:\n{}{}{claude}general_settings:\n  master_key: {MASTER_KEY}\n",
        entry("bench", "gpt-4o-mini"),
        entry("bench-slow", "gpt-4o-mini-slow"),
    );
    std::fs::write(&path, &config).map_err(|e| format!("bench: {}: {e}", path.display()))?;
    // The same gateway with logging callbacks on: a webhook and OTLP traces,
    // both to sinks on the mock upstream (OTLP's through the environment).
    let with_callbacks = dir.join("config-callbacks.yaml");
    // LLMUX_BENCH_CALLBACKS (e.g. `"otel"`) measures other callback sets.
    let names = std::env::var("LLMUX_BENCH_CALLBACKS")
        .unwrap_or_else(|_| "\"generic_api\", \"otel\"".into());
    let callbacks = format!(
        "{config}litellm_settings:\n  callbacks: [{names}]\ncallback_settings:\n  generic_api:\n    endpoint: http://{upstream}/sink/logs\n"
    );
    std::fs::write(&with_callbacks, callbacks)
        .map_err(|e| format!("bench: {}: {e}", with_callbacks.display()))?;
    // And with a webhook whose sink is down (nothing listens on port 1).
    let sink_down = dir.join("config-sink-down.yaml");
    let down = format!(
        "{config}litellm_settings:\n  callbacks: [\"generic_api\"]\ncallback_settings:\n  generic_api:\n    endpoint: http://127.0.0.1:1/logs\n"
    );
    std::fs::write(&sink_down, down).map_err(|e| format!("bench: {}: {e}", sink_down.display()))?;
    Ok(path)
}

/// Start `llmux serve` and time how long until it has served a real chat
/// completion (polling every millisecond, for 10 s at most).
async fn start_gateway(
    llmux: &Path,
    config: &Path,
    env: &[(&str, String)],
    target: &mut Target,
) -> Result<(Gateway, Duration), String> {
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    target.addr = addr;
    let started = Instant::now();
    // LLMUX_BENCH_WRAP="heaptrack -o /tmp/llmux" (or `perf record -g --`)
    // runs the gateway under a profiler.
    let wrap = std::env::var("LLMUX_BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(llmux);
            c
        }
        None => Command::new(llmux),
    };
    let child = command
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--config")
        .arg(config)
        .env_remove("LLMUX_LOG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("bench: cannot start {}: {e}", llmux.display()))?;
    let gw = Gateway { child };
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(mut c) = load::Conn::open(target).await {
            if c.request().await.is_ok() {
                return Ok((gw, started.elapsed()));
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err("bench: llmux serve did not serve a request within 10 s".into())
}

// ---- formatting ------------------------------------------------------------------

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn diff(a: Duration, b: Duration) -> String {
    let d = a.as_secs_f64() - b.as_secs_f64();
    format!("{:+.3} ms", d * 1e3)
}

/// A report row comparing one latency direct and through llmux; with a
/// `target` (its text and the most llmux may add), also whether it was met.
fn latency_row(
    out: &mut String,
    name: &str,
    direct: Duration,
    via: Duration,
    target: Option<(&str, Duration)>,
) {
    let cells = match target {
        Some((text, limit)) => format!(
            " {text} | {} |",
            verdict(via.saturating_sub(direct) <= limit)
        ),
        None => " | |".to_string(),
    };
    let _ = writeln!(
        out,
        "| {name} | {} | {} | {} |{cells}",
        ms(direct),
        ms(via),
        diff(via, direct)
    );
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

// ---- the run ------------------------------------------------------------------------

/// All measurements, in the release xtask.
fn measure(llmux: &Path, quick: bool) -> Result<(), String> {
    // The load generator gets one worker thread, the upstream one more; the
    // gateway runs with its default (one per core). All share the machine.
    let upstream_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-upstream")
        .enable_all()
        .build()
        .map_err(|e| format!("bench: upstream runtime: {e}"))?;
    let up = upstream_rt
        .block_on(upstream::start())
        .map_err(|e| format!("bench: upstream: {e}"))?;
    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-load")
        .enable_all()
        .build()
        .map_err(|e| format!("bench: load runtime: {e}"))?;
    let plan = if quick { Plan::quick() } else { Plan::full() };
    let report = load_rt.block_on(run_plan(llmux, up, &plan))?;
    println!("{report}");
    drop(upstream_rt);
    Ok(())
}

async fn run_plan(llmux: &Path, up: SocketAddr, plan: &Plan) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("llmux-bench-{}", std::process::id()));
    let config = write_config(&dir, up)?;
    let direct = Target {
        addr: up,
        path: "/v1/chat/completions",
        auth: Some("Bearer sk-bench-upstream".into()),
        body: Bytes::from_static(DIRECT_BODY.as_bytes()),
    };
    let mut via = Target {
        addr: up,
        path: "/v1/chat/completions",
        auth: Some(format!("Bearer {MASTER_KEY}")),
        body: Bytes::from_static(GATEWAY_BODY.as_bytes()),
    };
    let stream = |t: &Target, body: &'static str| Target {
        body: Bytes::from_static(body.as_bytes()),
        ..t.clone()
    };

    eprintln!("bench: startup ({} runs)", plan.startup_runs);
    let mut startups = Vec::new();
    let mut gw = None;
    let mut rss_start = 0;
    for _ in 0..plan.startup_runs.max(1) {
        drop(gw.take());
        let (g, took) = start_gateway(llmux, &config, &[], &mut via).await?;
        rss_start = status_kb(g.pid(), "VmRSS").unwrap_or(0);
        startups.push(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
        gw = Some(g);
    }
    let gw = gw.ok_or("bench: no gateway")?;
    let startup = Samples::new(startups);
    let pid = gw.pid();

    eprintln!("bench: warm-up");
    load::sequential_pair(&direct, &via, 300, Duration::from_secs(10), false).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = status_kb(pid, "VmRSS").unwrap_or(0);

    eprintln!("bench: sequential ({} pairs)", plan.sequential);
    let (seq_direct, seq_via, _, _) = load::sequential_pair(
        &direct,
        &via,
        plan.sequential,
        Duration::from_secs(60),
        false,
    )
    .await?;

    eprintln!("bench: streaming ({} pairs)", plan.streaming);
    let (ttft_direct, ttft_via, total_direct, total_via) = load::sequential_pair(
        &stream(&direct, DIRECT_STREAM_BODY),
        &stream(&via, GATEWAY_STREAM_BODY),
        plan.streaming,
        Duration::from_secs(60),
        true,
    )
    .await?;

    eprintln!("bench: Responses API ({} pairs, native)", plan.streaming);
    let responses = |t: &Target, body: &'static str| Target {
        path: "/v1/responses",
        body: Bytes::from_static(body.as_bytes()),
        ..t.clone()
    };
    let (resp_direct, resp_via, _, _) = load::sequential_pair(
        &responses(&direct, DIRECT_RESPONSES_BODY),
        &responses(&via, GATEWAY_RESPONSES_BODY),
        plan.streaming,
        Duration::from_secs(60),
        false,
    )
    .await?;
    let (resp_first_direct, resp_first_via, _, _) = load::sequential_pair(
        &responses(&direct, DIRECT_RESPONSES_STREAM_BODY),
        &responses(&via, GATEWAY_RESPONSES_STREAM_BODY),
        plan.streaming,
        Duration::from_secs(60),
        true,
    )
    .await?;

    eprintln!(
        "bench: Anthropic Messages API ({} pairs, native)",
        plan.streaming
    );
    let messages = |t: &Target, body: &'static str| Target {
        path: "/v1/messages",
        body: Bytes::from_static(body.as_bytes()),
        ..t.clone()
    };
    let (msg_direct, msg_via, _, _) = load::sequential_pair(
        &messages(&direct, DIRECT_MESSAGES_BODY),
        &messages(&via, GATEWAY_MESSAGES_BODY),
        plan.streaming,
        Duration::from_secs(60),
        false,
    )
    .await?;
    let (msg_first_direct, msg_first_via, _, _) = load::sequential_pair(
        &messages(&direct, DIRECT_MESSAGES_STREAM_BODY),
        &messages(&via, GATEWAY_MESSAGES_STREAM_BODY),
        plan.streaming,
        Duration::from_secs(60),
        true,
    )
    .await?;

    eprintln!("bench: throughput at 32 connections");
    let (d_done, d_err, d_time) = load::closed_loop(&direct, 32, plan.throughput_for).await?;
    let cpu_before = cpu_time(pid);
    let (v_done, v_err, v_time) = load::closed_loop(&via, 32, plan.throughput_for).await?;
    let cpu_after = cpu_time(pid);
    let cpu_per_request = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) if v_done > 0 => Some(b.saturating_sub(a) / v_done as u32),
        _ => None,
    };
    let cpu_share = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64() / v_time.as_secs_f64(),
        _ => 0.0,
    };

    eprintln!("bench: throughput at 32 connections, logging callbacks on");
    let callbacks = {
        let config = config.with_file_name("config-callbacks.yaml");
        let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{up}/sink"))];
        let mut target = via.clone();
        let (g, _) = start_gateway(llmux, &config, &env, &mut target).await?;
        load::sequential_pair(&direct, &target, 300, Duration::from_secs(10), false).await?;
        let before = cpu_time(g.pid());
        let (done, err, _) = load::closed_loop(&target, 32, plan.throughput_for).await?;
        let after = cpu_time(g.pid());
        match (before, after) {
            (Some(a), Some(b)) if done > 0 && err == 0 => Some(b.saturating_sub(a) / done as u32),
            _ => None,
        }
    };

    eprintln!("bench: sequential latency, logging sink down");
    let sink_down = {
        let config = config.with_file_name("config-sink-down.yaml");
        let mut target = via.clone();
        let (_g, _) = start_gateway(llmux, &config, &[], &mut target).await?;
        load::sequential_pair(&direct, &target, 300, Duration::from_secs(10), false).await?;
        let (d, v, _, _) = load::sequential_pair(
            &direct,
            &target,
            plan.sequential,
            Duration::from_secs(60),
            false,
        )
        .await?;
        (d, v)
    };

    eprintln!("bench: open loop at {:?} req/s", plan.rates);
    let mut open = Vec::new();
    for &r in &plan.rates {
        let d = load::open_loop(&direct, r, plan.rate_for, plan.open_loop_conns).await?;
        let v = load::open_loop(&via, r, plan.rate_for, plan.open_loop_conns).await?;
        open.push((r, d, v));
    }

    eprintln!("bench: {} concurrent streams", plan.streams);
    let mut rss_streams = 0u64;
    let (streams_ok, streams_failed, stream_error) = load::concurrent_streams(
        &stream(&via, SLOW_STREAM_BODY),
        plan.streams,
        upstream::SLOW_CHUNK_EVERY * (upstream::SLOW_CHUNKS as u32 + 2) + Duration::from_secs(20),
        || rss_streams = rss_streams.max(status_kb(pid, "VmRSS").unwrap_or(0)),
    )
    .await?;
    let hwm = status_kb(pid, "VmHWM").unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);

    // ---- the report ----
    let mut out = String::new();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let _ = writeln!(
        out,
        "## llmux gateway benchmark\n\n`cargo xtask bench`{} on {cores} cores ({cpu}); load generator, mock upstream and `llmux serve` share them.\n",
        if plan.sequential < 1000 { " --quick" } else { "" }
    );
    let _ = writeln!(
        out,
        "| Measure | Direct | Through llmux | llmux adds | Target | |\n|---|---|---|---|---|---|"
    );
    let requests = format!("Sequential latency p50 ({} requests)", seq_via.len());
    let streams = format!("Streaming first token p50 ({} streams)", ttft_via.len());
    let us = Duration::from_micros;
    let rows = [
        (
            requests.as_str(),
            &seq_direct,
            &seq_via,
            50.0,
            Some(("≤ 0.1 ms", us(100))),
        ),
        (
            "Sequential latency p99",
            &seq_direct,
            &seq_via,
            99.0,
            Some(("≤ 0.5 ms", us(500))),
        ),
        (
            streams.as_str(),
            &ttft_direct,
            &ttft_via,
            50.0,
            Some(("≤ 0.2 ms", us(200))),
        ),
        (
            "Streaming first token p99",
            &ttft_direct,
            &ttft_via,
            99.0,
            None,
        ),
        (
            "Streaming whole response p50",
            &total_direct,
            &total_via,
            50.0,
            None,
        ),
        (
            "Responses API (native) latency p50",
            &resp_direct,
            &resp_via,
            50.0,
            Some(("≤ 0.1 ms", us(100))),
        ),
        (
            "Responses API (native) first event p50",
            &resp_first_direct,
            &resp_first_via,
            50.0,
            Some(("≤ 0.2 ms", us(200))),
        ),
        (
            "/v1/messages (native) latency p50",
            &msg_direct,
            &msg_via,
            50.0,
            Some(("≤ 0.1 ms", us(100))),
        ),
        (
            "/v1/messages (native) first event p50",
            &msg_first_direct,
            &msg_first_via,
            50.0,
            Some(("≤ 0.2 ms", us(200))),
        ),
    ];
    for (name, direct, via, pct, target) in rows {
        latency_row(&mut out, name, direct.pct(pct), via.pct(pct), target);
    }
    // Calls must not wait on a logging sink that is down: compare with the
    // first row (same gateway config otherwise).
    latency_row(
        &mut out,
        "Sequential latency p50, webhook sink down",
        sink_down.0.pct(50.0),
        sink_down.1.pct(50.0),
        None,
    );
    let v_rps = rate(v_done, v_time);
    let _ = writeln!(
        out,
        "| Throughput, 32 connections | {:.0} req/s | {:.0} req/s | | ≥ 10,000 req/s | {} |",
        rate(d_done, d_time),
        v_rps,
        verdict(v_rps >= 10_000.0 && v_err == 0)
    );
    let _ = writeln!(
        out,
        "| Gateway CPU time per request (at 32 connections) | | {} | | | |",
        cpu_per_request.map_or("n/a".into(), |c| format!(
            "{:.1} µs ({:.2} cores busy)",
            c.as_secs_f64() * 1e6,
            cpu_share
        )),
    );
    if let (Some(on), Some(off)) = (callbacks, cpu_per_request) {
        let more = on.as_secs_f64() / off.as_secs_f64() - 1.0;
        let _ = writeln!(
            out,
            "| Gateway CPU time per request, callbacks on (webhook + OTel) | | {:.1} µs | {:+.1}% | ≤ +15% | {} |",
            on.as_secs_f64() * 1e6,
            more * 100.0,
            verdict(more <= 0.15)
        );
    }
    let _ = writeln!(
        out,
        "| Start to first served request (median of {}) | | {} | | ≤ 50 ms | {} |",
        startup.len(),
        ms(startup.pct(50.0)),
        verdict(startup.pct(50.0) <= Duration::from_millis(50))
    );
    let _ = writeln!(
        out,
        "| RSS idle (after start / after warm-up) | | {} / {} | | ≤ 20 MB | {} |",
        mb(rss_start),
        mb(rss_idle),
        verdict(rss_idle.max(rss_start) <= 20 * 1_048_576)
    );
    let _ = writeln!(
        out,
        "| RSS with {} concurrent streams (peak sampled / VmHWM) | | {} / {} | | ≤ 100 MB | {} |",
        plan.streams,
        mb(rss_streams),
        mb(hwm),
        verdict(hwm <= 100 * 1_048_576 && streams_failed == 0)
    );
    let _ = writeln!(
        out,
        "\nErrors: {d_err} direct and {v_err} through llmux at 32 connections; {streams_ok} of {} concurrent streams completed{}.",
        plan.streams,
        stream_error.map_or(String::new(), |e| format!(" (first failure: {e})"))
    );

    let _ = writeln!(
        out,
        "\n### Open-loop latency at a fixed arrival rate ({} s per rate, up to {} connections)\n\n| Offered req/s | Direct p50 / p90 / p99 | llmux p50 / p90 / p99 | llmux served req/s | errors |\n|---|---|---|---|---|",
        plan.rate_for.as_secs(),
        plan.open_loop_conns
    );
    let base_p99 = open
        .first()
        .map(|(_, _, v)| v.latencies.pct(99.0))
        .unwrap_or_default();
    let mut knee = None;
    for (r, d, v) in &open {
        let served = rate(v.latencies.len() as u64, v.elapsed);
        let _ = writeln!(
            out,
            "| {r} | {} / {} / {} | {} / {} / {} | {served:.0} | {} |",
            ms(d.latencies.pct(50.0)),
            ms(d.latencies.pct(90.0)),
            ms(d.latencies.pct(99.0)),
            ms(v.latencies.pct(50.0)),
            ms(v.latencies.pct(90.0)),
            ms(v.latencies.pct(99.0)),
            v.errors
        );
        let saturated = served < 0.95 * *r as f64
            || v.errors > 0
            || v.latencies.pct(99.0) > (base_p99 * 10).max(Duration::from_millis(5));
        if saturated && knee.is_none() {
            knee = Some(*r);
        }
        let _ = v.sent;
    }
    let _ = match knee {
        Some(r) => writeln!(
            out,
            "\nKnee: through llmux, latency leaves its floor at {r} req/s offered (p99 over 10× the lowest rate's and over 5 ms, or under 95% served)."
        ),
        None => writeln!(
            out,
            "\nKnee: not reached up to {} req/s offered.",
            plan.rates.last().copied().unwrap_or(0)
        ),
    };
    Ok(out)
}
