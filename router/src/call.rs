//! What flows through the router's tower stack: a [`RouterRequest`] (model
//! group + endpoint call) in, a [`RouterResponse`] (endpoint reply + how it
//! was routed) out.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use llmux_core::endpoint::{Call, Reply};
use llmux_core::endpoint::{CallRequest, CallResponse};

/// Per-call bookkeeping shared by every attempt (retries, hedges, fallbacks).
#[derive(Debug, Default)]
pub struct CallContext {
    attempts: AtomicU32,
    tried: Mutex<Vec<Attempt>>,
}

/// One attempt at a call: the deployment tried, when, and how it ended (for
/// traces: a span per attempt).
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The deployment tried.
    pub deployment_id: String,
    /// The model group it serves.
    pub model_group: String,
    /// Its configured `provider/model` (a pattern for wildcard groups).
    pub configured_model: String,
    /// Its provider.
    pub provider: String,
    /// The model name sent upstream.
    pub upstream_model: String,
    /// When the attempt started.
    pub started: Instant,
    /// How long it took (streams: to the first event); `None` while running.
    pub duration: Option<Duration>,
    /// The error it ended in: LiteLLM's exception name and the message.
    pub error: Option<(&'static str, String)>,
}

impl CallContext {
    pub(crate) fn record_attempt(&self, spec: &crate::deployment::DeploymentSpec) -> u32 {
        if let Ok(mut t) = self.tried.lock() {
            t.push(Attempt {
                deployment_id: spec.id.clone(),
                model_group: spec.group.clone(),
                configured_model: spec.model.clone(),
                provider: String::new(),
                upstream_model: String::new(),
                started: Instant::now(),
                duration: None,
                error: None,
            });
        }
        self.attempts.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Record how the running attempt on `deployment_id` ended.
    pub(crate) fn attempt_ended(
        &self,
        deployment_id: &str,
        provider: &str,
        upstream_model: &str,
        error: Option<&llmux_core::Error>,
    ) {
        if let Ok(mut t) = self.tried.lock() {
            if let Some(a) = t
                .iter_mut()
                .rev()
                .find(|a| a.deployment_id == deployment_id && a.duration.is_none())
            {
                a.duration = Some(a.started.elapsed());
                a.provider = provider.to_string();
                a.upstream_model = upstream_model.to_string();
                a.error = error.map(|e| (e.kind.name(), e.to_string()));
            }
        }
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Every attempt so far, in the order they started.
    pub fn attempt_log(&self) -> Vec<Attempt> {
        self.with_attempts(<[Attempt]>::to_vec)
    }

    /// `f` of every attempt so far, without copying them.
    pub fn with_attempts<R>(&self, f: impl FnOnce(&[Attempt]) -> R) -> R {
        match self.tried.lock() {
            Ok(t) => f(&t),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    pub(crate) fn tried(&self, deployment_id: &str) -> bool {
        self.tried
            .lock()
            .map(|t| t.iter().any(|a| a.deployment_id == deployment_id))
            .unwrap_or(false)
    }
}

/// A call for a model group.
#[derive(Debug, Clone)]
pub struct RouterRequest {
    /// The model (group, alias or `provider/model` for wildcard groups) asked for.
    pub group: String,
    /// The endpoint call to make (chat, stream, embeddings, …).
    pub call: Call,
    /// Bookkeeping shared by every attempt of this call.
    pub context: Arc<CallContext>,
}

impl RouterRequest {
    /// A request for `group`.
    pub fn new(group: impl Into<String>, call: Call) -> Self {
        RouterRequest {
            group: group.into(),
            call,
            context: Arc::new(CallContext::default()),
        }
    }
}

/// How a call was served.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteInfo {
    /// The model group that answered (differs from the requested one after a fallback).
    pub model_group: String,
    /// Deployment id (`model_info.id`, or generated).
    pub deployment_id: String,
    /// Provider prefix of the deployment.
    pub provider: String,
    /// Upstream model name sent to the provider.
    pub upstream_model: String,
    /// Attempts made in all, including retries, hedges and fallbacks.
    pub attempts: u32,
    /// The group originally asked for, when a fallback served the call.
    pub fallback_from: Option<String>,
    /// Time from routing to the reply (for streams: to the first chunk).
    pub latency: Duration,
    /// Served from a response cache, not by a deployment.
    pub cache_hit: bool,
}

/// A reply and how it was routed.
#[derive(Debug)]
pub struct RouterResponse {
    /// The endpoint's reply.
    pub reply: Reply,
    /// How the call was served.
    pub route: RouteInfo,
}

/// A typed reply and how it was routed.
#[derive(Debug)]
pub struct Routed<T> {
    /// The reply, as the endpoint's own response type.
    pub response: T,
    /// How the call was served.
    pub route: RouteInfo,
}

impl CallRequest for RouterRequest {
    fn model_group(&self) -> &str {
        &self.group
    }

    fn call(&self) -> &Call {
        &self.call
    }

    fn call_mut(&mut self) -> &mut Call {
        &mut self.call
    }
}

impl CallResponse for RouterResponse {
    fn reply(&self) -> &Reply {
        &self.reply
    }

    fn map_reply(self, f: impl FnOnce(Reply) -> Reply) -> Self {
        RouterResponse {
            reply: f(self.reply),
            route: self.route,
        }
    }

    fn from_cache(model_group: &str, reply: Reply) -> Self {
        RouterResponse {
            reply,
            route: RouteInfo {
                model_group: model_group.to_string(),
                deployment_id: "cache".into(),
                provider: "cache".into(),
                upstream_model: String::new(),
                attempts: 0,
                fallback_from: None,
                latency: Duration::ZERO,
                cache_hit: true,
            },
        }
    }
}
