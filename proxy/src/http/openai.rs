//! The OpenAI-shaped JSON endpoints that are not chat: embeddings, image
//! generation, moderations and rerank. One handler, [`json_call`], serves
//! them all; each request type says how through [`JsonCall`].

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use llmux_core::endpoint::{Call, Reply};
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest};
use llmux_core::types::images::ImageGenerationRequest;
use llmux_core::types::moderations::ModerationRequest;
use llmux_core::types::rerank::RerankRequest;
use llmux_core::Error;
use serde::de::DeserializeOwned;

use crate::body::parse_json;
use crate::error::{internal, ApiError};
use crate::gateway::Ctx;
use crate::http::{prefixed, Routes, Shared};
use crate::pricing::reply_cost;

/// The routes of this module.
pub(crate) fn routes() -> Routes {
    prefixed([
        ("/embeddings", post(json_call::<EmbeddingRequest>)),
        (
            "/images/generations",
            post(json_call::<ImageGenerationRequest>),
        ),
        ("/moderations", post(json_call::<ModerationRequest>)),
        ("/rerank", post(json_call::<RerankRequest>)),
    ])
    .route("/v2/rerank", post(json_call::<RerankRequest>))
}

/// A JSON request served by [`json_call`].
pub(crate) trait JsonCall: DeserializeOwned + Send + 'static {
    /// The route's name in metrics and logs.
    const ROUTE: &'static str;
    /// The model group asked for (may be empty).
    fn group(&self) -> String;
    /// The router call.
    fn into_call(self) -> Call;
    /// The embeddings input, kept to count its tokens when the reply comes
    /// back without usage (Gemini's batch embeddings), so the call is priced.
    fn embedding_input(&self) -> Option<EmbeddingInput> {
        None
    }
    /// The reply's JSON body, when the reply is this call's kind.
    fn reply_body(reply: &Reply) -> Option<serde_json::Result<Vec<u8>>>;
}

/// `impl JsonCall for $request` (route name, reply variant, group).
macro_rules! impl_json_call {
    ($request:ty, $route:literal, $variant:ident, |$r:ident| $group:expr $(, input: |$i:ident| $input:expr)?) => {
        impl JsonCall for $request {
            const ROUTE: &'static str = $route;
            fn group(&self) -> String {
                let $r = self;
                $group
            }
            fn into_call(self) -> Call {
                Call::$variant(self)
            }
            fn reply_body(reply: &Reply) -> Option<serde_json::Result<Vec<u8>>> {
                match reply {
                    Reply::$variant(v) => Some(serde_json::to_vec(v)),
                    _ => None,
                }
            }
            $(
                fn embedding_input(&self) -> Option<EmbeddingInput> {
                    let $i = self;
                    $input
                }
            )?
        }
    };
}

impl_json_call!(EmbeddingRequest, "embeddings", Embeddings, |r| r.model.clone(), input: |r| Some(r.input.clone()));
impl_json_call!(
    ImageGenerationRequest,
    "image_generation",
    ImageGeneration,
    |r| r.model.clone().unwrap_or_default()
);
impl_json_call!(ModerationRequest, "moderations", Moderation, |r| r
    .model
    .clone()
    .unwrap_or_default());
impl_json_call!(RerankRequest, "rerank", Rerank, |r| r.model.clone());

/// `POST /embeddings`, `/images/generations`, `/moderations`, `/rerank`:
/// parse, admit, dispatch, price and answer with the provider's JSON.
pub(crate) async fn json_call<R: JsonCall>(
    gw: Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let axum::extract::State(gw) = gw;
    let ctx = Ctx::new(R::ROUTE, &headers);
    let req: R = parse_json(&body).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    let group = req.group();
    if group.trim().is_empty() {
        let e = Error::bad_request("model is required").with_param("model");
        gw.record_error(&ctx, "", &e);
        return Err(e.into());
    }
    let input = req.embedding_input();
    let mut r = gw.dispatch(&ctx, &headers, group, req.into_call()).await?;
    if let (Some(input), Reply::Embeddings(e)) = (&input, &mut r.reply) {
        if e.usage.prompt_tokens == 0 {
            let model = r.route.upstream_model.as_str();
            let tokens = input.tokens(|t| llmux_cost::token_counter(model, t));
            e.usage.prompt_tokens = tokens;
            e.usage.total_tokens = e.usage.total_tokens.max(tokens);
        }
    }
    let body = match R::reply_body(&r.reply) {
        Some(body) => body.map_err(|e| internal(&e.to_string()))?,
        None => {
            return Err(internal(&format!(
                "router returned the wrong reply for {}",
                R::ROUTE
            )))
        }
    };
    let (usage, cost) = reply_cost(&gw.pricing, &r.route, &r.reply);
    let cost = gw.settle(r.admission, &r.route, usage.as_ref(), cost);
    Ok(gw.json_response(&ctx, &r.route, cost, body))
}
