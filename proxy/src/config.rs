//! LiteLLM's `config.yaml`, read as is.
//!
//! Sections: `model_list`, `router_settings`, `litellm_settings`,
//! `general_settings`, `environment_variables`. `os.environ/NAME` values are
//! resolved (against `environment_variables` first, then the process
//! environment). A key llmux does not know is reported as a warning with its
//! path — never silently misread; a value of the wrong shape fails with file,
//! key path and reason.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use llmux_core::{Env, ProcessEnv};
use llmux_router::{ModelListEntry, RouterSettings};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A config problem, with where it is.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {path}: {reason}")]
pub struct ConfigError {
    /// The config file's path, as displayed.
    pub file: String,
    /// Key path, e.g. `model_list[2].litellm_params.rpm`.
    pub path: String,
    /// What is wrong at `path`.
    pub reason: String,
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProxyConfig {
    /// The deployments, one per entry (`model_list`).
    pub model_list: Vec<ModelListEntry>,
    /// Routing settings (`router_settings`).
    pub router_settings: RouterSettings,
    /// The `litellm_settings` section.
    pub litellm_settings: LitellmSettings,
    /// The `general_settings` section.
    pub general_settings: GeneralSettings,
    /// Per-callback settings (`callback_settings`: `callback_type`,
    /// `endpoint`, `headers`, `log_format`, `event_types`, …).
    pub callback_settings: Map<String, Value>,
    /// Variables that `os.environ/NAME` references see before the process environment
    /// (`environment_variables`).
    pub environment_variables: BTreeMap<String, Value>,
    /// Top-level keys other than the known sections, reported as warnings.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `litellm_settings` llmux acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LitellmSettings {
    /// Drop parameters a provider cannot take instead of failing.
    pub drop_params: Option<bool>,
    /// Retries per call; used when `router_settings.num_retries` is unset.
    pub num_retries: Option<u64>,
    /// Seconds for a whole call; used when `router_settings.timeout` is unset.
    pub request_timeout: Option<f64>,
    /// Fallback groups; used when `router_settings.fallbacks` is unset.
    pub fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    /// Context-window fallbacks; used when `router_settings.context_window_fallbacks` is unset.
    pub context_window_fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    /// Content-policy fallbacks; used when `router_settings.content_policy_fallbacks` is unset.
    pub content_policy_fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    /// A budget in USD for every call the gateway serves (LiteLLM's
    /// proxy-wide `max_budget`).
    pub max_budget: Option<f64>,
    /// Turn on the response cache.
    pub cache: Option<bool>,
    /// Where the response cache keeps entries and for how long (read when `cache` is true).
    pub cache_params: Option<CacheParams>,
    /// Logging callbacks for successes and failures (a list of names).
    pub callbacks: Option<Value>,
    /// Logging callbacks for successes only.
    pub success_callback: Option<Value>,
    /// Logging callbacks for failures only.
    pub failure_callback: Option<Value>,
    /// Leave messages and answers out of what logging callbacks receive.
    pub turn_off_message_logging: Option<bool>,
    /// Where the `s3` callback writes (`s3_bucket_name`, `s3_region_name`,
    /// `s3_endpoint_url`, `s3_path`, credentials, …).
    pub s3_callback_params: Option<Map<String, Value>>,
    /// Other `litellm_settings` keys, reported as warnings.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `litellm_settings.cache_params`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CacheParams {
    /// `local` / `in-memory` (default) or `redis`.
    #[serde(rename = "type")]
    pub r#type: Option<String>,
    /// Redis host when no URL is given (else `REDIS_HOST`, else 127.0.0.1).
    pub host: Option<String>,
    /// Redis port, as a number or a string (else `REDIS_PORT`, else 6379).
    pub port: Option<Value>,
    /// Redis password (else `REDIS_PASSWORD`, else none).
    pub password: Option<String>,
    /// Full URL, instead of host/port/password.
    pub url: Option<String>,
    /// Default TTL in seconds.
    pub ttl: Option<f64>,
    /// Namespace prefix for keys.
    pub namespace: Option<String>,
    /// Which call types to cache (LiteLLM's names); accepted, llmux caches
    /// chat, embeddings and rerank.
    pub supported_call_types: Option<Value>,
    /// Other `cache_params` keys, reported as warnings.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `general_settings` llmux acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GeneralSettings {
    /// The admin key; every request must carry it (or, later, a virtual key).
    pub master_key: Option<String>,
    /// Database for virtual keys and spend, opened when a master key is set
    /// (else `DATABASE_URL`, else `sqlite://llmux.db`).
    pub database_url: Option<String>,
    /// Largest accepted request body, in MB.
    pub max_request_size_mb: Option<f64>,
    /// How long Responses API responses are kept for `previous_response_id`
    /// and retrieval (`30d`, `12h`; default 30 days).
    #[serde(default)]
    pub responses_retention: Option<String>,
    /// Spend-log rows older than this are deleted (LiteLLM's setting;
    /// `30d`, `90d`; default: kept for ever). Daily aggregates are kept, so
    /// totals, budgets and reports still count the deleted calls.
    pub maximum_spend_logs_retention_period: Option<String>,
    /// How often the retention job runs (LiteLLM's setting; default `1h`).
    pub maximum_spend_logs_retention_interval: Option<String>,
    /// On SIGTERM, how long readiness fails (503) while calls are still
    /// served, before the gateway stops accepting and drains (`5s`; default
    /// none): time for a load balancer to take it out of rotation.
    #[serde(default)]
    pub drain_delay: Option<String>,
    /// Custom pass-through routes (LiteLLM's `pass_through_endpoints`).
    #[serde(default)]
    pub pass_through_endpoints: Option<Vec<crate::pass_through::CustomEndpointConfig>>,
    /// Keep each call's messages and answer in its spend row (capped at
    /// 64 Ki characters each, credentials redacted).
    pub store_prompts_in_spend_logs: Option<bool>,
    /// Send LiteLLM's response headers (`x-litellm-call-id`,
    /// `x-litellm-response-cost`, …) beside llmux's own (default: on).
    pub litellm_response_headers: Option<bool>,
    /// Origins allowed by CORS (default: any).
    pub cors_allow_origins: Option<Vec<String>>,
    /// Local development only: listen beyond loopback with no master key,
    /// an empty one or a publicly known one (LiteLLM's setting).
    pub dangerously_permit_weak_or_unset_master_key: Option<bool>,
    /// Other `general_settings` keys, reported as warnings.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Keys LiteLLM users commonly set that llmux accepts and deliberately does
/// not act on (they configure LiteLLM's UI, its own logging integrations, or
/// its Python runtime). They are listed once at start, not warned about.
const ACCEPTED_IGNORED: &[&str] = &[
    "litellm_settings.set_verbose",
    "litellm_settings.json_logs",
    "general_settings.database_connection_pool_limit",
    "general_settings.proxy_batch_write_at",
    "general_settings.disable_spend_logs",
    "general_settings.store_model_in_db",
    "general_settings.ui_access_mode",
    "general_settings.alerting",
];

/// The environment a config sees: its own `environment_variables` over the process's.
#[derive(Clone)]
pub struct ConfigEnv {
    vars: HashMap<String, String>,
    process: Arc<dyn Env>,
}

impl Env for ConfigEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .or_else(|| self.process.var(name))
    }
}

