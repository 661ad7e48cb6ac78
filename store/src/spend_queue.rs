//! The spend queue: every answered call becomes a [`SpendRow`], written to the
//! database in batches by one background task, never on the request path.
//!
//! Nothing accepted is lost. The queue is bounded, so memory is too: when it
//! is full, or when a batch cannot be written (database slow or down), rows go
//! to an append-only spill file (one JSON row per line) that is replayed once
//! the database answers again. [`Store::record_spend`] skips request ids it
//! already has, so replaying a batch twice is harmless. [`SpendQueue::flush`]
//! drains everything on graceful shutdown.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::db::Store;
use crate::spend::SpendRow;

/// How the queue batches and spills.
#[derive(Debug, Clone)]
pub struct SpendOptions {
    /// Rows held in memory before new ones spill to the file.
    pub capacity: usize,
    /// Most rows written in one transaction.
    pub batch: usize,
    /// How long the writer waits to fill a batch.
    pub linger: Duration,
    /// How often a spill file is retried while the database is down.
    pub retry_every: Duration,
    /// The spill file.
    pub spill_path: PathBuf,
}

impl SpendOptions {
    /// Defaults with the spill file at `spill_path`.
    pub fn new(spill_path: PathBuf) -> SpendOptions {
        SpendOptions {
            capacity: 10_000,
            batch: 500,
            linger: Duration::from_millis(50),
            retry_every: Duration::from_secs(2),
            spill_path,
        }
    }
}

enum Msg {
    Row(Box<SpendRow>),
    Flush(oneshot::Sender<()>),
}

/// Handle to the background spend writer.
pub struct SpendQueue {
    tx: mpsc::Sender<Msg>,
    spill: Arc<Spill>,
}

impl SpendQueue {
    /// Start the writer task for `store`. Rows left in the spill file by an
    /// earlier run are replayed first.
    pub fn start(store: Store, options: SpendOptions) -> SpendQueue {
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        let spill = Arc::new(Spill {
            path: options.spill_path.clone(),
            lock: Mutex::new(()),
        });
        tokio::spawn(writer(store, rx, spill.clone(), options));
        SpendQueue { tx, spill }
    }

    /// Queue a row. Never waits: a full queue (or a stopped writer) sends the
    /// row to the spill file instead.
    pub fn record(&self, row: SpendRow) {
        if let Err(e) = self.tx.try_send(Msg::Row(Box::new(row))) {
            let row = match e {
                mpsc::error::TrySendError::Full(Msg::Row(r))
                | mpsc::error::TrySendError::Closed(Msg::Row(r)) => r,
                _ => return,
            };
            if let Err(e) = self.spill.append(std::slice::from_ref(&*row)) {
                // The row cannot be kept anywhere; say so loudly with its content.
                tracing::error!(error = %e, row = ?row, "spend row could not be queued or spilled");
            }
        }
    }

    /// Wait until every row queued so far is in the database or, if it is
    /// down, in the spill file (which the next start replays).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Path of the spill file.
    pub fn spill_path(&self) -> &Path {
        &self.spill.path
    }
}

/// The append-only overflow file. Appends and the hand-over to replay are
/// serialised by `lock`; replay works on a renamed copy so appends continue.
struct Spill {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Spill {
    fn replaying_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".replaying");
        PathBuf::from(p)
    }

    fn append(&self, rows: &[SpendRow]) -> std::io::Result<()> {
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for r in rows {
            serde_json::to_writer(&mut out, r).map_err(std::io::Error::other)?;
            out.push(b'\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&out)?;
        f.sync_data()
    }

    /// Whether rows wait in a spill file.
    fn pending(&self) -> bool {
        self.path.exists() || self.replaying_path().exists()
    }

    /// Move the spill file aside for replay (unless an earlier replay's copy
    /// is still there) and read its rows. Lines that do not parse are kept in
    /// a `.bad` file rather than dropped.
    fn take(&self) -> std::io::Result<Vec<SpendRow>> {
        let replaying = self.replaying_path();
        {
            let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            if !replaying.exists() && self.path.exists() {
                std::fs::rename(&self.path, &replaying)?;
            }
        }
        if !replaying.exists() {
            return Ok(Vec::new());
        }
        let file = std::fs::File::open(&replaying)?;
        let mut rows = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<SpendRow>(&line) {
                Ok(r) => rows.push(r),
                Err(e) => {
                    tracing::error!(error = %e, "unreadable line in the spend spill file; kept in .bad");
                    let mut bad = self.path.clone().into_os_string();
                    bad.push(".bad");
                    let mut f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(PathBuf::from(bad))?;
                    writeln!(f, "{line}")?;
                }
            }
        }
        Ok(rows)
    }

    fn replayed(&self) -> std::io::Result<()> {
        std::fs::remove_file(self.replaying_path())
    }
}

async fn writer(
    store: Store,
    mut rx: mpsc::Receiver<Msg>,
    spill: Arc<Spill>,
    options: SpendOptions,
) {
    let mut db_ok = replay(&store, &spill, options.batch).await;
    loop {
        // Wait for the next message; while rows sit in the spill file, wake
        // up now and then to replay them.
        let next = if spill.pending() {
            let wait = if db_ok {
                options.linger
            } else {
                options.retry_every
            };
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(m) => m,
                Err(_) => {
                    db_ok = replay(&store, &spill, options.batch).await;
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(first) = next else {
            return; // every sender is gone
        };
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        push(first, &mut batch, &mut flushes);
        let deadline = tokio::time::Instant::now() + options.linger;
        while batch.len() < options.batch && flushes.is_empty() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => push(m, &mut batch, &mut flushes),
                _ => break,
            }
        }
        // A flush also drains whatever is already queued.
        if !flushes.is_empty() {
            while let Ok(m) = rx.try_recv() {
                push(m, &mut batch, &mut flushes);
            }
        }
        for chunk in batch.chunks(options.batch.max(1)) {
            db_ok = write(&store, &spill, chunk).await;
        }
        if db_ok && spill.pending() {
            db_ok = replay(&store, &spill, options.batch).await;
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

fn push(m: Msg, batch: &mut Vec<SpendRow>, flushes: &mut Vec<oneshot::Sender<()>>) {
    match m {
        Msg::Row(r) => batch.push(*r),
        Msg::Flush(f) => flushes.push(f),
    }
}

/// Write one batch; on failure keep it in the spill file. Returns whether
/// the database took it.
async fn write(store: &Store, spill: &Spill, rows: &[SpendRow]) -> bool {
    if rows.is_empty() {
        return true;
    }
    match store.record_spend(rows).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, rows = rows.len(), "spend batch not written; spilled to {}", spill.path.display());
            if let Err(io) = spill.append(rows) {
                tracing::error!(error = %io, rows = ?rows, "spend rows could not be spilled");
            }
            false
        }
    }
}

/// Replay the spill file into the database. Returns whether the database
/// took all of it (the file is removed then).
async fn replay(store: &Store, spill: &Spill, batch: usize) -> bool {
    if !spill.pending() {
        return true;
    }
    let rows = match spill.take() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the spend spill file");
            return false;
        }
    };
    for chunk in rows.chunks(batch.max(1)) {
        if let Err(e) = store.record_spend(chunk).await {
            tracing::warn!(error = %e, "database still unavailable; spend stays in the spill file");
            return false;
        }
    }
    if let Err(e) = spill.replayed() {
        tracing::error!(error = %e, "replayed spill file could not be removed");
    }
    tracing::info!(
        rows = rows.len(),
        "spilled spend replayed into the database"
    );
    true
}
