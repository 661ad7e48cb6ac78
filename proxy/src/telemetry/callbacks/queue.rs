//! Delivery to one sink, off the request path: a bounded queue the request
//! path pushes into without waiting, and a task that sends batches, retries
//! a sink that is down with backoff, and drops (counting each drop) only
//! when the queue is full. Flushed on graceful shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::telemetry::payload::{LoggingPayload, Status};

/// Why a batch was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The sink may take it later (it is down, overloaded or answered 5xx/429).
    #[error("{0}")]
    Retry(String),
    /// The sink refused it for good (4xx): retrying cannot help.
    #[error("{0}")]
    Rejected(String),
}

/// Where a sink sends its batches.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Deliver `batch` (at most the sink's batch size, oldest first).
    async fn deliver(&self, batch: &[Arc<LoggingPayload>]) -> Result<(), DeliveryError>;
}

/// How a sink's queue batches and retries.
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    /// Payloads held at most; past it new ones are dropped.
    pub capacity: usize,
    /// Bytes of payloads held at most (their requests and answers, about):
    /// a sink that is down must not hold large prompts without bound.
    pub capacity_bytes: usize,
    /// Payloads per delivery at most.
    pub batch_size: usize,
    /// How long the first payload of a batch waits for more.
    pub flush_interval: Duration,
    /// First pause before retrying a failed delivery (doubling, capped).
    pub retry_base: Duration,
    /// Longest pause between retries.
    pub retry_max: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            capacity: 10_000,
            capacity_bytes: 64 * 1024 * 1024,
            batch_size: 100,
            flush_interval: Duration::from_secs(5),
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
        }
    }
}

/// Which events a sink takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Events {
    /// Successful calls.
    pub success: bool,
    /// Failed calls.
    pub failure: bool,
}

impl Events {
    /// Both kinds.
    pub const ALL: Events = Events {
        success: true,
        failure: true,
    };

    /// Whether events of `status` are taken.
    pub fn takes(&self, status: Status) -> bool {
        match status {
            Status::Success => self.success,
            Status::Failure => self.failure,
        }
    }
}

/// The counters of one sink, registered under its name.
#[derive(Clone, Default)]
pub struct SinkMetrics {
    /// Payloads waiting.
    pub depth: Gauge,
    /// Payloads dropped (queue full, or refused for good).
    pub dropped: Counter,
    /// Payloads delivered.
    pub delivered: Counter,
    /// Failed delivery attempts.
    pub failed_deliveries: Counter,
}

impl SinkMetrics {
    /// The series of the sink named `name` (the `callback` label).
    pub fn named(metrics: &crate::telemetry::metrics::Metrics, name: &str) -> SinkMetrics {
        let labels = crate::telemetry::metrics::CallbackLabels {
            callback: name.to_string(),
        };
        SinkMetrics {
            depth: metrics.callback_queue_depth.get_or_create(&labels).clone(),
            dropped: metrics.callback_dropped.get_or_create(&labels).clone(),
            delivered: metrics.callback_delivered.get_or_create(&labels).clone(),
            failed_deliveries: metrics
                .callback_failed_deliveries
                .get_or_create(&labels)
                .clone(),
        }
    }
}

/// The request path's end of one sink's queue.
pub struct SinkQueue {
    name: String,
    events: Events,
    tx: mpsc::Sender<Arc<LoggingPayload>>,
    /// Wakes the delivery task early: a batch is full.
    full: Arc<Notify>,
    /// Asks the delivery task to deliver everything now, then answer.
    flushes: mpsc::UnboundedSender<oneshot::Sender<()>>,
    batch_size: usize,
    /// Bytes held now, and at most.
    bytes: Arc<AtomicUsize>,
    capacity_bytes: usize,
    metrics: SinkMetrics,
    /// When the last "queue full" warning was written (one a minute).
    last_warning: std::sync::Mutex<Option<Instant>>,
}

