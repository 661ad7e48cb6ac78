//! Embeddings through InvokeModel (pure): Amazon Titan text embeddings and
//! Cohere Embed on Bedrock.
//!
//! - Titan (`amazon.titan-embed-text-v1`, `amazon.titan-embed-text-v2:0`):
//!   one text per call, `{"inputText", "dimensions"?, "normalize"?}` →
//!   `{"embedding": [...], "inputTextTokenCount": n}`. A list of inputs is
//!   sent as one call per text (concurrently) and reassembled in order.
//! - Cohere (`cohere.embed-english-v3`, `cohere.embed-multilingual-v3`,
//!   `cohere.embed-v4:0`): one call, `{"texts", "input_type", "truncate"?,
//!   "embedding_types"?, "output_dimension"?}` → `{"embeddings": [[...]]}` or
//!   `{"embeddings": {"float": [[...]]}}`; `input_type` defaults to
//!   `search_document` as in LiteLLM. Token usage comes from the
//!   `X-Amzn-Bedrock-Input-Token-Count` response header.
//!
//! `encoding_format: "base64"` returns little-endian f32 bytes in base64, as
//! OpenAI does.

use llmux_core::embeddings::{embedding_response, input_texts, vector, wants_base64};
use llmux_core::transport::decode_failure;
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::{Error, ErrorKind, Result};
use serde_json::{json, Map, Value};

/// Which request/response shape a model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedFamily {
    /// Amazon Titan text embeddings (v1, v2).
    Titan,
    /// Cohere Embed (v3, v4).
    Cohere,
}

/// The family of `model`, or `Unsupported` naming the supported ones.
pub fn family(model: &str) -> Result<EmbedFamily> {
    if model.contains("amazon.titan-embed-text") {
        Ok(EmbedFamily::Titan)
    } else if model.contains("cohere.embed") {
        Ok(EmbedFamily::Cohere)
    } else {
        Err(Error::new(
            ErrorKind::Unsupported,
            format!("bedrock embeddings support Amazon Titan text (amazon.titan-embed-text-*) and Cohere Embed (cohere.embed-*) models, not '{model}'"),
        )
        .with_provider("bedrock"))
    }
}

/// The texts to embed.
pub fn texts(request: &EmbeddingRequest) -> Result<Vec<&str>> {
    let texts = input_texts(request).ok_or_else(|| {
        Error::bad_request("bedrock embedding models take text, not token ids")
            .with_provider("bedrock")
    })?;
    if texts.is_empty() {
        return Err(Error::bad_request("input must not be empty").with_provider("bedrock"));
    }
    Ok(texts)
}

fn extra<'a>(request: &'a EmbeddingRequest, name: &str) -> Option<&'a Value> {
    request.extra.get(name).filter(|v| !v.is_null())
}

/// Titan's body for one `text`.
pub fn titan_body(request: &EmbeddingRequest, text: &str) -> Value {
    let mut body = Map::new();
    body.insert("inputText".into(), json!(text));
    if let Some(d) = request.dimensions {
        body.insert("dimensions".into(), json!(d));
    }
    if let Some(n) = extra(request, "normalize") {
        body.insert("normalize".into(), n.clone());
    }
    if let Some(t) = extra(request, "embeddingTypes") {
        body.insert("embeddingTypes".into(), t.clone());
    }
    Value::Object(body)
}

/// Cohere's body for all `texts`.
pub fn cohere_body(request: &EmbeddingRequest, texts: &[&str]) -> Value {
    let mut body = Map::new();
    body.insert("texts".into(), json!(texts));
    body.insert(
        "input_type".into(),
        extra(request, "input_type")
            .cloned()
            .unwrap_or_else(|| json!("search_document")),
    );
    for key in ["truncate", "embedding_types"] {
        if let Some(v) = extra(request, key) {
            body.insert(key.into(), v.clone());
        }
    }
    if let Some(d) = request.dimensions {
        body.insert("output_dimension".into(), json!(d));
    }
    Value::Object(body)
}

fn bad_gateway(provider: &str, model: &str, what: &str) -> Error {
    decode_failure(provider, model, "embeddings response", what)
}

/// Decode the Titan answers (one body per input text, in input order).
pub fn decode_titan(
    bodies: &[bytes::Bytes],
    request: &EmbeddingRequest,
    provider: &str,
) -> Result<EmbeddingResponse> {
    let model = request.model.as_str();
    let mut data = Vec::with_capacity(bodies.len());
    let mut tokens = 0;
    for body in bodies {
        let v: Value = llmux_core::transport::decode_json(body, provider, model)?;
        let embedding = v
            .get("embedding")
            .and_then(|e| vector(e, wants_base64(request)).ok())
            .ok_or_else(|| bad_gateway(provider, model, "no embedding array"))?;
        tokens += v
            .get("inputTextTokenCount")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        data.push(embedding);
    }
    Ok(embedding_response(data, model, tokens))
}

