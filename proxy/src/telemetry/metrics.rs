//! Prometheus metrics, served at `/metrics` in the text exposition format.
//! One registry per gateway (no globals), so tests can run several.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of `llmux_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route name, e.g. `chat_completions`.
    pub route: &'static str,
    /// Configured model group (or wildcard pattern) serving the request, else `unknown`.
    pub model_group: String,
    /// HTTP status code of the answer.
    pub status: u16,
}

/// Labels of the per-route metrics: request duration, stream errors, cache hits.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route name, e.g. `chat_completions`.
    pub route: &'static str,
    /// Configured model group (or wildcard pattern) serving the request, else `unknown`.
    pub model_group: String,
}

/// Labels of the per-deployment metrics: upstream latency and spend.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeploymentLabels {
    /// Configured model group (or wildcard pattern) the deployment served.
    pub model_group: String,
    /// Deployment id (`model_info.id`, or generated).
    pub deployment: String,
}

/// Labels of `llmux_tokens_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// Configured model group (or wildcard pattern) the deployment served.
    pub model_group: String,
    /// Deployment id (`model_info.id`, or generated).
    pub deployment: String,
    /// Token type: `prompt` or `completion`.
    pub r#type: &'static str,
}

/// Labels of `llmux_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Route name, e.g. `chat_completions`.
    pub route: &'static str,
    /// Configured model group (or wildcard pattern) asked for, else `unknown`.
    pub model_group: String,
    /// Error kind, named like LiteLLM's exceptions (`RateLimitError`, `Timeout`, …).
    pub kind: &'static str,
}

/// Labels of LiteLLM's per-caller metrics (`litellm_requests_metric`, …):
/// what the key, its team and user are named in the database (admin-made,
/// so bounded) and the configured group asked for. LiteLLM's `end_user`
/// label is always empty: it would be the caller's own `user` field, which
/// must not become label values.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallerLabels {
    /// The request's `user` in LiteLLM; always empty here.
    pub end_user: String,
    /// The key's SHA-256 hash (empty for the master key or no key).
    pub hashed_api_key: String,
    /// The key's alias.
    pub api_key_alias: String,
    /// The configured model group asked for, else `unknown`.
    pub requested_model: String,
    /// The key's team id.
    pub team: String,
    /// The team's alias.
    pub team_alias: String,
    /// The key's user id.
    pub user: String,
}

/// [`CallerLabels`] and the answer's status (`litellm_requests_metric`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallerStatusLabels {
    /// Who called and for what.
    #[prometheus(flatten)]
    pub caller: CallerLabels,
    /// HTTP status of the answer.
    pub status_code: String,
}

/// Labels of LiteLLM's per-deployment metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LitellmDeploymentLabels {
    /// The model sent upstream.
    pub litellm_model_name: String,
    /// The deployment id.
    pub model_id: String,
    /// The deployment's provider.
    pub api_provider: String,
    /// The model group.
    pub model_group: String,
}

/// Labels of the remaining-budget gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BudgetLabels {
    /// `key` or `team`.
    pub kind: &'static str,
    /// The key's hash or the team's id.
    pub id: String,
    /// The key's or the team's alias.
    pub alias: String,
}

/// Labels of LiteLLM's remaining key budget gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyBudgetLabels {
    /// The key's SHA-256 hash.
    pub hashed_api_key: String,
    /// The key's alias.
    pub api_key_alias: String,
}

/// Labels of LiteLLM's remaining team budget gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TeamBudgetLabels {
    /// The team's id.
    pub team: String,
    /// The team's alias.
    pub team_alias: String,
}

