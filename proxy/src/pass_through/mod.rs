//! Pass-through routes: each provider's own API (`/gemini/v1beta/…`,
//! `/bedrock/model/…/converse`, `/anthropic/v1/messages`, …) behind llmux
//! keys, limits, budgets and spend, and the custom routes of
//! `general_settings.pass_through_endpoints`.
//!
//! A call is forwarded as the caller wrote it — method, path, query, headers
//! and body — with the caller's llmux key taken out and the provider's
//! credential put in (by the provider's codec: a key header, an OAuth token,
//! a fresh SigV4 signature). Known model endpoints are priced from the usage
//! their answer reports, read as the answer streams by ([`metered`]); the
//! caller's key, model access, rate limits and budget reservation apply
//! before anything is sent.

mod custom;
mod endpoint;
mod metered;
mod shape;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::any;
use llmux_core::pass_through::{PassThroughBody, PassThroughRequest};
use llmux_core::transport::UpstreamStream;
use llmux_core::{Error, ErrorKind, Provider, ProviderParams};
use llmux_router::{RouteInfo, Router};
use serde_json::Value;

pub use custom::{CustomEndpoint, CustomEndpointConfig};

use crate::gateway::{loggable, peer_of, Ctx, Gateway};
use crate::http::Routes;
use endpoint::Endpoint;

/// A provider route: `/{prefix}/{path…}` goes to the provider serving one
/// of `providers`; spend rows and metrics name it `name`.
struct ProviderRoute {
    prefix: &'static str,
    providers: &'static [&'static str],
    name: &'static str,
}

/// The provider routes, with LiteLLM's prefixes.
const ROUTES: [ProviderRoute; 10] = [
    ProviderRoute {
        prefix: "openai",
        providers: &["openai"],
        name: "pass_through/openai",
    },
    ProviderRoute {
        prefix: "azure",
        providers: &["azure"],
        name: "pass_through/azure",
    },
    ProviderRoute {
        prefix: "anthropic",
        providers: &["anthropic"],
        name: "pass_through/anthropic",
    },
    ProviderRoute {
        prefix: "gemini",
        providers: &["gemini"],
        name: "pass_through/gemini",
    },
    ProviderRoute {
        prefix: "vertex_ai",
        providers: &["vertex_ai"],
        name: "pass_through/vertex_ai",
    },
    ProviderRoute {
        prefix: "bedrock",
        providers: &["bedrock"],
        name: "pass_through/bedrock",
    },
    ProviderRoute {
        prefix: "cohere",
        providers: &["cohere", "cohere_chat"],
        name: "pass_through/cohere",
    },
    ProviderRoute {
        prefix: "mistral",
        providers: &["mistral"],
        name: "pass_through/mistral",
    },
    ProviderRoute {
        prefix: "vllm",
        providers: &["hosted_vllm"],
        name: "pass_through/vllm",
    },
    ProviderRoute {
        prefix: "ollama",
        providers: &["ollama", "ollama_chat"],
        name: "pass_through/ollama",
    },
];

/// Where each pass-through route goes, resolved once at start.
pub struct PassThrough {
    /// By route prefix: the provider, or why there is none.
    targets: HashMap<&'static str, Result<Arc<dyn Provider>, String>>,
    /// `general_settings.pass_through_endpoints`.
    custom: Vec<CustomEndpoint>,
}

