//! Embed v2 (`POST /v2/embed`) and Rerank v2 (`POST /v2/rerank`), pure.
//!
//! Embeddings: `input` → `texts`; `input_type` (required by Cohere) comes from
//! the extra field `input_type`, default `search_document` as in LiteLLM;
//! `dimensions` → `output_dimension`; `truncate` and `max_tokens` pass through.
//! Floats are always asked for (`embedding_types: ["float"]`) and
//! `encoding_format: "base64"` is honoured locally (little-endian f32, as
//! OpenAI). Usage is `meta.billed_units.input_tokens`.
//!
//! Rerank: `query`, `documents` (object documents are sent as their `text`, or
//! as JSON when they have none; v2 takes strings only), `top_n`,
//! `max_tokens_per_doc`. Cohere v2 no longer echoes documents, so
//! `return_documents: true` is answered here from the request's documents
//! (`{"text": ...}`), the shape LiteLLM and Cohere v1 return.

use llmux_core::codec::{pass_through, rerank_body_base};
use llmux_core::embeddings::{input_texts, VectorLists};
use llmux_core::transport::decode_failure;
use llmux_core::types::embeddings::EmbeddingRequest;
use llmux_core::types::rerank::{RerankRequest, RerankResponse};
use llmux_core::{Error, Result};
use serde_json::{json, Map, Value};

/// The `input_type` sent when the caller gives none.
pub const DEFAULT_INPUT_TYPE: &str = "search_document";

