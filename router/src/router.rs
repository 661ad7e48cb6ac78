//! The [`Router`]: model groups of deployments behind one tower stack,
//! `Fallback → Retry → Hedge (opt-in per group) → Select`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use llmux_core::types::audio::{
    SpeechRequest, SpeechResponse, TranscriptionRequest, TranscriptionResponse,
};
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::types::images::{ImageGenerationRequest, ImagesResponse};
use llmux_core::types::moderations::{ModerationRequest, ModerationResponse};
use llmux_core::types::rerank::{RerankRequest, RerankResponse};
use llmux_core::{ChatStream, Env, Error, ErrorKind, FallbackClass, ProcessEnv, Result};
use tower::hedge::Hedge;
use tower::retry::Retry;
use tower::{Service, ServiceExt};

use crate::call::{Call, Reply, Routed, RouterRequest, RouterResponse};
use crate::config::{seconds, ModelListEntry, RouterSettings};
use crate::deployment::{Deployment, DeploymentSpec};
use crate::fallback::FallbackService;
use crate::retry::RetryPolicy;
use crate::select::SelectService;
use crate::strategy::{self, RoutingStrategy};

/// Router-wide settings, validated from [`RouterSettings`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub num_retries: u64,
    pub retry_policy: BTreeMap<String, u64>,
    /// Minimum wait before any retry (`retry_after`).
    pub retry_after: Duration,
    /// First exponential backoff step (doubles per retry, capped at 8 s).
    pub backoff_base: Duration,
    pub allowed_fails: u64,
    pub cooldown_time: Duration,
    pub timeout: Option<Duration>,
    pub stream_timeout: Option<Duration>,
    pub pre_call_checks: bool,
}

/// LiteLLM's defaults: 2 retries, 3 allowed fails a minute, 5 s cooldown.
impl Default for Settings {
    fn default() -> Self {
        Settings {
            num_retries: 2,
            retry_policy: BTreeMap::new(),
            retry_after: Duration::ZERO,
            backoff_base: Duration::from_millis(500),
            allowed_fails: 3,
            cooldown_time: Duration::from_secs(5),
            timeout: None,
            stream_timeout: None,
            pre_call_checks: false,
        }
    }
}

type FallbackMap = HashMap<String, Vec<String>>;

/// Everything the services share.
pub struct Shared {
    deployments: Vec<Arc<Deployment>>,
    groups: HashMap<String, Vec<Arc<Deployment>>>,
    /// Wildcard deployments, longest pattern first (`*` last).
    wildcards: Vec<Arc<Deployment>>,
    aliases: HashMap<String, String>,
    pub(crate) strategy: Box<dyn RoutingStrategy>,
    pub(crate) settings: Settings,
    fallbacks: FallbackMap,
    context_window_fallbacks: FallbackMap,
    content_policy_fallbacks: FallbackMap,
    default_fallbacks: Vec<String>,
    /// Told of every cooldown this router starts (to share it with other
    /// instances); set once by [`Router::on_cooldown`].
    pub(crate) cooldown_listener: std::sync::OnceLock<CooldownListener>,
    /// Told of every request and its tokens (to share usage with other
    /// instances); set once by [`Router::on_usage`].
    pub(crate) usage_listener: std::sync::OnceLock<UsageListener>,
}

/// Called with a deployment id and how long it cools down.
pub type CooldownListener = Arc<dyn Fn(&str, Duration) + Send + Sync>;

/// Called with a deployment id, requests and tokens it just served.
pub type UsageListener = Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