impl PassThrough {
    /// Each route's provider: the first deployment marked
    /// `use_in_pass_through: true` whose provider it is, else one built from
    /// the provider's environment variables (as LiteLLM does).
    pub fn build(router: &Router, custom: Vec<CustomEndpoint>, env: &dyn llmux_core::Env) -> Self {
        let marked: Vec<Arc<dyn Provider>> = router
            .deployments()
            .iter()
            .filter(|d| d.spec.params.extra.get("use_in_pass_through") == Some(&Value::Bool(true)))
            .filter_map(|d| d.provider_for(&d.spec.group).ok().map(|(p, _)| p))
            .collect();
        let targets = ROUTES
            .iter()
            .map(|route| {
                let from_config = marked
                    .iter()
                    .find(|p| route.providers.contains(&p.name()))
                    .cloned();
                let target = match from_config {
                    Some(p) => Ok(p),
                    None => llmux_router::resolve(
                        &format!("{}/pass-through", route.providers[0]),
                        &ProviderParams::default(),
                        env,
                    )
                    .map(|r| r.provider)
                    .map_err(|e| {
                        format!(
                            "/{} pass-through has no upstream: mark a {} deployment with `use_in_pass_through: true` in its litellm_params, or set the provider's environment variables ({})",
                            route.prefix, route.providers[0], e.message
                        )
                    }),
                };
                (route.prefix, target)
            })
            .collect();
        PassThrough { targets, custom }
    }

    fn target(&self, prefix: &str) -> Result<Arc<dyn Provider>, Error> {
        match self.targets.get(prefix) {
            Some(Ok(p)) if p.serves_pass_through() => Ok(p.clone()),
            Some(Ok(p)) => Err(Error::unsupported(p.name(), "pass-through")),
            Some(Err(why)) => Err(Error::new(ErrorKind::InternalServer, why.clone())),
            None => Err(Error::new(
                ErrorKind::InternalServer,
                format!("/{prefix} pass-through is not configured"),
            )),
        }
    }
}

/// The provider routes, for every method.
pub(crate) fn routes() -> Routes {
    let mut r = Routes::new();
    for route in &ROUTES {
        let handler = move |State(gw): State<Arc<Gateway>>, request: Request| async move {
            serve_provider(gw, route, request).await
        };
        r = r.route(&format!("/{}/{{*path}}", route.prefix), any(handler));
    }
    r
}

/// What the gateway does with one forwarded call besides sending it.
struct Call<'a> {
    /// Route name for metrics and the spend row's `call_type`.
    name: &'static str,
    /// Whose error shape the gateway's own errors take.
    shape: &'static str,
    /// Provider name prices are looked up under.
    provider: String,
    endpoint: Endpoint,
    /// A flat price per call (custom routes), in nano-dollars.
    cost_per_request: Option<i64>,
    /// Check the caller's key (custom routes may turn it off).
    authenticate: bool,
    /// The body must be read whole (a signature covers it).
    whole_body: bool,
    upstream: Upstream<'a>,
}

/// Where a call goes.
enum Upstream<'a> {
    Provider(Arc<dyn Provider>),
    Custom(&'a CustomEndpoint, String),
}

async fn serve_provider(
    gw: Arc<Gateway>,
    route: &'static ProviderRoute,
    request: Request,
) -> Response {
    let upstream = match gw.pass_through.target(route.prefix) {
        Ok(p) => p,
        Err(e) => {
            let ctx = Ctx::new(route.name, request.headers());
            gw.record_error(&ctx, "", &e);
            return shape::error_response(route.prefix, e);
        }
    };
    let path = request
        .uri()
        .path()
        .strip_prefix(&format!("/{}", route.prefix))
        .unwrap_or_default()
        .to_string();
    let call = Call {
        name: route.name,
        shape: route.prefix,
        provider: upstream.name().to_string(),
        endpoint: endpoint::classify(route.prefix, &path),
        cost_per_request: None,
        authenticate: true,
        whole_body: upstream.pass_through_signs_body(),
        upstream: Upstream::Provider(upstream),
    };
    forward(&gw, call, path, request).await
}

/// A custom route's call, or `None` when no custom route serves `path`.
pub(crate) async fn serve_custom(gw: Arc<Gateway>, request: Request) -> Option<Response> {
    let path = request.uri().path().to_string();
    let (endpoint, rest) = gw
        .pass_through
        .custom
        .iter()
        .find_map(|c| c.matches(&path).map(|rest| (c, rest.to_string())))?;
    let call = Call {
        name: endpoint.name,
        shape: "openai",
        provider: "custom".into(),
        endpoint: Endpoint::default(),
        cost_per_request: endpoint.cost_per_request,
        authenticate: endpoint.auth,
        whole_body: false,
        upstream: Upstream::Custom(endpoint, rest),
    };
    Some(forward(&gw, call, String::new(), request).await)
}

