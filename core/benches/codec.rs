//! Codec micro-benchmarks: JSON encode/decode of a typical chat request and
//! response, SSE decoding throughput, and the Responses API translation
//! (request → chat, chat chunks → events, native events parsed).
//! `cargo bench -p llmux-core`.

// criterion_main! writes an undocumented main; benches are binaries.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmarks fail loudly

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use llmux_core::sse::SseDecoder;
use llmux_core::types::chat::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest};

/// A typical request: system prompt, a few turns, one tool, common params.
const REQUEST: &str = r#"{
  "model": "gpt-4o",
  "messages": [
    {"role": "system", "content": "You are a helpful assistant that answers concisely and cites sources when it can."},
    {"role": "user", "content": "What is the weather like in Paris today, and should I take an umbrella?"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris, FR\",\"unit\":\"celsius\"}"}}]},
    {"role": "tool", "tool_call_id": "call_abc123", "content": "{\"temperature\": 14, \"condition\": \"light rain\", \"precipitation_probability\": 0.8}"},
    {"role": "user", "content": [{"type": "text", "text": "And what about this picture?"}, {"type": "image_url", "image_url": {"url": "https://example.com/sky.jpg", "detail": "low"}}]}
  ],
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a location", "parameters": {"type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}}}],
  "tool_choice": "auto",
  "temperature": 0.7,
  "max_tokens": 512,
  "stream": false,
  "user": "user-1234"
}"#;

const RESPONSE: &str = r#"{
  "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
  "object": "chat.completion",
  "created": 1741570283,
  "model": "gpt-4o-2024-08-06",
  "choices": [{
    "index": 0,
    "message": {"role": "assistant", "content": "It is 14°C with light rain in Paris, and an 80% chance of precipitation, so yes: take an umbrella. The picture shows an overcast sky, consistent with the forecast.", "refusal": null, "annotations": []},
    "logprobs": null,
    "finish_reason": "stop"
  }],
  "usage": {"prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
  "service_tier": "default",
  "system_fingerprint": "fp_fc9f1d7035"
}"#;

/// An OpenAI-style stream of `n` content chunks plus `[DONE]`.
fn sse_body(n: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o\",\"system_fingerprint\":\"fp_1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token{i} \"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        ));
    }
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}

fn chat_json(c: &mut Criterion) {
    let request: ChatCompletionRequest = serde_json::from_str(REQUEST).unwrap();
    let response: ChatCompletion = serde_json::from_str(RESPONSE).unwrap();
    let mut g = c.benchmark_group("chat_json");
    g.bench_function("decode_request", |b| {
        b.iter(|| serde_json::from_str::<ChatCompletionRequest>(black_box(REQUEST)).unwrap())
    });
    g.bench_function("encode_request", |b| {
        b.iter(|| serde_json::to_vec(black_box(&request)).unwrap())
    });
    g.bench_function("decode_response", |b| {
        b.iter(|| serde_json::from_str::<ChatCompletion>(black_box(RESPONSE)).unwrap())
    });
    g.bench_function("encode_response", |b| {
        b.iter(|| serde_json::to_vec(black_box(&response)).unwrap())
    });
    g.finish();
}

fn sse(c: &mut Criterion) {
    let body = sse_body(200);
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("decode_events_200_chunks_in_1500_byte_reads", |b| {
        b.iter_batched(
            SseDecoder::new,
            |mut d| {
                let mut n = 0;
                for piece in body.chunks(1500) {
                    d.push(piece);
                    while let Some(e) = d.next_event().unwrap() {
                        n += e.data.len();
                    }
                }
                n
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("decode_events_and_chunks_200", |b| {
        b.iter_batched(
            SseDecoder::new,
            |mut d| {
                let mut n = 0;
                for piece in body.chunks(1500) {
                    d.push(piece);
                    while let Some(e) = d.next_event().unwrap() {
                        if e.data != "[DONE]" {
                            let c: ChatCompletionChunk = serde_json::from_str(&e.data).unwrap();
                            n += c.choices.len();
                        }
                    }
                }
                n
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// A Codex-style Responses request: instructions, a function call and its
/// output, a reasoning item (OpenAI's documented example).
const RESPONSES_REQUEST: &str =
    include_str!("../tests/fixtures/openai/responses/request_reasoning_function_call_output.json");

fn chat_chunk(i: usize) -> ChatCompletionChunk {
    serde_json::from_str(&format!(
        "{{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token{i} \"}},\"finish_reason\":null}}]}}"
    ))
    .unwrap()
}

fn responses(c: &mut Criterion) {
    use llmux_core::responses_bridge::{to_chat_request, ChatToResponsesStream};
    use llmux_core::types::responses::{CreateResponseRequest, ResponseStreamEvent};
    let request: CreateResponseRequest = serde_json::from_str(RESPONSES_REQUEST).unwrap();
    let mut g = c.benchmark_group("responses");
    g.bench_function("request_to_chat", |b| {
        b.iter(|| to_chat_request(black_box(&request), &[]).unwrap())
    });
    let chunks: Vec<ChatCompletionChunk> = (0..200).map(chat_chunk).collect();
    g.throughput(Throughput::Elements(chunks.len() as u64));
    g.bench_function("chat_chunks_to_events_200", |b| {
        b.iter_batched(
            || ChatToResponsesStream::new(&request, "resp_bench", 1_741_570_283),
            |mut s| {
                let mut n = 0;
                for c in &chunks {
                    n += s.feed(c).unwrap().len();
                }
                n + s.finish().len()
            },
            BatchSize::SmallInput,
        )
    });
    let delta = r#"{"type":"response.output_text.delta","sequence_number":7,"item_id":"msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b","output_index":0,"content_index":0,"delta":"token ","logprobs":[]}"#;
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_native_text_delta", |b| {
        b.iter(|| serde_json::from_str::<ResponseStreamEvent>(black_box(delta)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, chat_json, sse, responses);
criterion_main!(benches);