/// Decode a Cohere answer; `input_tokens` is the token-count response header.
pub fn decode_cohere(
    body: &[u8],
    input_tokens: Option<u64>,
    request: &EmbeddingRequest,
    provider: &str,
) -> Result<EmbeddingResponse> {
    let model = request.model.as_str();
    let v: Value = llmux_core::transport::decode_json(body, provider, model)?;
    let lists =
        match v.get("embeddings") {
            Some(Value::Array(a)) => a,
            Some(Value::Object(by_type)) => by_type
                .get("float")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    bad_gateway(
                        provider,
                        model,
                        "no float embeddings (set embedding_types to include \"float\")",
                    )
                })?,
            _ => return Err(bad_gateway(provider, model, "no embeddings")),
        };
    let data = lists
        .iter()
        .map(|e| vector(e, wants_base64(request)).ok())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad_gateway(provider, model, "an embedding is not a list of numbers"))?;
    Ok(embedding_response(data, model, input_tokens.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use bytes::Bytes;
    use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingVector};

    fn req(model: &str, input: EmbeddingInput) -> EmbeddingRequest {
        EmbeddingRequest::new(model, input)
    }

    #[test]
    fn families_and_bodies() {
        assert_eq!(
            family("amazon.titan-embed-text-v2:0").unwrap(),
            EmbedFamily::Titan
        );
        assert_eq!(
            family("cohere.embed-english-v3").unwrap(),
            EmbedFamily::Cohere
        );
        assert_eq!(
            family("amazon.titan-embed-image-v1").unwrap_err().kind,
            ErrorKind::Unsupported
        );
        let mut r = req(
            "amazon.titan-embed-text-v2:0",
            EmbeddingInput::Text("hi".into()),
        );
        r.dimensions = Some(256);
        r.extra.insert("normalize".into(), json!(true));
        assert_eq!(
            titan_body(&r, "hi"),
            json!({"inputText": "hi", "dimensions": 256, "normalize": true})
        );
        let mut r = req(
            "cohere.embed-english-v3",
            EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
        );
        assert_eq!(
            cohere_body(&r, &["a", "b"]),
            json!({"texts": ["a", "b"], "input_type": "search_document"})
        );
        r.extra.insert("input_type".into(), json!("search_query"));
        r.extra.insert("truncate".into(), json!("END"));
        assert_eq!(
            cohere_body(&r, &["a", "b"]),
            json!({"texts": ["a", "b"], "input_type": "search_query", "truncate": "END"})
        );
        assert!(texts(&req("m", EmbeddingInput::Tokens(vec![1]))).is_err());
        assert!(texts(&req("m", EmbeddingInput::Texts(vec![]))).is_err());
    }

    #[test]
    fn decoding_and_base64() {
        let r = req(
            "amazon.titan-embed-text-v1",
            EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
        );
        let bodies = [
            Bytes::from_static(br#"{"embedding": [0.5, -1.0], "inputTextTokenCount": 3}"#),
            Bytes::from_static(br#"{"embedding": [0.25, 2.0], "inputTextTokenCount": 4}"#),
        ];
        let got = serde_json::to_value(decode_titan(&bodies, &r, "bedrock").unwrap()).unwrap();
        assert_eq!(
            got,
            json!({"object": "list", "data": [
                {"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
                {"object": "embedding", "index": 1, "embedding": [0.25, 2.0]}
            ], "model": "amazon.titan-embed-text-v1", "usage": {"prompt_tokens": 7, "total_tokens": 7}})
        );
        let mut r = req("cohere.embed-english-v3", EmbeddingInput::Text("a".into()));
        r.encoding_format = Some("base64".into());
        let got = decode_cohere(br#"{"embeddings": {"float": [[1.0, -2.5]]}, "id": "x", "response_type": "embeddings_by_type", "texts": ["a"]}"#, Some(2), &r, "bedrock").unwrap();
        let EmbeddingVector::Base64(b) = &got.data[0].embedding else {
            panic!("base64 expected")
        };
        let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
        assert_eq!(
            bytes,
            [1.0f32.to_le_bytes(), (-2.5f32).to_le_bytes()].concat()
        );
        assert_eq!(got.usage.prompt_tokens, 2);
        let err = decode_cohere(br#"{"id": "x"}"#, None, &r, "bedrock").unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadGateway);
    }
}
