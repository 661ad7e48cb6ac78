//! The [`Router`]: model groups of deployments behind one tower stack,
//! `Fallback → Retry → Hedge (opt-in per group) → Select`, built in one
//! `ServiceBuilder` expression ([`Router::from_deployments`]).

use std::sync::Arc;

use llmux_core::types::audio::{
    SpeechRequest, SpeechResponse, TranscriptionRequest, TranscriptionResponse,
};
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::types::images::{ImageGenerationRequest, ImagesResponse};
use llmux_core::types::moderations::{ModerationRequest, ModerationResponse};
use llmux_core::types::rerank::{RerankRequest, RerankResponse};
use llmux_core::{ChatStream, Env, Error, ErrorKind, ProcessEnv, Result};
use tower::retry::{Retry, RetryLayer};
use tower::{ServiceBuilder, ServiceExt};

use crate::call::{Call, Reply, Routed, RouterRequest, RouterResponse};
use crate::config::{seconds, ModelListEntry, RouterSettings};
use crate::deployment::{Deployment, DeploymentSpec};
use crate::fallback::{FallbackLayer, FallbackService};
use crate::hedge::{HedgeLayer, HedgeService};
use crate::retry::RetryPolicy;
use crate::select::SelectService;
pub use crate::shared::{CooldownListener, UsageListener};
use crate::shared::{Settings, Shared};
use crate::strategy::{self, RoutingStrategy};

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
            let price_model = info
                .base_model
                .as_deref()
                .map(|b| crate::deployment::price_model_name(b, &lp.model));
            let known =
                llmux_cost::get_model_info(price_model.as_deref().unwrap_or(&lp.model)).ok();
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
                price_model,
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

    /// The whole per-call stack, outermost first.
    fn from_deployments(
        deployments: Vec<Arc<Deployment>>,
        strategy: Box<dyn RoutingStrategy>,
        settings: Settings,
        raw: &RouterSettings,
    ) -> Result<Router> {
        let shared = Arc::new(Shared::new(deployments, strategy, settings, raw)?);
        let stack = ServiceBuilder::new()
            .layer(FallbackLayer::new(shared.clone()))
            .layer(RetryLayer::new(RetryPolicy::new(shared.clone())))
            .layer(HedgeLayer::new(raw.hedging.as_ref())?)
            .service(SelectService::new(shared.clone()));
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

always_ready_service!(Router, |this, req| {
    let stack = this.stack.clone();
    Box::pin(stack.oneshot(req))
});

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
