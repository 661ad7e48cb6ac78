//! The load generator: HTTP/1.1 keep-alive connections (plain hyper, one
//! request in flight per connection) and the three ways of driving them:
//! sequential, closed-loop (N connections as fast as they go) and open-loop
//! (a fixed arrival rate, latency counted from each request's scheduled time
//! when it had to wait for a free connection, so queueing is not hidden).
//!
//! Every loop is bounded twice: by a request count and by a deadline.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What to send, and where.
#[derive(Clone)]
pub(super) struct Target {
    pub addr: SocketAddr,
    pub path: &'static str,
    pub auth: Option<String>,
    pub body: Bytes,
}

/// The final event of a Responses API stream.
const RESPONSES_END: &[u8] = b"event: response.completed";
/// The last event of an Anthropic Messages API stream.
const MESSAGES_END: &[u8] = b"event: message_stop";

/// One keep-alive connection.
pub(super) struct Conn {
    sender: SendRequest<Full<Bytes>>,
    target: Target,
}

/// Timing of one streamed response.
#[derive(Debug, Clone, Copy)]
pub(super) struct StreamTiming {
    /// Until the first body bytes (the first SSE event).
    pub first: Duration,
    /// Until the end of the body.
    pub total: Duration,
}

impl Conn {
    pub(super) async fn open(target: &Target) -> Result<Conn, String> {
        let stream = TcpStream::connect(target.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", target.addr))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake {}: {e}", target.addr))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            target: target.clone(),
        })
    }

    async fn send(&mut self) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("connection closed: {e}"))?;
        let mut req = Request::post(self.target.path)
            .header(header::HOST, self.target.addr.to_string())
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(auth) = &self.target.auth {
            req = req.header(header::AUTHORIZATION, auth.as_str());
        }
        let req = req
            .body(Full::new(self.target.body.clone()))
            .map_err(|e| format!("request: {e}"))?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if resp.status() != 200 {
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(resp)
    }

    /// One request, reading the whole body; its latency.
    pub(super) async fn request(&mut self) -> Result<Duration, String> {
        let started = Instant::now();
        let resp = self.send().await?;
        resp.into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?;
        Ok(started.elapsed())
    }

    /// One request; its whole body.
    pub(super) async fn body(&mut self) -> Result<Bytes, String> {
        let resp = self.send().await?;
        resp.into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| format!("body: {e}"))
    }

    /// One streamed request, left (body and connection dropped) after its
    /// first event: a client that went away.
    pub(super) async fn first_event_then_leave(mut self) -> Result<(), String> {
        let resp = self.send().await?;
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("stream: {e}"))?;
            if frame.into_data().is_ok_and(|d| !d.is_empty()) {
                return Ok(());
            }
        }
        Err("stream: ended before its first event".into())
    }

    /// One streamed request: time to the first body bytes and to the end.
    /// Fails unless the stream ends with `data: [DONE]` (chat) or carried
    /// `response.completed` (Responses API) or `message_stop` (Messages API).
    pub(super) async fn stream(&mut self) -> Result<StreamTiming, String> {
        let started = Instant::now();
        let resp = self.send().await?;
        let mut body = resp.into_body();
        let mut first = None;
        let mut completed = false;
        let mut tail: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("stream: {e}"))?;
            if let Ok(data) = frame.into_data() {
                if data.is_empty() {
                    continue;
                }
                first.get_or_insert_with(|| started.elapsed());
                tail.extend_from_slice(&data);
                completed |= [RESPONSES_END, MESSAGES_END]
                    .iter()
                    .any(|end| tail.windows(end.len()).any(|w| w == *end));
                if tail.len() > 64 {
                    tail.drain(..tail.len() - 64);
                }
            }
        }
        let total = started.elapsed();
        if !tail.ends_with(b"data: [DONE]\n\n") && !completed {
            return Err(format!(
                "stream did not end with [DONE]: ...{}",
                String::from_utf8_lossy(&tail)
            ));
        }
        Ok(StreamTiming {
            first: first.unwrap_or(total),
            total,
        })
    }
}

/// Latencies in nanoseconds, sorted, with nearest-rank percentiles.
#[derive(Debug, Clone, Default)]
pub(super) struct Samples(Vec<u64>);

