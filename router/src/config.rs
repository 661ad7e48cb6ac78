//! LiteLLM's `model_list` and `router_settings`, as its `config.yaml` spells them.
//!
//! These types deserialize from any serde format (the proxy reads YAML). Values
//! written `os.environ/NAME` are resolved through [`Env`] when the router is
//! built. Keys llmux does not know are kept in `extra` so the caller can warn
//! about them instead of silently misreading a config.

use std::collections::BTreeMap;
use std::time::Duration;

use llmux_core::{Env, Error, ProviderParams, Result};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// One entry of `model_list`: a deployment of a model group.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelListEntry {
    /// The model group clients ask for (`gpt-4o`, `claude`, `anthropic/*`, `*`).
    pub model_name: String,
    /// How to reach the deployment: provider model, credentials, limits and prices.
    pub litellm_params: LitellmParams,
    /// Optional metadata: deployment id, context window, prices.
    #[serde(default)]
    pub model_info: Option<ModelInfoConfig>,
}

/// `litellm_params` of a deployment.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LitellmParams {
    /// `provider/model` to call (`azure/my-deployment`, `groq/llama-3.3-70b-versatile`).
    pub model: String,
    /// API key for the provider; may be an `os.environ/NAME` reference.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Base URL that replaces the provider's default endpoint.
    #[serde(default)]
    pub api_base: Option<String>,
    /// API version sent to the provider (e.g. Azure's `api-version`).
    #[serde(default)]
    pub api_version: Option<String>,
    /// OpenAI organization id, sent as the `OpenAI-Organization` header.
    #[serde(default)]
    pub organization: Option<String>,
    /// Requests per minute this deployment accepts.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub rpm: Option<u64>,
    /// Tokens per minute this deployment accepts.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub tpm: Option<u64>,
    /// Relative share of traffic for simple-shuffle.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub weight: Option<f64>,
    /// Seconds for a whole call.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub timeout: Option<f64>,
    /// Seconds to the first chunk of a stream.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub stream_timeout: Option<f64>,
    /// Retries for this deployment's group (overrides `num_retries`).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub max_retries: Option<u64>,
    /// USD per input token; takes precedence over `model_info.input_cost_per_token`.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub input_cost_per_token: Option<f64>,
    /// USD per output token; takes precedence over `model_info.output_cost_per_token`.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub output_cost_per_token: Option<f64>,
    /// Headers added to every upstream request.
    #[serde(default, alias = "extra_headers")]
    pub headers: Option<BTreeMap<String, String>>,
    /// Provider-specific parameters (`aws_region_name`, `vertex_project`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `model_info` of a deployment.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelInfoConfig {
    /// Stable deployment id (generated when absent).
    #[serde(default)]
    pub id: Option<String>,
    /// Context window in tokens, checked before calling when pre-call checks are on
    /// (falls back to the price table's value).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub max_input_tokens: Option<u64>,
    /// Maximum output tokens of the model; reported by `/model/info`.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub max_output_tokens: Option<u64>,
    /// USD per input token, used when `litellm_params` sets none.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub input_cost_per_token: Option<f64>,
    /// USD per output token, used when `litellm_params` sets none.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub output_cost_per_token: Option<f64>,
    /// LiteLLM's `base_model`: the model this deployment is priced and sized
    /// as, for deployments named freely (Azure's `my-gpt4o-deployment` →
    /// `azure/gpt-4o` or `gpt-4o`).
    #[serde(default)]
    pub base_model: Option<String>,
    /// Kind of model as LiteLLM names it (`chat`, `embedding`, …); reported by `/model/info`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Other `model_info` keys, kept as written.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `router_settings` (and the routing keys LiteLLM also accepts in `litellm_settings`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RouterSettings {
    /// `simple-shuffle` (default), `least-busy`, `latency-based-routing`,
    /// `usage-based-routing`, `usage-based-routing-v2`, `cost-based-routing`.
    #[serde(default)]
    pub routing_strategy: Option<String>,
    /// Options for the routing strategy.
    #[serde(default)]
    pub routing_strategy_args: Option<RoutingStrategyArgs>,
    /// Retries for a retryable failure unless `retry_policy` or the group's
    /// `max_retries` says otherwise. Default 2.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub num_retries: Option<u64>,
    /// Retries per error class: `RateLimitErrorRetries`, `TimeoutErrorRetries`, …
    #[serde(default)]
    pub retry_policy: Option<BTreeMap<String, u64>>,
    /// Minimum seconds to wait before a retry.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub retry_after: Option<f64>,
    /// Failures within a minute before a deployment is cooled down.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub allowed_fails: Option<u64>,
    /// Seconds a failing deployment is skipped.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub cooldown_time: Option<f64>,
    /// Seconds for a whole call, for deployments that set no `timeout`.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub timeout: Option<f64>,
    /// Seconds to the first chunk of a stream, for deployments that set no `stream_timeout`.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub stream_timeout: Option<f64>,
    /// `[{"gpt-4o": ["claude", "gpt-4o-mini"]}]`; a `"*"` key applies to every group.
    #[serde(default)]
    pub fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    /// Like `fallbacks`, for calls whose prompt exceeds the context window.
    #[serde(default)]
    pub context_window_fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    /// Like `fallbacks`, for calls a provider refused under its content policy.
    #[serde(default)]
    pub content_policy_fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    /// Groups tried when a group has no fallback of its own.
    #[serde(default)]
    pub default_fallbacks: Option<Vec<String>>,
    /// Check the prompt against `max_input_tokens` before calling.
    #[serde(default)]
    pub enable_pre_call_checks: Option<bool>,
    /// `alias → model group`.
    #[serde(default)]
    pub model_group_alias: Option<BTreeMap<String, String>>,
    /// llmux: hedged requests per model group.
    #[serde(default)]
    pub hedging: Option<BTreeMap<String, HedgeSettings>>,
    /// Keys llmux does not know (reported by the caller).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `routing_strategy_args`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RoutingStrategyArgs {
    /// Latency-based: deployments within `(1 + buffer) × fastest` count as equally fast.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub lowest_latency_buffer: Option<f64>,
    /// Other `routing_strategy_args` keys, which llmux ignores.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// llmux extension: send a second copy of a slow call to another deployment.
