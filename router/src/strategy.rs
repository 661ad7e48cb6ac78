//! Deployment selection strategies. Each is a [`RoutingStrategy`]: given the
//! healthy candidates of a model group, pick one. The router holds one boxed
//! strategy; adding a strategy is implementing the trait, not editing a match.

use std::sync::Arc;

use tokio::time::Instant;

use crate::deployment::Deployment;

/// Picks the deployment that serves a call.
pub trait RoutingStrategy: Send + Sync {
    /// The name used in `routing_strategy`.
    fn name(&self) -> &'static str;

    /// Index into `candidates` (never empty) of the deployment to use.
    fn pick(&self, candidates: &[Arc<Deployment>], now: Instant) -> usize;
}

/// Build the strategy named as in LiteLLM's `routing_strategy`.
pub fn by_name(name: &str, latency_buffer: f64) -> Option<Box<dyn RoutingStrategy>> {
    Some(match name {
        "simple-shuffle" => Box::new(SimpleShuffle),
        "least-busy" => Box::new(LeastBusy),
        "latency-based-routing" => Box::new(LatencyBased {
            buffer: latency_buffer,
        }),
        "usage-based-routing" | "usage-based-routing-v2" => Box::new(UsageBased),
        "cost-based-routing" => Box::new(CostBased),
        _ => return None,
    })
}

/// The names [`by_name`] accepts.
pub const STRATEGY_NAMES: &[&str] = &[
    "simple-shuffle",
    "least-busy",
    "latency-based-routing",
    "usage-based-routing",
    "usage-based-routing-v2",
    "cost-based-routing",
];

/// Random index weighted by `weights` (all zero → uniform).
fn weighted(weights: &[f64]) -> usize {
    let total: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
    if total <= 0.0 {
        return fastrand::usize(..weights.len());
    }
    let mut r = fastrand::f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if w.is_finite() && *w > 0.0 {
            if r < *w {
                return i;
            }
            r -= w;
        }
    }
    weights.len() - 1
}

/// A uniformly random index among those whose key equals the minimum.
fn random_min<K: PartialOrd + Copy>(keys: &[K]) -> usize {
    let mut best: Vec<usize> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match best.first().map(|&b| keys[b]) {
            None => best.push(i),
            Some(b) if *k < b => {
                best.clear();
                best.push(i);
            }
            Some(b) if *k == b => best.push(i),
            _ => {}
        }
    }
    best.get(fastrand::usize(..best.len().max(1)))
        .copied()
        .unwrap_or(0)
}

/// LiteLLM's default: random, weighted by `weight`, else `rpm`, else `tpm`.
#[derive(Debug, Clone, Copy)]
pub struct SimpleShuffle;

impl RoutingStrategy for SimpleShuffle {
    fn name(&self) -> &'static str {
        "simple-shuffle"
    }

    fn pick(&self, candidates: &[Arc<Deployment>], _now: Instant) -> usize {
        let by = |f: fn(&Deployment) -> Option<f64>| -> Option<Vec<f64>> {
            candidates
                .iter()
                .any(|d| f(d).is_some())
                .then(|| candidates.iter().map(|d| f(d).unwrap_or(0.0)).collect())
        };
        let weights = by(|d| d.spec.weight)
            .or_else(|| by(|d| d.spec.rpm.map(|v| v as f64)))
            .or_else(|| by(|d| d.spec.tpm.map(|v| v as f64)));
        match weights {
            Some(w) => weighted(&w),
            None => fastrand::usize(..candidates.len()),
        }
    }
}

/// Fewest calls in flight.
#[derive(Debug, Clone, Copy)]
pub struct LeastBusy;

impl RoutingStrategy for LeastBusy {
    fn name(&self) -> &'static str {
        "least-busy"
    }

    fn pick(&self, candidates: &[Arc<Deployment>], _now: Instant) -> usize {
        let keys: Vec<u64> = candidates.iter().map(|d| d.state.in_flight()).collect();
        random_min(&keys)
    }
}

/// Lowest moving-average latency. Unmeasured deployments are tried first, so
/// every deployment gets measured; deployments within `(1 + buffer)` of the
/// fastest are treated as equally fast (spreads load, as LiteLLM's
/// `lowest_latency_buffer` does).
#[derive(Debug, Clone, Copy)]
pub struct LatencyBased {
    /// Fraction over the fastest latency still counted as equally fast (`lowest_latency_buffer`).
    pub buffer: f64,
}

impl RoutingStrategy for LatencyBased {
    fn name(&self) -> &'static str {
        "latency-based-routing"
    }

    fn pick(&self, candidates: &[Arc<Deployment>], _now: Instant) -> usize {
        let latencies: Vec<Option<f64>> = candidates
            .iter()
            .map(|d| d.state.latency().map(|l| l.as_secs_f64()))
            .collect();
        let unmeasured: Vec<usize> = (0..candidates.len())
            .filter(|&i| latencies[i].is_none())
            .collect();
        if !unmeasured.is_empty() {
            return unmeasured[fastrand::usize(..unmeasured.len())];
        }
        let fastest = latencies
            .iter()
            .flatten()
            .fold(f64::INFINITY, |a, &b| a.min(b));
        let limit = fastest * (1.0 + self.buffer.max(0.0));
        let near: Vec<usize> = (0..candidates.len())
            .filter(|&i| latencies[i].is_some_and(|l| l <= limit))
            .collect();
        near.get(fastrand::usize(..near.len().max(1)))
            .copied()
            .unwrap_or(0)
    }
}

