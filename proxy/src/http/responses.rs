//! OpenAI's Responses API (`/v1/responses`, also without `/v1` and under
//! `/openai/v1`): create (whole or streamed), retrieve, delete, list input
//! items, cancel and count input tokens.
//!
//! A create call is routed like chat: OpenAI and Azure deployments answer it
//! natively, every other provider through chat completions (see
//! [`llmux_core::responses`]). The gateway owns conversation state: a
//! `previous_response_id` is resolved here from [`Conversations`] into the
//! full input, so it works for every provider and across fallbacks, and
//! each response is stored before its final event is sent (unless
//! `store: false`), so a follow-up sent the next millisecond finds it.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use futures::StreamExt;
use llmux_core::endpoint::{Call, Reply};
use llmux_core::responses::{chat_usage, error_code, ResponseStream, StreamedEvent};
use llmux_core::responses_bridge::response_usage;
use llmux_core::types::responses::{
    CreateResponseRequest, ErrorEvent, InputItemList, InputTokensResponse, Item,
    Response as ApiResponse, ResponseDeleted, ResponseInput, ResponseStreamEvent,
};
use llmux_core::{Error, ErrorKind};
use llmux_router::RouteInfo;
use llmux_store::StoredResponse;
use serde::Deserialize;

use crate::body::parse_json;
use crate::conversations::Conversations;
use crate::error::{internal, ApiError};
use crate::gateway::{loggable, Admission, Ctx, Gateway};
use crate::http::respond::event_stream_headers;
use crate::http::{Routes, Shared};
use crate::pricing::{PromptSize, UsageTracker};

/// Prefixes the Responses routes are served under.
const PREFIXES: [&str; 3] = ["", "/v1", "/openai/v1"];

/// The routes of this module.
pub(crate) fn routes() -> Routes {
    let mut r = Routes::new();
    for p in PREFIXES {
        r = r
            .route(&format!("{p}/responses"), post(create))
            .route(&format!("{p}/responses/input_tokens"), post(input_tokens))
            .route(
                &format!("{p}/responses/{{id}}"),
                get(retrieve).delete(delete),
            )
            .route(
                &format!("{p}/responses/{{id}}/input_items"),
                get(input_items),
            )
            .route(&format!("{p}/responses/{{id}}/cancel"), post(cancel));
    }
    r
}

/// OpenAI's 404 for a response id that does not exist (or is not the caller's).
fn not_found(id: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "Response with id '{}' not found.",
            crate::gateway::loggable(id)
        ),
    )
}

/// The request's shape checks, before anything is routed.
fn validate(req: &CreateResponseRequest) -> Result<(), Error> {
    if req.model.trim().is_empty() {
        return Err(Error::bad_request("Missing required parameter: 'model'.").with_param("model"));
    }
    if req.input.is_none() && req.previous_response_id.is_none() {
        return Err(Error::bad_request("Missing required parameter: 'input'.").with_param("input"));
    }
    Ok(())
}

/// The items of a stored conversation: its input, then what it answered.
fn history(stored: &StoredResponse) -> Result<Vec<Item>, Error> {
    let mut items: Vec<Item> = serde_json::from_str(&stored.input_items)
        .map_err(|e| internal(&format!("stored response input unreadable: {e}")).0)?;
    let response: ApiResponse = serde_json::from_str(&stored.response)
        .map_err(|e| internal(&format!("stored response unreadable: {e}")).0)?;
    items.extend(response.output);
    Ok(items)
}

/// The text of an input item a model reads: a message's, a tool call's name
/// and arguments, a tool output's (other items count as none).
fn item_text(item: &Item) -> String {
    match item {
        Item::Message(m) => m.text(),
        Item::FunctionCall(c) => format!("{}{}", c.name, c.arguments),
        Item::FunctionCallOutput(o) => o.output.text(),
        _ => String::new(),
    }
}

/// The size of a Responses prompt, for a usage estimate when the upstream
/// reports none.
fn prompt_size(items: &[Item], instructions: Option<&str>) -> PromptSize {
    let chars: usize =
        items.iter().map(|i| item_text(i).len()).sum::<usize>() + instructions.map_or(0, str::len);
    PromptSize {
        chars: chars as u64,
        messages: items.len() as u64 + u64::from(instructions.is_some()),
    }
}

/// What is kept of a create call to store its response once it is known.
struct ToStore {
    token_hash: Option<String>,
    team_id: Option<String>,
    model_group: String,
    /// The conversation's input up to this turn, as JSON.
    input_items: String,
    conversations: Conversations,
}

