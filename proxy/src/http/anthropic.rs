//! Anthropic's Messages API inbound (`POST /v1/messages`), so Anthropic SDK
//! clients can use any model group: the request is translated to an OpenAI
//! chat call ([`llmux_anthropic::inbound`]), routed like any other, and the
//! answer (whole or streamed) translated back into Anthropic's shapes and
//! event stream. Errors use Anthropic's `{"type": "error", "error": {...}}`
//! body. This module only does the HTTP and the spend of the stream.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use llmux_anthropic::inbound::{self, EventEncoder};
use llmux_anthropic::wire::{MessagesRequest, StreamEvent};
use llmux_core::endpoint::{Call, Reply};
use llmux_core::{ChatStream, Error, ErrorKind};

use crate::body::parse_json;
use crate::gateway::Ctx;
use crate::gateway::Gateway;
use crate::http::chat::fill_usage;
use crate::http::chat::force_stream_usage;
use crate::http::respond::{event_stream_headers, route_headers};
use crate::pricing::{PromptSize, UsageTracker};

use crate::http::Routes;
use axum::routing::post;

/// The routes of this module.
pub(crate) fn routes() -> Routes {
    Routes::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
}

/// An error in Anthropic's shape.
pub(crate) struct AnthropicError(pub Error);

impl From<Error> for AnthropicError {
    fn from(e: Error) -> Self {
        AnthropicError(e)
    }
}

impl From<crate::error::ApiError> for AnthropicError {
    fn from(e: crate::error::ApiError) -> Self {
        AnthropicError(e.0)
    }
}

/// Anthropic's error body for `e`, as JSON text.
fn error_json(e: &Error) -> String {
    serde_json::to_string(&inbound::error_body(e)).unwrap_or_default()
}

impl IntoResponse for AnthropicError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, error_json(&self.0)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(ra) = self.0.retry_after {
            if let Ok(v) = HeaderValue::from_str(&ra.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// One SSE frame of Anthropic's stream: `event: <type>` and its JSON.
fn sse_frame(event: &StreamEvent) -> Bytes {
    let mut frame = format!("event: {}\ndata: ", event.name()).into_bytes();
    if let Err(e) = serde_json::to_writer(&mut frame, event) {
        tracing::error!(error = %e, "an Anthropic stream event did not serialise");
    }
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

type OnEnd = Box<dyn FnOnce(&mut UsageTracker, Option<Error>) + Send>;

/// The state of one Anthropic event stream.
struct StreamState {
    inner: ChatStream,
    encoder: EventEncoder,
    usage: UsageTracker,
    pending: std::collections::VecDeque<Bytes>,
    done: bool,
    on_end: Option<OnEnd>,
}

impl StreamState {
    fn end(&mut self, error: Option<Error>) {
        if let Some(f) = self.on_end.take() {
            f(&mut self.usage, error);
        }
    }
}

impl Drop for StreamState {
    fn drop(&mut self) {
        // The client went away mid-stream: what was served is still spent.
        self.end(None);
    }
}

/// Anthropic's event stream for an OpenAI chunk stream; `on_end` runs
/// exactly once (also when the client disconnects), with `usage` having
/// seen every chunk.
pub(crate) fn anthropic_stream(
    inner: ChatStream,
    usage: UsageTracker,
    on_end: impl FnOnce(&mut UsageTracker, Option<Error>) + Send + 'static,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    let state = StreamState {
        inner,
        encoder: EventEncoder::new(),
        usage,
        pending: std::collections::VecDeque::new(),
        done: false,
        on_end: Some(Box::new(on_end)),
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(b) = st.pending.pop_front() {
                return Some((Ok(b), st));
            }
            if st.done {
                return None;
            }
            let mut out = Vec::new();
            match st.inner.next().await {
                Some(Ok(chunk)) => {
                    st.usage.observe_chunk(&chunk);
                    st.encoder.push(&chunk, &mut out);
                }
                Some(Err(e)) => {
                    let error = inbound::error_body(&e).error;
                    out.push(StreamEvent::Error { error });
                    st.done = true;
                    st.end(Some(e));
                }
                None => {
                    st.encoder.finish(&st.usage.usage(), &mut out);
                    st.done = true;
                    st.end(None);
                }
            }
            st.pending.extend(out.iter().map(sse_frame));
        }
    })
}

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AnthropicError> {
    let ctx = Ctx::new("messages", &headers);
    let req: MessagesRequest = parse_json(&body)?;
    let mut chat = inbound::to_chat(req)?;
    crate::http::chat::validate_chat(&chat)?;
    let group = chat.model.clone();
    let prompt = PromptSize::of(&chat);
    if chat.is_stream() {
        force_stream_usage(&mut chat);
        let r = gw
            .dispatch(&ctx, &headers, group, Call::ChatStream(chat))
            .await?;
        let Reply::ChatStream(stream) = r.reply else {
            return Err(Error::new(
                ErrorKind::InternalServer,
                "router returned a non-stream reply",
            )
            .into());
        };
        let gateway = gw.clone();
        let route = r.route.clone();
        let admission = r.admission;
        let usage = UsageTracker::new(&route.upstream_model, prompt);
        let on_end = move |usage: &mut UsageTracker, err: Option<Error>| {
            gateway.finish(admission, &route, Some(&usage.usage()));
            if let Some(e) = err {
                tracing::warn!(model = crate::gateway::loggable(&route.model_group), error = %e, "messages stream failed after it started");
            }
        };
        let mut response =
            Response::new(Body::from_stream(anthropic_stream(stream, usage, on_end)));
        event_stream_headers(response.headers_mut());
        route_headers(response.headers_mut(), &ctx, &r.route);
        return Ok(response);
    }
    let r = gw.dispatch(&ctx, &headers, group, Call::Chat(chat)).await?;
    let Reply::Chat(mut completion) = r.reply else {
        return Err(Error::new(
            ErrorKind::InternalServer,
            "router returned a non-chat reply",
        )
        .into());
    };
    fill_usage(&mut completion, &r.route, prompt);
    let cost = gw.finish(r.admission, &r.route, completion.usage.as_ref());
    let body = serde_json::to_string(&inbound::to_message(&completion))
        .map_err(|e| Error::new(ErrorKind::InternalServer, e.to_string()))?;
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    route_headers(response.headers_mut(), &ctx, &r.route);
    crate::http::respond::cost_header(response.headers_mut(), cost);
    Ok(response)
}

