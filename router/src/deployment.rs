//! A deployment: one upstream (provider + model + credentials) serving a model
//! group, and the live state the router keeps about it — calls in flight,
//! latency, usage this minute, recent failures and cooldown.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use llmux_core::{Env, Error, Provider, ProviderParams, Result};
use tokio::time::Instant;

use crate::registry;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a deployment reaches its provider.
enum Target {
    /// A fixed provider and upstream model name.
    Fixed {
        provider: Arc<dyn Provider>,
        model: String,
    },
    /// A wildcard: the group pattern `prefix*` maps the requested model's
    /// remainder onto `model_prefix` (e.g. `anthropic/*` → `anthropic/*`,
    /// `*` → `*`). Providers are built once per provider prefix and kept.
    Wildcard(Box<Wildcard>),
}

struct Wildcard {
    group_prefix: String,
    model_prefix: String,
    params: ProviderParams,
    env: Arc<dyn Env>,
    providers: Mutex<HashMap<String, Arc<dyn Provider>>>,
}

/// Static description of a deployment, from `model_list`.
#[derive(Debug, Clone, Default)]
pub struct DeploymentSpec {
    /// Deployment id: `model_info.id`, or `<model_name>-<index in model_list>` when absent.
    pub id: String,
    /// The model group (`model_name`) this deployment serves; may be a wildcard pattern.
    pub group: String,
    /// `provider/model` (or a wildcard pattern) from `litellm_params.model`.
    pub model: String,
    /// Connection parameters, with `os.environ/…` references resolved.
    pub params: ProviderParams,
    /// Requests per minute this deployment accepts (`litellm_params.rpm`).
    pub rpm: Option<u64>,
    /// Tokens per minute this deployment accepts (`litellm_params.tpm`).
    pub tpm: Option<u64>,
    /// Relative share of traffic for simple-shuffle (`litellm_params.weight`).
    pub weight: Option<f64>,
    /// Limit for a whole call (`litellm_params.timeout`); overrides the router's `timeout`.
    pub timeout: Option<Duration>,
    /// Limit to a stream's first chunk (`litellm_params.stream_timeout`).
    pub stream_timeout: Option<Duration>,
    /// `litellm_params.max_retries`: retries for calls to this deployment's
    /// group (over `num_retries`).
    pub max_retries: Option<u64>,
    /// Context window in tokens (`model_info`, else the price table), for pre-call checks.
    pub max_input_tokens: Option<u64>,
    /// USD per input token, from `litellm_params` or else `model_info`.
    pub input_cost_per_token: Option<f64>,
    /// USD per output token, from `litellm_params` or else `model_info`.
    pub output_cost_per_token: Option<f64>,
    /// Input + output price of a token from `llmux-cost`'s table, for
    /// cost-based routing when the deployment sets no price of its own.
    pub table_unit_cost: Option<f64>,
    /// `model_info.base_model`, as the price table names it: what the
    /// deployment is priced and sized as instead of `model`.
    pub price_model: Option<String>,
}

/// `base_model` as the price table knows it: as written, or with the
/// deployment's provider prefix (`gpt-4o` on `azure/my-deployment` →
/// `azure/gpt-4o`) when only that form is in the table.
pub fn price_model_name(base_model: &str, model: &str) -> String {
    if llmux_cost::get_model_info(base_model).is_ok() {
        return base_model.to_string();
    }
    match model.split_once('/') {
        Some((provider, _)) if !base_model.starts_with(&format!("{provider}/")) => {
            let qualified = format!("{provider}/{base_model}");
            if llmux_cost::get_model_info(&qualified).is_ok() {
                qualified
            } else {
                base_model.to_string()
            }
        }
        _ => base_model.to_string(),
    }
}

/// A deployment and its live state.
pub struct Deployment {
    /// The deployment's static description.
    pub spec: DeploymentSpec,
    target: Target,
    rpm_limiter: Option<DefaultDirectRateLimiter>,
    tpm_limiter: Option<DefaultDirectRateLimiter>,
    pub(crate) state: DeploymentState,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("id", &self.spec.id)
            .field("group", &self.spec.group)
            .field("model", &self.spec.model)
            .finish()
    }
}

fn per_minute(n: u64) -> Option<DefaultDirectRateLimiter> {
    let n = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX))?;
    Some(RateLimiter::direct(Quota::per_minute(n)))
}

