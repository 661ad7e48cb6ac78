//! The data plane: the HTTP routes clients call (OpenAI's, Anthropic's),
//! model listing, health and metrics. Each module owns its routes; this
//! one merges them. Every route that serves a caller goes through
//! [`crate::gateway::Gateway`]'s admission, so every key check applies.

use std::sync::Arc;

use axum::extract::State;

use crate::gateway::Gateway;

pub(crate) mod anthropic;
pub(crate) mod audio;
pub(crate) mod chat;
pub(crate) mod completions;
pub(crate) mod models;
pub(crate) mod openai;
pub(crate) mod ops;
pub(crate) mod respond;
pub(crate) mod responses;
pub(crate) mod sse;

/// The gateway, as handlers take it.
pub(crate) type Shared = State<Arc<Gateway>>;

/// A route table with the gateway as its state.
pub(crate) type Routes = axum::Router<Arc<Gateway>>;

/// OpenAI's routes are served with and without the `/v1` prefix.
const PREFIXES: [&str; 2] = ["", "/v1"];

/// A route table serving each `(path, handler)` under every one of
/// [`PREFIXES`], so no module spells out the prefix loop.
pub(crate) fn prefixed<const N: usize>(
    routes: [(&str, axum::routing::MethodRouter<Arc<Gateway>>); N],
) -> Routes {
    let mut r = Routes::new();
    for (path, handler) in routes {
        for prefix in PREFIXES {
            r = r.route(&format!("{prefix}{path}"), handler.clone());
        }
    }
    r
}

/// Every data-plane route. Those that serve a caller authenticate from the
/// headers before the body is read ([`authenticate_first`]); the probes,
/// metrics and `GET /` need no key.
pub(crate) fn routes(gateway: Arc<Gateway>) -> Routes {
    chat::routes()
        .merge(completions::routes())
        .merge(openai::routes())
        .merge(audio::routes())
        .merge(models::routes())
        .merge(anthropic::routes())
        .merge(responses::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            gateway,
            authenticate_first,
        ))
        // Pass-through callers present their key where their provider's SDK
        // puts it; those routes authenticate it themselves.
        .merge(crate::pass_through::routes())
        .merge(ops::routes())
}

/// Refuse a caller with no key or an unknown one from the request's headers
/// alone, before its body is read: an unauthenticated client cannot make
/// the gateway buffer (and parse) a large body. The full checks (blocked,
/// expired, limits, budgets) run at admission; the key lookup is cached, so
/// the second look costs a hash.
async fn authenticate_first(
    State(gw): State<Arc<Gateway>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let peer = crate::gateway::peer_of(&request);
    let e = match gw.authenticate_request(request.headers(), peer).await {
        Ok(_) => return next.run(request).await,
        Err(e) => e,
    };
    let path = request.uri().path();
    let ctx = crate::gateway::Ctx::new(route_name(path), request.headers());
    gw.record_error(&ctx, "", &e.0);
    if path.starts_with("/v1/messages") {
        anthropic::AnthropicError(e.0).into_response()
    } else {
        e.into_response()
    }
}

/// The metrics name of the route serving `path` (as its handler names it).
fn route_name(path: &str) -> &'static str {
    if path.contains("/responses") {
        return "responses";
    }
    const BY_SUFFIX: [(&str, &str); 10] = [
        ("/chat/completions", "chat_completions"),
        ("/completions", "completions"),
        ("/embeddings", "embeddings"),
        ("/images/generations", "image_generation"),
        ("/moderations", "moderations"),
        ("/rerank", "rerank"),
        ("/audio/speech", "audio_speech"),
        ("/audio/transcriptions", "audio_transcriptions"),
        ("/messages", "messages"),
        ("/model/info", "model_info"),
    ];
    BY_SUFFIX
        .iter()
        .find(|(suffix, _)| path.ends_with(suffix))
        .map_or("models", |(_, name)| name)
}
