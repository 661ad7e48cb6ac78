//! Building a gateway from a config (or from the environment alone) and
//! serving it until SIGINT/SIGTERM, draining in-flight requests and streams.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use llmux_cache::{Backend, CacheLayer, MemoryBackend, RedisBackend};
use llmux_core::Env;
use llmux_router::config::LitellmParams;
use llmux_router::{ModelListEntry, Router, RouterSettings};
use serde_json::{json, Map, Value};
use tower::util::BoxCloneSyncService;
use tower::Layer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::auth::virtual_keys::VirtualKeys;
use crate::auth::{Authenticator, MasterKey};
use crate::config::{self, ConfigEnv, LoadedConfig, ProxyConfig};
use crate::gateway::Gateway;
use crate::pricing::Pricing;
use crate::telemetry::metrics::Metrics;
use llmux_store::db::redact_url;
use llmux_store::Limits;
use llmux_store::Store;
use llmux_store::{Clock, SystemClock};
use llmux_store::{Ledger, LocalLedger, RedisLedger};
use llmux_store::{SpendOptions, SpendQueue};

/// What `llmux serve` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Path of a LiteLLM `config.yaml` to load, if any.
    pub config: Option<PathBuf>,
    /// `provider/model` strings served as model groups of the same name.
    pub models: Vec<String>,
    /// Address to listen on; `None` picks one by the master key (see
    /// [`listen_host`]).
    pub host: Option<String>,
    /// TCP port to listen on.
    pub port: u16,
    /// Listen beyond loopback without a strong master key (local
    /// development only).
    pub permit_weak_master_key: bool,
}

/// Master keys from documentation and examples: anyone may try them.
const PUBLICLY_KNOWN_KEYS: &[&str] = &[
    "sk-1234",
    "sk-12345",
    "sk-123456",
    "sk-1234567890",
    "sk-master",
    "sk-master-key",
    "sk-admin",
    "sk-test",
    "sk-litellm",
    "sk-llmux",
    "changeme",
    "password",
    "secret",
];

/// Shortest master key not called weak.
const MIN_MASTER_KEY_CHARS: usize = 8;

/// How well the gateway's master key protects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeyStrength {
    /// No master key: the gateway is open.
    Unset,
    /// Set, but empty, short or publicly known (the reason says which).
    Weak(&'static str),
    /// Set, not publicly known, and at least 8 characters long.
    Strong,
}

impl MasterKeyStrength {
    /// Judge `key` (as configured, after `os.environ/` resolution).
    pub fn of(key: Option<&str>) -> MasterKeyStrength {
        let Some(key) = key else {
            return MasterKeyStrength::Unset;
        };
        let key = key.trim();
        if key.is_empty() {
            MasterKeyStrength::Weak("empty")
        } else if PUBLICLY_KNOWN_KEYS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            MasterKeyStrength::Weak("publicly known")
        } else if key.chars().count() < MIN_MASTER_KEY_CHARS {
            MasterKeyStrength::Weak("shorter than 8 characters")
        } else {
            MasterKeyStrength::Strong
        }
    }
}

/// Whether `host` only accepts connections from this machine.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The address to listen on. Without a strong master key the gateway
/// listens on loopback only; asked to listen further, it refuses to start
/// unless `permit` (LiteLLM's `dangerously_permit_weak_or_unset_master_key`)
/// says this is local development.
pub fn listen_host(
    requested: Option<&str>,
    strength: &MasterKeyStrength,
    permit: bool,
) -> Result<String, StartError> {
    let host = match (requested, strength) {
        (Some(h), _) => h.to_string(),
        (None, MasterKeyStrength::Strong) => "0.0.0.0".to_string(),
        (None, _) => "127.0.0.1".to_string(),
    };
    let problem = match strength {
        MasterKeyStrength::Strong => return Ok(host),
        MasterKeyStrength::Unset => "no master key is set".to_string(),
        MasterKeyStrength::Weak(why) => format!("the master key is {why}"),
    };
    if is_loopback(&host) || permit {
        return Ok(host);
    }
    Err(StartError::Insecure(format!(
        "refusing to listen on {host}: {problem}, so anyone who can reach this machine could spend its provider keys. \
Set a strong master key (e.g. LLMUX_MASTER_KEY=sk-$(openssl rand -hex 16), or general_settings.master_key in the config), \
or listen on 127.0.0.1 only (drop --host), or, for local development only, pass --dangerously-permit-weak-or-unset-master-key \
(or set LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY=true, or general_settings.dangerously_permit_weak_or_unset_master_key: true)"
    )))
}

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config file could not be read or is invalid.
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    /// The gateway could not be built from its config and environment; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// Asked to listen beyond loopback without a strong master key.
    #[error("{0}")]
    Insecure(String),
    /// Binding the listener to `addr`, or serving on it, failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The `host:port` address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A built gateway and what to tell the operator about it.