impl Shared {
    /// The deployments serving `requested` (alias, exact group, or wildcard).
    pub(crate) fn candidates(&self, requested: &str) -> Result<Vec<Arc<Deployment>>> {
        let name = self
            .aliases
            .get(requested)
            .map(String::as_str)
            .unwrap_or(requested);
        if let Some(g) = self.groups.get(name) {
            return Ok(g.clone());
        }
        let matching: Vec<Arc<Deployment>> = self
            .wildcards
            .iter()
            .filter(|d| d.matches(name))
            .cloned()
            .collect();
        if let Some(first) = matching.first() {
            // Only the most specific pattern's deployments serve the call.
            let group = first.spec.group.clone();
            return Ok(matching
                .into_iter()
                .filter(|d| d.spec.group == group)
                .collect());
        }
        let mut names: Vec<&str> = self.groups.keys().map(String::as_str).collect();
        names.extend(self.wildcards.iter().map(|d| d.spec.group.as_str()));
        names.sort_unstable();
        names.dedup();
        let hint = if !requested.contains('/') && !self.wildcards.is_empty() {
            ". Name the provider as provider/model (a bare name is read so only when it belongs to one provider)"
        } else {
            ""
        };
        Err(Error::bad_request(format!(
            "Invalid model name passed in model={}. Available model groups: {}{hint}",
            llmux_core::text::truncate(requested, 256),
            if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            }
        ))
        .with_param("model")
        .with_code("model_not_found"))
    }

    /// `requested` as the router serves it. A bare name that no group
    /// serves as is (`gpt-4o`) but that belongs unambiguously to one
    /// provider becomes `provider/name` when a wildcard group serves that
    /// (the SDK's `resolve` reads bare names the same way).
    pub(crate) fn canonical_name<'a>(&self, requested: &'a str) -> Cow<'a, str> {
        let served = |name: &str| {
            self.aliases.contains_key(name)
                || self.groups.contains_key(name)
                || self.wildcards.iter().any(|d| d.matches(name))
        };
        if served(requested) {
            return Cow::Borrowed(requested);
        }
        match llmux_core::model::infer_provider(requested) {
            Some(provider) => {
                let full = format!("{provider}/{requested}");
                if served(&full) {
                    Cow::Owned(full)
                } else {
                    Cow::Borrowed(requested)
                }
            }
            None => Cow::Borrowed(requested),
        }
    }

    /// The configured group `requested` resolves to: its alias target, its
    /// own name, or the wildcard pattern that serves it. `None` when no
    /// group serves it. Bounded by the config, so safe as a metrics label.
    pub(crate) fn group_name(&self, requested: &str) -> Option<&str> {
        let requested = self.canonical_name(requested);
        let name = self
            .aliases
            .get(requested.as_ref())
            .map(String::as_str)
            .unwrap_or(&requested);
        if let Some((group, _)) = self.groups.get_key_value(name) {
            return Some(group.as_str());
        }
        self.wildcards
            .iter()
            .find(|d| d.matches(name))
            .map(|d| d.spec.group.as_str())
    }

    /// Retries a call to `group` gets when one of its deployments sets
    /// `litellm_params.max_retries` (the largest such value), else `None`
    /// (then `num_retries` applies).
    pub(crate) fn group_max_retries(&self, group: &str) -> Option<u64> {
        self.candidates(group)
            .ok()?
            .iter()
            .filter_map(|d| d.spec.max_retries)
            .max()
    }

    pub(crate) fn fallbacks_for(&self, class: FallbackClass, group: &str) -> Vec<String> {
        let pick = |map: &FallbackMap| -> Option<Vec<String>> {
            map.get(group).or_else(|| map.get("*")).cloned()
        };
        match class {
            FallbackClass::None => Vec::new(),
            FallbackClass::ContextWindow => {
                pick(&self.context_window_fallbacks).unwrap_or_default()
            }
            FallbackClass::ContentPolicy => {
                pick(&self.content_policy_fallbacks).unwrap_or_default()
            }
            FallbackClass::Default => {
                pick(&self.fallbacks).unwrap_or_else(|| self.default_fallbacks.clone())
            }
        }
        .into_iter()
        .filter(|g| g != group)
        .collect()
    }
}

