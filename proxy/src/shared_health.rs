//! Deployment cooldowns shared between gateway instances through Redis: a
//! cooldown one instance starts is written as a key with a TTL, and every
//! instance polls those keys each second and cools the same deployment down
//! locally. Deployment ids come from the config (`model_info.id`, or the
//! group name and position), so instances with one config agree on them.
//! Redis unreachable → each instance keeps its own cooldowns.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use llmux_cache::RedisClient;
use llmux_router::Router;

/// How often each instance reads the shared cooldowns.
pub const POLL: Duration = Duration::from_secs(1);

fn key(prefix: &str, deployment: &str) -> String {
    format!("{prefix}cooldown:{deployment}")
}

/// Share `router`'s cooldowns through the Redis at `url`.
pub fn share_cooldowns(router: &Router, url: &str, prefix: &str) -> Result<(), String> {
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
    let router = router.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            pull(&router, &redis, &prefix).await;
        }
    });
    Ok(())
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
