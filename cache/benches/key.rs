//! Cache key cost: normalize + SHA-256 a typical chat request. `cargo bench -p llmux-cache`.

// criterion_main! writes an undocumented main; benches are binaries.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmarks fail loudly

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use llmux_cache::cache_key;
use llmux_core::endpoint::Call;
use llmux_core::{ChatCompletionRequest, ChatMessage};

fn key(c: &mut Criterion) {
    let mut small = ChatCompletionRequest::new(
        "gpt-4o",
        vec![
            ChatMessage::system("You are terse."),
            ChatMessage::user("What is Rust?"),
        ],
    );
    small.temperature = Some(0.2);
    let mut large = small.clone();
    for i in 0..20 {
        large.messages.push(ChatMessage::user(format!(
            "turn {i}: {}",
            "lorem ipsum dolor sit amet ".repeat(20)
        )));
    }
    let small = Call::Chat(small);
    let large = Call::Chat(large);
    c.bench_function("cache_key/chat_2_messages", |b| {
        b.iter(|| cache_key(None, black_box("gpt-4o"), black_box(&small)).unwrap())
    });
    c.bench_function("cache_key/chat_22_messages_12kB", |b| {
        b.iter(|| cache_key(None, black_box("gpt-4o"), black_box(&large)).unwrap())
    });
}

criterion_group!(benches, key);
criterion_main!(benches);