fn fallback_map(
    field: &str,
    lists: &Option<Vec<BTreeMap<String, Vec<String>>>>,
) -> Result<FallbackMap> {
    let mut out = FallbackMap::new();
    for entry in lists.iter().flatten() {
        for (group, targets) in entry {
            if out.insert(group.clone(), targets.clone()).is_some() {
                return Err(Error::bad_request(format!(
                    "router_settings.{field}: model group '{group}' is listed twice"
                )));
            }
        }
    }
    Ok(out)
}

/// Hedging applies to whole, idempotent calls; streams are not hedged.
#[derive(Clone, Copy, Debug)]
pub struct HedgePolicy;

impl tower::hedge::Policy<RouterRequest> for HedgePolicy {
    fn clone_request(&self, req: &RouterRequest) -> Option<RouterRequest> {
        (!matches!(req.call, Call::ChatStream(_))).then(|| req.clone())
    }

    fn can_retry(&self, _req: &RouterRequest) -> bool {
        true
    }
}

/// Sends a call through its group's hedge when it has one, else straight to select.
#[derive(Clone)]
pub struct HedgeService {
    hedges: Arc<HashMap<String, tokio::sync::Mutex<Hedge<SelectService, HedgePolicy>>>>,
    select: SelectService,
}

impl Service<RouterRequest> for HedgeService {
    type Response = RouterResponse;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<RouterResponse>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RouterRequest) -> Self::Future {
        let hedges = self.hedges.clone();
        let mut select = self.select.clone();
        Box::pin(async move {
            let Some(hedge) = hedges.get(&req.group) else {
                return select.call(req).await;
            };
            let fut = {
                let mut h = hedge.lock().await;
                h.ready().await.map_err(from_box_error)?;
                h.call(req)
            };
            fut.await.map_err(from_box_error)
        })
    }
}

fn from_box_error(e: tower::BoxError) -> Error {
    match e.downcast::<Error>() {
        Ok(e) => *e,
        Err(other) => Error::new(ErrorKind::InternalServer, other.to_string()),
    }
}

type Stack = FallbackService<Retry<RetryPolicy, HedgeService>>;

/// Routes calls for model groups to their deployments, with retries,
/// fallbacks, cooldowns, rate limits and load balancing. Cheap to clone.
///
/// It is also a `tower::Service<RouterRequest>`, so further layers (the
/// response cache, for one) stack on top of it.
#[derive(Clone)]
pub struct Router {
    shared: Arc<Shared>,
    stack: Stack,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("deployments", &self.shared.deployments)
            .field("strategy", &self.shared.strategy.name())
            .finish()
    }
}

