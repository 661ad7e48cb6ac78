//! Voyage AI's dialect (<https://docs.voyageai.com/reference>): the
//! OpenAI-shaped embeddings and Cohere-shaped rerank that callers send,
//! translated to what `POST {base}/embeddings` and `POST {base}/rerank` take
//! and answer, as LiteLLM translates them.
//!
//! - Embeddings: `dimensions` → `output_dimension`; `encoding_format` is
//!   sent only as `base64` (Voyage's default, `null`, is OpenAI's `float`);
//!   `user` is not sent; Voyage's own fields (`input_type`, `truncation`,
//!   `output_dtype`) pass through. Its usage has only `total_tokens`, which
//!   are all prompt tokens.
//! - Rerank: `top_n` → `top_k`; documents are sent as strings (an object
//!   document as its text); `rank_fields`, `max_chunks_per_doc` and
//!   `max_tokens_per_doc` have no Voyage equivalent and are dropped; other
//!   fields (`truncation`) pass through. The answer's `data` becomes
//!   `results`, a string `document` becomes `{"text": …}`, and
//!   `usage.total_tokens` becomes `meta.billed_units.total_tokens` and
//!   `meta.tokens.input_tokens`, as LiteLLM reports it.

use llmux_core::codec::rerank_body_base;
use llmux_core::transport::decode_json;
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::types::rerank::{RerankMeta, RerankRequest, RerankResponse, RerankResult};
use llmux_core::Result;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The body of `POST {base}/embeddings`.
pub fn embeddings_body(request: &EmbeddingRequest) -> Value {
    let mut body = Map::new();
    body.insert("input".into(), json!(request.input));
    body.insert("model".into(), json!(request.model));
    if let Some(d) = request.dimensions {
        body.insert("output_dimension".into(), json!(d));
    }
    if request.encoding_format.as_deref() == Some("base64") {
        body.insert("encoding_format".into(), json!("base64"));
    }
    for (k, v) in &request.extra {
        body.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(body)
}

/// An embeddings answer in OpenAI's shape (prompt tokens from Voyage's
/// `total_tokens`).
pub fn embeddings_response(mut response: EmbeddingResponse) -> EmbeddingResponse {
    if response.usage.prompt_tokens == 0 {
        response.usage.prompt_tokens = response.usage.total_tokens;
    }
    response
}

/// The body of `POST {base}/rerank`.
pub fn rerank_body(request: &RerankRequest) -> Value {
    let mut body = rerank_body_base(request, "top_k");
    if let Some(r) = request.return_documents {
        body.insert("return_documents".into(), json!(r));
    }
    for (k, v) in &request.extra {
        body.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(body)
}

#[derive(Deserialize)]
struct VoyageRerank {
    data: Vec<VoyageResult>,
    #[serde(default)]
    usage: Option<VoyageUsage>,
}

#[derive(Deserialize)]
struct VoyageResult {
    index: u32,
    relevance_score: f64,
    #[serde(default)]
    document: Option<Value>,
}

#[derive(Deserialize)]
struct VoyageUsage {
    #[serde(default)]
    total_tokens: u64,
}

/// A rerank answer in the Cohere shape.
pub fn rerank_response(body: &[u8], model: &str) -> Result<RerankResponse> {
    let answer: VoyageRerank = decode_json(body, "voyage", model)?;
    let results = answer
        .data
        .into_iter()
        .map(|r| RerankResult {
            index: r.index,
            relevance_score: r.relevance_score,
            document: r.document.map(|d| match d {
                Value::String(text) => json!({ "text": text }),
                other => other,
            }),
        })
        .collect();
    let meta = answer.usage.map(|u| RerankMeta {
        billed_units: serde_json::from_value(json!({"total_tokens": u.total_tokens})).ok(),
        tokens: Some(json!({"input_tokens": u.total_tokens, "output_tokens": 0})),
        ..RerankMeta::default()
    });
    Ok(RerankResponse {
        results,
        meta,
        ..RerankResponse::default()
    })
}
