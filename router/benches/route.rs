//! Routing decision cost: each strategy picking among 10 deployments.
//! `cargo bench -p llmux-router`.

// criterion_main! writes an undocumented main; benches are binaries.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmarks fail loudly

use std::sync::Arc;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use llmux_core::{MapEnv, ProviderParams};
use llmux_router::deployment::{Deployment, DeploymentSpec};
use llmux_router::strategy::{self, STRATEGY_NAMES};
use tokio::time::Instant;

fn deployments(n: usize) -> Vec<Arc<Deployment>> {
    (0..n)
        .map(|i| {
            let spec = DeploymentSpec {
                id: format!("d{i}"),
                group: "g".into(),
                model: "openai/gpt-4o".into(),
                params: ProviderParams {
                    api_key: Some("k".into()),
                    ..Default::default()
                },
                rpm: Some(1000 + i as u64),
                tpm: Some(100_000),
                weight: Some(1.0 + i as f64),
                input_cost_per_token: Some(1e-6 * (i + 1) as f64),
                ..Default::default()
            };
            let d = Deployment::new(spec, Arc::new(MapEnv::default())).unwrap();
            Arc::new(d)
        })
        .collect()
}

fn pick(c: &mut Criterion) {
    let ds = deployments(10);
    for d in &ds {
        d.state()
            .record_sample_for_bench(Duration::from_millis(100));
    }
    let now = Instant::now();
    for name in STRATEGY_NAMES
        .iter()
        .filter(|n| **n != "usage-based-routing-v2")
    {
        let s = strategy::by_name(name, 0.1).unwrap();
        c.bench_function(&format!("route/pick_of_10/{name}"), |b| {
            b.iter(|| s.pick(black_box(&ds), now))
        });
    }
}

criterion_group!(benches, pick);
criterion_main!(benches);