impl Router {
    /// Build from LiteLLM's `model_list` and `router_settings`, resolving
    /// `os.environ/…` values and provider keys through `env`.
    pub fn new(
        model_list: Vec<ModelListEntry>,
        settings: RouterSettings,
        env: Arc<dyn Env>,
    ) -> Result<Router> {
        let latency_buffer = settings
            .routing_strategy_args
            .as_ref()
            .and_then(|a| a.lowest_latency_buffer)
            .unwrap_or(0.0);
        let strategy =
            strategy::by_name(settings.strategy_name(), latency_buffer).ok_or_else(|| {
                Error::bad_request(format!(
                    "router_settings.routing_strategy: unknown strategy '{}'; use one of {}",
                    settings.strategy_name(),
                    strategy::STRATEGY_NAMES.join(", ")
                ))
            })?;
        let defaults = Settings::default();
        let resolved = Settings {
            num_retries: settings.num_retries.unwrap_or(defaults.num_retries),
            retry_policy: settings.retry_policy.clone().unwrap_or_default(),
            retry_after: seconds("router_settings.retry_after", settings.retry_after)?
                .unwrap_or(defaults.retry_after),
            backoff_base: seconds("router_settings.retry_after", settings.retry_after)?
                .filter(|d| !d.is_zero())
                .unwrap_or(defaults.backoff_base),
            allowed_fails: settings.allowed_fails.unwrap_or(defaults.allowed_fails),
            cooldown_time: seconds("router_settings.cooldown_time", settings.cooldown_time)?
                .unwrap_or(defaults.cooldown_time),
            timeout: seconds("router_settings.timeout", settings.timeout)?,
            stream_timeout: seconds("router_settings.stream_timeout", settings.stream_timeout)?,
            pre_call_checks: settings.enable_pre_call_checks.unwrap_or(false),
        };
        for key in resolved.retry_policy.keys() {
            const KNOWN: &[&str] = &[
                "BadRequestErrorRetries",
                "AuthenticationErrorRetries",
                "TimeoutErrorRetries",
                "RateLimitErrorRetries",
                "ContentPolicyViolationErrorRetries",
                "InternalServerErrorRetries",
            ];
            if !KNOWN.contains(&key.as_str()) {
                return Err(Error::bad_request(format!(
                    "router_settings.retry_policy: unknown key '{key}'; use {}",
                    KNOWN.join(", ")
                )));
            }
        }

        let mut deployments = Vec::new();
        for (i, entry) in model_list.into_iter().enumerate() {
            let lp = &entry.litellm_params;
            let info = entry.model_info.clone().unwrap_or_default();
            // What the price table knows of the model: its context window
            // (for the pre-call check) and price (for cost-based routing).
            let known = llmux_cost::get_model_info(&lp.model).ok();
            let table_unit_cost = known.and_then(|k| {
                let input = k.base_price(llmux_cost::PriceField::Input)?.usd();
                let output = k
                    .base_price(llmux_cost::PriceField::Output)
                    .map_or(0.0, |r| r.usd());
                Some(input + output)
            });
            let spec = DeploymentSpec {
                id: info
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("{}-{i}", entry.model_name)),
                group: entry.model_name.clone(),
                model: lp.model.clone(),
                params: lp.provider_params(env.as_ref()).map_err(|e| {
                    let message = format!("model_list[{i}] ({}): {}", entry.model_name, e.message);
                    let mut e = e;
                    e.message = message;
                    e
                })?,
                rpm: lp.rpm,
                tpm: lp.tpm,
                weight: lp.weight,
                timeout: seconds("litellm_params.timeout", lp.timeout)?,
                stream_timeout: seconds("litellm_params.stream_timeout", lp.stream_timeout)?,
                max_retries: lp.max_retries,
                max_input_tokens: info
                    .max_input_tokens
                    .or(known.and_then(|k| k.max_input_tokens)),
                input_cost_per_token: lp.input_cost_per_token.or(info.input_cost_per_token),
                output_cost_per_token: lp.output_cost_per_token.or(info.output_cost_per_token),
                table_unit_cost,
            };
            deployments.push(Arc::new(Deployment::new(spec, env.clone())?));
        }
        Self::from_deployments(deployments, strategy, resolved, &settings)
    }

    /// Wildcard groups (`openai/*`, `groq/*`, …) for every provider whose
    /// credentials are in the process environment.
    pub fn from_env() -> Result<Router> {
        Self::from_env_with(Arc::new(ProcessEnv))
    }

    /// [`Router::from_env`] with an explicit environment.
    pub fn from_env_with(env: Arc<dyn Env>) -> Result<Router> {
        let model_list = crate::registry::configured_providers(env.as_ref())
            .into_iter()
            .map(|prefix| ModelListEntry {
                model_name: format!("{prefix}/*"),
                litellm_params: crate::config::LitellmParams {
                    model: format!("{prefix}/*"),
                    ..Default::default()
                },
                model_info: None,
            })
            .collect();
        Self::new(model_list, RouterSettings::default(), env)
    }

    fn from_deployments(
        deployments: Vec<Arc<Deployment>>,
        strategy: Box<dyn RoutingStrategy>,
        settings: Settings,
        raw: &RouterSettings,
    ) -> Result<Router> {
        let mut groups: HashMap<String, Vec<Arc<Deployment>>> = HashMap::new();
        let mut wildcards = Vec::new();
        for d in &deployments {
            if d.spec.group.ends_with('*') {
                wildcards.push(d.clone());
            } else {
                groups
                    .entry(d.spec.group.clone())
                    .or_default()
                    .push(d.clone());
            }
        }
        wildcards.sort_by_key(|d| std::cmp::Reverse(d.spec.group.len()));
        let mut seen = std::collections::HashSet::new();
        for d in &deployments {
            if !seen.insert(d.spec.id.clone()) {
                return Err(Error::bad_request(format!(
                    "model_info.id '{}' is used by more than one deployment",
                    d.spec.id
                )));
            }
        }
        let shared = Arc::new(Shared {
            cooldown_listener: std::sync::OnceLock::new(),
            usage_listener: std::sync::OnceLock::new(),
            deployments,
            groups,
            wildcards,
            aliases: raw
                .model_group_alias
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            strategy,
            settings,
            fallbacks: fallback_map("fallbacks", &raw.fallbacks)?,
            context_window_fallbacks: fallback_map(
                "context_window_fallbacks",
                &raw.context_window_fallbacks,
            )?,
            content_policy_fallbacks: fallback_map(
                "content_policy_fallbacks",
                &raw.content_policy_fallbacks,
            )?,
            default_fallbacks: raw.default_fallbacks.clone().unwrap_or_default(),
        });
        let select = SelectService {
            shared: shared.clone(),
        };
        let mut hedges = HashMap::new();
        for (group, h) in raw.hedging.clone().unwrap_or_default() {
            if !(h.percentile > 0.0 && h.percentile < 100.0) {
                return Err(Error::bad_request(format!(
                    "router_settings.hedging.{group}.percentile must be between 0 and 100, got {}",
                    h.percentile
                )));
            }
            let period = seconds(
                &format!("router_settings.hedging.{group}.period"),
                Some(h.period),
            )?
            .filter(|p| !p.is_zero())
            .unwrap_or(Duration::from_secs(10));
            let hedge = Hedge::new::<RouterRequest>(
                select.clone(),
                HedgePolicy,
                h.min_samples,
                (h.percentile / 100.0) as f32,
                period,
            );
            hedges.insert(group, tokio::sync::Mutex::new(hedge));
        }
        let stack = FallbackService {
            shared: shared.clone(),
            inner: Retry::new(
                RetryPolicy {
                    shared: shared.clone(),
                    retries_done: 0,
                },
                HedgeService {
                    hedges: Arc::new(hedges),
                    select,
                },
            ),
        };
        Ok(Router { shared, stack })
    }

    /// Names of the model groups (wildcard patterns included).
    pub fn model_groups(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .shared
            .deployments
            .iter()
            .map(|d| d.spec.group.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The configured model group (or wildcard pattern) that serves
    /// `requested`, if any: a name from the config, never the caller's own
    /// string, so it can label metrics without growing them.
    pub fn group_name(&self, requested: &str) -> Option<&str> {
        self.shared.group_name(requested)
    }

    /// Every deployment, with its live state.
    pub fn deployments(&self) -> &[Arc<Deployment>] {
        &self.shared.deployments
    }

    /// Be told of every cooldown this router starts, e.g. to share it with
    /// other instances (which then call [`DeploymentState::cool_down_until`]).
    /// Only the first listener set is kept; returns whether this one was.
    pub fn on_cooldown(&self, listener: CooldownListener) -> bool {
        self.shared.cooldown_listener.set(listener).is_ok()
    }

    /// Be told of the requests and tokens each deployment serves, e.g. to
    /// share usage with other instances (which then call
    /// [`DeploymentState::set_cluster_usage`]). Only the first listener is kept.
    pub fn on_usage(&self, listener: UsageListener) -> bool {
        self.shared.usage_listener.set(listener).is_ok()
    }

    /// The routing strategy in use.
    pub fn strategy_name(&self) -> &'static str {
        self.shared.strategy.name()
    }

    /// Send a call through the whole stack.
    pub async fn route(&self, request: RouterRequest) -> Result<RouterResponse> {
        self.stack.clone().oneshot(request).await
    }

    async fn run(&self, group: String, call: Call) -> Result<RouterResponse> {
        self.route(RouterRequest::new(group, call)).await
    }
}