/// Authenticate, admit, send and meter one pass-through call.
async fn forward(gw: &Arc<Gateway>, call: Call<'_>, path: String, request: Request) -> Response {
    let peer = peer_of(&request);
    let (parts, body) = request.into_parts();
    let ctx = Ctx::new(call.name, &parts.headers);
    let fail = |e: Error, model: &str| {
        gw.record_error(&ctx, model, &e);
        shape::error_response(call.shape, e)
    };
    let credentials = caller_credentials(&parts.headers, parts.uri.query());
    let caller = if call.authenticate {
        match gw.authenticate_request(&credentials, peer).await {
            Ok(c) => Some(c),
            Err(e) => return fail(e.0, ""),
        }
    } else {
        None
    };
    let read_whole = call.endpoint.priced || call.whole_body;
    let body = if read_whole {
        match axum::body::to_bytes(body, gw.max_body_bytes).await {
            Ok(b) => PassThroughBody::Whole(b),
            Err(_) => {
                let e = Error::new(
                    ErrorKind::BadRequest,
                    format!("request body is larger than {} bytes", gw.max_body_bytes),
                );
                let mut r = fail(e, "");
                *r.status_mut() = axum::http::StatusCode::PAYLOAD_TOO_LARGE;
                return r;
            }
        }
    } else {
        PassThroughBody::Streamed(reqwest::Body::wrap_stream(body.into_data_stream()))
    };
    let json: Option<Value> = body.whole().and_then(|b| serde_json::from_slice(b).ok());
    let prompt_bytes = body.whole().map_or(0, |b| b.len() as u64);
    let model = call.endpoint.model.clone().or_else(|| {
        json.as_ref()
            .and_then(|j| j.get("model"))
            .and_then(Value::as_str)
            .map(|m| llmux_core::text::truncate(m, 256).to_string())
    });
    let admission = match &caller {
        None => None,
        Some(caller) => {
            // A key may name the model bare or with its provider prefix.
            let prefixed = model.as_ref().map(|m| format!("{}/{m}", call.provider));
            let access = match (&prefixed, &model) {
                (Some(p), _) if gw.may_use(caller, p) => Some(p.as_str()),
                (_, m) => m.as_deref(),
            };
            let worst = || match (&prefixed, call.endpoint.priced) {
                (Some(m), true) => gw.pricing.worst_case_model(
                    m,
                    prompt_bytes,
                    json.as_ref().and_then(max_output_tokens),
                ),
                _ => call.cost_per_request.unwrap_or(0),
            };
            match gw.admit_caller(&ctx, &credentials, access, worst).await {
                Ok((_, admission)) => Some(admission),
                Err(e) => return fail(e, model.as_deref().unwrap_or_default()),
            }
        }
    };
    let query = without_key_param(parts.uri.query());
    let headers = forwarded_headers(&parts.headers, body.whole().is_none());
    let started = Instant::now();
    let sent = match &call.upstream {
        Upstream::Provider(p) => {
            let request = PassThroughRequest {
                method: parts.method.clone(),
                path_and_query: match &query {
                    Some(q) => format!("{path}?{q}"),
                    None => path.clone(),
                },
                headers,
                body,
            };
            p.pass_through(request).await
        }
        Upstream::Custom(endpoint, rest) => {
            endpoint
                .send(&parts, rest, query.as_deref(), headers, body)
                .await
        }
    };
    let upstream = match sent {
        Ok(u) => u,
        Err(e) => return fail(e, model.as_deref().unwrap_or_default()),
    };
    let model = model.unwrap_or_default();
    let status = upstream.status.as_u16();
    let reader = match &call.upstream {
        Upstream::Provider(p) if call.endpoint.priced && upstream.status.is_success() => {
            Some(p.pass_through_usage(&upstream.headers))
        }
        _ => None,
    };
    let route = RouteInfo {
        model_group: model.clone(),
        deployment_id: call.name.to_string(),
        provider: call.provider.clone(),
        upstream_model: model.clone(),
        attempts: 1,
        fallback_from: None,
        latency: started.elapsed(),
        cache_hit: false,
    };
    let UpstreamStream {
        status: code,
        headers,
        body,
    } = upstream;
    gw.record_status(&ctx, &model, status);
    let body = match admission {
        // A failed call is passed through as it came; dropping its admission
        // releases the reservation.
        _ if !code.is_success() => {
            tracing::info!(request_id = %ctx.request_id, route = call.name, model = loggable(&model), status, "pass-through upstream error passed through");
            Body::from_stream(body)
        }
        Some(admission) => {
            gw.record_success(&ctx, &route);
            let settle = metered::Settlement {
                gateway: gw.clone(),
                admission,
                route,
                priced: call.endpoint.priced,
                embeds: call.endpoint.embeds,
                prompt_bytes,
                cost_per_request: call.cost_per_request,
            };
            Body::from_stream(metered::Metered::new(body, reader, settle))
        }
        None => Body::from_stream(body),
    };
    let mut response = Response::new(body);
    *response.status_mut() = code;
    *response.headers_mut() = response_headers(headers);
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// The output limit a request body sets, in any provider's spelling.
fn max_output_tokens(body: &Value) -> Option<u64> {
    [
        "max_tokens",
        "max_completion_tokens",
        "max_output_tokens",
        "num_predict",
    ]
    .iter()
    .find_map(|k| body.get(k).and_then(Value::as_u64))
    .or_else(|| {
        body.pointer("/generationConfig/maxOutputTokens")
            .and_then(Value::as_u64)
    })
    .or_else(|| {
        body.pointer("/inferenceConfig/maxTokens")
            .and_then(Value::as_u64)
    })
    .or_else(|| body.pointer("/options/num_predict").and_then(Value::as_u64))
}

/// Headers that carry a caller's credential to the gateway; never forwarded.
const CREDENTIAL_HEADERS: [&str; 6] = [
    "authorization",
    "x-api-key",
    "x-goog-api-key",
    "api-key",
    "x-litellm-api-key",
    "x-llmux-api-key",
];

/// Headers that belong to one connection (RFC 9110 §7.6.1), or that the
/// gateway sets itself.
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// A caller's SigV4 signature headers: the gateway signs anew.
const AWS_SIGNATURE_HEADERS: [&str; 3] =
    ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];