/// Labels of the logging-callback metrics: the callback's configured name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallbackLabels {
    /// The callback's name in the config (`otel`, `generic_api`, …).
    pub callback: String,
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Requests answered, by route, model group and HTTP status (`llmux_requests_total`).
    pub requests: Family<RequestLabels, Counter>,
    /// Seconds from request to response head, for streams to the first chunk
    /// (`llmux_request_duration_seconds`).
    pub request_duration: Family<RouteLabels, Histogram>,
    /// Seconds the serving deployment took (`llmux_upstream_latency_seconds`); not for cache hits.
    pub upstream_latency: Family<DeploymentLabels, Histogram>,
    /// Seconds spent in llmux itself, excluding the upstream (`llmux_overhead_seconds`).
    pub overhead: Histogram,
    /// Prompt and completion tokens of answered calls (`llmux_tokens_total`); not for cache hits.
    pub tokens: Family<TokenLabels, Counter>,
    /// Cost of answered calls in USD (`llmux_spend_usd_total`).
    pub spend: Family<DeploymentLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    /// Failed requests, by route, model group and error kind (`llmux_errors_total`).
    pub errors: Family<ErrorLabels, Counter>,
    /// Streams that failed after the response had started (`llmux_stream_errors_total`).
    pub stream_errors: Family<RouteLabels, Counter>,
    /// Requests answered from the response cache (`llmux_cache_hits_total`).
    pub cache_hits: Family<RouteLabels, Counter>,
    /// Events waiting in a logging callback's queue (`llmux_callback_queue_depth`).
    pub callback_queue_depth: Family<CallbackLabels, Gauge>,
    /// Events a logging callback dropped: its queue was full, or it refused
    /// them for good (`llmux_callback_dropped_total`).
    pub callback_dropped: Family<CallbackLabels, Counter>,
    /// Events a logging callback delivered (`llmux_callback_delivered_total`).
    pub callback_delivered: Family<CallbackLabels, Counter>,
    /// Failed deliveries to a logging callback, each retried or dropped
    /// (`llmux_callback_failed_deliveries_total`).
    pub callback_failed_deliveries: Family<CallbackLabels, Counter>,
    /// Seconds from request to the first streamed event
    /// (`llmux_time_to_first_token_seconds`).
    pub time_to_first_token: Family<RouteLabels, Histogram>,
    /// Seconds per output token: after the first token on streams, the
    /// upstream's whole time on answers (`llmux_time_per_output_token_seconds`).
    pub time_per_output_token: Family<RouteLabels, Histogram>,
    /// Output tokens per second, the inverse (`llmux_output_tokens_per_second`).
    pub output_tokens_per_second: Family<RouteLabels, Histogram>,
    /// Request body sizes (`llmux_request_size_bytes`), from `Content-Length`.
    pub request_size: Family<RouteLabels, Histogram>,
    /// Sizes of whole (not streamed) answers (`llmux_response_size_bytes`).
    pub response_size: Family<RouteLabels, Histogram>,
    /// Remaining budget of keys and teams, in USD (`llmux_remaining_budget_usd`).
    pub remaining_budget: Family<BudgetLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Deployment state: 0 healthy, 2 cooling down (`llmux_deployment_state`;
    /// LiteLLM's 0/1/2 scale).
    pub deployment_state: Family<DeploymentLabels, Gauge>,
    /// Calls in flight per deployment (`llmux_deployment_in_flight`).
    pub deployment_in_flight: Family<DeploymentLabels, Gauge>,
    /// Requests this minute per deployment (`llmux_deployment_rpm_in_use`).
    pub deployment_rpm: Family<DeploymentLabels, Gauge>,
    /// Tokens this minute per deployment (`llmux_deployment_tpm_in_use`).
    pub deployment_tpm: Family<DeploymentLabels, Gauge>,
    /// LiteLLM's names for the same measures, so its dashboards keep working.
    pub litellm: LitellmMetrics,
}

/// LiteLLM's Prometheus metrics, by its names and labels.
pub struct LitellmMetrics {
    /// `litellm_requests_metric`: requests by caller, model and status.
    pub requests: Family<CallerStatusLabels, Counter>,
    /// `litellm_spend_metric`: USD by caller and model.
    pub spend: Family<CallerLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    /// `litellm_total_tokens_metric`.
    pub total_tokens: Family<CallerLabels, Counter>,
    /// `litellm_input_tokens_metric`.
    pub input_tokens: Family<CallerLabels, Counter>,
    /// `litellm_output_tokens_metric`.
    pub output_tokens: Family<CallerLabels, Counter>,
    /// `litellm_proxy_total_requests_metric`.
    pub proxy_total_requests: Family<CallerStatusLabels, Counter>,
    /// `litellm_proxy_failed_requests_metric`.
    pub proxy_failed_requests: Family<CallerStatusLabels, Counter>,
    /// `litellm_llm_api_latency_metric` (seconds).
    pub llm_api_latency: Family<CallerLabels, Histogram>,
    /// `litellm_request_total_latency_metric` (seconds).
    pub request_total_latency: Family<CallerLabels, Histogram>,
    /// `litellm_llm_api_time_to_first_token_metric` (seconds).
    pub time_to_first_token: Family<CallerLabels, Histogram>,
    /// `litellm_overhead_latency_metric` (seconds).
    pub overhead_latency: Family<CallerLabels, Histogram>,
    /// `litellm_remaining_api_key_budget_metric` (USD).
    pub remaining_api_key_budget: Family<KeyBudgetLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// `litellm_remaining_team_budget_metric` (USD).
    pub remaining_team_budget: Family<TeamBudgetLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// `litellm_deployment_state`: 0 healthy, 2 complete outage (cooling down).
    pub deployment_state: Family<LitellmDeploymentLabels, Gauge>,
    /// `litellm_deployment_success_responses`.
    pub deployment_success: Family<LitellmDeploymentLabels, Counter>,
    /// `litellm_deployment_failure_responses`.
    pub deployment_failure: Family<LitellmDeploymentLabels, Counter>,
    /// `litellm_deployment_total_requests`.
    pub deployment_total: Family<LitellmDeploymentLabels, Counter>,
    /// `litellm_deployment_latency_per_output_token` (seconds).
    pub deployment_latency_per_output_token: Family<LitellmDeploymentLabels, Histogram>,
}

