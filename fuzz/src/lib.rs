//! Drivers shared by the fuzz targets.
//!
//! Each provider target feeds one codec everything an upstream or a client
//! can send it: a chat request to encode, a whole answer, an error answer
//! and a streamed answer. Streams are decoded twice — whole, and cut at
//! points the input chooses — and must give the same result: decoders must
//! accept bytes split anywhere (`StreamDecoder`'s contract).

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use llmux_core::codec::Codec;
use llmux_core::params::{MapEnv, ProviderParams};
use llmux_core::stream::{DecodeStatus, StreamDecoder};
use llmux_core::transport::UpstreamResponse;
use llmux_core::types::chat::ChatCompletionRequest;
use llmux_core::types::embeddings::EmbeddingRequest;
use llmux_core::types::responses::CreateResponseRequest;

/// `data` cut into pieces: its first byte says how many cuts (at most 7),
/// the next bytes where (as fractions of the rest).
pub fn pieces(data: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let n = usize::from(n % 8).min(rest.len());
    let (positions, body) = rest.split_at(n);
    let mut cuts: Vec<usize> = positions
        .iter()
        .map(|&p| usize::from(p) * body.len() / 256)
        .collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts {
        out.push(&body[start..cut]);
        start = cut;
    }
    out.push(&body[start..]);
    (out, body)
}

/// What a stream decoder made of a body: chunks, and whether it ended well.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Chunks decoded.
    pub chunks: usize,
    /// `None` when the stream ended well, else where it failed.
    pub error: Option<&'static str>,
}

/// Feed `pieces` to `decoder` as reads from the wire, then end the body.
pub fn decode<D: StreamDecoder>(mut decoder: D, pieces: &[&[u8]]) -> Outcome {
    let mut out = Vec::new();
    for piece in pieces {
        match decoder.push(piece, &mut out) {
            Ok(DecodeStatus::More) => {}
            Ok(DecodeStatus::Done) => {
                return Outcome {
                    chunks: out.len(),
                    error: None,
                }
            }
            Err(_) => {
                return Outcome {
                    chunks: out.len(),
                    error: Some("push"),
                }
            }
        }
    }
    let error = decoder.finish(&mut out).err().map(|_| "finish");
    Outcome {
        chunks: out.len(),
        error,
    }
}

/// Decode a body whole and in the pieces `data` chooses: the same outcome.
pub fn stream<D: StreamDecoder>(mut make: impl FnMut() -> D, data: &[u8]) {
    let (cut, body) = pieces(data);
    let whole = decode(make(), &[body]);
    let split = decode(make(), &cut);
    assert_eq!(
        whole, split,
        "the same body cut at other points decoded differently"
    );
}

/// A chat request every decoder is asked about.
fn chat_request(model: &str) -> ChatCompletionRequest {
    serde_json::from_value(serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
    }))
    .unwrap_or_else(|e| panic!("fuzz setup: a chat request: {e}"))
}

/// Provider `name`'s codec with explicit credentials and a local base URL,
/// so nothing is read from the environment.
pub fn params(extra: serde_json::Value) -> ProviderParams {
    ProviderParams {
        api_key: Some("sk-fuzz".into()),
        api_base: Some("http://127.0.0.1:9".into()),
        extra: extra.as_object().cloned().unwrap_or_default(),
        ..ProviderParams::default()
    }
}

fn response(status: u16, body: &[u8]) -> UpstreamResponse {
    UpstreamResponse {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        headers: HeaderMap::new(),
        body: Bytes::copy_from_slice(body),
    }
}

/// One fuzz input against `C` (provider `name`, for `model`): its first
/// byte picks what the rest is — a chat or Responses request to encode, a
/// whole chat, embeddings or Responses answer, an error answer, or a
/// streamed chat answer.
pub fn codec<C: Codec>(name: &str, model: &str, params: &ProviderParams, data: &[u8]) {
    let env = MapEnv(HashMap::new());
    let codec = C::from_params(name, params, &env)
        .unwrap_or_else(|e| panic!("fuzz setup: the {name} codec: {e}"));
    let Some((&op, payload)) = data.split_first() else {
        return;
    };
    let request = chat_request(model);
    match op % 6 {
        0 => {
            if let Ok(mut req) = serde_json::from_slice::<ChatCompletionRequest>(payload) {
                req.model = model.into();
                let _ = codec.encode_chat(&req, false);
                let _ = codec.encode_chat(&req, true);
            }
        }
        1 => {
            let _ = codec.decode_chat(&response(200, payload), &request);
        }
        2 => {
            let (status, body) = payload.split_first().unwrap_or((&0, &[]));
            let status = 400 + u16::from(*status) % 200;
            let _ = codec.decode_error(&response(status, body));
        }
        3 => stream(
            || codec.chat_stream_decoder(&request, &HeaderMap::new()),
            payload,
        ),
        4 => {
            let embed: EmbeddingRequest =
                serde_json::from_value(serde_json::json!({"model": model, "input": ["a", "b"]}))
                    .unwrap_or_else(|e| panic!("fuzz setup: an embedding request: {e}"));
            let _ = codec.decode_embeddings(vec![response(200, payload)], &embed);
        }
        _ => {
            if let Ok(mut req) = serde_json::from_slice::<CreateResponseRequest>(payload) {
                req.model = model.into();
                let _ = codec.encode_responses(&req, false);
                let _ = codec.decode_responses(&response(200, payload), &req);
            }
        }
    }
}