impl Deployment {
    /// Build a deployment, resolving its provider now (wildcards: per call).
    pub fn new(spec: DeploymentSpec, env: Arc<dyn Env>) -> Result<Self> {
        let target = if let Some(group_prefix) = spec.group.strip_suffix('*') {
            let model_prefix = spec.model.strip_suffix('*').ok_or_else(|| {
                Error::bad_request(format!(
                    "model group '{}' is a wildcard, so litellm_params.model must end in '*' too (got '{}')",
                    spec.group, spec.model
                ))
            })?;
            Target::Wildcard(Box::new(Wildcard {
                group_prefix: group_prefix.to_string(),
                model_prefix: model_prefix.to_string(),
                params: spec.params.clone(),
                env,
                providers: Mutex::new(HashMap::new()),
            }))
        } else {
            let resolved =
                registry::resolve(&spec.model, &spec.params, env.as_ref()).map_err(|e| {
                    let message = format!(
                        "model_list entry '{}' ({}): {}",
                        spec.group, spec.model, e.message
                    );
                    let mut e = e;
                    e.message = message;
                    e
                })?;
            Target::Fixed {
                provider: resolved.provider,
                model: resolved.model,
            }
        };
        Ok(Deployment {
            rpm_limiter: spec.rpm.and_then(per_minute),
            tpm_limiter: spec.tpm.and_then(per_minute),
            target,
            spec,
            state: DeploymentState::default(),
        })
    }

    /// Whether `requested` (a model group name) is served by this deployment.
    pub fn matches(&self, requested: &str) -> bool {
        match &self.target {
            Target::Fixed { .. } => self.spec.group == requested,
            Target::Wildcard(w) => requested.starts_with(w.group_prefix.as_str()),
        }
    }

    /// The provider and upstream model name for a call to `requested`.
    pub fn provider_for(&self, requested: &str) -> Result<(Arc<dyn Provider>, String)> {
        match &self.target {
            Target::Fixed { provider, model } => Ok((provider.clone(), model.clone())),
            Target::Wildcard(w) => {
                let Wildcard {
                    group_prefix,
                    model_prefix,
                    params,
                    env,
                    providers,
                } = w.as_ref();
                let rest = requested
                    .strip_prefix(group_prefix.as_str())
                    .unwrap_or(requested);
                let full = format!("{model_prefix}{rest}");
                let resolved_prefix = full.split_once('/').map(|(p, _)| p.to_string());
                if let Some(prefix) = &resolved_prefix {
                    if let Some(p) = lock(providers).get(prefix) {
                        let model = full[prefix.len() + 1..].to_string();
                        return Ok((p.clone(), model));
                    }
                }
                let resolved = registry::resolve(&full, params, env.as_ref())?;
                lock(providers).insert(
                    resolved.provider.name().to_string(),
                    resolved.provider.clone(),
                );
                Ok((resolved.provider, resolved.model))
            }
        }
    }

    /// Take one request from the rpm budget; false when the deployment is at its limit.
    pub(crate) fn try_acquire_request(&self) -> bool {
        self.rpm_limiter.as_ref().is_none_or(|l| l.check().is_ok())
    }

    /// Whether the whole cluster already used this deployment's rpm or tpm
    /// this minute (known only when instances share usage).
    pub(crate) fn at_cluster_limit(&self, now: Instant) -> bool {
        let Some((requests, tokens)) = self.state.cluster_usage_at(now) else {
            return false;
        };
        self.spec.rpm.is_some_and(|rpm| requests >= rpm)
            || self.spec.tpm.is_some_and(|tpm| tokens >= tpm)
    }

    /// Take `tokens` from the tpm budget; false when they do not fit this minute.
    pub(crate) fn try_acquire_tokens(&self, tokens: u64) -> bool {
        let Some(l) = &self.tpm_limiter else {
            return true;
        };
        let Some(n) = NonZeroU32::new(u32::try_from(tokens.max(1)).unwrap_or(u32::MAX)) else {
            return true;
        };
        // A call larger than the whole per-minute budget can never fit; let the
        // provider decide rather than refusing it forever.
        matches!(l.check_n(n), Ok(Ok(())) | Err(_))
    }

    /// Live numbers: in-flight calls, latency, usage, cooldown.
    pub fn state(&self) -> &DeploymentState {
        &self.state
    }

    /// Average cost of a token, for cost-based routing.
    pub fn unit_cost(&self) -> Option<f64> {
        match (
            self.spec.input_cost_per_token,
            self.spec.output_cost_per_token,
        ) {
            (Some(i), Some(o)) => Some(i + o),
            (Some(i), None) => Some(i),
            (None, Some(o)) => Some(o),
            (None, None) => self.spec.table_unit_cost,
        }
    }
}