/// LiteLLM's per-caller series of one key and model group, resolved once
/// (see [`LitellmMetrics::series`]): a call updates them without building
/// labels or looking them up.
#[derive(Clone)]
pub struct CallerSeries {
    /// `litellm_requests_metric{…,status_code="200"}`.
    pub requests_ok: Counter,
    /// `litellm_proxy_total_requests_metric{…,status_code="200"}`.
    pub proxy_requests_ok: Counter,
    /// `litellm_spend_metric`.
    pub spend: Counter<f64, std::sync::atomic::AtomicU64>,
    /// `litellm_total_tokens_metric`.
    pub total_tokens: Counter,
    /// `litellm_input_tokens_metric`.
    pub input_tokens: Counter,
    /// `litellm_output_tokens_metric`.
    pub output_tokens: Counter,
    /// `litellm_llm_api_latency_metric`.
    pub llm_api_latency: Histogram,
    /// `litellm_request_total_latency_metric`.
    pub request_total_latency: Histogram,
    /// `litellm_llm_api_time_to_first_token_metric`.
    pub time_to_first_token: Histogram,
    /// `litellm_overhead_latency_metric`.
    pub overhead_latency: Histogram,
}

/// LiteLLM's per-deployment series of one deployment, resolved at start.
#[derive(Clone)]
pub struct DeploymentSeries {
    /// `litellm_deployment_success_responses`.
    pub success: Counter,
    /// `litellm_deployment_failure_responses`.
    pub failure: Counter,
    /// `litellm_deployment_total_requests`.
    pub total: Counter,
    /// `litellm_deployment_latency_per_output_token`.
    pub latency_per_output_token: Histogram,
    /// `litellm_deployment_state`.
    pub state: Gauge,
}

fn latency_family<L>() -> Family<L, Histogram>
where
    L: Clone + std::hash::Hash + Eq,
{
    Family::<L, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram)
}

fn small_latency_histogram() -> Histogram {
    // 10 µs … ~0.3 s
    Histogram::new(exponential_buckets(0.00001, 2.0, 16))
}

fn size_histogram() -> Histogram {
    // 64 B … 64 MiB
    Histogram::new(exponential_buckets(64.0, 4.0, 11))
}