/// Most headroom under its tpm/rpm limits this minute (least used share);
/// without limits, fewest tokens used this minute.
#[derive(Debug, Clone, Copy)]
pub struct UsageBased;

impl RoutingStrategy for UsageBased {
    fn name(&self) -> &'static str {
        "usage-based-routing"
    }

    fn pick(&self, candidates: &[Arc<Deployment>], now: Instant) -> usize {
        let keys: Vec<f64> = candidates
            .iter()
            .map(|d| {
                let (requests, tokens) = d.state.usage_this_minute(now);
                match (d.spec.tpm, d.spec.rpm) {
                    (Some(tpm), _) if tpm > 0 => tokens as f64 / tpm as f64,
                    (_, Some(rpm)) if rpm > 0 => requests as f64 / rpm as f64,
                    _ => tokens as f64,
                }
            })
            .collect();
        random_min(&keys)
    }
}

/// Cheapest per token; deployments with no known price come last.
#[derive(Debug, Clone, Copy)]
pub struct CostBased;

impl RoutingStrategy for CostBased {
    fn name(&self) -> &'static str {
        "cost-based-routing"
    }

    fn pick(&self, candidates: &[Arc<Deployment>], _now: Instant) -> usize {
        let keys: Vec<f64> = candidates
            .iter()
            .map(|d| d.unit_cost().unwrap_or(f64::INFINITY))
            .collect();
        random_min(&keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::DeploymentSpec;
    use llmux_core::{MapEnv, ProviderParams};

    fn deployment(id: &str, spec: impl FnOnce(&mut DeploymentSpec)) -> Arc<Deployment> {
        let mut s = DeploymentSpec {
            id: id.into(),
            group: "g".into(),
            model: "openai/gpt-4o".into(),
            params: ProviderParams {
                api_key: Some("k".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        spec(&mut s);
        Arc::new(Deployment::new(s, Arc::new(MapEnv::default())).unwrap())
    }

    fn picks(strategy: &dyn RoutingStrategy, ds: &[Arc<Deployment>], n: usize) -> Vec<String> {
        let now = Instant::now();
        (0..n)
            .map(|_| ds[strategy.pick(ds, now)].spec.id.clone())
            .collect()
    }

    #[test]
    fn least_busy_picks_fewest_in_flight() {
        let ds = vec![
            deployment("a", |_| {}),
            deployment("b", |_| {}),
            deployment("c", |_| {}),
        ];
        let _a1 = ds[0].start_call();
        let _a2 = ds[0].start_call();
        let _c1 = ds[2].start_call();
        assert!(picks(&LeastBusy, &ds, 50).iter().all(|id| id == "b"));
    }

    #[test]
    fn latency_based_uses_the_buffer() {
        let ds = vec![
            deployment("a", |_| {}),
            deployment("b", |_| {}),
            deployment("c", |_| {}),
        ];
        ds[0]
            .state
            .record_latency(std::time::Duration::from_millis(100));
        ds[1]
            .state
            .record_latency(std::time::Duration::from_millis(110));
        ds[2]
            .state
            .record_latency(std::time::Duration::from_millis(300));
        let strict = picks(&LatencyBased { buffer: 0.0 }, &ds, 50);
        assert!(strict.iter().all(|id| id == "a"));
        let buffered = picks(&LatencyBased { buffer: 0.2 }, &ds, 200);
        assert!(buffered.contains(&"a".to_string()) && buffered.contains(&"b".to_string()));
        assert!(!buffered.contains(&"c".to_string()));
    }

    #[test]
    fn simple_shuffle_falls_back_from_weight_to_rpm() {
        fastrand::seed(1);
        let ds = vec![
            deployment("a", |s| s.rpm = Some(900)),
            deployment("b", |s| s.rpm = Some(100)),
        ];
        let got = picks(&SimpleShuffle, &ds, 1000);
        let a = got.iter().filter(|id| *id == "a").count();
        assert!((850..=950).contains(&a), "a={a}");
    }

    #[test]
    fn cost_based_puts_unpriced_last() {
        let ds = vec![
            deployment("unpriced", |_| {}),
            deployment("priced", |s| s.input_cost_per_token = Some(1e-6)),
        ];
        assert!(picks(&CostBased, &ds, 20).iter().all(|id| id == "priced"));
    }

    #[test]
    fn names_round_trip() {
        for name in STRATEGY_NAMES {
            let s = by_name(name, 0.0).unwrap();
            assert!(name.starts_with(s.name()) || s.name() == "usage-based-routing");
        }
        assert!(by_name("nope", 0.0).is_none());
    }
}
