//! Rerank (`POST /rerank`), in the Cohere-style shape LiteLLM exposes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::chat::Extra;

/// `POST /rerank` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerankRequest {
    pub model: String,
    pub query: String,
    pub documents: Vec<RerankDocument>,
    /// Return only the best `top_n` results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    /// Echo each document in its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_documents: Option<bool>,
    /// Fields of object documents to rank on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_fields: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chunks_per_doc: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_doc: Option<u32>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A document to rank: plain text or an object (e.g. `{"text": ..., "title": ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RerankDocument {
    Text(String),
    Object(Map<String, Value>),
}

impl RerankDocument {
    /// The document's text: the string itself, or an object's `text` field,
    /// or the object as JSON when it has none.
    pub fn text(&self) -> String {
        match self {
            RerankDocument::Text(t) => t.clone(),
            RerankDocument::Object(o) => match o.get("text") {
                Some(Value::String(t)) => t.clone(),
                _ => Value::Object(o.clone()).to_string(),
            },
        }
    }
}

/// `POST /rerank` response body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub results: Vec<RerankResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<RerankMeta>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One ranked document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerankResult {
    /// Position of the document in the request's `documents`.
    pub index: u32,
    pub relevance_score: f64,
    /// The document (`{"text": ...}`) when `return_documents` was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
}

/// `meta` of a rerank response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed_units: Option<BilledUnits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// What the provider bills for a rerank call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BilledUnits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_units: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(flatten)]
    pub extra: Extra,
}
