//! Deployment health and usage shared between gateway instances through
//! Redis, so routing sees the cluster, not one instance:
//!
//! - cooldowns: a cooldown one instance starts is written as a key with a
//!   TTL; every instance polls those keys each second and cools the same
//!   deployment down locally;
//! - usage: each instance adds the requests and tokens it served to
//!   per-deployment counters of the current minute once a second (not per
//!   call), and reads the totals back, which usage-based routing and the
//!   deployments' rpm/tpm limits then use.
//!
//! Deployment ids come from the config (`model_info.id`, or the group name
//! and position), so instances with one config agree on them. Redis
//! unreachable → each instance keeps its own view.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use llmux_cache::RedisClient;
use llmux_router::Router;

/// How often each instance reads the shared cooldowns.
pub const POLL: Duration = Duration::from_secs(1);

fn key(prefix: &str, deployment: &str) -> String {
    format!("{prefix}cooldown:{deployment}")
}

fn usage_key(prefix: &str, deployment: &str, minute: u64, what: &str) -> String {
    format!("{prefix}usage:{deployment}:{minute}:{what}")
}

/// The current wall-clock minute (shared by instances, unlike `Instant`).
fn minute() -> u64 {
    llmux_core::unix_now() / 60
}

/// Requests and tokens served here since the last flush, by deployment.
type Pending = Mutex<HashMap<String, (u64, u64)>>;

/// Share `router`'s deployment cooldowns and usage through the Redis at `url`.
pub fn share_deployment_state(router: &Router, url: &str, prefix: &str) -> Result<(), String> {
    let redis = Arc::new(RedisClient::new(url)?);
    let prefix = prefix.to_string();
    {
        let (redis, prefix) = (redis.clone(), prefix.clone());
        router.on_cooldown(Arc::new(move |deployment: &str, duration: Duration| {
            let (redis, k) = (redis.clone(), key(&prefix, deployment));
            let millis = u64::try_from(duration.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            tokio::spawn(async move {
                let done: Result<(), String> = redis
                    .run(async |mut c| {
                        redis::cmd("SET")
                            .arg(&k)
                            .arg(1)
                            .arg("PX")
                            .arg(millis)
                            .query_async(&mut c)
                            .await
                    })
                    .await;
                if let Err(e) = done {
                    tracing::warn!(error = %e, "could not share a deployment cooldown");
                }
            });
        }));
    }
    let pending: Arc<Pending> = Arc::default();
    {
        let pending = pending.clone();
        router.on_usage(Arc::new(
            move |deployment: &str, requests: u64, tokens: u64| {
                let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
                let entry = p.entry(deployment.to_string()).or_default();
                entry.0 += requests;
                entry.1 += tokens;
            },
        ));
    }
    let router = router.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            pull(&router, &redis, &prefix).await;
            sync_usage(&router, &redis, &prefix, &pending).await;
        }
    });
    Ok(())
}

/// Add this instance's usage to the shared counters and read the totals.
async fn sync_usage(router: &Router, redis: &RedisClient, prefix: &str, pending: &Pending) {
    let deployments = router.deployments();
    if deployments.is_empty() {
        return;
    }
    let m = minute();
    let drained: HashMap<String, (u64, u64)> =
        std::mem::take(&mut *pending.lock().unwrap_or_else(|e| e.into_inner()));
    let mut pipe = redis::pipe();
    for (id, (requests, tokens)) in &drained {
        for (what, n) in [("req", requests), ("tok", tokens)] {
            let k = usage_key(prefix, id, m, what);
            pipe.cmd("INCRBY").arg(&k).arg(*n).ignore();
            pipe.cmd("EXPIRE").arg(&k).arg(120).ignore();
        }
    }
    for d in deployments {
        pipe.cmd("GET").arg(usage_key(prefix, &d.spec.id, m, "req"));
        pipe.cmd("GET").arg(usage_key(prefix, &d.spec.id, m, "tok"));
    }
    let totals: Result<Vec<Option<u64>>, String> = redis
        .run(async |mut c| pipe.query_async(&mut c).await)
        .await;
    let Ok(totals) = totals else {
        // Keep what was not shared for the next try.
        let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
        for (id, (r, t)) in drained {
            let e = p.entry(id).or_default();
            e.0 += r;
            e.1 += t;
        }
        return;
    };
    let now = Instant::now();
    for (d, pair) in deployments.iter().zip(totals.chunks(2)) {
        let requests = pair.first().copied().flatten().unwrap_or(0);
        let tokens = pair.get(1).copied().flatten().unwrap_or(0);
        d.state().set_cluster_usage(now, requests, tokens);
    }
}

/// Apply every shared cooldown to the local deployments.
async fn pull(router: &Router, redis: &RedisClient, prefix: &str) {
    let deployments = router.deployments();
    if deployments.is_empty() {
        return;
    }
    let mut pipe = redis::pipe();
    for d in deployments {
        pipe.cmd("PTTL").arg(key(prefix, &d.spec.id));
    }
    let ttls: Result<Vec<i64>, String> = redis
        .run(async |mut c| pipe.query_async(&mut c).await)
        .await;
    let Ok(ttls) = ttls else {
        return; // logged by the client's back-off; local cooldowns still apply
    };
    let now = Instant::now();
    for (d, ttl) in deployments.iter().zip(ttls) {
        if ttl > 0 {
            d.state()
                .cool_down_until(now + Duration::from_millis(u64::try_from(ttl).unwrap_or(0)));
        }
    }
}