/// The Embed v2 body for `request`.
pub fn embed_body(request: &EmbeddingRequest) -> Result<Value> {
    let texts = input_texts(request).ok_or_else(|| {
        Error::bad_request("Cohere embedding models take text, not token ids").with_param("input")
    })?;
    if let Some(f) = request
        .encoding_format
        .as_deref()
        .filter(|f| !matches!(*f, "float" | "base64"))
    {
        return Err(
            Error::bad_request(format!("encoding_format '{f}' is not supported"))
                .with_param("encoding_format"),
        );
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("texts".into(), json!(texts));
    body.insert(
        "input_type".into(),
        request
            .extra
            .get("input_type")
            .cloned()
            .unwrap_or_else(|| json!(DEFAULT_INPUT_TYPE)),
    );
    body.insert("embedding_types".into(), json!(["float"]));
    if let Some(d) = request.dimensions {
        body.insert("output_dimension".into(), json!(d));
    }
    pass_through(&mut body, &request.extra, &["truncate", "max_tokens"]);
    Ok(Value::Object(body))
}

fn bad_gateway(provider: &str, model: &str, what: impl std::fmt::Display) -> Error {
    decode_failure(provider, model, "response", what)
}

/// Where Embed v2 answers keep their vectors (`embeddings.float`, or the
/// older bare list) and usage (`meta.billed_units.input_tokens`).
pub const EMBED_V2: VectorLists = VectorLists {
    missing: "no float embeddings",
    lists: |v| match v.get("embeddings") {
        Some(Value::Object(by_type)) => by_type.get("float")?.as_array(),
        Some(Value::Array(list)) => Some(list),
        _ => None,
    },
    prompt_tokens: |v| {
        v.pointer("/meta/billed_units/input_tokens")
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map_or(0, |t| t.round() as u64)
    },
};

/// The Rerank v2 body for `request`.
pub fn rerank_body(request: &RerankRequest) -> Value {
    let mut body = rerank_body_base(request, "top_n");
    if let Some(n) = request.max_tokens_per_doc {
        body.insert("max_tokens_per_doc".into(), json!(n));
    }
    if let Some(v) = request.extra.get("priority") {
        body.insert("priority".into(), v.clone());
    }
    Value::Object(body)
}

/// Decode a Rerank v2 response; fills `document` when the caller asked for it.
pub fn decode_rerank(
    body: &[u8],
    request: &RerankRequest,
    provider: &str,
) -> Result<RerankResponse> {
    let mut response: RerankResponse =
        serde_json::from_slice(body).map_err(|e| bad_gateway(provider, &request.model, e))?;
    if request.return_documents == Some(true) {
        for r in &mut response.results {
            if r.document.is_none() {
                let doc = usize::try_from(r.index)
                    .ok()
                    .and_then(|i| request.documents.get(i))
                    .ok_or_else(|| {
                        bad_gateway(
                            provider,
                            &request.model,
                            format!("result index {} is out of range", r.index),
                        )
                    })?;
                r.document = Some(json!({"text": doc.text()}));
            }
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingVector};
    use llmux_core::types::rerank::RerankDocument;

    #[test]
    fn embed_body_and_decode() {
        let mut r = EmbeddingRequest::new(
            "embed-v4.0",
            EmbeddingInput::Texts(vec!["a".into(), "b".into()]),
        );
        r.dimensions = Some(256);
        r.extra.insert("input_type".into(), json!("search_query"));
        r.extra.insert("truncate".into(), json!("END"));
        assert_eq!(
            embed_body(&r).unwrap(),
            json!({"model": "embed-v4.0", "texts": ["a", "b"], "input_type": "search_query",
                   "embedding_types": ["float"], "output_dimension": 256, "truncate": "END"})
        );
        let body = json!({"id": "e1", "response_type": "embeddings_by_type",
            "embeddings": {"float": [[0.5, -1.0], [0.25, 2.0]]}, "texts": ["a", "b"],
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 2}}});
        let got = EMBED_V2
            .decode(body.to_string().as_bytes(), &r, "cohere")
            .unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            json!({"object": "list", "model": "embed-v4.0",
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
                            {"object": "embedding", "index": 1, "embedding": [0.25, 2.0]}],
                   "usage": {"prompt_tokens": 2, "total_tokens": 2}})
        );
        r.encoding_format = Some("base64".into());
        let got = EMBED_V2
            .decode(body.to_string().as_bytes(), &r, "cohere")
            .unwrap();
        // 0.5f32 = 00 00 00 3f, -1.0f32 = 00 00 80 bf
        assert_eq!(
            got.data[0].embedding,
            EmbeddingVector::Base64("AAAAPwAAgL8=".into())
        );
        let plain = EmbeddingRequest::new("embed-v4.0", EmbeddingInput::Text("x".into()));
        assert_eq!(
            embed_body(&plain).unwrap()["input_type"],
            json!("search_document")
        );
        let tokens = EmbeddingRequest::new("m", EmbeddingInput::Tokens(vec![1]));
        assert!(embed_body(&tokens).is_err());
    }

    #[test]
    fn rerank_body_and_documents() {
        let r: RerankRequest = serde_json::from_value(json!({
            "model": "rerank-v3.5", "query": "capital?",
            "documents": ["Paris is in France.", {"text": "Berlin", "title": "DE"}, {"title": "no text"}],
            "top_n": 2, "return_documents": true, "max_tokens_per_doc": 512
        }))
        .unwrap();
        assert_eq!(
            rerank_body(&r),
            json!({"model": "rerank-v3.5", "query": "capital?",
                   "documents": ["Paris is in France.", "Berlin", "{\"title\":\"no text\"}"],
                   "top_n": 2, "max_tokens_per_doc": 512})
        );
        let body = br#"{"id":"r-1","results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.1}],
            "meta":{"api_version":{"version":"2","is_experimental":false},"billed_units":{"search_units":1}}}"#;
        let got = decode_rerank(body, &r, "cohere").unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            json!({"id": "r-1", "results": [
                {"index": 1, "relevance_score": 0.9, "document": {"text": "Berlin"}},
                {"index": 0, "relevance_score": 0.1, "document": {"text": "Paris is in France."}}],
                "meta": {"api_version": {"version": "2", "is_experimental": false}, "billed_units": {"search_units": 1}}})
        );
        assert!(matches!(r.documents[0], RerankDocument::Text(_)));
        let bad = br#"{"results":[{"index":9,"relevance_score":0.9}]}"#;
        assert!(decode_rerank(bad, &r, "cohere").is_err());
    }
}
