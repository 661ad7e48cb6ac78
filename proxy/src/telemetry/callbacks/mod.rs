//! LiteLLM's logging callbacks, by their names: `litellm_settings.callbacks`
//! (success and failure), `success_callback`, `failure_callback`, with
//! settings from `callback_settings` and the environment variables LiteLLM
//! reads. Each callback is a [`queue::SinkQueue`]: the request path only
//! pushes a shared payload into bounded queues, never waits on a sink.

pub mod otlp;
pub mod per_caller;
pub mod queue;
pub mod s3;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use llmux_core::Env;
use serde_json::{Map, Value};

use crate::telemetry::metrics::Metrics;
use crate::telemetry::payload::LoggingPayload;
use queue::{Events, QueueSettings, Sink, SinkMetrics, SinkQueue};

/// The callback names llmux has (others are reported at start).
pub const KNOWN: &[&str] = &[
    "otel",
    "langfuse",
    "langfuse_otel",
    "generic_api",
    "generic",
    "custom_callback_api",
    "prometheus",
    "s3",
    "s3_v2",
];

/// The gateway's callbacks.
#[derive(Default)]
pub struct Callbacks {
    queues: Vec<SinkQueue>,
    /// Whether payloads carry messages and answers
    /// (`turn_off_message_logging` off).
    log_content: bool,
    /// The callbacks keys and teams name in their `metadata.logging`.
    callers: Option<per_caller::CallerSinks>,
}

impl Callbacks {
    /// Whether any callback takes events (payloads are built only then).
    pub fn is_on(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Whether payloads carry the request's messages and the answer.
    pub fn log_content(&self) -> bool {
        self.log_content
    }

    /// The names of the callbacks taking events.
    pub fn names(&self) -> Vec<&str> {
        self.queues.iter().map(SinkQueue::name).collect()
    }

    /// Whether a call of a key and team with these metadata is logged: a
    /// gateway callback is on, or the key or team names its own.
    pub fn wants(
        &self,
        key: Option<&Map<String, Value>>,
        team: Option<&Map<String, Value>>,
    ) -> bool {
        self.is_on()
            || [key, team]
                .into_iter()
                .flatten()
                .any(|m| !per_caller::entries(m).is_empty())
    }

    /// Hand `payload` to every callback that takes its kind — the gateway's
    /// and those the key's and team's metadata name; never waits.
    pub fn emit(
        &self,
        payload: LoggingPayload,
        key: Option<&Map<String, Value>>,
        team: Option<&Map<String, Value>>,
    ) {
        let payload = Arc::new(payload);
        for q in &self.queues {
            q.push(&payload);
        }
        if let Some(callers) = &self.callers {
            for metadata in [key, team].into_iter().flatten() {
                callers.push(&payload, metadata);
            }
        }
    }

    /// Deliver what is queued (graceful shutdown), each callback given at
    /// most `deadline`.
    pub async fn flush(&self, deadline: Duration) {
        futures::future::join_all(self.queues.iter().map(|q| q.flush(deadline))).await;
        if let Some(callers) = &self.callers {
            callers.flush(deadline).await;
        }
    }
}

/// What the config says about callbacks.
#[derive(Debug, Default, Clone)]
pub struct CallbackConfig {
    /// `litellm_settings.callbacks`.
    pub callbacks: Vec<String>,
    /// `litellm_settings.success_callback`.
    pub success_callback: Vec<String>,
    /// `litellm_settings.failure_callback`.
    pub failure_callback: Vec<String>,
    /// Top-level `callback_settings`: per-name settings.
    pub callback_settings: Map<String, Value>,
    /// `litellm_settings.turn_off_message_logging`.
    pub turn_off_message_logging: bool,
    /// `litellm_settings.s3_callback_params`.
    pub s3_callback_params: Map<String, Value>,
}

/// A callback name list as LiteLLM takes it: a list of names or one name.
pub fn name_list(value: &Option<Value>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("expected a callback name, got {other}")),
            })
            .collect(),
        Some(other) => Err(format!("expected a list of callback names, got {other}")),
    }
}

/// One configured callback before it starts.
struct Spec {
    /// The name metrics and logs use.
    name: String,
    events: Events,
    /// What it is (`callback_type` of its settings, else its name).
    kind: String,
    settings: Map<String, Value>,
}