fn rate_histogram() -> Histogram {
    // 1 … ~4,000 tokens a second
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

impl LitellmMetrics {
    fn new() -> Self {
        LitellmMetrics {
            requests: Family::default(),
            spend: Family::default(),
            total_tokens: Family::default(),
            input_tokens: Family::default(),
            output_tokens: Family::default(),
            proxy_total_requests: Family::default(),
            proxy_failed_requests: Family::default(),
            llm_api_latency: latency_family(),
            request_total_latency: latency_family(),
            time_to_first_token: latency_family(),
            overhead_latency: Family::new_with_constructor(
                small_latency_histogram as fn() -> Histogram,
            ),
            remaining_api_key_budget: Family::default(),
            remaining_team_budget: Family::default(),
            deployment_state: Family::default(),
            deployment_success: Family::default(),
            deployment_failure: Family::default(),
            deployment_total: Family::default(),
            deployment_latency_per_output_token: Family::new_with_constructor(
                small_latency_histogram as fn() -> Histogram,
            ),
        }
    }

    /// The series of `labels`, created when new.
    pub fn series(&self, labels: &CallerLabels) -> CallerSeries {
        let ok = CallerStatusLabels {
            caller: labels.clone(),
            status_code: "200".into(),
        };
        CallerSeries {
            requests_ok: self.requests.get_or_create(&ok).clone(),
            proxy_requests_ok: self.proxy_total_requests.get_or_create(&ok).clone(),
            spend: self.spend.get_or_create(labels).clone(),
            total_tokens: self.total_tokens.get_or_create(labels).clone(),
            input_tokens: self.input_tokens.get_or_create(labels).clone(),
            output_tokens: self.output_tokens.get_or_create(labels).clone(),
            llm_api_latency: self.llm_api_latency.get_or_create(labels).clone(),
            request_total_latency: self.request_total_latency.get_or_create(labels).clone(),
            time_to_first_token: self.time_to_first_token.get_or_create(labels).clone(),
            overhead_latency: self.overhead_latency.get_or_create(labels).clone(),
        }
    }

    /// The series of the deployment `labels`, created when new.
    pub fn deployment_series(&self, labels: &LitellmDeploymentLabels) -> DeploymentSeries {
        DeploymentSeries {
            success: self.deployment_success.get_or_create(labels).clone(),
            failure: self.deployment_failure.get_or_create(labels).clone(),
            total: self.deployment_total.get_or_create(labels).clone(),
            latency_per_output_token: self
                .deployment_latency_per_output_token
                .get_or_create(labels)
                .clone(),
            state: self.deployment_state.get_or_create(labels).clone(),
        }
    }

    fn register(&self, r: &mut Registry) {
        let r = r.sub_registry_with_prefix("litellm");
        r.register(
            "requests_metric",
            "Requests by caller, model and status",
            self.requests.clone(),
        );
        r.register(
            "spend_metric",
            "Spend in USD by caller and model",
            self.spend.clone(),
        );
        r.register(
            "total_tokens_metric",
            "Tokens by caller and model",
            self.total_tokens.clone(),
        );
        r.register(
            "input_tokens_metric",
            "Input tokens by caller and model",
            self.input_tokens.clone(),
        );
        r.register(
            "output_tokens_metric",
            "Output tokens by caller and model",
            self.output_tokens.clone(),
        );
        r.register(
            "proxy_total_requests_metric",
            "Requests to the proxy",
            self.proxy_total_requests.clone(),
        );
        r.register(
            "proxy_failed_requests_metric",
            "Failed requests to the proxy",
            self.proxy_failed_requests.clone(),
        );
        r.register(
            "llm_api_latency_metric",
            "Upstream latency in seconds",
            self.llm_api_latency.clone(),
        );
        r.register(
            "request_total_latency_metric",
            "Whole request latency in seconds",
            self.request_total_latency.clone(),
        );
        r.register(
            "llm_api_time_to_first_token_metric",
            "Time to first streamed token in seconds",
            self.time_to_first_token.clone(),
        );
        r.register(
            "overhead_latency_metric",
            "Time spent in the proxy in seconds",
            self.overhead_latency.clone(),
        );
        r.register(
            "remaining_api_key_budget_metric",
            "Remaining key budget in USD",
            self.remaining_api_key_budget.clone(),
        );
        r.register(
            "remaining_team_budget_metric",
            "Remaining team budget in USD",
            self.remaining_team_budget.clone(),
        );
        r.register(
            "deployment_state",
            "0 healthy, 1 partial outage, 2 complete outage",
            self.deployment_state.clone(),
        );
        r.register(
            "deployment_success_responses",
            "Successful calls per deployment",
            self.deployment_success.clone(),
        );
        r.register(
            "deployment_failure_responses",
            "Failed calls per deployment",
            self.deployment_failure.clone(),
        );
        r.register(
            "deployment_total_requests",
            "Calls per deployment",
            self.deployment_total.clone(),
        );
        r.register(
            "deployment_latency_per_output_token",
            "Upstream seconds per output token",
            self.deployment_latency_per_output_token.clone(),
        );
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let request_duration = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let upstream_latency = Family::<DeploymentLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let overhead = Histogram::new(exponential_buckets(0.00001, 2.0, 16));
        let tokens = Family::<TokenLabels, Counter>::default();
        let spend =
            Family::<DeploymentLabels, Counter<f64, std::sync::atomic::AtomicU64>>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let stream_errors = Family::<RouteLabels, Counter>::default();
        let cache_hits = Family::<RouteLabels, Counter>::default();
        let callback_queue_depth = Family::<CallbackLabels, Gauge>::default();
        let callback_dropped = Family::<CallbackLabels, Counter>::default();
        let callback_delivered = Family::<CallbackLabels, Counter>::default();
        let callback_failed_deliveries = Family::<CallbackLabels, Counter>::default();
        let time_to_first_token = latency_family::<RouteLabels>();
        let time_per_output_token = Family::<RouteLabels, Histogram>::new_with_constructor(
            small_latency_histogram as fn() -> Histogram,
        );
        let output_tokens_per_second = Family::<RouteLabels, Histogram>::new_with_constructor(
            rate_histogram as fn() -> Histogram,
        );
        let request_size = Family::<RouteLabels, Histogram>::new_with_constructor(
            size_histogram as fn() -> Histogram,
        );
        let response_size = Family::<RouteLabels, Histogram>::new_with_constructor(
            size_histogram as fn() -> Histogram,
        );
        let remaining_budget = Family::default();
        let deployment_state = Family::default();
        let deployment_in_flight = Family::default();
        let deployment_rpm = Family::default();
        let deployment_tpm = Family::default();
        let litellm = LitellmMetrics::new();
        let mut root = Registry::default();
        litellm.register(&mut root);
        let r = root.sub_registry_with_prefix("llmux");
        r.register(
            "requests",
            "Requests answered, by route, model group and HTTP status",
            requests.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time from request to response head (streams: to the first chunk)",
            request_duration.clone(),
        );
        r.register(
            "upstream_latency_seconds",
            "Time the serving deployment took",
            upstream_latency.clone(),
        );
        r.register(
            "overhead_seconds",
            "Time spent in llmux itself, excluding the upstream",
            overhead.clone(),
        );
        r.register(
            "tokens",
            "Tokens processed, by type (prompt, completion)",
            tokens.clone(),
        );
        r.register("spend_usd", "Cost of answered calls in USD", spend.clone());
        r.register("errors", "Failed requests, by error kind", errors.clone());
        r.register(
            "stream_errors",
            "Streams that failed after the response had started",
            stream_errors.clone(),
        );
        r.register(
            "cache_hits",
            "Requests answered from the response cache",
            cache_hits.clone(),
        );
        r.register(
            "callback_queue_depth",
            "Events waiting in a logging callback's queue",
            callback_queue_depth.clone(),
        );
        r.register(
            "callback_dropped",
            "Events a logging callback dropped (queue full, or refused for good)",
            callback_dropped.clone(),
        );
        r.register(
            "callback_delivered",
            "Events a logging callback delivered",
            callback_delivered.clone(),
        );
        r.register(
            "callback_failed_deliveries",
            "Failed deliveries to a logging callback (each retried, or dropped when refused)",
            callback_failed_deliveries.clone(),
        );
        for (name, help, family) in [
            (
                "time_to_first_token_seconds",
                "Time from request to the first streamed event",
                &time_to_first_token,
            ),
            (
                "time_per_output_token_seconds",
                "Seconds per output token (streams: after the first token)",
                &time_per_output_token,
            ),
            (
                "output_tokens_per_second",
                "Output tokens per second",
                &output_tokens_per_second,
            ),
            (
                "request_size_bytes",
                "Request body sizes (Content-Length)",
                &request_size,
            ),
            (
                "response_size_bytes",
                "Whole (not streamed) answer sizes",
                &response_size,
            ),
        ] {
            r.register(name, help, family.clone());
        }
        r.register(
            "remaining_budget_usd",
            "Remaining budget of keys and teams in USD, as of their last call",
            remaining_budget.clone(),
        );
        for (name, help, family) in [
            (
                "deployment_state",
                "0 healthy, 2 cooling down (LiteLLM's scale)",
                &deployment_state,
            ),
            (
                "deployment_in_flight",
                "Calls in flight per deployment",
                &deployment_in_flight,
            ),
            (
                "deployment_rpm_in_use",
                "Requests this minute per deployment",
                &deployment_rpm,
            ),
            (
                "deployment_tpm_in_use",
                "Tokens this minute per deployment",
                &deployment_tpm,
            ),
        ] {
            r.register(name, help, family.clone());
        }
        Metrics {
            registry: Mutex::new(root),
            time_to_first_token,
            time_per_output_token,
            output_tokens_per_second,
            request_size,
            response_size,
            remaining_budget,
            deployment_state,
            deployment_in_flight,
            deployment_rpm,
            deployment_tpm,
            litellm,
            callback_queue_depth,
            callback_dropped,
            callback_delivered,
            callback_failed_deliveries,
            requests,
            request_duration,
            upstream_latency,
            overhead,
            tokens,
            spend,
            errors,
            stream_errors,
            cache_hits,
        }
    }
}

impl Metrics {
    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
