//! `cargo bench -p llmux-cost`: what loading the embedded price table costs
//! at start, and what pricing one call costs on the hot path.

// criterion_main! writes an undocumented main; benches are binaries.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use llmux_core::types::chat::{PromptTokensDetails, Usage};
use llmux_cost::{CostOptions, PriceTable};

fn load(c: &mut Criterion) {
    // What `PriceTable::embedded()` does once at start: index the static lines.
    c.bench_function("price_table_load", |b| {
        b.iter(|| PriceTable::embedded_uncached().len())
    });
    // For comparison: parsing every entry eagerly (never done at start).
    c.bench_function("price_table_parse_every_entry", |b| {
        b.iter(|| {
            let t = PriceTable::embedded_uncached();
            t.parse_all().map(|()| t.len())
        })
    });
}

fn price(c: &mut Criterion) {
    let table = PriceTable::embedded();
    let mut usage = Usage::new(12_000, 800);
    usage.prompt_tokens_details = Some(PromptTokensDetails {
        cached_tokens: Some(8_000),
        ..Default::default()
    });
    c.bench_function("cost_per_token_bare_name", |b| {
        b.iter(|| {
            table
                .lookup(black_box("gpt-4o"))
                .and_then(|m| m.cost_per_token(black_box(&usage), &CostOptions::default()))
                .map(|c| c.total().nano())
        })
    });
    c.bench_function("cost_per_token_provider_prefix", |b| {
        b.iter(|| {
            table
                .lookup(black_box("vertex_ai/gemini-2.5-pro"))
                .and_then(|m| m.cost_per_token(black_box(&usage), &CostOptions::default()))
                .map(|c| c.total().nano())
        })
    });
    let info = table.lookup("gpt-4o").cloned();
    c.bench_function("cost_per_token_resolved", |b| {
        b.iter(|| {
            info.as_ref()
                .map(|m| m.cost_per_token(black_box(&usage), &CostOptions::default()))
        })
    });
}

criterion_group!(benches, load, price);
criterion_main!(benches);