impl ToStore {
    /// Store `response` (failures are logged: the caller still gets what it
    /// paid for, but a follow-up naming it will get a 404).
    async fn store(self, response: &ApiResponse) {
        let Ok(json) = serde_json::to_string(response) else {
            return;
        };
        let row = StoredResponse {
            id: response.id.clone(),
            token_hash: self.token_hash,
            team_id: self.team_id,
            model_group: self.model_group,
            created_at: i64::try_from(response.created_at).unwrap_or(i64::MAX),
            response: json,
            input_items: self.input_items,
        };
        if let Err(e) = self.conversations.put(row).await {
            tracing::warn!(response_id = %response.id, error = %e, "response served but not stored");
        }
    }
}

/// `POST /responses`.
async fn create(State(gw): Shared, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let ctx = Ctx::new("responses", &headers);
    let mut req: CreateResponseRequest =
        parse_json(&body).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    validate(&req).inspect_err(|e| gw.record_error(&ctx, &req.model, e))?;
    let previous = req.previous_response_id.take();
    let mut items = Vec::new();
    if let Some(prev) = &previous {
        let caller = gw
            .auth
            .authenticate(&headers)
            .await
            .inspect_err(|e| gw.record_error(&ctx, &req.model, e))?;
        let stored = gw
            .conversations
            .get(prev, &caller)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("Previous response with id '{}' not found.", loggable(prev)),
                )
                .with_param("previous_response_id")
                .with_code("previous_response_not_found")
            })
            .inspect_err(|e| gw.record_error(&ctx, &req.model, e))?;
        items = history(&stored)?;
    }
    items.extend(req.input_items());
    let prompt = prompt_size(&items, req.instructions.as_deref());
    let keep = req.store != Some(false);
    let input_json = if keep {
        serde_json::to_string(&items).map_err(|e| internal(&e.to_string()))?
    } else {
        String::new()
    };
    if previous.is_some() {
        // The upstream gets the whole conversation: it may not be the one
        // that answered before (another provider, a fallback).
        req.input = Some(ResponseInput::Items(items));
    }
    let group = req.model.clone();
    let stream = req.is_stream();
    let call = if stream {
        Call::ResponsesStream(req)
    } else {
        Call::Responses(req)
    };
    let r = gw.dispatch(&ctx, &headers, group.clone(), call).await?;
    let to_store = keep.then(|| ToStore {
        token_hash: r.admission.key().map(|k| k.token_hash.clone()),
        team_id: r.admission.key().and_then(|k| k.team_id.clone()),
        model_group: group,
        input_items: input_json,
        conversations: gw.conversations.clone(),
    });
    let usage = UsageTracker::new(&r.route.upstream_model, prompt);
    match r.reply {
        Reply::Responses(mut response) => {
            response.previous_response_id = previous;
            let mut usage = usage;
            match &response.usage {
                Some(u) => usage.report(chat_usage(u)),
                None => {
                    usage.observe_text(&response.output_text());
                    response.usage = Some(response_usage(&usage.usage()));
                }
            }
            if let Some(s) = to_store {
                s.store(&response).await;
            }
            let body = bytes::Bytes::from(
                serde_json::to_vec(&response).map_err(|e| internal(&e.to_string()))?,
            );
            let mut admission = r.admission;
            admission.capture_response_json(&body);
            let cost = gw.finish(admission, &r.route, Some(&usage.usage()));
            Ok(gw.json_response(&ctx, &r.route, cost, body))
        }
        Reply::ResponsesStream(events) => {
            gw.record_status(&ctx, &r.route.model_group, 200);
            let state = EventState {
                events,
                gateway: gw.clone(),
                route: r.route.clone(),
                admission: Some(r.admission),
                usage,
                to_store,
                previous,
                pending: VecDeque::new(),
                sent: 0,
                terminal: false,
                done: false,
            };
            let mut response = Response::new(Body::from_stream(event_stream(state)));
            event_stream_headers(response.headers_mut());
            gw.route_headers(response.headers_mut(), &ctx, &r.route);
            Ok(response)
        }
        _ => Err(internal(
            "router returned a non-Responses reply to a Responses call",
        )),
    }
}

/// One streamed create call, from the router's events to the client's SSE.
struct EventState {
    events: ResponseStream,
    gateway: Arc<Gateway>,
    route: RouteInfo,
    /// Until the call is settled (once: at the final event, an error, or
    /// when the client goes away).
    admission: Option<Admission>,
    usage: UsageTracker,
    to_store: Option<ToStore>,
    previous: Option<String>,
    pending: VecDeque<Bytes>,
    /// Events sent (the next `sequence_number` of an error event).
    sent: u64,
    /// A final event (`completed`, `incomplete`, `failed`, `error`) was sent.
    terminal: bool,
    done: bool,
}

