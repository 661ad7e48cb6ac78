//! `POST /api/embed` and `GET /api/tags`, pure.
//!
//! Embeddings: `input` (one text or several) as is; `dimensions` passes
//! through; `truncate`, `keep_alive` and `options` extra fields pass through.
//! `encoding_format: "base64"` is encoded by llmux (little-endian f32, as
//! OpenAI). Usage is `prompt_eval_count`.
//!
//! Models: each entry of `/api/tags` becomes a model whose id is its `name`
//! (`llama3.2:latest`), `created` its `modified_at`, owned by `ollama`.

use llmux_core::codec::pass_through;
use llmux_core::embeddings::VectorLists;
use llmux_core::transport::decode_failure;
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest};
use llmux_core::types::models::{Model, ModelList};
use llmux_core::{Error, Result};
use serde_json::{json, Map, Value};

use crate::response::parse_rfc3339;

/// The `/api/embed` body for `request`.
pub fn embed_body(request: &EmbeddingRequest) -> Result<Value> {
    let input = match &request.input {
        EmbeddingInput::Text(t) => json!(t),
        EmbeddingInput::Texts(ts) => json!(ts),
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => {
            return Err(
                Error::bad_request("Ollama embedding models take text, not token ids")
                    .with_param("input"),
            )
        }
    };
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("input".into(), input);
    if let Some(d) = request.dimensions {
        body.insert("dimensions".into(), json!(d));
    }
    pass_through(
        &mut body,
        &request.extra,
        &["truncate", "keep_alive", "options"],
    );
    Ok(Value::Object(body))
}

fn bad_gateway(provider: &str, model: &str, what: impl std::fmt::Display) -> Error {
    decode_failure(provider, model, "response", what)
}

/// Where `/api/embed` answers keep their vectors (`embeddings`) and usage
/// (`prompt_eval_count`).
pub const API_EMBED: VectorLists = VectorLists {
    missing: "no embeddings",
    lists: |v| v.get("embeddings")?.as_array(),
    prompt_tokens: |v| {
        v.get("prompt_eval_count")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    },
};

/// Decode a `/api/tags` response.
pub fn decode_tags(body: &[u8], provider: &str) -> Result<ModelList> {
    let v: Value = serde_json::from_slice(body).map_err(|e| bad_gateway(provider, "", e))?;
    let data = v
        .get("models")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_gateway(provider, "", "no models list"))?
        .iter()
        .filter_map(|m| {
            let name = m
                .get("name")
                .or_else(|| m.get("model"))
                .and_then(Value::as_str)?;
            Some(Model {
                id: name.to_string(),
                object: "model".into(),
                created: m
                    .get("modified_at")
                    .and_then(Value::as_str)
                    .and_then(parse_rfc3339)
                    .unwrap_or(0),
                owned_by: "ollama".into(),
                extra: Default::default(),
            })
        })
        .collect();
    Ok(ModelList {
        object: "list".into(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::types::embeddings::EmbeddingVector;

    #[test]
    fn embed_round_trip() {
        let mut r = EmbeddingRequest::new(
            "all-minilm",
            EmbeddingInput::Texts(vec![
                "Why is the sky blue?".into(),
                "Why is the grass green?".into(),
            ]),
        );
        r.dimensions = Some(2);
        r.extra.insert("truncate".into(), json!(false));
        assert_eq!(
            embed_body(&r).unwrap(),
            json!({"model": "all-minilm", "input": ["Why is the sky blue?", "Why is the grass green?"],
                   "dimensions": 2, "truncate": false})
        );
        let body = br#"{"model":"all-minilm","embeddings":[[0.5,-1.0],[0.25,2.0]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}"#;
        let got = API_EMBED.decode(body, &r, "ollama").unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            json!({"object": "list", "model": "all-minilm",
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
                            {"object": "embedding", "index": 1, "embedding": [0.25, 2.0]}],
                   "usage": {"prompt_tokens": 8, "total_tokens": 8}})
        );
        r.encoding_format = Some("base64".into());
        assert_eq!(
            API_EMBED.decode(body, &r, "ollama").unwrap().data[0].embedding,
            EmbeddingVector::Base64("AAAAPwAAgL8=".into())
        );
        assert!(embed_body(&EmbeddingRequest::new("m", EmbeddingInput::Tokens(vec![1]))).is_err());
    }

    #[test]
    fn tags() {
        let body = br#"{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest","modified_at":"2023-12-12T14:13:43.416799Z","size":2019393189,"digest":"a80c4f17acd5","details":{"format":"gguf","family":"llama","parameter_size":"3.2B","quantization_level":"Q4_K_M"}}]}"#;
        assert_eq!(
            serde_json::to_value(decode_tags(body, "ollama").unwrap()).unwrap(),
            json!({"object": "list", "data": [{"id": "llama3.2:latest", "object": "model", "created": 1_702_390_423u64, "owned_by": "ollama"}]})
        );
        assert!(decode_tags(b"{}", "ollama").is_err());
    }
}