#[derive(Debug, Clone, Deserialize)]
pub struct HedgeSettings {
    /// Latency percentile (0–100) after which the hedge is sent. Default 95.
    #[serde(default = "default_percentile")]
    pub percentile: f64,
    /// Calls observed before hedging starts. Default 20.
    #[serde(default = "default_min_samples")]
    pub min_samples: u64,
    /// Seconds of latency history the percentile is taken over (the previous
    /// full period is used, so hedging starts one period after start). Default 10.
    #[serde(default = "default_period")]
    pub period: f64,
}

fn default_period() -> f64 {
    10.0
}

fn default_percentile() -> f64 {
    95.0
}

fn default_min_samples() -> u64 {
    20
}

impl RouterSettings {
    /// The strategy name, defaulting to simple-shuffle.
    pub fn strategy_name(&self) -> &str {
        self.routing_strategy.as_deref().unwrap_or("simple-shuffle")
    }
}

/// Seconds as a `Duration`, rejecting negative and non-finite values.
pub fn seconds(field: &str, value: Option<f64>) -> Result<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(Error::bad_request(format!(
            "{field}: {s} is not a number of seconds"
        ))),
    }
}

/// Resolve `os.environ/NAME` to the variable's value.
pub fn resolve_env_ref(value: &str, env: &dyn Env) -> Result<String> {
    match value.strip_prefix("os.environ/") {
        Some(name) => env.var(name).ok_or_else(|| {
            Error::bad_request(format!(
                "environment variable {name} is not set (referenced as os.environ/{name})"
            ))
        }),
        None => Ok(value.to_string()),
    }
}

impl LitellmParams {
    /// Connection parameters with every `os.environ/…` reference resolved.
    pub fn provider_params(&self, env: &dyn Env) -> Result<ProviderParams> {
        let resolve = |v: &Option<String>| -> Result<Option<String>> {
            v.as_deref().map(|s| resolve_env_ref(s, env)).transpose()
        };
        let mut extra = Map::new();
        for (k, v) in &self.extra {
            let v = match v {
                Value::String(s) => Value::String(resolve_env_ref(s, env)?),
                other => other.clone(),
            };
            extra.insert(k.clone(), v);
        }
        let mut extra_headers = Vec::new();
        for (k, v) in self.headers.iter().flatten() {
            extra_headers.push((k.clone(), resolve_env_ref(v, env)?));
        }
        Ok(ProviderParams {
            api_key: resolve(&self.api_key)?,
            api_base: resolve(&self.api_base)?,
            api_version: resolve(&self.api_version)?,
            organization: resolve(&self.organization)?,
            timeout: seconds("timeout", self.timeout)?,
            extra_headers,
            extra,
        })
    }
}