impl EventState {
    fn settle(&mut self) {
        if let Some(admission) = self.admission.take() {
            let usage = self.usage.usage();
            self.gateway.finish(admission, &self.route, Some(&usage));
        }
    }

    /// Take in one upstream event; store the response before its final
    /// event goes out.
    async fn take(&mut self, streamed: StreamedEvent) {
        let StreamedEvent { mut event, mut raw } = streamed;
        match &event {
            ResponseStreamEvent::OutputTextDelta(d)
            | ResponseStreamEvent::RefusalDelta(d)
            | ResponseStreamEvent::ReasoningTextDelta(d) => self.usage.observe_text(&d.delta),
            ResponseStreamEvent::FunctionCallArgumentsDelta(d)
            | ResponseStreamEvent::CustomToolCallInputDelta(d) => self.usage.observe_text(&d.delta),
            ResponseStreamEvent::ReasoningSummaryTextDelta(d) => self.usage.observe_text(&d.delta),
            _ => {}
        }
        let terminal = event.is_terminal();
        if let Some(response) = response_mut(&mut event) {
            if response.previous_response_id != self.previous {
                response.previous_response_id.clone_from(&self.previous);
                raw = None;
            }
            if terminal {
                match &response.usage {
                    Some(u) => self.usage.report(chat_usage(u)),
                    None => {
                        response.usage = Some(response_usage(&self.usage.usage()));
                        raw = None;
                    }
                }
                if let Some(s) = self.to_store.take() {
                    s.store(response).await;
                }
            }
        }
        self.push(&event, raw.as_deref());
        if terminal {
            self.terminal = true;
            self.settle();
        }
    }

    /// Queue `event` for the client: its upstream JSON `raw` as it came
    /// when there is one, else serialised.
    fn push(&mut self, event: &ResponseStreamEvent, raw: Option<&str>) {
        let mut frame = format!("event: {}\ndata: ", event.type_name()).into_bytes();
        match raw.filter(|r| !r.contains('\n')) {
            Some(raw) => frame.extend_from_slice(raw.as_bytes()),
            None => {
                if serde_json::to_writer(&mut frame, event).is_err() {
                    return;
                }
            }
        }
        frame.extend_from_slice(b"\n\n");
        self.sent += 1;
        self.pending.push_back(Bytes::from(frame));
    }

    /// The stream failed: an in-band `error` event unless a final event
    /// already went out, never a clean end.
    fn fail(&mut self, e: Error) {
        if !self.terminal {
            let event = ResponseStreamEvent::Error(ErrorEvent {
                code: Some(error_code(e.kind).to_string()),
                message: e.message.clone(),
                param: None,
                sequence_number: self.sent,
                extra: Default::default(),
            });
            self.push(&event, None);
            self.terminal = true;
        }
        let route = &self.route;
        tracing::warn!(model = loggable(&route.model_group), deployment = %route.deployment_id, events = self.sent, error = %e, "responses stream failed after it started");
        if let Some(a) = self.admission.as_mut() {
            a.mark_failed(&e);
        }
        self.settle();
    }
}

impl Drop for EventState {
    fn drop(&mut self) {
        // The client went away mid-stream: what was served is still spent.
        self.settle();
    }
}

/// The lifecycle event's response, to adjust before it is sent.
fn response_mut(event: &mut ResponseStreamEvent) -> Option<&mut ApiResponse> {
    match event {
        ResponseStreamEvent::Created(e)
        | ResponseStreamEvent::InProgress(e)
        | ResponseStreamEvent::Completed(e)
        | ResponseStreamEvent::Failed(e)
        | ResponseStreamEvent::Incomplete(e)
        | ResponseStreamEvent::Queued(e) => Some(&mut e.response),
        _ => None,
    }
}

fn event_stream(
    state: EventState,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(frame) = st.pending.pop_front() {
                return Some((Ok(frame), st));
            }
            if st.done {
                return None;
            }
            let keep_alive = st.gateway.keep_alive;
            match tokio::time::timeout(keep_alive, st.events.next()).await {
                Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), st)),
                Ok(Some(Ok(event))) => st.take(event).await,
                Ok(Some(Err(e))) => {
                    st.done = true;
                    st.fail(e);
                }
                Ok(None) => {
                    st.done = true;
                    if !st.terminal {
                        let e = Error::new(
                            ErrorKind::ApiConnection,
                            "upstream Responses stream ended before its final event",
                        );
                        st.fail(e);
                    }
                    st.settle();
                }
            }
        }
    })
}