/// `POST /v1/messages/count_tokens` (Claude Code asks before long turns):
/// Anthropic's own count when the model group's deployment has the
/// endpoint, else the model's tokenizer (`cl100k_base` where llmux has
/// none) over the prompt — never a 400 for a well-formed request.
pub(crate) async fn count_tokens(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AnthropicError> {
    let ctx = Ctx::new("messages", &headers);
    let mut req: MessagesRequest = parse_json(&body)?;
    req.max_tokens.get_or_insert(1);
    let chat = inbound::to_chat(req)?;
    let group = chat.model.clone();
    gw.admit_caller(&ctx, &headers, Some(&group), || 0)
        .await
        .inspect_err(|e| gw.record_error(&ctx, &group, e))?;
    let target = gw
        .router
        .group_name(&group)
        .and_then(|g| gw.router.deployments().iter().find(|d| d.spec.group == g))
        .map(|d| d.provider_for(&group));
    let counted = match target {
        Some(Ok((provider, model))) => {
            let mut upstream = chat.clone();
            upstream.model.clone_from(&model);
            match provider.count_tokens(upstream).await {
                Ok(n) => Some(n),
                Err(e) if e.kind == ErrorKind::Unsupported => None,
                Err(e) => {
                    tracing::warn!(model = crate::gateway::loggable(&group), error = %e, "count_tokens upstream failed; estimating");
                    None
                }
            }
        }
        _ => None,
    };
    let input_tokens = counted.unwrap_or_else(|| {
        let prompt = serde_json::to_string(&(&chat.messages, &chat.tools)).unwrap_or_default();
        llmux_cost::token_counter(&chat.model, &prompt)
    });
    let body = serde_json::to_string(&llmux_anthropic::wire::CountTokensResponse { input_tokens })
        .map_err(|e| Error::new(ErrorKind::InternalServer, e.to_string()))?;
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