pub struct Built {
    /// The gateway, ready to serve.
    pub gateway: Arc<Gateway>,
    /// How well the master key protects it (decides where it may listen).
    pub master_key: MasterKeyStrength,
    /// Lines for the start log: what is served, where keys and spend are kept, and the like.
    pub notes: Vec<String>,
    /// Config warnings (`file: path: message` lines) to log at start.
    pub warnings: Vec<String>,
}

/// Keys whose values never leave the gateway (`/model/info`).
fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["key", "secret", "token", "password", "credential"]
        .iter()
        .any(|s| k.contains(s))
}

fn sanitized(entry: &ModelListEntry) -> Value {
    let mut params = Map::new();
    params.insert("model".into(), json!(entry.litellm_params.model));
    if let Some(b) = &entry.litellm_params.api_base {
        params.insert("api_base".into(), json!(b));
    }
    if let Some(v) = &entry.litellm_params.api_version {
        params.insert("api_version".into(), json!(v));
    }
    for (k, v) in [
        ("rpm", entry.litellm_params.rpm),
        ("tpm", entry.litellm_params.tpm),
    ] {
        if let Some(v) = v {
            params.insert(k.into(), json!(v));
        }
    }
    for (k, v) in &entry.litellm_params.extra {
        if !is_secret(k) {
            params.insert(k.clone(), v.clone());
        }
    }
    let info = entry.model_info.as_ref();
    json!({
        "model_name": entry.model_name,
        "litellm_params": params,
        "model_info": {
            "id": info.and_then(|i| i.id.clone()),
            "max_input_tokens": info.and_then(|i| i.max_input_tokens),
            "max_output_tokens": info.and_then(|i| i.max_output_tokens),
            "mode": info.and_then(|i| i.mode.clone()),
        }
    })
}

fn model_entry(model: &str) -> ModelListEntry {
    ModelListEntry {
        model_name: model.to_string(),
        litellm_params: LitellmParams {
            model: model.to_string(),
            ..Default::default()
        },
        model_info: None,
    }
}

/// Merge routing keys LiteLLM also accepts under `litellm_settings`.
fn router_settings(cfg: &ProxyConfig) -> RouterSettings {
    let mut s = cfg.router_settings.clone();
    let ls = &cfg.litellm_settings;
    if s.num_retries.is_none() {
        s.num_retries = ls.num_retries;
    }
    if s.timeout.is_none() {
        s.timeout = ls.request_timeout;
    }
    if s.fallbacks.is_none() {
        s.fallbacks.clone_from(&ls.fallbacks);
    }
    if s.context_window_fallbacks.is_none() {
        s.context_window_fallbacks
            .clone_from(&ls.context_window_fallbacks);
    }
    if s.content_policy_fallbacks.is_none() {
        s.content_policy_fallbacks
            .clone_from(&ls.content_policy_fallbacks);
    }
    s
}

/// A cache backend, its default TTL, and a description for the start log.
type CacheChoice = (Arc<dyn Backend>, Duration, String);