/// The llmux key a pass-through caller presents, wherever its SDK puts its
/// own key, as the one `Authorization: Bearer` header the gateway's
/// authentication reads: `x-litellm-api-key` / `x-llmux-api-key` first (for
/// clients whose auth header carries something else, like boto3's SigV4),
/// then `Authorization`, `x-api-key`, `x-goog-api-key`, Azure's `api-key`,
/// and `?key=`.
fn caller_credentials(headers: &HeaderMap, query: Option<&str>) -> HeaderMap {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let bearer = |v: &str| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v)
            .trim()
            .to_string()
    };
    let from_query = || {
        query?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == "key").then(|| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    };
    let key = ["x-litellm-api-key", "x-llmux-api-key"]
        .iter()
        .find_map(|n| header(n))
        .map(bearer)
        .or_else(|| {
            header("authorization")
                .filter(|v| !v.starts_with("AWS4-"))
                .map(bearer)
        })
        .or_else(|| {
            ["x-api-key", "x-goog-api-key", "api-key"]
                .iter()
                .find_map(|n| header(n))
                .map(str::to_string)
        })
        .or_else(from_query);
    let mut out = HeaderMap::new();
    if let Some(v) = key.and_then(|k| HeaderValue::from_str(&format!("Bearer {k}")).ok()) {
        out.insert(header::AUTHORIZATION, v);
    }
    out
}

