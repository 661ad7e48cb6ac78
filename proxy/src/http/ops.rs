//! Operations: liveness and readiness probes, `/health` (master key only),
//! `/metrics`, the API description (`/openapi.json`, `/docs`), `GET /` and
//! the answer for unknown routes.

use crate::gateway::loggable;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use llmux_core::types::chat::ChatCompletionRequest;
use llmux_core::{Error, ErrorKind};

use serde_json::{json, Value};

use crate::auth::Principal;
use crate::error::ApiError;

use crate::http::{Routes, Shared};

/// The routes of this module (the unknown-route answer is [`not_found`],
/// set as the whole app's fallback).
pub(crate) fn routes() -> Routes {
    Routes::new()
        .route("/health/liveliness", get(liveliness))
        .route("/health/liveness", get(liveliness))
        .route("/health/readiness", get(readiness))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/docs", get(docs))
        .route("/", get(index))
}

/// The gateway's OpenAPI 3.0 description (`proxy/src/openapi.json`,
/// written by hand and checked by schemathesis against the running
/// gateway in `tests/tests/openapi.rs`). No key: it holds no secret.
pub(crate) async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        include_str!("../openapi.json"),
    )
        .into_response()
}

/// A reference page rendering `/openapi.json`, self-contained: nothing is
/// loaded from another host (gateways often have no internet).
pub(crate) async fn docs() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        include_str!("docs.html"),
    )
        .into_response()
}

pub(crate) async fn liveliness() -> &'static str {
    "I'm alive!"
}

pub(crate) async fn readiness(State(gw): Shared) -> Response {
    if gw.is_draining() {
        let body = axum::Json(json!({"status": "draining"}));
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    axum::Json(json!({
        "status": "healthy",
        "model_groups": gw.router.model_groups().len(),
        "deployments": gw.router.deployments().len(),
        "llmux_version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

/// Check every deployment with a one-token chat call (LiteLLM's `/health`).
/// Master key only: each check is a paid upstream call per deployment.
pub(crate) async fn health(State(gw): Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    let caller = gw.authenticate(&headers).await?;
    if !matches!(caller.principal, Principal::Admin | Principal::Anonymous) {
        return Err(ApiError(
            Error::new(
                ErrorKind::PermissionDenied,
                "only the master key may call /health: it sends a call to every deployment",
            )
            .with_code("admin_only"),
        ));
    }
    let checks = gw.router.deployments().iter().map(|d| {
        let d = d.clone();
        async move {
            let group = d.spec.group.clone();
            let probe = if group.ends_with('*') {
                return (d, Err("wildcard group: not probed".to_string()));
            } else {
                let mut req = ChatCompletionRequest::new(
                    group.clone(),
                    vec![llmux_core::ChatMessage::user("ping")],
                );
                req.max_tokens = Some(1);
                req
            };
            let result = match d.provider_for(&group) {
                Ok((provider, model)) => {
                    let mut probe = probe;
                    probe.model = model;
                    tokio::time::timeout(Duration::from_secs(30), provider.chat(probe))
                        .await
                        .map_err(|_| "timed out after 30 s".to_string())
                        .and_then(|r| r.map(|_| ()).map_err(|e| e.to_string()))
                }
                Err(e) => Err(e.to_string()),
            };
            (d, result)
        }
    });
    let results = futures::future::join_all(checks).await;
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for (d, result) in results {
        let entry =
            json!({"model": d.spec.model, "model_group": d.spec.group, "model_id": d.spec.id});
        match result {
            Ok(()) => healthy.push(entry),
            Err(e) => {
                let mut entry = entry;
                entry["error"] = Value::String(e);
                unhealthy.push(entry);
            }
        }
    }
    Ok(axum::Json(json!({
        "healthy_endpoints": healthy,
        "unhealthy_endpoints": unhealthy,
        "healthy_count": healthy.len(),
        "unhealthy_count": unhealthy.len(),
    }))
    .into_response())
}

pub(crate) async fn metrics(State(gw): Shared) -> Response {
    gw.refresh_deployment_gauges();
    let mut response = gw.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// A route the gateway does not serve: not a model error.
/// A custom pass-through route (`general_settings.pass_through_endpoints`),
/// else [`not_found`].
pub(crate) async fn custom_or_not_found(
    State(gw): Shared,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    match crate::pass_through::serve_custom(gw, request).await {
        Some(response) => response,
        None => not_found(method, uri).await.into_response(),
    }
}

pub(crate) async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError(
        Error::new(
            ErrorKind::NotFound,
            format!(
                "Unknown route: {method} {}. The OpenAI-compatible API is under /v1 (e.g. POST /v1/chat/completions); GET / lists the routes",
                loggable(uri.path())
            ),
        )
        .with_code("not_found"),
    )
}

/// `GET /`: what this server is and where to go next.
pub(crate) async fn index() -> Response {
    axum::Json(json!({
        "name": "llmux",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "OpenAI-compatible LLM gateway",
        "routes": {
            "openai": ["POST /v1/chat/completions", "POST /v1/completions", "POST /v1/embeddings", "POST /v1/images/generations", "POST /v1/audio/transcriptions", "POST /v1/audio/speech", "POST /v1/moderations", "POST /v1/rerank", "GET /v1/models"],
            "anthropic": ["POST /v1/messages"],
            "health": ["GET /health/liveliness", "GET /health/readiness", "GET /health"],
            "metrics": "GET /metrics",
            "api_description": ["GET /openapi.json", "GET /docs"],
            "admin": ["/key/*", "/user/*", "/team/*", "/budget/*", "/spend/logs", "/global/spend", "/global/spend/report", "/audit"],
        },
        "docs": "README.md, section \"Gateway: llmux serve\"",
    }))
    .into_response()
}