fn cache_backend(cfg: &ProxyConfig, env: &dyn Env) -> Result<Option<CacheChoice>, StartError> {
    if cfg.litellm_settings.cache != Some(true) {
        return Ok(None);
    }
    let params = cfg.litellm_settings.cache_params.as_ref();
    let ttl = params
        .and_then(|p| p.ttl)
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(600));
    let kind = params
        .and_then(|p| p.r#type.clone())
        .unwrap_or_else(|| "local".into());
    let resolve = |v: &str| config::resolve(v, env).map_err(StartError::Invalid);
    match kind.as_str() {
        "local" | "in-memory" | "memory" => Ok(Some((
            Arc::new(MemoryBackend::new(256 << 20)),
            ttl,
            "in-process cache (256 MiB)".into(),
        ))),
        "redis" => {
            let url = match params
                .and_then(|p| p.url.clone())
                .or_else(|| env.var("REDIS_URL"))
            {
                Some(u) => resolve(&u)?,
                None => {
                    let host = match params
                        .and_then(|p| p.host.clone())
                        .or_else(|| env.var("REDIS_HOST"))
                    {
                        Some(h) => resolve(&h)?,
                        None => "127.0.0.1".into(),
                    };
                    let port = match params.and_then(|p| p.port.clone()) {
                        Some(Value::Number(n)) => n.to_string(),
                        Some(Value::String(s)) => resolve(&s)?,
                        _ => env.var("REDIS_PORT").unwrap_or_else(|| "6379".into()),
                    };
                    let password = match params
                        .and_then(|p| p.password.clone())
                        .or_else(|| env.var("REDIS_PASSWORD"))
                    {
                        Some(p) => format!(":{}@", resolve(&p)?),
                        None => String::new(),
                    };
                    format!("redis://{password}{host}:{port}/")
                }
            };
            let backend = RedisBackend::new(&url)
                .map_err(|e| StartError::Invalid(format!("litellm_settings.cache_params: {e}")))?;
            Ok(Some((Arc::new(backend), ttl, "Redis cache".into())))
        }
        other => Err(StartError::Invalid(format!(
            "litellm_settings.cache_params.type: '{other}' is not supported; use local or redis"
        ))),
    }
}

/// Where spend waits while the database is down: `LLMUX_SPEND_SPILL_PATH`,
/// else next to a SQLite file, else `llmux-spend-<hash of the URL>.jsonl`.
fn spill_path(database_url: &str, env: &ConfigEnv) -> PathBuf {
    if let Some(p) = env.var("LLMUX_SPEND_SPILL_PATH") {
        return PathBuf::from(p);
    }
    if let Some(file) = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|f| f.split('?').next().unwrap_or(f))
        .filter(|f| !f.is_empty() && !f.contains(":memory:"))
    {
        return PathBuf::from(format!("{file}.spend-spill.jsonl"));
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(database_url.as_bytes());
    let short = llmux_core::text::hex(&digest[..6]);
    PathBuf::from(format!("llmux-spend-{short}.jsonl"))
}

/// The Redis that instances share limits and budgets through:
/// `router_settings.redis_url` or `redis_host`/`redis_port`/`redis_password`
/// (LiteLLM's multi-instance settings), else `REDIS_URL`, else `REDIS_HOST`.
fn shared_redis_url(cfg: &ProxyConfig, env: &ConfigEnv) -> Result<Option<String>, StartError> {
    let settings = &cfg.router_settings.extra;
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let get = |name: &str| -> Result<Option<String>, StartError> {
        match settings.get(name).and_then(text) {
            Some(v) => config::resolve(&v, env)
                .map(Some)
                .map_err(|e| StartError::Invalid(format!("router_settings.{name}: {e}"))),
            None => Ok(None),
        }
    };
    if let Some(url) = get("redis_url")?.or_else(|| env.var("REDIS_URL")) {
        return Ok(Some(url));
    }
    let Some(host) = get("redis_host")?.or_else(|| env.var("REDIS_HOST")) else {
        return Ok(None);
    };
    let port = get("redis_port")?
        .or_else(|| env.var("REDIS_PORT"))
        .unwrap_or_else(|| "6379".into());
    let auth = get("redis_password")?
        .or_else(|| env.var("REDIS_PASSWORD"))
        .map(|p| format!(":{p}@"))
        .unwrap_or_default();
    Ok(Some(format!("redis://{auth}{host}:{port}/")))
}