/// Numbers in LiteLLM configs are often written as strings (`rpm: "100"`)
/// or come from `os.environ/…`; accept both.
fn de_opt_f64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<f64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected a number, got '{s}'"))),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a number, got {other}"
        ))),
    }
}

fn de_opt_u64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    match de_opt_f64(d)? {
        None => Ok(None),
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(Some(f as u64)),
        Some(f) => Err(serde::de::Error::custom(format!(
            "expected a whole non-negative number, got {f}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::MapEnv;
    use serde_json::json;

    #[test]
    fn parses_litellm_model_list_entry() {
        let entry: ModelListEntry = serde_json::from_value(json!({
            "model_name": "gpt-4o",
            "litellm_params": {
                "model": "azure/gpt-4o-eu",
                "api_key": "os.environ/AZURE_EU_KEY",
                "api_base": "https://eu.openai.azure.com",
                "api_version": "2024-10-21",
                "rpm": "100",
                "tpm": 100000,
                "weight": 2,
                "timeout": 30,
                "aws_region_name": "os.environ/REGION",
                "headers": {"X-Team": "os.environ/TEAM"}
            },
            "model_info": {"id": "eu-1", "max_input_tokens": 128000}
        }))
        .unwrap();
        assert_eq!(entry.litellm_params.rpm, Some(100));
        assert_eq!(entry.litellm_params.weight, Some(2.0));
        let env = MapEnv::new([
            ("AZURE_EU_KEY", "k1"),
            ("REGION", "eu-west-1"),
            ("TEAM", "blue"),
        ]);
        let p = entry.litellm_params.provider_params(&env).unwrap();
        assert_eq!(p.api_key.as_deref(), Some("k1"));
        assert_eq!(p.timeout, Some(Duration::from_secs(30)));
        assert_eq!(p.extra["aws_region_name"], json!("eu-west-1"));
        assert_eq!(
            p.extra_headers,
            vec![("X-Team".to_string(), "blue".to_string())]
        );
        assert_eq!(entry.model_info.unwrap().max_input_tokens, Some(128000));
    }

    #[test]
    fn missing_env_reference_is_a_clear_error() {
        let params = LitellmParams {
            model: "openai/gpt-4o".into(),
            api_key: Some("os.environ/NOPE".into()),
            ..Default::default()
        };
        let err = params.provider_params(&MapEnv::default()).unwrap_err();
        assert_eq!(
            err.message,
            "environment variable NOPE is not set (referenced as os.environ/NOPE)"
        );
    }

    #[test]
    fn bad_numbers_are_rejected() {
        let err = serde_json::from_value::<LitellmParams>(json!({"model": "x", "rpm": "lots"}))
            .unwrap_err();
        assert!(
            err.to_string().contains("expected a number, got 'lots'"),
            "{err}"
        );
        let err =
            serde_json::from_value::<LitellmParams>(json!({"model": "x", "rpm": -1})).unwrap_err();
        assert!(err.to_string().contains("whole non-negative"), "{err}");
    }

    #[test]
    fn router_settings_keep_unknown_keys() {
        let s: RouterSettings = serde_json::from_value(json!({
            "routing_strategy": "least-busy",
            "num_retries": 3,
            "retry_policy": {"RateLimitErrorRetries": 5},
            "fallbacks": [{"gpt-4o": ["claude"]}],
            "redis_host": "localhost",
            "frobnicate": true
        }))
        .unwrap();
        assert_eq!(s.strategy_name(), "least-busy");
        assert_eq!(
            s.fallbacks.unwrap()[0]["gpt-4o"],
            vec!["claude".to_string()]
        );
        assert!(s.extra.contains_key("frobnicate") && s.extra.contains_key("redis_host"));
    }
}
