//! Moderations (`POST /v1/moderations`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::chat::Extra;

/// `POST /v1/moderations` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModerationRequest {
    /// A string, a list of strings, or a list of text / image_url parts.
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/moderations` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModerationResponse {
    pub id: String,
    pub model: String,
    pub results: Vec<ModerationResult>,
}

/// The verdict on one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModerationResult {
    pub flagged: bool,
    /// Category name → flagged.
    pub categories: Map<String, Value>,
    /// Category name → score.
    pub category_scores: Map<String, Value>,
    /// Category name → input types (`text`, `image`) it applied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_applied_input_types: Option<Map<String, Value>>,
}
