//! Per-key rate limits: requests per minute, tokens per minute, requests in
//! flight. Counted in one-minute windows (as LiteLLM counts them), in this
//! process or, with Redis configured, shared by every instance through one
//! Lua script per admission. Redis unreachable → this process's counters,
//! with a warning; a call is never failed for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmux_cache::RedisClient;
use llmux_core::{Error, ErrorKind};

use crate::keys::KeyRecord;

/// The limits a key carries; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyLimits {
    rpm: Option<i64>,
    tpm: Option<i64>,
    parallel: Option<i64>,
}

impl KeyLimits {
    fn of(key: &KeyRecord) -> KeyLimits {
        KeyLimits {
            rpm: key.rpm_limit,
            tpm: key.tpm_limit,
            parallel: key.max_parallel_requests,
        }
    }

    fn any(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some() || self.parallel.is_some()
    }
}

#[derive(Debug, Default)]
struct Counters {
    minute: i64,
    requests: i64,
    tokens: i64,
    in_flight: i64,
}

/// Which limit refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Rpm(i64),
    Tpm(i64),
    Parallel(i64),
}

fn refused(r: Refusal, now: i64) -> Error {
    let to_next_minute = Duration::from_secs(u64::try_from(60 - now.rem_euclid(60)).unwrap_or(60));
    let (message, retry) = match r {
        Refusal::Rpm(n) => (
            format!("rate limit exceeded for this key: {n} requests per minute"),
            to_next_minute,
        ),
        Refusal::Tpm(n) => (
            format!("rate limit exceeded for this key: {n} tokens per minute"),
            to_next_minute,
        ),
        Refusal::Parallel(n) => (
            format!("max parallel requests reached for this key: {n}"),
            Duration::from_secs(1),
        ),
    };
    Error::new(ErrorKind::RateLimit, message).with_retry_after(Some(retry))
}

/// KEYS: rpm window, tpm window, in-flight counter.
/// ARGV: rpm, tpm, parallel limits (-1 = none).
/// Returns `{0}` when admitted, else `{1|2|3}` for rpm, tpm, parallel.
const ADMIT_LUA: &str = r"
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local par = tonumber(ARGV[3])
if tpm >= 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= tpm then return {2} end
if rpm >= 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= rpm then return {1} end
if par >= 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= par then return {3} end
if rpm >= 0 then
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], 120)
end
if par >= 0 then
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], 600)
end
return {0}
";

/// Rate limits of every key.
pub struct Limits {
    local: Mutex<HashMap<String, Counters>>,
    shared: Option<Shared>,
}

struct Shared {
    redis: RedisClient,
    prefix: String,
    admit: redis::Script,
}

/// Held while a call is in flight: frees its parallel slot when dropped.
pub struct Slot {
    release: Option<(Arc<Limits>, String, bool)>,
}

impl Slot {
    /// A slot that holds nothing (no parallel limit).
    pub fn none() -> Slot {
        Slot { release: None }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some((limits, hash, shared)) = self.release.take() else {
            return;
        };
        if shared {
            tokio::spawn(async move { limits.release_shared(&hash).await });
        } else {
            limits.release_local(&hash);
        }
    }
}

impl Limits {
    /// Counters in this process only.
    pub fn local() -> Arc<Limits> {
        Arc::new(Limits {
            local: Mutex::new(HashMap::new()),
            shared: None,
        })
    }

    /// Counters shared through the Redis at `url`, under `prefix`.
    pub fn shared(url: &str, prefix: &str) -> Result<Arc<Limits>, String> {
        Ok(Arc::new(Limits {
            local: Mutex::new(HashMap::new()),
            shared: Some(Shared {
                redis: RedisClient::new(url)?,
                prefix: prefix.to_string(),
                admit: redis::Script::new(ADMIT_LUA),
            }),
        }))
    }

    /// Count a call by `key` at `now` (Unix seconds), or refuse it with a 429
    /// and `retry-after`.
    pub async fn admit(self: &Arc<Self>, key: &KeyRecord, now: i64) -> Result<Slot, Error> {
        let limits = KeyLimits::of(key);
        if !limits.any() {
            return Ok(Slot::none());
        }
        if let Some(shared) = &self.shared {
            match self
                .admit_shared(shared, &key.token_hash, limits, now)
                .await
            {
                Ok(Ok(())) => {
                    return Ok(self.slot(&key.token_hash, limits, true));
                }
                Ok(Err(r)) => return Err(refused(r, now)),
                Err(e) => {
                    tracing::warn!(error = %e, "shared rate limits unavailable; enforcing this instance's own counters");
                }
            }
        }
        self.admit_local(&key.token_hash, limits, now)
            .map_err(|r| refused(r, now))?;
        Ok(self.slot(&key.token_hash, limits, false))
    }

    fn slot(self: &Arc<Self>, hash: &str, limits: KeyLimits, shared: bool) -> Slot {
        match limits.parallel {
            Some(_) => Slot {
                release: Some((self.clone(), hash.to_string(), shared)),
            },
            None => Slot::none(),
        }
    }

