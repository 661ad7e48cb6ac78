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
        let mut r = Registry::with_prefix("llmux");
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
        Metrics {
            registry: Mutex::new(r),
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