/// The router for `cfg`'s model list plus `models` (or, with neither,
/// every provider with a key in the environment), and that model list.
fn router_for(
    cfg: &ProxyConfig,
    models: &[String],
    env: Arc<dyn Env>,
    notes: &mut Vec<String>,
) -> Result<(Router, Vec<ModelListEntry>), StartError> {
    let mut model_list = cfg.model_list.clone();
    model_list.extend(models.iter().map(|m| model_entry(m)));
    if !model_list.is_empty() {
        let router = Router::new(model_list.clone(), router_settings(cfg), env)
            .map_err(|e| StartError::Invalid(e.message.clone()))?;
        return Ok((router, model_list));
    }
    let r = Router::from_env_with(env).map_err(|e| StartError::Invalid(e.message.clone()))?;
    if r.model_groups().is_empty() {
        return Err(StartError::Invalid(
            "no models to serve: pass --config config.yaml, --model provider/model, or set a provider key such as OPENAI_API_KEY"
                .into(),
        ));
    }
    notes.push(format!(
        "serving every provider with a key in the environment: {}",
        r.model_groups().join(", ")
    ));
    Ok((r, model_list))
}

/// The duration `general_settings.{field}` holds, in seconds (positive), or
/// an error naming the field with an `example` of a good value.
fn general_duration(field: &str, value: &str, example: &str) -> Result<i64, StartError> {
    llmux_store::parse_duration(value).ok_or_else(|| {
        StartError::Invalid(format!(
            "general_settings.{field}: expected a duration such as {example}, got '{value}'"
        ))
    })
}

/// [`general_duration`] as a `Duration`.
fn general_duration_std(field: &str, value: &str, example: &str) -> Result<Duration, StartError> {
    general_duration(field, value, example)
        .map(|secs| Duration::from_secs(u64::try_from(secs).unwrap_or_default()))
}

/// `general_settings.responses_retention`, checked.
fn responses_retention(cfg: &ProxyConfig) -> Result<Duration, StartError> {
    match &cfg.general_settings.responses_retention {
        None => Ok(crate::conversations::DEFAULT_RETENTION),
        Some(d) => general_duration_std("responses_retention", d, "30d or 12h"),
    }
}

/// Spend-log retention: `general_settings.maximum_spend_logs_retention_period`
/// and how often it is applied (`…_interval`, default an hour), checked.
fn spend_retention(
    cfg: &ProxyConfig,
) -> Result<Option<crate::gateway::SpendRetention>, StartError> {
    let duration = |field: &str, value: &str| general_duration(field, value, "30d or 12h");
    let g = &cfg.general_settings;
    let Some(period) = &g.maximum_spend_logs_retention_period else {
        return Ok(None);
    };
    let keep_seconds = duration("maximum_spend_logs_retention_period", period)?;
    let every_seconds = match &g.maximum_spend_logs_retention_interval {
        Some(i) => duration("maximum_spend_logs_retention_interval", i)?,
        None => 3_600,
    };
    Ok(Some(crate::gateway::SpendRetention {
        keep_seconds,
        every_minutes: u64::try_from(every_seconds / 60).unwrap_or(1).max(1),
    }))
}

/// `general_settings.drain_delay`, checked (none: zero).
fn drain_delay(cfg: &ProxyConfig) -> Result<Duration, StartError> {
    match &cfg.general_settings.drain_delay {
        None => Ok(Duration::ZERO),
        Some(d) => general_duration_std("drain_delay", d, "5s"),
    }
}

/// The logging callbacks `litellm_settings` names, started.
fn callbacks(
    cfg: &ProxyConfig,
    env: Arc<dyn Env>,
    metrics: &Arc<Metrics>,
) -> Result<(crate::telemetry::callbacks::Callbacks, Vec<String>), StartError> {
    use crate::telemetry::callbacks::{name_list, start, CallbackConfig};
    let s = &cfg.litellm_settings;
    let list = |key: &str, v: &Option<serde_json::Value>| {
        name_list(v).map_err(|e| StartError::Invalid(format!("litellm_settings.{key}: {e}")))
    };
    let config = CallbackConfig {
        callbacks: list("callbacks", &s.callbacks)?,
        success_callback: list("success_callback", &s.success_callback)?,
        failure_callback: list("failure_callback", &s.failure_callback)?,
        callback_settings: cfg.callback_settings.clone(),
        turn_off_message_logging: s.turn_off_message_logging.unwrap_or(false),
        s3_callback_params: s.s3_callback_params.clone().unwrap_or_default(),
    };
    start(&config, env, metrics).map_err(StartError::Invalid)
}