/// The caller's query without its `key` parameter (a Gemini-style key).
fn without_key_param(query: Option<&str>) -> Option<String> {
    let kept: Vec<&str> = query?
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("key"))
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// The caller's headers as forwarded: no credentials, no hop-by-hop headers
/// (nor those its `Connection` header names), no `Accept-Encoding` (the
/// gateway reads usage from the answer, so it asks for it uncompressed),
/// and no `Content-Length` unless the body is streamed through as it came.
fn forwarded_headers(headers: &HeaderMap, keep_length: bool) -> HeaderMap {
    let named_by_connection: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = name.as_str();
        let dropped = CREDENTIAL_HEADERS.contains(&n)
            || HOP_BY_HOP.contains(&n)
            || AWS_SIGNATURE_HEADERS.contains(&n)
            || n == "accept-encoding"
            || (n == "content-length" && !keep_length)
            || named_by_connection.iter().any(|c| c == n);
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The upstream's answer headers as passed back: no hop-by-hop headers.
fn response_headers(headers: HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn key(pairs: &[(&'static str, &'static str)], query: Option<&str>) -> Option<String> {
        caller_credentials(&headers(pairs), query)
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string())
    }

    #[test]
    fn the_callers_key_is_found_where_its_sdk_puts_it() {
        let k = |s: &str| Some(format!("Bearer {s}"));
        assert_eq!(key(&[("authorization", "Bearer sk-1")], None), k("sk-1"));
        assert_eq!(key(&[("x-api-key", "sk-2")], None), k("sk-2"));
        assert_eq!(key(&[("x-goog-api-key", "sk-3")], None), k("sk-3"));
        assert_eq!(key(&[("api-key", "sk-4")], None), k("sk-4"));
        assert_eq!(key(&[], Some("alt=sse&key=sk%2D5")), k("sk-5"));
        // boto3 signs with SigV4: its Authorization is not a key.
        assert_eq!(
            key(
                &[
                    (
                        "authorization",
                        "AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abc"
                    ),
                    ("x-litellm-api-key", "sk-6")
                ],
                None
            ),
            k("sk-6")
        );
        assert_eq!(
            key(
                &[("authorization", "AWS4-HMAC-SHA256 Credential=AKID/x")],
                None
            ),
            None
        );
        assert_eq!(
            key(
                &[("x-llmux-api-key", "Bearer sk-7"), ("x-api-key", "other")],
                None
            ),
            k("sk-7")
        );
        assert_eq!(key(&[], None), None);
    }

    #[test]
    fn credentials_and_hop_by_hop_headers_are_not_forwarded() {
        let h = headers(&[
            ("authorization", "Bearer sk-caller"),
            ("x-goog-api-key", "sk-caller"),
            ("x-amz-date", "20261206T000000Z"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("host", "gateway"),
            ("accept-encoding", "gzip"),
            ("content-length", "12"),
            ("anthropic-version", "2023-06-01"),
            ("content-type", "application/json"),
        ]);
        let names = |h: HeaderMap| {
            let mut v: Vec<String> = h.keys().map(|k| k.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(
            names(forwarded_headers(&h, false)),
            ["anthropic-version", "content-type"]
        );
        assert_eq!(
            names(forwarded_headers(&h, true)),
            ["anthropic-version", "content-length", "content-type"]
        );
        assert_eq!(
            without_key_param(Some("key=sk&alt=sse")),
            Some("alt=sse".into())
        );
        assert_eq!(without_key_param(Some("key=sk")), None);
        assert_eq!(without_key_param(Some("keys=1")), Some("keys=1".into()));
    }

    #[test]
    fn output_limits_in_every_spelling() {
        for (body, want) in [
            (serde_json::json!({"max_tokens": 5}), Some(5)),
            (
                serde_json::json!({"generationConfig": {"maxOutputTokens": 6}}),
                Some(6),
            ),
            (
                serde_json::json!({"inferenceConfig": {"maxTokens": 7}}),
                Some(7),
            ),
            (serde_json::json!({"max_output_tokens": 8}), Some(8)),
            (serde_json::json!({}), None),
        ] {
            assert_eq!(max_output_tokens(&body), want, "{body}");
        }
    }
}
