//! How a served call is written back: headers describing the route
//! (`x-llmux-*`), whole JSON bodies and SSE streams.

use crate::gateway::{loggable, Admission, Ctx, Gateway};
use crate::http::chat::ClientStream;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use llmux_router::RouteInfo;

use crate::http::sse::{sse_stream, SseOptions, StreamOutcome};
use crate::pricing::UsageTracker;
use crate::telemetry::metrics::RouteLabels;

pub(crate) fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

impl Gateway {
    /// `x-llmux-response-cost` (and LiteLLM's `x-litellm-response-cost`):
    /// the call's cost in USD.
    pub(crate) fn cost_header(&self, headers: &mut HeaderMap, cost: Option<i64>) {
        if let Some(nano) = cost {
            let usd = header_value(&llmux_store::from_nano(nano).to_string());
            if self.litellm_headers {
                headers.insert(
                    HeaderName::from_static("x-litellm-response-cost"),
                    usd.clone(),
                );
            }
            headers.insert(HeaderName::from_static("x-llmux-response-cost"), usd);
        }
    }

    /// Headers describing how a call was served: llmux's `x-llmux-*` and,
    /// unless turned off, LiteLLM's `x-litellm-*` (retries are the attempts
    /// beyond the first that were not fallbacks; a fallback counts once).
    pub(crate) fn route_headers(&self, headers: &mut HeaderMap, ctx: &Ctx, route: &RouteInfo) {
        let overhead = ctx.started.elapsed().saturating_sub(route.latency);
        let overhead_ms = format!("{:.3}", overhead.as_secs_f64() * 1000.0);
        let pairs = [
            ("x-request-id", ctx.request_id.clone()),
            ("x-llmux-model-id", route.deployment_id.clone()),
            ("x-llmux-model-group", route.model_group.clone()),
            ("x-llmux-provider", route.provider.clone()),
            ("x-llmux-attempts", route.attempts.to_string()),
            ("x-llmux-cache-hit", route.cache_hit.to_string()),
            ("x-llmux-overhead-ms", overhead_ms.clone()),
        ];
        for (k, v) in pairs {
            headers.insert(HeaderName::from_static(k), header_value(&v));
        }
        if let Some(from) = &route.fallback_from {
            headers.insert(
                HeaderName::from_static("x-llmux-fallback-from"),
                header_value(from),
            );
        }
        if self.litellm_headers {
            let fallbacks = u32::from(route.fallback_from.is_some());
            let retries = route.attempts.saturating_sub(1 + fallbacks);
            let litellm = [
                ("x-litellm-call-id", ctx.call_id.clone()),
                ("x-litellm-model-id", route.deployment_id.clone()),
                ("x-litellm-model-group", route.model_group.clone()),
                ("x-litellm-attempted-retries", retries.to_string()),
                ("x-litellm-attempted-fallbacks", fallbacks.to_string()),
                ("x-litellm-overhead-duration-ms", overhead_ms),
                (
                    "x-litellm-response-duration-ms",
                    format!("{:.3}", ctx.started.elapsed().as_secs_f64() * 1000.0),
                ),
            ];
            for (k, v) in litellm {
                headers.insert(HeaderName::from_static(k), header_value(&v));
            }
        }
    }

    /// A whole JSON response for a served call that cost `cost` nano-dollars.
    pub(crate) fn json_response(
        &self,
        ctx: &Ctx,
        route: &RouteInfo,
        cost: Option<i64>,
        body: impl Into<bytes::Bytes>,
    ) -> Response {
        let body: bytes::Bytes = body.into();
        self.record_status(ctx, &route.model_group, 200);
        self.metrics
            .response_size
            .get_or_create(&RouteLabels {
                route: ctx.route,
                model_group: self.group_label(&route.model_group),
            })
            .observe(body.len() as f64);
        let mut response = (StatusCode::OK, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.route_headers(response.headers_mut(), ctx, route);
        self.cost_header(response.headers_mut(), cost);
        tracing::info!(request_id = %ctx.request_id, route = ctx.route, model = loggable(&route.model_group), deployment = %route.deployment_id, attempts = route.attempts, cache_hit = route.cache_hit, latency_ms = route.latency.as_millis() as u64, "served");
        response
    }

    /// An SSE response for a served stream.
    pub(crate) fn sse_response(
        self: &Arc<Self>,
        ctx: &Ctx,
        route: &RouteInfo,
        stream: llmux_core::ChatStream,
        client: ClientStream,
        admission: Admission,
    ) -> Response {
        self.record_status(ctx, &route.model_group, 200);
        let gateway = self.clone();
        let finished_route = route.clone();
        let route_name = ctx.route;
        let request_id = ctx.request_id.clone();
        let usage = UsageTracker::new(&route.upstream_model, client.prompt);
        let on_end = move |mut outcome: StreamOutcome| {
            let mut admission = admission;
            if let Some(e) = &outcome.error {
                admission.mark_failed(e);
            }
            gateway.finish(admission, &finished_route, Some(&outcome.usage.usage()));
            match &outcome.error {
                Some(e) => {
                    gateway
                        .metrics
                        .stream_errors
                        .get_or_create(&RouteLabels {
                            route: route_name,
                            model_group: gateway.group_label(&finished_route.model_group),
                        })
                        .inc();
                    tracing::warn!(request_id = %request_id, model = loggable(&finished_route.model_group), deployment = %finished_route.deployment_id, chunks = outcome.chunks, error = %e, "stream failed after it started");
                }
                None if !outcome.completed => {
                    tracing::info!(request_id = %request_id, model = loggable(&finished_route.model_group), chunks = outcome.chunks, "client disconnected mid-stream; upstream call cancelled");
                }
                None => {}
            }
        };
        let options = SseOptions {
            encode: client.encode,
            client_wants_usage: client.wants_usage,
            keep_alive: self.keep_alive,
        };
        let body = Body::from_stream(sse_stream(stream, options, usage, on_end));
        let mut response = Response::new(body);
        event_stream_headers(response.headers_mut());
        self.route_headers(response.headers_mut(), ctx, route);
        response
    }
}

/// The head of every event stream llmux sends: SSE, not cached, and not
/// buffered by a proxy in front (nginx's `x-accel-buffering`).
pub(crate) fn event_stream_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
}