/// The pass-through routes' upstreams and the custom routes of
/// `general_settings.pass_through_endpoints`.
fn pass_through(
    cfg: &ProxyConfig,
    router: &Router,
    env: &dyn Env,
) -> Result<crate::pass_through::PassThrough, StartError> {
    let custom = cfg
        .general_settings
        .pass_through_endpoints
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| crate::pass_through::CustomEndpoint::resolve(c, i, env))
        .collect::<Result<Vec<_>, _>>()
        .map_err(StartError::Invalid)?;
    Ok(crate::pass_through::PassThrough::build(router, custom, env))
}

/// The start-time warning naming deployments without a price, if any.
fn unpriced_warning(pricing: &Pricing) -> Option<String> {
    let unpriced = pricing.unpriced();
    (!unpriced.is_empty()).then(|| {
        format!(
            "no price known for {}: their calls are recorded at $0 and no budget limits them; set model_info.base_model to the model they run (e.g. azure/gpt-4o) or input_cost_per_token/output_cost_per_token",
            unpriced.join(", ")
        )
    })
}

/// What `llmux serve --check-config` found.
#[derive(Debug)]
pub struct Checked {
    /// The model groups `serve` would offer.
    pub model_groups: Vec<String>,
    /// Keys reported but not acted on, and similar notes.
    pub warnings: Vec<String>,
}

/// Validate what [`serve`] would start with — the config file (strictly),
/// the model list with every provider's credentials resolved, the settings
/// llmux checks at start — without opening the database or binding a port.
pub fn check(options: &ServeOptions, process_env: Arc<dyn Env>) -> Result<Checked, StartError> {
    let loaded = match &options.config {
        Some(path) => Some(config::load(path, process_env.clone())?),
        None => None,
    };
    let (cfg, env, mut warnings) = match loaded {
        Some(l) => (l.config, l.env, l.warnings),
        None => (ProxyConfig::default(), ConfigEnv::process(), Vec::new()),
    };
    let mut notes = Vec::new();
    let (router, _) = router_for(&cfg, &options.models, Arc::new(env.clone()), &mut notes)?;
    warnings.extend(unpriced_warning(&Pricing::from_router(&router)));
    responses_retention(&cfg)?;
    spend_retention(&cfg)?;
    drain_delay(&cfg)?;
    pass_through(&cfg, &router, &env)?;
    Ok(Checked {
        model_groups: router.model_groups(),
        warnings,
    })
}

/// Build the gateway from an optional loaded config plus `--model` flags.
pub async fn build(loaded: Option<LoadedConfig>, models: &[String]) -> Result<Built, StartError> {
    build_with_clock(loaded, models, Arc::new(SystemClock)).await
}