/// Every callback the config names, with the events each takes; names in
/// several lists are merged.
fn specs(cfg: &CallbackConfig) -> Vec<Spec> {
    let mut out: Vec<Spec> = Vec::new();
    let lists = [
        (&cfg.callbacks, Events::ALL),
        (
            &cfg.success_callback,
            Events {
                success: true,
                failure: false,
            },
        ),
        (
            &cfg.failure_callback,
            Events {
                success: false,
                failure: true,
            },
        ),
    ];
    for (names, events) in lists {
        for name in names {
            if let Some(s) = out.iter_mut().find(|s| &s.name == name) {
                s.events.success |= events.success;
                s.events.failure |= events.failure;
                continue;
            }
            let settings = cfg
                .callback_settings
                .get(name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let kind = settings
                .get("callback_type")
                .and_then(Value::as_str)
                .unwrap_or(name)
                .to_string();
            out.push(Spec {
                name: name.clone(),
                events,
                kind,
                settings,
            });
        }
    }
    // `event_types` narrows a callback to successes or failures.
    for spec in &mut out {
        if let Some(types) = spec.settings.get("event_types").and_then(Value::as_array) {
            let has = |t: &str| types.iter().any(|v| v.as_str() == Some(t));
            spec.events.success &= has("llm_api_success");
            spec.events.failure &= has("llm_api_failure");
        }
    }
    out
}

/// Callbacks started from `cfg`, and warnings for names llmux does not have.
/// A callback llmux has but cannot start (no endpoint, a bad header) is an
/// error naming what to set.
pub fn start(
    cfg: &CallbackConfig,
    shared_env: Arc<dyn Env>,
    metrics: &Arc<Metrics>,
) -> Result<(Callbacks, Vec<String>), String> {
    let env = shared_env.as_ref();
    let mut queues = Vec::new();
    let mut warnings = Vec::new();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("logging callbacks: cannot build an HTTP client: {e}"))?;
    for spec in specs(cfg) {
        let sink: Arc<dyn Sink> = match spec.kind.as_str() {
            // Metrics are always served at /metrics.
            "prometheus" => continue,
            "generic_api" | "generic" | "custom_callback_api" => {
                Arc::new(webhook_from(&spec, env, client.clone())?)
            }
            "s3" | "s3_v2" => Arc::new(s3::S3Bucket::from_params(
                &cfg.s3_callback_params,
                env,
                client.clone(),
            )?),
            "otel" => Arc::new(otlp::Otlp::from_env(
                env,
                client.clone(),
                cfg.turn_off_message_logging,
            )?),
            "langfuse" | "langfuse_otel" => Arc::new(otlp::Otlp::langfuse(
                env,
                client.clone(),
                cfg.turn_off_message_logging,
            )?),
            other => {
                warnings.push(format!(
                    "litellm_settings: callback `{}` is not one llmux has; it is ignored (llmux has: {})",
                    llmux_core::text::truncate(other, 64),
                    KNOWN.join(", ")
                ));
                continue;
            }
        };
        let settings = queue_settings(&spec)?;
        let sink_metrics = SinkMetrics::named(metrics, &spec.name);
        queues.push(SinkQueue::start(
            spec.name,
            spec.events,
            sink,
            settings,
            sink_metrics,
        ));
    }
    Ok((
        Callbacks {
            queues,
            log_content: !cfg.turn_off_message_logging,
            callers: Some(per_caller::CallerSinks::new(
                client,
                shared_env,
                metrics.clone(),
            )),
        },
        warnings,
    ))
}

/// A number in a callback's settings.
fn number(spec: &Spec, key: &str) -> Result<Option<f64>, String> {
    match spec.settings.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "callback_settings.{}.{key}: expected a number, got {v}",
                    spec.name
                )
            }),
    }
}

fn queue_settings(spec: &Spec) -> Result<QueueSettings, String> {
    let mut q = QueueSettings::default();
    if let Some(n) = number(spec, "batch_size")? {
        q.batch_size = (n as usize).clamp(1, 10_000);
    }
    if let Some(secs) = number(spec, "flush_interval")? {
        q.flush_interval = Duration::from_secs_f64(secs.clamp(0.01, 3600.0));
    }
    if let Some(n) = number(spec, "queue_size")? {
        q.capacity = (n as usize).clamp(1, 1_000_000);
    }
    if let Some(mb) = number(spec, "queue_mb")? {
        q.capacity_bytes = ((mb * 1024.0 * 1024.0) as usize).clamp(1024 * 1024, 16 << 30);
    }
    Ok(q)
}

fn webhook_from(
    spec: &Spec,
    env: &dyn Env,
    client: reqwest::Client,
) -> Result<webhook::Webhook, String> {
    let endpoint = spec
        .settings
        .get("endpoint")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| env.var("GENERIC_LOGGER_ENDPOINT"))
        .ok_or_else(|| {
            format!(
                "callback `{}` needs an endpoint: set callback_settings.{}.endpoint or GENERIC_LOGGER_ENDPOINT",
                spec.name, spec.name
            )
        })?;
    let headers = match spec.settings.get("headers") {
        Some(Value::Object(h)) => h
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        Some(other) => {
            return Err(format!(
            "callback_settings.{}.headers: expected a map of header names to values, got {other}",
            spec.name
        ))
        }
        None => match env.var("GENERIC_LOGGER_HEADERS") {
            Some(text) => webhook::parse_header_list(&text)
                .map_err(|e| format!("GENERIC_LOGGER_HEADERS: {e}"))?,
            None => Vec::new(),
        },
    };
    let format = match spec.settings.get("log_format").and_then(Value::as_str) {
        None => webhook::LogFormat::JsonArray,
        Some(name) => webhook::LogFormat::parse(name).ok_or_else(|| {
            format!(
                "callback_settings.{}.log_format: expected json_array, ndjson or single, got '{name}'",
                spec.name
            )
        })?,
    };
    webhook::Webhook::new(client, endpoint, &headers, format)
        .map_err(|e| format!("callback `{}`: {e}", spec.name))
}
