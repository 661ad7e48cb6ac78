//! What a provider needs to be reached: credentials, base URL, version, timeout.
//!
//! These are the generic `litellm_params` every provider understands. Keys a
//! particular provider needs beyond them (AWS, Vertex) travel in `extra`.
//! Values missing here are looked up in the environment through [`Env`], so
//! tests can supply an environment without touching the process's.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

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

impl ProviderParams {
    /// The API key: `api_key` when set and not empty, else the first of the
    /// environment variables `vars` that is set.
    pub fn key_or_env(&self, env: &dyn Env, vars: &[&str]) -> Option<String> {
        self.api_key
            .clone()
            .filter(|k| !k.is_empty())
            .or_else(|| env.first(vars))
    }

    /// The base URL: `api_base` when not blank, else the first of the
    /// environment variables `vars` that is set, else `default`.
    pub fn base_or_env(&self, env: &dyn Env, vars: &[&str], default: &str) -> String {
        self.api_base
            .clone()
            .filter(|b| !b.trim().is_empty())
            .or_else(|| env.first(vars))
            .unwrap_or_else(|| default.to_string())
    }

    /// A string from `extra`: the first of `names` that is a non-empty
    /// string, trimmed.
    pub fn extra_str(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| {
            self.extra
                .get(*n)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
    }
}

/// `name` as the prefix a provider crate serves (one of `served`), or a
/// `BadRequest` saying that `llmux-{family}` serves only `served`.
pub fn served_name(family: &str, name: &str, served: &[&'static str]) -> Result<&'static str> {
    served.iter().copied().find(|s| *s == name).ok_or_else(|| {
        Error::bad_request(format!(
            "llmux-{family} has no provider named '{name}' (it serves {})",
            served.join(" and ")
        ))
    })
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