/// [`build`], reading time from `clock` (tests move it).
pub async fn build_with_clock(
    loaded: Option<LoadedConfig>,
    models: &[String],
    clock: Arc<dyn Clock>,
) -> Result<Built, StartError> {
    let (cfg, env, mut warnings) = match loaded {
        Some(l) => (l.config, l.env, l.warnings),
        None => (ProxyConfig::default(), ConfigEnv::process(), Vec::new()),
    };
    let env_arc: Arc<dyn Env> = Arc::new(env.clone());
    let mut notes = Vec::new();
    let (router, model_list) = router_for(&cfg, models, env_arc.clone(), &mut notes)?;
    let master_key = match cfg.general_settings.master_key.as_deref() {
        Some(k) => Some(
            config::resolve(k, &env)
                .map_err(|e| StartError::Invalid(format!("general_settings.master_key: {e}")))?,
        ),
        None => env
            .var("LLMUX_MASTER_KEY")
            .or_else(|| env.var("LITELLM_MASTER_KEY")),
    };
    let mut spent_at_start = 0;
    let (auth, keys, spend): (Arc<dyn Authenticator>, Option<Arc<VirtualKeys>>, _) =
        match &master_key {
            None => {
                notes.push(
                    "no master key set: every caller is admitted; to require keys set LLMUX_MASTER_KEY (or general_settings.master_key) to a secret such as sk-$(openssl rand -hex 16)".into(),
                );
                (Arc::new(MasterKey(None)), None, None)
            }
            Some(mk) => {
                let url = match cfg.general_settings.database_url.as_deref() {
                    Some(u) => config::resolve(u, &env).map_err(|e| {
                        StartError::Invalid(format!("general_settings.database_url: {e}"))
                    })?,
                    None => env
                        .var("DATABASE_URL")
                        .unwrap_or_else(|| "sqlite://llmux.db".into()),
                };
                let store = Store::connect(&url).await.map_err(|e| {
                    StartError::Invalid(format!(
                        "cannot open the database ({}): {e}",
                        redact_url(&url)
                    ))
                })?;
                notes.push(format!(
                    "virtual keys and spend in {} ({:?})",
                    redact_url(&url),
                    store.backend
                ));
                if cfg.litellm_settings.max_budget.is_some() {
                    spent_at_start = store.total_spend(None).await.map_err(|e| {
                        StartError::Invalid(format!(
                            "litellm_settings.max_budget: cannot read the spend so far: {e}"
                        ))
                    })?;
                }
                let spill = spill_path(&url, &env);
                notes.push(format!(
                    "spend is written in batches; if the database is down it waits in {}",
                    spill.display()
                ));
                let spend = Arc::new(SpendQueue::start(store.clone(), SpendOptions::new(spill)));
                let vk = Arc::new(VirtualKeys::new(
                    Some(mk.clone()),
                    store,
                    Duration::from_secs(5),
                ));
                (vk.clone() as Arc<dyn Authenticator>, Some(vk), Some(spend))
            }
        };
    let (ledger, limits): (Arc<dyn Ledger>, Arc<Limits>) = match shared_redis_url(&cfg, &env)? {
        Some(url) => {
            notes.push(format!(
                "rate limits, budgets and deployment cooldowns shared with other instances through Redis at {}",
                redact_url(&url)
            ));
            crate::cluster::share_deployment_state(&router, &url, "llmux:")
                .map_err(StartError::Invalid)?;
            (
                Arc::new(RedisLedger::new(&url, "llmux:").map_err(StartError::Invalid)?),
                Limits::shared(&url, "llmux:").map_err(StartError::Invalid)?,
            )
        }
        None => (Arc::new(LocalLedger::default()), Limits::local()),
    };
    let pricing = Pricing::from_router(&router);
    warnings.extend(unpriced_warning(&pricing));
    let base = BoxCloneSyncService::new(router.clone());
    let service = match cache_backend(&cfg, &env)? {
        Some((backend, ttl, what)) => {
            notes.push(format!(
                "response cache: {what}, default ttl {} s",
                ttl.as_secs()
            ));
            BoxCloneSyncService::new(CacheLayer::new(backend, ttl).layer(router.clone()))
        }
        None => base,
    };
    let max_mb = cfg.general_settings.max_request_size_mb.unwrap_or(32.0);
    if !(max_mb.is_finite() && max_mb > 0.0) {
        return Err(StartError::Invalid(format!(
            "general_settings.max_request_size_mb must be a positive number, got {max_mb}"
        )));
    }
    let proxy_budget = match cfg.litellm_settings.max_budget {
        Some(usd) if usd.is_finite() && usd >= 0.0 => {
            notes.push(format!(
                "proxy-wide budget: ${usd} (spent so far: ${})",
                llmux_store::from_nano(spent_at_start)
            ));
            Some(llmux_store::Account {
                id: "proxy:global".into(),
                kind: "proxy",
                max_nano: llmux_store::to_nano(usd),
                base_nano: spent_at_start,
            })
        }
        Some(usd) => {
            return Err(StartError::Invalid(format!(
                "litellm_settings.max_budget must be a number of USD ≥ 0, got {usd}"
            )))
        }
        None => None,
    };
    let retention = responses_retention(&cfg)?;
    let conversations = match &keys {
        Some(vk) => crate::conversations::Conversations::Database {
            store: vk.store().clone(),
            retention,
        },
        None => crate::conversations::Conversations::memory(retention),
    };
    let drain_delay = drain_delay(&cfg)?;
    let spend_retention = spend_retention(&cfg)?;
    if let Some(r) = &spend_retention {
        notes.push(format!(
            "spend logs kept {} days (checked every {} min)",
            r.keep_seconds / 86_400,
            r.every_minutes
        ));
    }
    let pass_through = pass_through(&cfg, &router, &env)?;
    let metrics = Arc::new(Metrics::default());
    let (callbacks, callback_warnings) = callbacks(&cfg, env_arc.clone(), &metrics)?;
    warnings.extend(callback_warnings);
    if callbacks.is_on() {
        notes.push(format!(
            "logging callbacks: {}",
            callbacks.names().join(", ")
        ));
    }
    let deployment_series = crate::gateway::deployment_series(&router, &metrics);
    let api_bases = router
        .deployments()
        .iter()
        .filter_map(|d| Some((d.spec.id.clone(), d.spec.params.api_base.clone()?)))
        .collect();
    let gateway = Gateway {
        caller_series: Default::default(),
        deployment_series,
        api_bases,
        callbacks,
        litellm_headers: cfg
            .general_settings
            .litellm_response_headers
            .unwrap_or(true),
        store_prompts: cfg
            .general_settings
            .store_prompts_in_spend_logs
            .unwrap_or(false),
        pass_through,
        draining: std::sync::atomic::AtomicBool::new(false),
        auth_failures: crate::gateway::auth_failure_table(),
        drain_delay,
        spend_retention,
        conversations,
        proxy_budget,
        service,
        router,
        auth,
        keys,
        spend,
        ledger,
        pricing,
        limits,
        clock,
        drop_params: cfg.litellm_settings.drop_params.unwrap_or(false),
        metrics,
        model_info: model_list.iter().map(sanitized).collect(),
        keep_alive: Duration::from_secs(15),
        max_body_bytes: (max_mb * 1024.0 * 1024.0) as usize,
    };
    let gateway = Arc::new(gateway);
    if gateway.keys.is_some() {
        let weak = Arc::downgrade(&gateway);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            let mut minute: u64 = 0;
            loop {
                tick.tick().await;
                let Some(gw) = weak.upgrade() else {
                    return;
                };
                gw.reset_budgets().await;
                if minute.is_multiple_of(60) {
                    gw.conversations.purge(gw.clock.now()).await;
                }
                if let Some(r) = gw.spend_retention {
                    if minute.is_multiple_of(r.every_minutes) {
                        gw.purge_spend_logs(r).await;
                    }
                }
                minute += 1;
            }
        });
    }
    Ok(Built {
        gateway,
        master_key: MasterKeyStrength::of(master_key.as_deref()),
        notes,
        warnings,
    })
}

