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
pub(crate) mod sse;

/// The gateway, as handlers take it.
pub(crate) type Shared = State<Arc<Gateway>>;

/// A route table with the gateway as its state.
pub(crate) type Routes = axum::Router<Arc<Gateway>>;

/// OpenAI's routes are served with and without the `/v1` prefix.
pub(crate) const PREFIXES: [&str; 2] = ["", "/v1"];

/// Every data-plane route.
pub(crate) fn routes() -> Routes {
    chat::routes()
        .merge(completions::routes())
        .merge(openai::routes())
        .merge(audio::routes())
        .merge(models::routes())
        .merge(anthropic::routes())
        .merge(ops::routes())
}