impl Samples {
    pub(super) fn new(mut v: Vec<u64>) -> Samples {
        v.sort_unstable();
        Samples(v)
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (0–100).
    pub(super) fn pct(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.0.len()) - 1;
        Duration::from_nanos(self.0[i])
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Sequential single requests alternating between two targets (A, B, A, B,
/// …) on one connection each, so drift affects both alike. `n` pairs at most,
/// stopping at `deadline`.
pub(super) async fn sequential_pair(
    a: &Target,
    b: &Target,
    n: usize,
    budget: Duration,
    streaming: bool,
) -> Result<(Samples, Samples, Samples, Samples), String> {
    let mut ca = Conn::open(a).await?;
    let mut cb = Conn::open(b).await?;
    let (mut la, mut lb, mut ta, mut tb) = (vec![], vec![], vec![], vec![]);
    let stop = Instant::now() + budget;
    for _ in 0..n {
        if Instant::now() > stop {
            break;
        }
        if streaming {
            let x = ca.stream().await?;
            let y = cb.stream().await?;
            la.push(nanos(x.first));
            lb.push(nanos(y.first));
            ta.push(nanos(x.total));
            tb.push(nanos(y.total));
        } else {
            la.push(nanos(ca.request().await?));
            lb.push(nanos(cb.request().await?));
        }
    }
    Ok((
        Samples::new(la),
        Samples::new(lb),
        Samples::new(ta),
        Samples::new(tb),
    ))
}

/// Closed loop: `conns` connections each sending back to back for `duration`.
/// Returns (completed, errors, elapsed).
pub(super) async fn closed_loop(
    target: &Target,
    conns: usize,
    duration: Duration,
) -> Result<(u64, u64, Duration), String> {
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut opened = Vec::with_capacity(conns);
    for _ in 0..conns {
        opened.push(Conn::open(target).await?);
    }
    let started = Instant::now();
    let stop = started + duration;
    let mut tasks = Vec::with_capacity(conns);
    for mut c in opened {
        let (done, errors) = (done.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop {
                match c.request().await {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        match Conn::open(&c.target).await {
                            Ok(n) => c = n,
                            Err(_) => return,
                        }
                        0
                    }
                };
            }
        }));
    }
    for t in tasks {
        let _ = tokio::time::timeout(duration + Duration::from_secs(10), t).await;
    }
    Ok((
        done.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        started.elapsed(),
    ))
}

/// Result of one open-loop run.
pub(super) struct OpenLoop {
    pub latencies: Samples,
    pub sent: u64,
    pub errors: u64,
    pub elapsed: Duration,
}

/// Open loop: `rate` requests per second for `duration`, spread over at most
/// `conns` connections. A request whose connection was free before its
/// scheduled time is timed from when it was sent (timer jitter is not the
/// gateway's latency); one that waited for a busy connection is timed from
/// its scheduled time (the wait is).
pub(super) async fn open_loop(
    target: &Target,
    rate: u64,
    duration: Duration,
    conns: usize,
) -> Result<OpenLoop, String> {
    let total = rate.saturating_mul(duration.as_millis() as u64) / 1000;
    let interval_ns = 1_000_000_000 / rate.max(1);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut opened = Vec::with_capacity(conns);
    for _ in 0..conns {
        opened.push(Conn::open(target).await?);
    }
    let start = Instant::now() + Duration::from_millis(20);
    let hard_stop = start + duration + Duration::from_secs(5);
    let mut tasks = Vec::with_capacity(conns);
    for mut c in opened {
        let (next, errors) = (next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > hard_stop {
                    break;
                }
                let scheduled = start + Duration::from_nanos(i * interval_ns);
                let now = Instant::now();
                let from = if now < scheduled {
                    tokio::time::sleep_until(scheduled.into()).await;
                    Instant::now()
                } else {
                    scheduled
                };
                match c.request().await {
                    Ok(_) => lat.push(nanos(from.elapsed())),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        match Conn::open(&c.target).await {
                            Ok(n) => c = n,
                            Err(_) => break,
                        }
                    }
                }
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(total as usize);
    for t in tasks {
        if let Ok(Ok(mut l)) = tokio::time::timeout(duration + Duration::from_secs(10), t).await {
            all.append(&mut l);
        }
    }
    Ok(OpenLoop {
        sent: all.len() as u64 + errors.load(Ordering::Relaxed),
        latencies: Samples::new(all),
        errors: errors.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
    })
}

/// Open `n` slow streams at once; while they are all open, call `sample`
/// every 50 ms. Returns (streams completed, failures, first error).
pub(super) async fn concurrent_streams<F: FnMut()>(
    target: &Target,
    n: usize,
    budget: Duration,
    mut sample: F,
) -> Result<(usize, usize, Option<String>), String> {
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&target).await?;
            c.stream().await
        }));
    }
    let stop = Instant::now() + budget;
    let mut ok = 0;
    let mut failed = 0;
    let mut first_error = None;
    let mut pending = tasks;
    while !pending.is_empty() && Instant::now() < stop {
        sample();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut still = Vec::with_capacity(pending.len());
        for t in pending {
            if t.is_finished() {
                match t.await {
                    Ok(Ok(_)) => ok += 1,
                    Ok(Err(e)) => {
                        failed += 1;
                        first_error.get_or_insert(e);
                    }
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert(e.to_string());
                    }
                }
            } else {
                still.push(t);
            }
        }
        pending = still;
    }
    for t in &pending {
        t.abort();
    }
    failed += pending.len();
    Ok((ok, failed, first_error))
}
