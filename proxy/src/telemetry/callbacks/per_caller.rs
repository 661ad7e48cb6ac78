//! Per-key and per-team logging, as LiteLLM takes it in a key's or a team's
//! `metadata.logging`: a list of `{callback_name, callback_type,
//! callback_vars}`, each a callback llmux has with its own credentials (a
//! team's own Langfuse project, say). `callback_vars` are the callback's
//! environment variables in lower case (`langfuse_public_key` →
//! `LANGFUSE_PUBLIC_KEY`), each value text or `os.environ/NAME`. The sinks
//! are made on first use and kept (at most [`MAX_SINKS`]: admins make these
//! entries, but a bound keeps a typo-per-key from growing without end).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use llmux_core::Env;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::queue::{Events, QueueSettings, Sink, SinkMetrics, SinkQueue};
use super::{otlp, webhook_from, Spec};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::payload::LoggingPayload;

/// Distinct per-key and per-team sinks kept at most.
pub const MAX_SINKS: usize = 64;

/// The `metadata.logging` entries of a key or a team.
pub fn entries(metadata: &Map<String, Value>) -> &[Value] {
    metadata
        .get("logging")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The sinks keys and teams name.
pub struct CallerSinks {
    client: reqwest::Client,
    env: Arc<dyn Env>,
    metrics: Arc<Metrics>,
    settings: QueueSettings,
    /// By the SHA-256 of the entry; `None` for one that could not start
    /// (warned about once).
    sinks: Mutex<HashMap<[u8; 32], Option<Arc<SinkQueue>>>>,
}

/// `callback_vars` as an environment: `name` looked up in lower case.
struct VarsEnv<'a> {
    vars: &'a Map<String, Value>,
    base: &'a dyn Env,
}

impl Env for VarsEnv<'_> {
    fn var(&self, name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        let value = self.vars.get(&lower).or_else(|| match lower.as_str() {
            // LiteLLM's other name for the Langfuse secret.
            "langfuse_secret_key" => self.vars.get("langfuse_secret"),
            _ => None,
        })?;
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => return None,
            other => other.to_string(),
        };
        crate::config::resolve(&text, self.base).ok()
    }
}

impl CallerSinks {
    /// Sinks for callers' entries, sending with `client`, resolving
    /// `os.environ/NAME` against `env`.
    pub fn new(client: reqwest::Client, env: Arc<dyn Env>, metrics: Arc<Metrics>) -> Self {
        CallerSinks {
            client,
            env,
            metrics,
            settings: QueueSettings::default(),
            sinks: Mutex::new(HashMap::new()),
        }
    }

    /// Hand `payload` to the sinks `metadata` names that take its kind.
    pub fn push(&self, payload: &Arc<LoggingPayload>, metadata: &Map<String, Value>) {
        for entry in entries(metadata) {
            let events = match entry.get("callback_type").and_then(Value::as_str) {
                Some("success") => Events {
                    success: true,
                    failure: false,
                },
                Some("failure") => Events {
                    success: false,
                    failure: true,
                },
                _ => Events::ALL,
            };
            if !events.takes(payload.status) {
                continue;
            }
            if let Some(sink) = self.sink(entry) {
                sink.push(payload);
            }
        }
    }

    /// The sink of `entry`, made on first use.
    fn sink(&self, entry: &Value) -> Option<Arc<SinkQueue>> {
        let id: [u8; 32] = Sha256::digest(entry.to_string().as_bytes()).into();
        let mut sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = sinks.get(&id) {
            return known.clone();
        }
        if sinks.len() >= MAX_SINKS {
            return None;
        }
        let name = entry
            .get("callback_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let label = format!(
            "{}/{}",
            llmux_core::text::truncate(name, 32),
            llmux_core::text::hex(&id[..4])
        );
        let made = self.make(name, entry).map(|sink| {
            Arc::new(SinkQueue::start(
                label.clone(),
                Events::ALL,
                sink,
                self.settings,
                SinkMetrics::named(&self.metrics, &label),
            ))
        });
        let sink = match made {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(callback = %label, error = %e, "a key's or team's logging callback cannot start; its events are not sent");
                None
            }
        };
        sinks.insert(id, sink.clone());
        sink
    }

    fn make(&self, name: &str, entry: &Value) -> Result<Arc<dyn Sink>, String> {
        let empty = Map::new();
        let vars = entry
            .get("callback_vars")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let env = VarsEnv {
            vars,
            base: self.env.as_ref(),
        };
        let quiet = env
            .var("turn_off_message_logging")
            .is_some_and(|v| v == "true");
        Ok(match name {
            "langfuse" | "langfuse_otel" => {
                Arc::new(otlp::Otlp::langfuse(&env, self.client.clone(), quiet)?)
            }
            "otel" => Arc::new(otlp::Otlp::from_env(&env, self.client.clone(), quiet)?),
            "generic_api" | "generic" | "custom_callback_api" => {
                let spec = Spec {
                    name: name.to_string(),
                    events: Events::ALL,
                    kind: name.to_string(),
                    settings: vars.clone(),
                };
                Arc::new(webhook_from(&spec, &env, self.client.clone())?)
            }
            other => {
                return Err(format!(
                    "`{}` is not a callback llmux can run per key or team (langfuse, langfuse_otel, otel, generic_api)",
                    llmux_core::text::truncate(other, 64)
                ))
            }
        })
    }

    /// Deliver what every caller sink holds (graceful shutdown).
    pub async fn flush(&self, deadline: std::time::Duration) {
        let sinks: Vec<Arc<SinkQueue>> = self
            .sinks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .flatten()
            .cloned()
            .collect();
        futures::future::join_all(sinks.iter().map(|s| s.flush(deadline))).await;
    }
}
