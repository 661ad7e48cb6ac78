//! The codec against wire samples in the shapes of Anthropic's references
//! (`tests/fixtures/README.md` names each source).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use http::HeaderMap;
use llmux_anthropic::response::decode_chat;
use llmux_anthropic::{error, AnthropicStreamDecoder};
use llmux_core::stream::{chunks_to_json, decode_pieces, ChunkSource, StreamAggregator};
use llmux_core::ErrorKind;
use serde_json::{json, Value};

const MESSAGE_TOOL_USE: &str = include_str!("fixtures/message_tool_use.json");
const STREAM_TOOL_USE: &[u8] = include_bytes!("fixtures/stream_tool_use.sse");
const ERROR_OVERLOADED: &str = include_str!("fixtures/error_overloaded.json");

#[test]
fn tool_use_message() {
    let mut resp = decode_chat(
        MESSAGE_TOOL_USE.as_bytes(),
        "anthropic",
        "claude-sonnet-4-5",
        None,
    )
    .unwrap();
    resp.created = 0;
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({
            "id": "msg_01Aq9w938a90dw8q", "object": "chat.completion", "created": 0,
            "model": "claude-sonnet-4-5-20250929",
            "choices": [{"index": 0, "message": {
                "role": "assistant",
                "content": "I'll check the current weather in San Francisco for you.",
                "tool_calls": [{"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}}]
            }, "logprobs": null, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 3895, "completion_tokens": 503, "total_tokens": 4398,
                      "prompt_tokens_details": {"cached_tokens": 1800, "cache_creation_tokens": 0}}
        })
    );
}

fn decode(pieces: &[&[u8]]) -> Vec<Value> {
    let mut d = AnthropicStreamDecoder::new(ChunkSource::at("anthropic", "claude-haiku-4-5", 3))
        .with_usage(true);
    chunks_to_json(&decode_pieces(&mut d, pieces).unwrap()).unwrap()
}

#[test]
fn tool_use_stream_from_any_split() {
    let whole = decode(&[STREAM_TOOL_USE]);
    for i in 0..=STREAM_TOOL_USE.len() {
        let (a, b) = STREAM_TOOL_USE.split_at(i);
        assert_eq!(decode(&[a, b]), whole, "split at {i}");
    }
    let mut agg = StreamAggregator::new();
    for c in &whole {
        agg.push(&serde_json::from_value(c.clone()).unwrap());
    }
    let done = agg.finish();
    assert_eq!(
        serde_json::to_value(&done).unwrap(),
        json!({
            "id": "msg_01Lk3tVXbz7wq2nD", "object": "chat.completion", "created": 3, "model": "claude-haiku-4-5-20251001",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "toolu_01Ny3cC8Fb9y6hq", "type": "function",
                    "function": {"name": "record_forecast", "arguments": "{\"days\": [{\"city\": \"Lisbon\", \"high_c\": 24}]}"}}]},
                "logprobs": null, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 612, "completion_tokens": 41, "total_tokens": 653,
                      "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_tokens": 0}}
        })
    );
}

#[test]
fn overloaded_error_body() {
    let err = error::decode_error(
        "anthropic",
        529,
        &HeaderMap::new(),
        ERROR_OVERLOADED.as_bytes(),
    );
    assert_eq!(err.kind, ErrorKind::ServiceUnavailable);
    assert_eq!(err.message, "Overloaded");
    assert_eq!(err.upstream_status, Some(529));
    assert!(err.kind.is_retryable());
}
