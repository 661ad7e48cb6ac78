//! What a provider needs to be reached: credentials, base URL, version, timeout.
//!
//! These are the generic `litellm_params` every provider understands. Keys a
//! particular provider needs beyond them (AWS, Vertex) travel in `extra`.
//! Values missing here are looked up in the environment through [`Env`], so
//! tests can supply an environment without touching the process's.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

/// Connection parameters for one upstream deployment.
#[derive(Debug, Clone, Default)]
pub struct ProviderParams {
    /// API key for the provider; when unset, the provider reads its own
    /// environment variable (e.g. `OPENAI_API_KEY`).
    pub api_key: Option<String>,
    /// Base URL that replaces the provider's default endpoint.
    pub api_base: Option<String>,
    /// API version: Azure's `api-version` query value, Anthropic's
    /// `anthropic-version` header, or the version segment of Gemini's URL.
    pub api_version: Option<String>,
    /// OpenAI organization id (`OpenAI-Organization` header).
    pub organization: Option<String>,
    /// Whole-call timeout (for streams: time to the response head).
    pub timeout: Option<Duration>,
    /// Extra headers sent on every upstream request.
    pub extra_headers: Vec<(String, String)>,
    /// Provider-specific parameters.
    pub extra: Map<String, Value>,
}

/// A source of environment variables.
pub trait Env: Send + Sync {
    /// The variable's value, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;

    /// The first of `names` that is set.
    fn first(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.var(n))
    }
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A fixed environment (tests, embedding applications).
#[derive(Debug, Clone, Default)]
pub struct MapEnv(pub HashMap<String, String>);

impl MapEnv {
    /// An environment holding `pairs`.
    pub fn new<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        MapEnv(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }
}