impl SinkQueue {
    /// Start delivering to `sink` (named `name` in metrics and logs).
    pub fn start(
        name: String,
        events: Events,
        sink: Arc<dyn Sink>,
        settings: QueueSettings,
        metrics: SinkMetrics,
    ) -> SinkQueue {
        let (tx, rx) = mpsc::channel(settings.capacity.max(1));
        let (flushes, flush_rx) = mpsc::unbounded_channel();
        let full = Arc::new(Notify::new());
        let bytes = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run(
            name.clone(),
            Inbox {
                rx,
                full: full.clone(),
                flushes: flush_rx,
                bytes: bytes.clone(),
            },
            sink,
            settings,
            metrics.clone(),
        ));
        SinkQueue {
            name,
            events,
            tx,
            full,
            flushes,
            batch_size: settings.batch_size.max(1),
            bytes,
            capacity_bytes: settings.capacity_bytes,
            metrics,
            last_warning: std::sync::Mutex::new(None),
        }
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queue `payload` if the sink takes its kind; never waits, and wakes
    /// the delivery task only when a batch is full (not once per call). A
    /// full queue drops it (counted; warned about once a minute).
    pub fn push(&self, payload: &Arc<LoggingPayload>) {
        if !self.events.takes(payload.status) {
            return;
        }
        let held = self.bytes.fetch_add(payload.weight, Ordering::Relaxed);
        let sent = if held + payload.weight > self.capacity_bytes {
            Err(())
        } else {
            self.tx.try_send(payload.clone()).map_err(|_| ())
        };
        if sent.is_err() {
            self.bytes.fetch_sub(payload.weight, Ordering::Relaxed);
        }
        match sent {
            Ok(()) => {
                self.metrics.depth.inc();
                if self.tx.max_capacity() - self.tx.capacity() >= self.batch_size {
                    self.full.notify_one();
                }
            }
            Err(_) => {
                self.metrics.dropped.inc();
                let mut last = self.last_warning.lock().unwrap_or_else(|p| p.into_inner());
                if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    *last = Some(Instant::now());
                    tracing::warn!(callback = %self.name, dropped = self.metrics.dropped.get(), "logging callback queue full; dropping events until it drains");
                }
            }
        }
    }

    /// Deliver everything queued so far; returns when done or at `deadline`.
    pub async fn flush(&self, deadline: Duration) {
        let (ack, done) = oneshot::channel();
        if self.flushes.send(ack).is_ok() {
            let _ = tokio::time::timeout(deadline, done).await;
        }
    }
}

/// The delivery task's end of a queue.
struct Inbox {
    rx: mpsc::Receiver<Arc<LoggingPayload>>,
    full: Arc<Notify>,
    flushes: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    /// The queue's held bytes, given back as batches go out.
    bytes: Arc<AtomicUsize>,
}

/// The delivery task: every `flush_interval` (sooner when a batch is full,
/// at once on a flush) send what is queued, `batch_size` at a time, each
/// batch retried while the sink asks for that.
async fn run(
    name: String,
    mut inbox: Inbox,
    sink: Arc<dyn Sink>,
    settings: QueueSettings,
    metrics: SinkMetrics,
) {
    let batch_size = settings.batch_size.max(1);
    let mut batch: Vec<Arc<LoggingPayload>> = Vec::with_capacity(batch_size);
    let mut acks: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        tokio::select! {
            () = inbox.full.notified() => {}
            () = tokio::time::sleep(settings.flush_interval) => {}
            ack = inbox.flushes.recv() => acks.extend(ack),
        }
        let mut closed = false;
        loop {
            while batch.len() < batch_size {
                match inbox.rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            if batch.is_empty() {
                break;
            }
            let drained = batch.len() < batch_size;
            deliver(&name, sink.as_ref(), &batch, &settings, &metrics).await;
            metrics.depth.dec_by(batch.len() as i64);
            let weight: usize = batch.iter().map(|p| p.weight).sum();
            inbox.bytes.fetch_sub(weight, Ordering::Relaxed);
            batch.clear();
            if drained {
                break;
            }
        }
        while let Ok(ack) = inbox.flushes.try_recv() {
            acks.push(ack);
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
        if closed {
            return;
        }
    }
}

/// Send one batch until it is taken or refused for good, pausing between
/// tries (doubling up to `retry_max`). While it retries, new payloads wait
/// in the queue, and past its capacity they are dropped.
async fn deliver(
    name: &str,
    sink: &dyn Sink,
    batch: &[Arc<LoggingPayload>],
    settings: &QueueSettings,
    metrics: &SinkMetrics,
) {
    let mut pause = settings.retry_base;
    let mut warned = false;
    loop {
        match sink.deliver(batch).await {
            Ok(()) => {
                metrics.delivered.inc_by(batch.len() as u64);
                if warned {
                    tracing::info!(callback = %name, events = batch.len(), "logging callback reachable again; delivered");
                }
                return;
            }
            Err(DeliveryError::Rejected(reason)) => {
                metrics.failed_deliveries.inc();
                metrics.dropped.inc_by(batch.len() as u64);
                tracing::warn!(callback = %name, events = batch.len(), error = %reason, "logging callback refused a batch; dropped");
                return;
            }
            Err(DeliveryError::Retry(reason)) => {
                metrics.failed_deliveries.inc();
                if !warned {
                    warned = true;
                    tracing::warn!(callback = %name, events = batch.len(), error = %reason, "logging callback unreachable; retrying with backoff");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(settings.retry_max);
            }
        }
    }
}