macro_rules! endpoint {
    ($(#[$doc:meta])* $name:ident, $req:ty, $variant:ident, $resp:ty, $group:expr) => {
        impl Router {
            $(#[$doc])*
            pub async fn $name(&self, request: $req) -> Result<Routed<$resp>> {
                let group = $group(&request);
                let r = self.run(group, Call::$variant(request)).await?;
                match r.reply {
                    Reply::$variant(response) => Ok(Routed { response, route: r.route }),
                    other => Err(Error::new(
                        ErrorKind::InternalServer,
                        format!("router returned {other:?} for a {} call", stringify!($name)),
                    )),
                }
            }
        }
    };
}

endpoint!(
    /// Chat completion; `request.model` names the model group.
    chat, ChatCompletionRequest, Chat, ChatCompletion, |r: &ChatCompletionRequest| r.model.clone()
);
endpoint!(
    /// Streaming chat completion. Retries and fallbacks happen only before
    /// the first chunk, which has arrived when this returns.
    chat_stream, ChatCompletionRequest, ChatStream, ChatStream, |r: &ChatCompletionRequest| r.model.clone()
);
endpoint!(
    /// Embeddings.
    embeddings, EmbeddingRequest, Embeddings, EmbeddingResponse, |r: &EmbeddingRequest| r.model.clone()
);
endpoint!(
    /// Image generation.
    image_generation, ImageGenerationRequest, ImageGeneration, ImagesResponse,
    |r: &ImageGenerationRequest| r.model.clone().unwrap_or_default()
);
endpoint!(
    /// Audio transcription.
    transcription, TranscriptionRequest, Transcription, TranscriptionResponse, |r: &TranscriptionRequest| r.model.clone()
);
endpoint!(
    /// Text to speech.
    speech, SpeechRequest, Speech, SpeechResponse, |r: &SpeechRequest| r.model.clone()
);
endpoint!(
    /// Moderation.
    moderation, ModerationRequest, Moderation, ModerationResponse,
    |r: &ModerationRequest| r.model.clone().unwrap_or_default()
);
endpoint!(
    /// Rerank.
    rerank, RerankRequest, Rerank, RerankResponse, |r: &RerankRequest| r.model.clone()
);

impl Service<RouterRequest> for Router {
    type Response = RouterResponse;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<RouterResponse>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RouterRequest) -> Self::Future {
        let stack = self.stack.clone();
        Box::pin(stack.oneshot(req))
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;
    use llmux_core::MapEnv;

    #[test]
    fn deployments_learn_context_window_and_price_from_the_table() {
        let entry = |model: &str| ModelListEntry {
            model_name: "g".into(),
            litellm_params: crate::config::LitellmParams {
                model: model.into(),
                api_key: Some("k".into()),
                ..Default::default()
            },
            model_info: None,
        };
        let router = Router::new(
            vec![entry("openai/gpt-4o"), entry("openai/my-finetune")],
            RouterSettings::default(),
            Arc::new(MapEnv::default()),
        )
        .unwrap();
        let [known, unknown] = router.deployments() else {
            panic!("two deployments expected");
        };
        // gpt-4o: 128k context, $2.50 + $10 per million tokens.
        assert_eq!(known.spec.max_input_tokens, Some(128_000));
        let unit = known.unit_cost().unwrap();
        assert!((unit - 12.5e-6).abs() < 1e-15, "{unit}");
        assert_eq!(unknown.spec.max_input_tokens, None);
        assert_eq!(unknown.unit_cost(), None);
    }
}
