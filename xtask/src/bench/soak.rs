//! `cargo xtask soak [--minutes N]`: a release `llmux serve` on PostgreSQL
//! and Redis under mixed traffic for N minutes (default 30), with chaos:
//! PostgreSQL is restarted a third of the way in, Redis killed (and started
//! again 10 s later) at two thirds. It fails unless
//!
//! - no request hangs (each has 30 s),
//! - RSS and open descriptors stay within 10% of their level after the
//!   warm-up (the first tenth),
//! - every answered call has its spend row — streams the client left or
//!   the upstream cut included — and no refused call has one.
//!
//! Traffic, four connections at once, in turn: a whole answer, a stream, a
//! stream the client leaves after its first event, and both against a flaky
//! deployment (every fourth upstream answer a 500, or a stream that stops
//! before its end).

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::load::{Conn, Target};
use super::{free_port, mb, status_kb, upstream, Gateway};

const MASTER: &str = "sk-soak-master";
const DATABASE: &str = "llmux_soak";
const WORKERS: usize = 4;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the load did, by outcome.
#[derive(Default)]
struct Counts {
    /// 200 and the whole answer read.
    answered: AtomicU64,
    /// 200, then the client left after the first event.
    left: AtomicU64,
    /// 200, then the stream ended in an error event (a flaky upstream).
    cut: AtomicU64,
    /// Refused with a status (a flaky upstream's 500 after retries, a
    /// database restart): the status line and body are counted, not kept.
    refused: AtomicU64,
    /// No answer within [`REQUEST_TIMEOUT`].
    hung: AtomicU64,
    /// The connection failed.
    failed: AtomicU64,
}