/// The axum app for a built gateway: the data plane and the admin plane,
/// the request body limit, the unknown-route answer, and CORS.
pub fn app(gateway: Arc<Gateway>, cors_origins: Option<&[String]>) -> axum::Router {
    let cors = match cors_origins {
        Some(list) if !list.iter().any(|o| o == "*") => {
            let origins: Vec<HeaderValue> = list
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect();
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods(Any)
                .allow_headers(Any)
        }
        _ => CorsLayer::permissive(),
    };
    crate::http::routes(gateway.clone())
        .merge(crate::admin::routes(gateway.clone()))
        .fallback(crate::http::ops::custom_or_not_found)
        .layer(axum::extract::DefaultBodyLimit::max(gateway.max_body_bytes))
        .with_state(gateway)
        .layer(axum::middleware::from_fn(crate::error::shape_plain_errors))
        .layer(cors)
}

/// `true`, `1`, `yes` or `on`, in any case.
fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

/// Resolve when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

/// Load the config, build, bind and serve until a shutdown signal.
pub async fn serve(options: ServeOptions, process_env: Arc<dyn Env>) -> Result<(), StartError> {
    let loaded = match &options.config {
        Some(path) => Some(config::load(path, process_env.clone())?),
        None => None,
    };
    let cors = loaded
        .as_ref()
        .and_then(|l| l.config.general_settings.cors_allow_origins.clone());
    let permit = options.permit_weak_master_key
        || loaded.as_ref().is_some_and(|l| {
            l.config
                .general_settings
                .dangerously_permit_weak_or_unset_master_key
                == Some(true)
        })
        || [
            "LLMUX_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY",
            "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY",
        ]
        .iter()
        .any(|name| {
            let value = match &loaded {
                Some(l) => l.env.var(name),
                None => process_env.var(name),
            };
            value.is_some_and(|v| is_true(&v))
        });
    let built = build(loaded, &options.models).await?;
    for w in &built.warnings {
        tracing::warn!("{w}");
    }
    for n in &built.notes {
        tracing::info!("{n}");
    }
    let host = listen_host(options.host.as_deref(), &built.master_key, permit)?;
    if let MasterKeyStrength::Weak(why) = &built.master_key {
        tracing::warn!(
            "the master key is {why}: replace it with a secret such as sk-$(openssl rand -hex 16)"
        );
    }
    let addr = format!("{host}:{}", options.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local: SocketAddr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: addr.clone(),
        source,
    })?;
    tracing::info!(address = %local, "llmux gateway listening on http://{local}");
    let gateway = built.gateway.clone();
    let app = app(built.gateway, cors.as_deref());
    let drain = gateway.clone();
    let shutdown = async move {
        shutdown_signal().await;
        drain.start_draining();
        if !drain.drain_delay.is_zero() {
            tracing::info!(
                seconds = drain.drain_delay.as_secs(),
                "readiness fails from now; still serving until the drain delay is over"
            );
            tokio::time::sleep(drain.drain_delay).await;
        }
    };
    let served = serve_on(listener, app, shutdown).await;
    gateway.flush().await;
    served.map_err(|source| StartError::Bind { addr, source })
}

