//! Model listing (`GET /v1/models`, `GET /v1/models/{id}`).

use serde::{Deserialize, Serialize};

use super::chat::Extra;
use super::embeddings::object_list;

/// `GET /v1/models` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// Always `list`.
    #[serde(default = "object_list")]
    pub object: String,
    pub data: Vec<Model>,
}

/// One model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub id: String,
    /// Always `model`.
    #[serde(default = "object_model")]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub owned_by: String,
    #[serde(flatten)]
    pub extra: Extra,
}

fn object_model() -> String {
    "model".into()
}
