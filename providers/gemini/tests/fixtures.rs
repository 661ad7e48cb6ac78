//! The codec against wire samples written from Google's references
//! (`tests/fixtures/README.md` names each source).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use http::HeaderMap;
use llmux_core::stream::{chunks_to_json, decode_pieces, ChunkSource};
use llmux_core::types::chat::FinishReason;
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest};
use llmux_core::ErrorKind;
use llmux_gemini::embeddings::{decode_gemini, decode_vertex, GeminiEmbedMethod};
use llmux_gemini::response::{decode_chat, from_response};
use llmux_gemini::{error, GeminiStreamDecoder};
use serde_json::{json, Value};

const GENERATE_CONTENT: &str = include_str!("fixtures/generate_content.json");
const FUNCTION_CALL: &str = include_str!("fixtures/function_call.json");
const VERTEX_STREAM: &[u8] = include_bytes!("fixtures/vertex_stream.sse");
const RESOURCE_EXHAUSTED: &str = include_str!("fixtures/error_resource_exhausted.json");
const API_KEY_INVALID: &str = include_str!("fixtures/error_api_key_invalid.json");
const BATCH_EMBED: &str = include_str!("fixtures/batch_embed_contents.json");
const VERTEX_PREDICT: &str = include_str!("fixtures/vertex_predict_embeddings.json");

#[test]
fn generate_content_with_thinking_tokens() {
    let resp = from_response(
        serde_json::from_str(GENERATE_CONTENT).unwrap(),
        "gemini",
        "gemini-2.5-flash",
        1_700_000_000,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({
            "id": "lqRgaLbJE4e3qtsP7LqJ-AE",
            "object": "chat.completion",
            "created": 1_700_000_000u64,
            "model": "gemini-2.5-flash",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "AI learns patterns from data to make predictions or decisions."}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 8, "completion_tokens": 445, "total_tokens": 453,
                      "completion_tokens_details": {"reasoning_tokens": 433}}
        })
    );
}

#[test]
fn function_call_carries_its_thought_signature() {
    let resp = decode_chat(FUNCTION_CALL.as_bytes(), "gemini", "gemini-2.5-flash").unwrap();
    let choice = &resp.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    let call = &choice.message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.name, "schedule_meeting");
    let args: Value = serde_json::from_str(&call.function.arguments).unwrap();
    assert_eq!(
        args,
        json!({"attendees": ["Bob", "Alice"], "date": "2025-03-27", "time": "10:00", "topic": "Q3 planning"})
    );
    assert!(call
        .id
        .ends_with("__thought__CiQB0e2Kb7PjvMcDtDgwBgdaqGxDnuScC0mcLeThhUd0k8U2Ix4="));
    let usage = resp.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (115, 105, 220)
    );
}

fn decode_stream(pieces: &[&[u8]]) -> Vec<Value> {
    let mut d = GeminiStreamDecoder::new(ChunkSource::at("vertex_ai", "gemini-2.0-flash", 5));
    chunks_to_json(&decode_pieces(&mut d, pieces).unwrap()).unwrap()
}

#[test]
fn vertex_stream_from_every_split_point() {
    let chunk = |choices: Value| json!({"id": "tTCwacuEBMvnitYP06qsgQY", "object": "chat.completion.chunk", "created": 5, "model": "gemini-2.0-flash", "choices": choices});
    let expected = vec![
        chunk(
            json!([{"index": 0, "delta": {"role": "assistant", "content": "Hello!"}, "finish_reason": null}]),
        ),
        chunk(
            json!([{"index": 0, "delta": {"content": " How can I help you today"}, "finish_reason": null}]),
        ),
        chunk(json!([{"index": 0, "delta": {"content": "?"}, "finish_reason": null}])),
        chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])),
        json!({"id": "tTCwacuEBMvnitYP06qsgQY", "object": "chat.completion.chunk", "created": 5, "model": "gemini-2.0-flash",
               "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 9, "total_tokens": 10}}),
    ];
    assert_eq!(decode_stream(&[VERTEX_STREAM]), expected);
    for i in 0..=VERTEX_STREAM.len() {
        let (a, b) = VERTEX_STREAM.split_at(i);
        assert_eq!(decode_stream(&[a, b]), expected, "split at {i}");
    }
    let bytes: Vec<&[u8]> = VERTEX_STREAM.chunks(1).collect();
    assert_eq!(decode_stream(&bytes), expected);
}

#[test]
fn error_fixtures_map_to_kinds() {
    let err = error::decode_error(
        "gemini",
        429,
        &HeaderMap::new(),
        RESOURCE_EXHAUSTED.as_bytes(),
    );
    assert_eq!(err.kind, ErrorKind::RateLimit);
    assert_eq!(
        err.message,
        "You exceeded your current quota, please check your plan and billing details."
    );
    assert_eq!(err.retry_after, Some(std::time::Duration::from_secs(37)));
    let err = error::decode_error("gemini", 400, &HeaderMap::new(), API_KEY_INVALID.as_bytes());
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert_eq!(err.status(), 401);
}

#[test]
fn embedding_fixtures_decode() {
    let req = EmbeddingRequest::new(
        "gemini-embedding-001",
        EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
    );
    let resp = decode_gemini(
        BATCH_EMBED.as_bytes(),
        GeminiEmbedMethod::Batch,
        &req,
        "gemini",
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({"object": "list", "model": "gemini-embedding-001",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.013168523, -0.008711934, -0.046782676]},
                        {"object": "embedding", "index": 1, "embedding": [-0.021453284, 0.0017891513, 0.030278938]}],
               "usage": {"prompt_tokens": 0, "total_tokens": 0}})
    );
    let req = EmbeddingRequest::new(
        "text-embedding-005",
        EmbeddingInput::Text("What is life?".into()),
    );
    let resp = decode_vertex(VERTEX_PREDICT.as_bytes(), &req, "vertex_ai").unwrap();
    assert_eq!(resp.usage.prompt_tokens, 6);
    assert_eq!(resp.data.len(), 1);
}