/// Live numbers about a deployment.
#[derive(Debug, Default)]
pub struct DeploymentState {
    in_flight: AtomicU64,
    /// Exponential moving average of latency in microseconds; 0 = not measured.
    latency_us: AtomicU64,
    usage: Mutex<UsageWindow>,
    health: Mutex<Health>,
    /// This minute's requests and tokens across every instance (shared
    /// through Redis by the gateway), and when they were read.
    cluster_usage: Mutex<Option<(Instant, u64, u64)>>,
}

/// How long a cluster-wide usage reading counts as current.
const CLUSTER_USAGE_FRESH: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
struct UsageWindow {
    /// Start of the current one-minute window.
    start: Option<Instant>,
    requests: u64,
    tokens: u64,
}

#[derive(Debug, Default)]
struct Health {
    failures: VecDeque<Instant>,
    cooldown_until: Option<Instant>,
}

/// Decrements the in-flight count when dropped (including on cancellation).
pub(crate) struct InFlightGuard(Arc<Deployment>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

const WINDOW: Duration = Duration::from_secs(60);

impl DeploymentState {
    /// Calls currently in flight.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Moving-average latency, if measured.
    pub fn latency(&self) -> Option<Duration> {
        match self.latency_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// Requests and tokens in the current minute: this instance's, or the
    /// whole cluster's when another instance shared a larger figure lately.
    pub fn usage_this_minute(&self, now: Instant) -> (u64, u64) {
        let local = {
            let w = lock(&self.usage);
            match w.start {
                Some(s) if now.duration_since(s) < WINDOW => (w.requests, w.tokens),
                _ => (0, 0),
            }
        };
        match self.cluster_usage_at(now) {
            Some((r, t)) => (local.0.max(r), local.1.max(t)),
            None => local,
        }
    }

    /// This minute's usage across every instance, as last shared.
    pub fn set_cluster_usage(&self, now: Instant, requests: u64, tokens: u64) {
        *lock(&self.cluster_usage) = Some((now, requests, tokens));
    }

    fn cluster_usage_at(&self, now: Instant) -> Option<(u64, u64)> {
        lock(&self.cluster_usage)
            .filter(|(at, _, _)| now.saturating_duration_since(*at) < CLUSTER_USAGE_FRESH)
            .map(|(_, r, t)| (r, t))
    }

    /// Cool down until `until` (unless already cooling down longer): how a
    /// cooldown started by another instance is applied here.
    pub fn cool_down_until(&self, until: Instant) {
        let mut h = lock(&self.health);
        if h.cooldown_until.is_none_or(|u| u < until) {
            h.cooldown_until = Some(until);
        }
    }

    /// Whether the deployment is cooling down at `now`.
    pub fn cooling_down(&self, now: Instant) -> Option<Instant> {
        lock(&self.health)
            .cooldown_until
            .filter(|until| *until > now)
    }

    /// Record a latency and a minute's usage sample (benchmarks and tests
    /// outside the crate use this to put a deployment in a known state).
    #[doc(hidden)]
    pub fn record_sample_for_bench(&self, latency: Duration) {
        self.record_latency(latency);
        self.record_usage(Instant::now(), 1, 100);
    }

    pub(crate) fn record_latency(&self, latency: Duration) {
        let sample = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let old = self.latency_us.load(Ordering::Relaxed);
        // EWMA with alpha = 0.3: recent calls dominate, one outlier does not.
        let new = if old == 0 {
            sample
        } else {
            (old * 7 + sample * 3) / 10
        };
        self.latency_us.store(new.max(1), Ordering::Relaxed);
    }

    pub(crate) fn record_usage(&self, now: Instant, requests: u64, tokens: u64) {
        let mut w = lock(&self.usage);
        if w.start.is_none_or(|s| now.duration_since(s) >= WINDOW) {
            *w = UsageWindow {
                start: Some(now),
                requests: 0,
                tokens: 0,
            };
        }
        w.requests += requests;
        w.tokens += tokens;
    }

    /// Count a failure; start a cooldown when more than `allowed_fails` failed
    /// within the last minute, or at once when `immediate`.
    pub(crate) fn record_failure(
        &self,
        now: Instant,
        allowed_fails: u64,
        cooldown: Duration,
        immediate: bool,
    ) -> bool {
        let mut h = lock(&self.health);
        while h
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            h.failures.pop_front();
        }
        h.failures.push_back(now);
        let over = h.failures.len() as u64 > allowed_fails;
        if over || immediate {
            h.cooldown_until = Some(now + cooldown);
            h.failures.clear();
            true
        } else {
            false
        }
    }
}

impl Deployment {
    /// Mark a call started; the guard marks it finished.
    pub(crate) fn start_call(self: &Arc<Self>) -> InFlightGuard {
        self.state.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(self.clone())
    }
}