/// The stored response `id`, when the caller (every key check applied)
/// may see it; OpenAI's 404 otherwise.
async fn owned(
    gw: &Gateway,
    id: &str,
    headers: &HeaderMap,
) -> Result<Arc<StoredResponse>, ApiError> {
    let caller = gw.admit_listing("responses", headers).await?;
    let stored = gw.conversations.get(id, &caller).await?;
    Ok(stored.ok_or_else(|| not_found(id))?)
}

/// `GET /responses/{id}`.
async fn retrieve(
    State(gw): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let stored = owned(&gw, &id, &headers).await?;
    Ok(json(stored.response.clone().into_bytes()))
}

/// `DELETE /responses/{id}`.
async fn delete(
    State(gw): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    owned(&gw, &id, &headers).await?;
    gw.conversations.delete(&id).await?;
    let body = ResponseDeleted {
        id,
        object: "response".into(),
        deleted: true,
        extra: Default::default(),
    };
    Ok(json(
        serde_json::to_vec(&body).map_err(|e| internal(&e.to_string()))?,
    ))
}

/// Query of `GET /responses/{id}/input_items`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    /// `asc` or `desc` (the default: newest first).
    #[serde(default)]
    order: Option<String>,
}

/// An item's id, where its type has one.
fn item_id(item: &Item) -> Option<String> {
    serde_json::to_value(item)
        .ok()?
        .get("id")?
        .as_str()
        .map(str::to_string)
}

/// `GET /responses/{id}/input_items`.
async fn input_items(
    State(gw): Shared,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let stored = owned(&gw, &id, &headers).await?;
    let mut items: Vec<Item> = serde_json::from_str(&stored.input_items)
        .map_err(|e| internal(&format!("stored response input unreadable: {e}")))?;
    match q.order.as_deref() {
        None | Some("desc") => items.reverse(),
        Some("asc") => {}
        Some(other) => {
            return Err(Error::bad_request(format!(
                "Invalid value for 'order': expected 'asc' or 'desc', got '{}'.",
                loggable(other)
            ))
            .with_param("order")
            .into())
        }
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(
            Error::bad_request("Invalid 'limit': expected an integer from 1 to 100.")
                .with_param("limit")
                .into(),
        );
    }
    let start = match &q.after {
        None => 0,
        Some(after) => items
            .iter()
            .position(|i| item_id(i).as_deref() == Some(after.as_str()))
            .map(|p| p + 1)
            .ok_or_else(|| {
                Error::bad_request(format!("No input item with id '{}'.", loggable(after)))
                    .with_param("after")
            })?,
    };
    let page: Vec<Item> = items.iter().skip(start).take(limit).cloned().collect();
    let list = InputItemList {
        object: "list".into(),
        first_id: page.first().and_then(item_id),
        last_id: page.last().and_then(item_id),
        has_more: start + page.len() < items.len(),
        data: page,
        extra: Default::default(),
    };
    Ok(json(
        serde_json::to_vec(&list).map_err(|e| internal(&e.to_string()))?,
    ))
}

/// `POST /responses/{id}/cancel`: only background responses can be
/// cancelled, and llmux runs none, so a stored response gets OpenAI's 400.
async fn cancel(
    State(gw): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    owned(&gw, &id, &headers).await?;
    Err(Error::bad_request("Only responses created with background=true can be cancelled.").into())
}

/// `POST /responses/input_tokens`: the input's token count with the
/// model's tokenizer (`cl100k_base` where llmux has none).
async fn input_tokens(
    State(gw): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new("responses_input_tokens", &headers);
    let req: CreateResponseRequest =
        parse_json(&body).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    let model = Some(req.model.as_str()).filter(|m| !m.is_empty());
    gw.admit_caller(&ctx, &headers, model, || 0)
        .await
        .inspect_err(|e| gw.record_error(&ctx, &req.model, e))?;
    let mut text = req.instructions.clone().unwrap_or_default();
    for item in req.input_items() {
        text.push_str(&item_text(&item));
    }
    let body = InputTokensResponse {
        object: "response.input_tokens".into(),
        input_tokens: llmux_cost::token_counter(&req.model, &text),
        extra: Default::default(),
    };
    Ok(json(
        serde_json::to_vec(&body).map_err(|e| internal(&e.to_string()))?,
    ))
}

fn json(body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
