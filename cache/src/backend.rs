//! Where cached answers live: in this process (moka, bounded by bytes and
//! TTL) or in Redis (shared by every llmux instance).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use moka::future::Cache;
use moka::Expiry;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use tokio::sync::Mutex;

/// A stored answer: the reply's JSON and when it was stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Unix seconds at which it was stored.
    pub stored_at: u64,
    /// The reply, serialized.
    pub body: Vec<u8>,
}

impl Entry {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 8);
        out.extend_from_slice(&self.stored_at.to_be_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Entry> {
        let (time, body) = bytes.split_at_checked(8)?;
        Some(Entry {
            stored_at: u64::from_be_bytes(time.try_into().ok()?),
            body: body.to_vec(),
        })
    }
}

/// A cache store. Failures are reported as `Err(message)`; the layer logs them
/// and carries on without the cache.
pub trait Backend: Send + Sync + 'static {
    /// The entry under `key`, if present and not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>, String>>;
    /// Store `entry` under `key` for `ttl`.
    fn set<'a>(
        &'a self,
        key: &'a str,
        entry: Entry,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), String>>;
    /// Name for logs (`memory`, `redis`).
    fn name(&self) -> &'static str;
}

#[derive(Clone)]
struct Stored {
    entry: Arc<Entry>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Stored> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Stored,
        _now: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// In-process cache, bounded by total bytes and per-entry TTL.
#[derive(Clone)]
pub struct MemoryBackend {
    cache: Cache<String, Stored>,
}

impl MemoryBackend {
    /// A cache holding at most `max_bytes` of stored answers.
    pub fn new(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &String, v: &Stored| {
                u32::try_from(k.len() + v.entry.body.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        MemoryBackend { cache }
    }
}

impl Backend for MemoryBackend {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>, String>> {
        Box::pin(async move { Ok(self.cache.get(key).await.map(|s| (*s.entry).clone())) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        entry: Entry,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.cache
                .insert(
                    key.to_string(),
                    Stored {
                        entry: Arc::new(entry),
                        ttl,
                    },
                )
                .await;
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

/// A Redis connection that tolerates outages: it connects lazily, bounds
/// every command by a timeout, and after a failure does not retry for
/// `retry_after_failure`, so a dead Redis costs one fast failure every few
/// seconds, not one per request. Shared by the cache and the gateway's
/// shared limits and budgets.
pub struct RedisClient {
    client: redis::Client,
    conn: Mutex<Option<ConnectionManager>>,
    down_until: std::sync::Mutex<Option<Instant>>,
    timeout: Duration,
    retry_after_failure: Duration,
}

impl RedisClient {
    /// A client for `url` (`redis://127.0.0.1:6379/0`). Does not connect yet.
    pub fn new(url: &str) -> Result<Self, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("invalid Redis URL '{url}': {e}"))?;
        Ok(RedisClient {
            client,
            conn: Mutex::new(None),
            down_until: std::sync::Mutex::new(None),
            timeout: Duration::from_millis(250),
            retry_after_failure: Duration::from_secs(5),
        })
    }

    /// Time allowed for each Redis command (default 250 ms).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn is_down(&self) -> bool {
        let d = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        d.is_some_and(|until| Instant::now() < until)
    }

    fn mark_down(&self) {
        let mut d = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        *d = Some(Instant::now() + self.retry_after_failure);
    }

    async fn connection(&self) -> Result<ConnectionManager, String> {
        if self.is_down() {
            return Err("Redis was unreachable moments ago; not retrying yet".into());
        }
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        match tokio::time::timeout(
            self.timeout * 2,
            self.client.get_connection_manager_with_config(config),
        )
        .await
        {
            Ok(Ok(c)) => {
                *guard = Some(c.clone());
                Ok(c)
            }
            Ok(Err(e)) => {
                self.mark_down();
                Err(format!("cannot connect to Redis: {e}"))
            }
            Err(_) => {
                self.mark_down();
                Err("cannot connect to Redis: timed out".into())
            }
        }
    }

    /// Run `f` on a connection, within the timeout. Connection failures mark
    /// Redis down for a while; the error says what happened.
    pub async fn run<T>(
        &self,
        f: impl AsyncFnOnce(ConnectionManager) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        let conn = self.connection().await?;
        match tokio::time::timeout(self.timeout, f(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    self.mark_down();
                }
                Err(format!("Redis error: {e}"))
            }
            Err(_) => {
                self.mark_down();
                Err("Redis did not answer in time".into())
            }
        }
    }
}

/// The response cache in Redis, shared across instances.
pub struct RedisBackend {
    redis: RedisClient,
}

impl RedisBackend {
    /// A backend for `url` (`redis://127.0.0.1:6379/0`). Does not connect yet.
    pub fn new(url: &str) -> Result<Self, String> {
        Ok(RedisBackend {
            redis: RedisClient::new(url)?,
        })
    }

    /// Time allowed for each Redis command (default 250 ms).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.redis = self.redis.with_timeout(timeout);
        self
    }

    async fn run<T>(
        &self,
        f: impl AsyncFnOnce(ConnectionManager) -> redis::RedisResult<T>,
    ) -> Result<T, String> {
        self.redis.run(f).await
    }
}

impl Backend for RedisBackend {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>, String>> {
        Box::pin(async move {
            let bytes: Option<Vec<u8>> = self.run(async |mut c| c.get(key).await).await?;
            Ok(bytes.and_then(|b| Entry::decode(&b)))
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        entry: Entry,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let bytes = entry.encode();
            self.run(async |mut c| {
                redis::cmd("SET")
                    .arg(key)
                    .arg(bytes)
                    .arg("PX")
                    .arg(millis)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
        })
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_encoding_round_trips_and_rejects_short_input() {
        let e = Entry {
            stored_at: 1_700_000_000,
            body: b"{}".to_vec(),
        };
        assert_eq!(Entry::decode(&e.encode()), Some(e));
        assert_eq!(Entry::decode(b"short"), None);
    }

    #[tokio::test]
    async fn memory_backend_expires_entries() {
        let m = MemoryBackend::new(1 << 20);
        let e = Entry {
            stored_at: 1,
            body: b"x".to_vec(),
        };
        m.set("k", e.clone(), Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(m.get("k").await.unwrap(), Some(e));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(m.get("k").await.unwrap(), None);
    }
}
