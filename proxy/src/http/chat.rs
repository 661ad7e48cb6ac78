//! `POST /chat/completions` (also the Azure-style
//! `/openai/deployments/{model}/chat/completions`), and the chat helpers the
//! other chat-shaped routes share.

use crate::body::{parse_json, parse_value};
use crate::error::internal;
use crate::gateway::{Admission, Ctx, Gateway};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use llmux_core::endpoint::{Call, Reply};
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest, StreamOptions};
use llmux_core::Error;
use llmux_router::RouteInfo;

use serde_json::Value;

use crate::error::ApiError;
use crate::pricing::{PromptSize, UsageTracker};

use crate::http::{prefixed, Routes, Shared};

/// The routes of this module.
pub(crate) fn routes() -> Routes {
    prefixed([("/chat/completions", post(chat_completions))]).route(
        "/openai/deployments/{model}/chat/completions",
        post(azure_chat_completions),
    )
}

/// How a served stream is written for its client.
pub(crate) struct ClientStream {
    /// How each chunk is serialized.
    pub encode: crate::http::sse::ChunkEncoder,
    /// The client asked for `stream_options.include_usage`.
    pub wants_usage: bool,
    /// Its prompt's size, for a usage estimate.
    pub prompt: PromptSize,
}

/// Every answer carries usage: a provider that sent none gets an estimate
/// (see [`UsageTracker`]).
pub(crate) fn fill_usage(completion: &mut ChatCompletion, route: &RouteInfo, prompt: PromptSize) {
    if completion.usage.is_none() {
        let mut usage = UsageTracker::new(&route.upstream_model, prompt);
        usage.observe_completion(completion);
        completion.usage = Some(usage.usage());
    }
}

/// Ask upstream for usage on every stream so it can be priced like the same
/// call without streaming; report whether the client itself asked.
pub(crate) fn force_stream_usage(req: &mut ChatCompletionRequest) -> bool {
    let asked = req
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    req.stream_options
        .get_or_insert_with(StreamOptions::default)
        .include_usage = Some(true);
    asked
}

pub(crate) fn validate_chat(req: &ChatCompletionRequest) -> Result<(), Error> {
    if req.model.trim().is_empty() {
        return Err(Error::bad_request("model is required").with_param("model"));
    }
    if req.messages.is_empty() {
        return Err(
            Error::bad_request("messages must contain at least one message").with_param("messages"),
        );
    }
    Ok(())
}

pub(crate) async fn chat_completions(
    State(gw): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new("chat_completions", &headers);
    let req: ChatCompletionRequest =
        parse_json(&body).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    serve_chat(&gw, &ctx, &headers, req).await
}

pub(crate) async fn azure_chat_completions(
    State(gw): Shared,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new("chat_completions", &headers);
    let mut req: Value = parse_json(&body).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    if let Value::Object(m) = &mut req {
        m.entry("model").or_insert(Value::String(model));
    }
    let req: ChatCompletionRequest =
        parse_value(req).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    serve_chat(&gw, &ctx, &headers, req).await
}

pub(crate) async fn serve_chat(
    gw: &Arc<Gateway>,
    ctx: &Ctx,
    headers: &HeaderMap,
    mut req: ChatCompletionRequest,
) -> Result<Response, ApiError> {
    validate_chat(&req).inspect_err(|e| gw.record_error(ctx, &req.model, e))?;
    let group = req.model.clone();
    let prompt = PromptSize::of(&req);
    if req.is_stream() {
        let client_wants_usage = force_stream_usage(&mut req);
        let r = gw
            .dispatch(ctx, headers, group, Call::ChatStream(req))
            .await?;
        let Reply::ChatStream(stream) = r.reply else {
            return Err(internal(
                "router returned a non-stream reply to a stream call",
            ));
        };
        let client = ClientStream {
            encode: serde_json::to_vec,
            wants_usage: client_wants_usage,
            prompt,
        };
        return Ok(gw.sse_response(ctx, &r.route, stream, client, r.admission));
    }
    let r = gw.dispatch(ctx, headers, group, Call::Chat(req)).await?;
    let Reply::Chat(mut completion) = r.reply else {
        return Err(internal("router returned a non-chat reply to a chat call"));
    };
    fill_usage(&mut completion, &r.route, prompt);
    let body = Bytes::from(serde_json::to_vec(&completion).map_err(|e| internal(&e.to_string()))?);
    Ok(answer_whole(
        gw,
        ctx,
        &r.route,
        r.admission,
        &completion,
        body,
    ))
}

/// A whole answer to a chat-served call, written as `body`: kept for the
/// logging callbacks (with the completion's finish reasons), settled, sent.
pub(crate) fn answer_whole(
    gw: &Gateway,
    ctx: &Ctx,
    route: &RouteInfo,
    mut admission: Admission,
    completion: &ChatCompletion,
    body: Bytes,
) -> Response {
    admission.capture_response_json(&body);
    admission.capture_finish_reasons(
        completion
            .choices
            .iter()
            .filter_map(|c| c.finish_reason.as_ref().map(|f| f.as_str())),
    );
    let cost = gw.finish(admission, route, completion.usage.as_ref());
    gw.json_response(ctx, route, cost, body)
}