impl ConfigEnv {
    /// The process environment with `vars` on top.
    pub fn new(vars: HashMap<String, String>, process: Arc<dyn Env>) -> Self {
        ConfigEnv { vars, process }
    }

    /// Just the process environment.
    pub fn process() -> Self {
        ConfigEnv::new(HashMap::new(), Arc::new(ProcessEnv))
    }
}

/// A loaded config, its environment, and what was not understood.
pub struct LoadedConfig {
    /// The parsed file.
    pub config: ProxyConfig,
    /// The environment `os.environ/NAME` references are resolved against.
    pub env: ConfigEnv,
    /// `path: message` lines to print as warnings.
    pub warnings: Vec<String>,
}

/// Read and check `path`.
pub fn load(path: &Path, process_env: Arc<dyn Env>) -> Result<LoadedConfig, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        path: "(file)".into(),
        reason: format!("cannot read: {e}"),
    })?;
    parse(&file, &text, process_env)
}

/// Parse config `text` (named `file` in errors).
pub fn parse(
    file: &str,
    text: &str,
    process_env: Arc<dyn Env>,
) -> Result<LoadedConfig, ConfigError> {
    let err = |path: String, reason: String| ConfigError {
        file: file.to_string(),
        path,
        reason,
    };
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("line {} column {}", l.line(), l.column()))
            .unwrap_or_else(|| "(document)".into());
        err(at, format!("not valid YAML: {e}"))
    })?;
    // Go through JSON values so numbers-as-strings and `os.environ/…` are handled one way.
    let mut json: Value = serde_json::to_value(&yaml).map_err(|e| {
        err(
            "(document)".into(),
            format!("unsupported YAML (e.g. non-string map keys): {e}"),
        )
    })?;
    if json.is_null() {
        json = Value::Object(Map::new());
    }
    drop_nulls(&mut json);
    if !json.is_object() {
        return Err(err(
            "(document)".into(),
            "the top level must be a mapping of sections".into(),
        ));
    }

    let mut vars = HashMap::new();
    if let Some(Value::Object(ev)) = json.get("environment_variables") {
        for (k, v) in ev {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(err(
                        format!("environment_variables.{k}"),
                        format!("must be a string, got {other}"),
                    ))
                }
            };
            vars.insert(k.clone(), s);
        }
    }
    let env = ConfigEnv::new(vars, process_env);

    let de = serde_path_to_error::deserialize::<_, ProxyConfig>(json);
    let config = de.map_err(|e| {
        let path = e.path().to_string();
        err(
            if path == "." {
                "(document)".into()
            } else {
                path
            },
            e.into_inner().to_string(),
        )
    })?;

    let mut warnings = Vec::new();
    let mut report = |section: &str, extra: &Map<String, Value>| {
        for k in extra.keys() {
            let path = if section.is_empty() {
                k.clone()
            } else {
                format!("{section}.{k}")
            };
            if USED_BY_GATEWAY.contains(&path.as_str()) {
                continue;
            }
            if ACCEPTED_IGNORED.contains(&path.as_str()) {
                warnings.push(format!(
                    "{file}: {path}: accepted; llmux does not use it (see README)"
                ));
            } else {
                warnings.push(format!(
                    "{file}: {path}: not a setting llmux knows; ignored"
                ));
            }
        }
    };
    report("", &config.extra);
    report("router_settings", &config.router_settings.extra);
    report("litellm_settings", &config.litellm_settings.extra);
    report("general_settings", &config.general_settings.extra);
    if let Some(cp) = &config.litellm_settings.cache_params {
        report("litellm_settings.cache_params", &cp.extra);
    }
    Ok(LoadedConfig {
        config,
        env,
        warnings,
    })
}

