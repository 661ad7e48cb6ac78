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
use llmux_anthropic::response::to_usage;
use llmux_anthropic::wire::{MessagesRequest, MessagesResponse, StreamEvent};
use llmux_core::endpoint::{Call, Reply};
use llmux_core::endpoint::{MessagesCall, MessagesOptions};
use llmux_core::sse::{SseEvent, SseStream};
use llmux_core::{ChatStream, Error, ErrorKind};

use crate::body::parse_json;
use crate::gateway::Ctx;
use crate::gateway::Gateway;
use crate::http::chat::fill_usage;
use crate::http::chat::force_stream_usage;
use crate::http::respond::event_stream_headers;
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

/// `POST /v1/messages`: forwarded as it came to deployments that speak the
/// Messages API (only `model` replaced, the gateway's credentials, the
/// client's `anthropic-beta` kept; events passed through untouched), and
/// translated through chat for every other deployment.
pub(crate) async fn messages(
    State(gw): State<Arc<Gateway>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AnthropicError> {
    let ctx = Ctx::new("messages", &headers);
    // Typed first, for errors that name the field and its position; the
    // raw object is what a native upstream gets.
    let req: MessagesRequest = parse_json(&body)?;
    let raw: serde_json::Map<String, serde_json::Value> = parse_json(&body)?;
    let mut chat = inbound::to_chat(req)?;
    crate::http::chat::validate_chat(&chat)?;
    let group = chat.model.clone();
    let prompt = PromptSize::of(&chat);
    let betas: Vec<String> = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect();
    let stream = chat.is_stream();
    if stream {
        force_stream_usage(&mut chat);
    }
    let options = MessagesOptions {
        betas,
        beta_query: query
            .as_deref()
            .is_some_and(|q| q.split('&').any(|p| p == "beta=true")),
    };
    let call = Box::new(MessagesCall {
        body: raw,
        options,
        chat,
    });
    let call = if stream {
        Call::MessagesStream(call)
    } else {
        Call::Messages(call)
    };
    let r = gw.dispatch(&ctx, &headers, group, call).await?;
    let usage = UsageTracker::new(&r.route.upstream_model, prompt);
    let (route, admission) = (r.route, r.admission);
    let response = match r.reply {
        Reply::Messages(answer) => {
            let mut usage = usage;
            match serde_json::from_slice::<MessagesResponse>(&answer) {
                Ok(m) => usage.report(to_usage(&m.usage)),
                Err(e) => {
                    tracing::warn!(error = %e, "native messages answer without readable usage; estimating")
                }
            }
            let mut admission = admission;
            admission.capture_response_json(&answer);
            let cost = gw.finish(admission, &route, Some(&usage.usage()));
            let mut response = (StatusCode::OK, answer).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            gw.cost_header(response.headers_mut(), cost);
            response
        }
        Reply::MessagesStream(events) => {
            let on_end = settle_stream(gw.clone(), admission, route.clone());
            let mut response =
                Response::new(Body::from_stream(native_stream(events, usage, on_end)));
            event_stream_headers(response.headers_mut());
            response
        }
        Reply::ChatStream(stream) => {
            let on_end = settle_stream(gw.clone(), admission, route.clone());
            let mut response =
                Response::new(Body::from_stream(anthropic_stream(stream, usage, on_end)));
            event_stream_headers(response.headers_mut());
            response
        }
        Reply::Chat(mut completion) => {
            fill_usage(&mut completion, &route, prompt);
            let message = inbound::to_message(&completion);
            let mut admission = admission;
            admission.capture_response(|| serde_json::to_value(&message).ok());
            let cost = gw.finish(admission, &route, completion.usage.as_ref());
            let body = serde_json::to_string(&message)
                .map_err(|e| Error::new(ErrorKind::InternalServer, e.to_string()))?;
            let mut response = (StatusCode::OK, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            gw.cost_header(response.headers_mut(), cost);
            response
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InternalServer,
                "router returned a non-messages reply to a messages call",
            )
            .into())
        }
    };
    let mut response = response;
    gw.route_headers(response.headers_mut(), &ctx, &route);
    Ok(response)
}

/// What runs once a messages stream ends (or its client leaves): its
/// spend, and a log line when it failed after it started.
fn settle_stream(
    gateway: Arc<Gateway>,
    admission: crate::gateway::Admission,
    route: llmux_router::RouteInfo,
) -> impl FnOnce(&mut UsageTracker, Option<Error>) + Send + 'static {
    move |usage: &mut UsageTracker, err: Option<Error>| {
        let mut admission = admission;
        if let Some(e) = &err {
            admission.mark_failed(e);
        }
        gateway.finish(admission, &route, Some(&usage.usage()));
        if let Some(e) = err {
            tracing::warn!(model = crate::gateway::loggable(&route.model_group), error = %e, "messages stream failed after it started");
        }
    }
}

/// One SSE frame of an upstream event as it came (`event:` and each
/// `data:` line).
fn raw_frame(event: &SseEvent) -> Bytes {
    let mut frame = String::with_capacity(event.data.len() + 32);
    if let Some(name) = &event.event {
        frame.push_str("event: ");
        frame.push_str(name);
        frame.push('\n');
    }
    for line in event.data.split('\n') {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    Bytes::from(frame)
}

/// The usage an Anthropic event carries (`message_start`'s message,
/// `message_delta`'s cumulative counts).
fn event_usage(event: &SseEvent) -> Option<llmux_anthropic::wire::Usage> {
    match event.event.as_deref()? {
        "message_start" | "message_delta" => {}
        _ => return None,
    }
    match serde_json::from_str::<StreamEvent>(&event.data).ok()? {
        StreamEvent::MessageStart { message } => Some(message.usage),
        StreamEvent::MessageDelta { usage, .. } => usage,
        _ => None,
    }
}

/// An upstream's Messages events passed through untouched, its usage read
/// on the way; `on_end` runs exactly once (also when the client leaves).
fn native_stream(
    events: SseStream,
    usage: UsageTracker,
    on_end: impl FnOnce(&mut UsageTracker, Option<Error>) + Send + 'static,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    struct Native {
        events: SseStream,
        seen: llmux_anthropic::wire::Usage,
        usage: UsageTracker,
        on_end: Option<OnEnd>,
        done: bool,
    }
    impl Native {
        fn end(&mut self, error: Option<Error>) {
            if self.seen.input_tokens.is_some() || self.seen.output_tokens.is_some() {
                self.usage.report(to_usage(&self.seen));
            }
            if let Some(f) = self.on_end.take() {
                f(&mut self.usage, error);
            }
        }
    }
    impl Drop for Native {
        fn drop(&mut self) {
            self.end(None);
        }
    }
    let state = Native {
        events,
        seen: Default::default(),
        usage,
        on_end: Some(Box::new(on_end)),
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        match st.events.next().await {
            Some(Ok(event)) => {
                if let Some(u) = event_usage(&event) {
                    st.seen.update(&u);
                }
                Some((Ok(raw_frame(&event)), st))
            }
            Some(Err(e)) => {
                st.done = true;
                let error = StreamEvent::Error {
                    error: inbound::error_body(&e).error,
                };
                let frame = sse_frame(&error);
                st.end(Some(e));
                Some((Ok(frame), st))
            }
            None => {
                st.done = true;
                st.end(None);
                None
            }
        }
    })
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