/// Limits on the connections `serve_with` accepts: what an untrusted
/// client may hold without sending a request.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// A connection must deliver a whole request head within this time
    /// (slowloris), also between keep-alive requests; else it is closed.
    pub header_read_timeout: Duration,
    /// Connections open at once; past it the gateway stops accepting (the
    /// kernel's backlog holds the rest) instead of growing without bound.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 16_384,
        }
    }
}

/// Serve `app` on `listener` until `shutdown`, then drain: stop accepting,
/// let requests and streams in flight finish, return once every connection
/// closed. With the default [`ServeLimits`].
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, ServeLimits::default()).await
}

/// [`serve_on`] with explicit `limits`. One hyper connection per client
/// (HTTP/1.1 or HTTP/2, upgrades allowed), `TCP_NODELAY` on (else streamed
/// events after the first wait for the client's delayed ACK, ~40 ms), the
/// router cloned per connection (an `Arc`, not rebuilt).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    limits: ServeLimits,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (tcp, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        // Handlers see the client's address (`ConnectInfo`), e.g. to slow
        // down an address that keeps failing authentication.
        let peer = axum::extract::ConnectInfo(_peer);
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            app.clone(),
            move |mut request: http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(peer);
                request
            },
        ));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away mid-request is not the server's error.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_keys_are_judged() {
        assert_eq!(MasterKeyStrength::of(None), MasterKeyStrength::Unset);
        assert_eq!(
            MasterKeyStrength::of(Some(" ")),
            MasterKeyStrength::Weak("empty")
        );
        assert_eq!(
            MasterKeyStrength::of(Some("SK-1234")),
            MasterKeyStrength::Weak("publicly known")
        );
        assert_eq!(
            MasterKeyStrength::of(Some("sk-abc")),
            MasterKeyStrength::Weak("shorter than 8 characters")
        );
        assert_eq!(
            MasterKeyStrength::of(Some("sk-3f9a0c1d2e")),
            MasterKeyStrength::Strong
        );
    }

    #[test]
    fn the_default_address_follows_the_master_key() {
        let strong = MasterKeyStrength::Strong;
        let unset = MasterKeyStrength::Unset;
        let weak = MasterKeyStrength::Weak("publicly known");
        assert_eq!(listen_host(None, &strong, false).unwrap(), "0.0.0.0");
        assert_eq!(listen_host(None, &unset, false).unwrap(), "127.0.0.1");
        assert_eq!(listen_host(None, &weak, false).unwrap(), "127.0.0.1");
        for loopback in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
            assert_eq!(
                listen_host(Some(loopback), &unset, false).unwrap(),
                loopback
            );
        }
        for open in ["0.0.0.0", "::", "10.0.0.1", "my-host"] {
            assert!(matches!(
                listen_host(Some(open), &unset, false),
                Err(StartError::Insecure(_))
            ));
            assert_eq!(listen_host(Some(open), &weak, true).unwrap(), open);
            assert_eq!(listen_host(Some(open), &strong, false).unwrap(), open);
        }
    }
}