/// An empty or null section or key (`general_settings:` with nothing under
/// it, as left after commenting its lines out) means "not set", as in
/// LiteLLM: remove every null map value and list item, at any depth.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => {
            items.retain(|v| !v.is_null());
            items.iter_mut().for_each(drop_nulls);
        }
        _ => {}
    }
}

/// Keys the router leaves in `extra` that the gateway itself reads.
const USED_BY_GATEWAY: &[&str] = &[
    "router_settings.redis_url",
    "router_settings.redis_host",
    "router_settings.redis_port",
    "router_settings.redis_password",
];

/// `os.environ/NAME` → the variable, anything else as is.
pub fn resolve(value: &str, env: &dyn Env) -> Result<String, String> {
    llmux_router::config::resolve_env_ref(value, env).map_err(|e| e.message.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::MapEnv;

    fn env() -> Arc<dyn Env> {
        Arc::new(MapEnv::new([("OPENAI_API_KEY", "sk-proc")]))
    }

    #[test]
    fn reads_a_litellm_config() {
        let text = r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
      rpm: 100
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: os.environ/ANTHROPIC_API_KEY
router_settings:
  routing_strategy: least-busy
  num_retries: 2
litellm_settings:
  drop_params: true
  set_verbose: false
  cache: true
  cache_params:
    type: redis
    host: localhost
    port: 6379
general_settings:
  master_key: sk-1234
environment_variables:
  ANTHROPIC_API_KEY: sk-ant-from-config
"#;
        let loaded = parse("config.yaml", text, env()).unwrap();
        assert_eq!(loaded.config.model_list.len(), 2);
        assert_eq!(loaded.config.model_list[0].litellm_params.rpm, Some(100));
        assert_eq!(
            loaded.config.general_settings.master_key.as_deref(),
            Some("sk-1234")
        );
        assert_eq!(
            loaded.env.var("ANTHROPIC_API_KEY").as_deref(),
            Some("sk-ant-from-config")
        );
        assert_eq!(loaded.env.var("OPENAI_API_KEY").as_deref(), Some("sk-proc"));
        assert_eq!(
            loaded.warnings,
            vec!["config.yaml: litellm_settings.set_verbose: accepted; llmux does not use it (see README)"]
        );
    }

    /// Safe-defaults issue: `general_settings:` with nothing under it
    /// stopped llmux ("invalid type: null, expected struct GeneralSettings").
    #[test]
    fn empty_sections_and_keys_are_not_set() {
        let text = "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      rpm:\n    model_info:\n  -\nrouter_settings:\nlitellm_settings:\n  drop_params:\n  cache_params:\ngeneral_settings:\nenvironment_variables:\n  FOO:\n";
        let loaded = parse("c.yaml", text, env()).unwrap();
        let c = &loaded.config;
        assert_eq!(c.model_list.len(), 1);
        assert_eq!(c.model_list[0].litellm_params.rpm, None);
        assert!(c.model_list[0].model_info.is_none());
        assert_eq!(c.litellm_settings.drop_params, None);
        assert!(c.litellm_settings.cache_params.is_none());
        assert_eq!(c.general_settings.master_key, None);
        assert!(c.environment_variables.is_empty());
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let empty = parse("c.yaml", "general_settings:\n  master_key:\n", env()).unwrap();
        assert_eq!(empty.config.general_settings.master_key, None);
    }

    #[test]
    fn unknown_keys_are_warned_with_their_path() {
        let text = "model_list: []\ngeneral_settings:\n  master_kye: sk-1\nrouter_settings:\n  routing_stratgy: x\nfoo: 1\n";
        let loaded = parse("c.yaml", text, env()).unwrap();
        assert_eq!(
            loaded.warnings,
            vec![
                "c.yaml: foo: not a setting llmux knows; ignored",
                "c.yaml: router_settings.routing_stratgy: not a setting llmux knows; ignored",
                "c.yaml: general_settings.master_kye: not a setting llmux knows; ignored",
            ]
        );
    }

    #[test]
    fn wrong_shapes_name_file_path_and_reason() {
        let e = parse("c.yaml", "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      rpm: lots\n", env())
            .err()
            .unwrap();
        assert_eq!(e.file, "c.yaml");
        assert_eq!(e.path, "model_list[0].litellm_params.rpm");
        assert!(
            e.reason.contains("expected a number, got 'lots'"),
            "{}",
            e.reason
        );

        let e = parse(
            "c.yaml",
            "model_list:\n  - litellm_params: {model: x}\n",
            env(),
        )
        .err()
        .unwrap();
        assert_eq!(e.path, "model_list[0]");
        assert!(
            e.reason.contains("missing field `model_name`"),
            "{}",
            e.reason
        );

        let e = parse("c.yaml", "model_list: [\n", env()).err().unwrap();
        assert!(e.reason.starts_with("not valid YAML"), "{}", e.reason);
        assert!(e.path.starts_with("line "), "{}", e.path);

        let e = parse("c.yaml", "- just\n- a list\n", env()).err().unwrap();
        assert_eq!(e.reason, "the top level must be a mapping of sections");
    }

    #[test]
    fn empty_file_is_an_empty_config() {
        let loaded = parse("c.yaml", "", env()).unwrap();
        assert!(loaded.config.model_list.is_empty());
    }
}
