//! Prometheus metrics, served at `/metrics` in the text exposition format.
//! One registry per gateway (no globals), so tests can run several.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: &'static str,
    pub model_group: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: &'static str,
    pub model_group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeploymentLabels {
    pub model_group: String,
    pub deployment: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub model_group: String,
    pub deployment: String,
    pub r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub route: &'static str,
    pub model_group: String,
    pub kind: &'static str,
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: Family<RouteLabels, Histogram>,
    pub upstream_latency: Family<DeploymentLabels, Histogram>,
    pub overhead: Histogram,
    pub tokens: Family<TokenLabels, Counter>,
    pub spend: Family<DeploymentLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    pub errors: Family<ErrorLabels, Counter>,
    pub stream_errors: Family<RouteLabels, Counter>,
    pub cache_hits: Family<RouteLabels, Counter>,
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
        Metrics {
            registry: Mutex::new(r),
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