    /// Add a finished call's tokens to the key's minute.
    pub async fn add_tokens(&self, key: &KeyRecord, tokens: u64, now: i64) {
        if key.tpm_limit.is_none() || tokens == 0 {
            return;
        }
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        if let Some(shared) = &self.shared {
            let k = shared.key("tpm", &key.token_hash, Some(now / 60));
            let done: Result<(), String> = shared
                .redis
                .run(async |mut c| {
                    redis::pipe()
                        .incr(&k, tokens)
                        .ignore()
                        .expire(&k, 120)
                        .ignore()
                        .query_async(&mut c)
                        .await
                })
                .await;
            if done.is_ok() {
                return;
            }
        }
        let mut map = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let c = window(&mut map, &key.token_hash, now);
        c.tokens = c.tokens.saturating_add(tokens);
    }

    fn admit_local(&self, hash: &str, l: KeyLimits, now: i64) -> Result<(), Refusal> {
        let mut map = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let c = window(&mut map, hash, now);
        if let Some(n) = l.tpm.filter(|n| c.tokens >= *n) {
            return Err(Refusal::Tpm(n));
        }
        if let Some(n) = l.rpm.filter(|n| c.requests >= *n) {
            return Err(Refusal::Rpm(n));
        }
        if let Some(n) = l.parallel.filter(|n| c.in_flight >= *n) {
            return Err(Refusal::Parallel(n));
        }
        c.requests += 1;
        if l.parallel.is_some() {
            c.in_flight += 1;
        }
        Ok(())
    }

    fn release_local(&self, hash: &str) {
        let mut map = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get_mut(hash) {
            c.in_flight = (c.in_flight - 1).max(0);
        }
    }

    async fn admit_shared(
        &self,
        shared: &Shared,
        hash: &str,
        l: KeyLimits,
        now: i64,
    ) -> Result<Result<(), Refusal>, String> {
        let minute = Some(now / 60);
        let mut invocation = shared.admit.prepare_invoke();
        invocation
            .key(shared.key("rpm", hash, minute))
            .key(shared.key("tpm", hash, minute))
            .key(shared.key("parallel", hash, None))
            .arg(l.rpm.unwrap_or(-1))
            .arg(l.tpm.unwrap_or(-1))
            .arg(l.parallel.unwrap_or(-1));
        let answer: Vec<i64> = shared
            .redis
            .run(async |mut c| invocation.invoke_async(&mut c).await)
            .await?;
        Ok(match answer.first() {
            Some(1) => Err(Refusal::Rpm(l.rpm.unwrap_or(0))),
            Some(2) => Err(Refusal::Tpm(l.tpm.unwrap_or(0))),
            Some(3) => Err(Refusal::Parallel(l.parallel.unwrap_or(0))),
            _ => Ok(()),
        })
    }

    async fn release_shared(&self, hash: &str) {
        let Some(shared) = &self.shared else {
            return;
        };
        let k = shared.key("parallel", hash, None);
        let done: Result<i64, String> = shared
            .redis
            .run(async |mut c| redis::cmd("DECR").arg(&k).query_async(&mut c).await)
            .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "could not release a shared parallel-request slot; it expires within 10 minutes");
        }
    }
}

impl Shared {
    fn key(&self, what: &str, hash: &str, minute: Option<i64>) -> String {
        match minute {
            Some(m) => format!("{}limit:{what}:{hash}:{m}", self.prefix),
            None => format!("{}limit:{what}:{hash}", self.prefix),
        }
    }
}

/// The key's counters, moved to the current minute.
fn window<'a>(map: &'a mut HashMap<String, Counters>, hash: &str, now: i64) -> &'a mut Counters {
    let c = map.entry(hash.to_string()).or_default();
    let minute = now / 60;
    if c.minute != minute {
        c.minute = minute;
        c.requests = 0;
        c.tokens = 0;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(rpm: Option<i64>, tpm: Option<i64>, parallel: Option<i64>) -> KeyRecord {
        KeyRecord {
            token_hash: "h".into(),
            rpm_limit: rpm,
            tpm_limit: tpm,
            max_parallel_requests: parallel,
            ..KeyRecord::default()
        }
    }

    #[tokio::test]
    async fn windows_reset_each_minute() {
        let limits = Limits::local();
        let k = key(Some(2), None, None);
        let t = 6_000_000; // a minute boundary
        limits.admit(&k, t).await.unwrap();
        limits.admit(&k, t + 1).await.unwrap();
        let e = limits.admit(&k, t + 45).await.err().unwrap();
        assert_eq!(e.status(), 429);
        assert_eq!(e.retry_after, Some(Duration::from_secs(15)));
        limits.admit(&k, t + 60).await.unwrap();
    }

    #[tokio::test]
    async fn tokens_per_minute_count_finished_calls() {
        let limits = Limits::local();
        let k = key(None, Some(100), None);
        limits.admit(&k, 60).await.unwrap();
        limits.add_tokens(&k, 100, 61).await;
        let e = limits.admit(&k, 62).await.err().unwrap();
        assert_eq!(
            e.message,
            "rate limit exceeded for this key: 100 tokens per minute"
        );
        limits.admit(&k, 120).await.unwrap();
    }

    #[tokio::test]
    async fn parallel_slots_free_on_drop() {
        let limits = Limits::local();
        let k = key(None, None, Some(1));
        let slot = limits.admit(&k, 0).await.unwrap();
        assert!(limits.admit(&k, 0).await.is_err());
        drop(slot);
        assert!(limits.admit(&k, 0).await.is_ok());
    }
}
