//! OpenAI-shaped request and response types, one module per endpoint.

// Wire types: every field keeps its name from OpenAI's API reference, which documents it.
#![allow(missing_docs)]

pub mod audio;
pub mod chat;
pub mod embeddings;
pub mod images;
pub mod models;
pub mod moderations;
pub mod rerank;
pub mod responses;

use serde::{Deserialize, Serialize};

/// A field OpenAI accepts as either one value or a list (`stop`, `input`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}