/// `cargo xtask soak`: build llmux in release, then soak it.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let minutes: u64 =
        match crate::flag_value(args, "--minutes").map_err(|e| format!("soak: {e}"))? {
            Some(m) => m
                .parse()
                .ok()
                .filter(|m| (1..=24 * 60).contains(m))
                .ok_or_else(|| format!("soak: --minutes must be 1 to 1440, got '{m}'"))?,
            None => 30,
        };
    crate::services::ensure()?;
    let root = crate::workspace_root();
    let llmux = crate::dist::build_release(&root)?;
    psql("postgres", &format!("DROP DATABASE IF EXISTS {DATABASE}"))?;
    psql("postgres", &format!("CREATE DATABASE {DATABASE}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("soak: runtime: {e}"))?;
    let report = runtime.block_on(soak(&llmux, Duration::from_secs(minutes * 60)))?;
    println!("{report}");
    Ok(())
}

/// `psql -c sql` on `database`; its output.
fn psql(database: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            database,
            "-tAc",
            sql,
        ])
        .output()
        .map_err(|e| format!("soak: cannot run psql: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "soak: psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn shell(what: &str, command: &str) -> Result<(), String> {
    let status = Command::new("sh")
        .args(["-c", command])
        .status()
        .map_err(|e| format!("soak: {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("soak: {what} failed ({status})"))
    }
}

fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

async fn soak(llmux: &std::path::Path, duration: Duration) -> Result<String, String> {
    let up = upstream::start()
        .await
        .map_err(|e| format!("soak: upstream: {e}"))?;
    let dir = crate::target_dir(&crate::workspace_root()).join("soak");
    std::fs::create_dir_all(&dir).map_err(|e| format!("soak: {}: {e}", dir.display()))?;
    let config = dir.join("config.yaml");
    let deployment = |group: &str, model: &str| {
        format!(
            "  - model_name: {group}\n    litellm_params:\n      model: openai/{model}\n      api_base: http://{up}/v1\n      api_key: sk-soak-upstream\n"
        )
    };
    std::fs::write(
        &config,
        format!(
            "model_list:\n{}{}router_settings:\n  num_retries: 1\n  redis_url: redis://127.0.0.1:6379/\ngeneral_settings:\n  master_key: {MASTER}\n  database_url: postgres://postgres@127.0.0.1:5432/{DATABASE}\n",
            deployment("soak", "gpt-4o-mini"),
            deployment("soak-flaky", "gpt-4o-mini-flaky"),
        ),
    )
    .map_err(|e| format!("soak: {}: {e}", config.display()))?;
    let port = free_port()?;
    let child = Command::new(llmux)
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--config")
        .arg(&config)
        .env("LLMUX_SPEND_SPILL_PATH", dir.join("spill.jsonl"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.log")).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("soak: cannot start {}: {e}", llmux.display()))?;
    let gateway = Gateway { child };
    let pid = gateway.pid();
    let addr = ([127, 0, 0, 1], port).into();
    let key = new_key(addr).await?;

    let counts = Arc::new(Counts::default());
    let deadline = Instant::now() + duration;
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let counts = counts.clone();
        let key = key.clone();
        workers.push(tokio::spawn(async move {
            let mut turn = w as u64;
            while Instant::now() < deadline {
                one_call(addr, &key, turn, &counts).await;
                turn += 1;
            }
        }));
    }

    // Chaos and samples.
    let started = Instant::now();
    let warm_up = duration / 10;
    let mut samples: Vec<(Duration, u64, u64)> = Vec::new();
    let mut pg_restarted = false;
    let mut redis_killed = false;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let at = started.elapsed();
        samples.push((at, status_kb(pid, "VmRSS").unwrap_or(0), open_fds(pid)));
        if !pg_restarted && at >= duration / 3 {
            pg_restarted = true;
            eprintln!("soak: {:.0} s: restarting PostgreSQL", at.as_secs_f64());
            shell(
                "PostgreSQL restart",
                "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | sort -V | tail -n1) main restart",
            )?;
        }
        if !redis_killed && at >= duration * 2 / 3 {
            redis_killed = true;
            eprintln!("soak: {:.0} s: killing Redis for 10 s", at.as_secs_f64());
            shell("Redis kill", "redis-cli -p 6379 shutdown nosave || true")?;
            tokio::time::sleep(Duration::from_secs(10)).await;
            crate::services::ensure()?;
        }
    }
    for w in workers {
        let _ = w.await;
    }
    // SIGTERM: drain, then write the queued spend.
    shell("SIGTERM", &format!("kill -TERM {pid}"))?;
    let mut gateway = gateway;
    let stopped = Instant::now();
    let exit = loop {
        if let Ok(Some(status)) = gateway.child.try_wait() {
            break Some(status);
        }
        if stopped.elapsed() > Duration::from_secs(60) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rows: u64 = psql(
        DATABASE,
        &format!(
            "SELECT COUNT(*) FROM llmux_spend_logs WHERE token_hash = encode(sha256('{key}'::bytea), 'hex')"
        ),
    )?
    .parse()
    .map_err(|e| format!("soak: spend rows: {e}"))?;
    report(&counts, &samples, warm_up, rows, exit.is_some())
}

/// A virtual key for the load (budget and limits it will not reach, so the
/// ledger and limits run on Redis without refusing anything).
async fn new_key(addr: std::net::SocketAddr) -> Result<String, String> {
    let target = Target {
        addr,
        path: "/key/generate",
        auth: Some(format!("Bearer {MASTER}")),
        body: Bytes::from_static(br#"{"max_budget": 1000000, "rpm_limit": 1000000}"#),
    };
    let started = Instant::now();
    loop {
        if let Ok(mut c) = Conn::open(&target).await {
            if let Ok(body) = c.body().await {
                let text = String::from_utf8_lossy(&body);
                let key = text
                    .split("\"key\":\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .ok_or_else(|| format!("soak: /key/generate answered {text}"))?;
                return Ok(key.to_string());
            }
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err("soak: the gateway did not start within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The call for `turn`: five kinds in turn.
async fn one_call(addr: std::net::SocketAddr, key: &str, turn: u64, counts: &Counts) {
    let (group, stream, leave) = match turn % 5 {
        0 => ("soak", false, false),
        1 => ("soak", true, false),
        2 => ("soak", true, true),
        3 => ("soak-flaky", false, false),
        _ => ("soak-flaky", true, false),
    };
    let body = format!(
        r#"{{"model":"{group}","messages":[{{"role":"user","content":"hi"}}],"stream":{stream},"stream_options":{{"include_usage":true}}}}"#
    );
    let target = Target {
        addr,
        path: "/v1/chat/completions",
        auth: Some(format!("Bearer {key}")),
        body: Bytes::from(body),
    };
    let call = async {
        let mut c = Conn::open(&target).await?;
        if leave {
            c.first_event_then_leave().await.map(|()| &counts.left)
        } else if stream {
            match c.stream().await {
                Ok(_) => Ok(&counts.answered),
                Err(e) if e.starts_with("stream did not end") => Ok(&counts.cut),
                Err(e) => Err(e),
            }
        } else {
            c.request().await.map(|_| &counts.answered)
        }
    };
    let counter = match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(Ok(counter)) => counter,
        Ok(Err(e)) if e.starts_with("status ") => &counts.refused,
        Ok(Err(_)) => &counts.failed,
        Err(_) => &counts.hung,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

fn report(
    counts: &Counts,
    samples: &[(Duration, u64, u64)],
    warm_up: Duration,
    rows: u64,
    stopped: bool,
) -> Result<String, String> {
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (answered, left, cut) = (n(&counts.answered), n(&counts.left), n(&counts.cut));
    let (refused, hung, failed) = (n(&counts.refused), n(&counts.hung), n(&counts.failed));
    let after: Vec<&(Duration, u64, u64)> = samples.iter().filter(|s| s.0 >= warm_up).collect();
    let base = after.first().map(|s| (s.1, s.2)).unwrap_or_default();
    let peak = after
        .iter()
        .fold((0, 0), |(r, f), s| (r.max(s.1), f.max(s.2)));
    let growth = |peak: u64, base: u64| {
        if base == 0 {
            0.0
        } else {
            (peak as f64 / base as f64 - 1.0) * 100.0
        }
    };
    let rss_growth = growth(peak.0, base.0);
    let fd_growth = growth(peak.1, base.1);
    let mut out = format!(
        "## llmux soak\n\n\
         | measure | value |\n|---|---|\n\
         | answered (whole answer or stream) | {answered} |\n\
         | streams the client left after the first event | {left} |\n\
         | streams a flaky upstream cut (an error event) | {cut} |\n\
         | refused with a status (upstream 500 after a retry, database down) | {refused} |\n\
         | connection failures | {failed} |\n\
         | hung (no answer in 30 s) | {hung} |\n\
         | spend rows of the load's key | {rows} |\n\
         | RSS after warm-up / peak | {} / {} ({rss_growth:+.1}%) |\n\
         | open descriptors after warm-up / peak | {} / {} ({fd_growth:+.1}%) |\n\
         | stopped on SIGTERM within 60 s | {stopped} |\n",
        mb(base.0),
        mb(peak.0),
        base.1,
        peak.1,
    );
    let mut problems = Vec::new();
    if hung > 0 {
        problems.push(format!("{hung} requests hung"));
    }
    if rss_growth > 10.0 {
        problems.push(format!("RSS grew {rss_growth:.1}% after warm-up"));
    }
    if fd_growth > 10.0 {
        problems.push(format!(
            "open descriptors grew {fd_growth:.1}% after warm-up"
        ));
    }
    // Every call that was answered is spent, also a stream the client left
    // or the upstream cut (what was streamed); a refused call never.
    if rows != answered + left + cut {
        problems.push(format!(
            "{rows} spend rows for {answered} answered calls (+ {left} left, {cut} cut)"
        ));
    }
    if !stopped {
        problems.push("the gateway did not stop within 60 s of SIGTERM".into());
    }
    if problems.is_empty() {
        out.push_str("\nno problem found\n");
        Ok(out)
    } else {
        Err(format!("{out}\nsoak failed: {}", problems.join("; ")))
    }
}
