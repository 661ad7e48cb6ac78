//! Serving OpenAI's Responses API through any provider: the event stream
//! type, native SSE decoding (for upstreams that speak the API themselves),
//! and the chat-backed path every other provider gets by default
//! ([`crate::Provider::responses`]), built on [`crate::responses_bridge`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::StreamExt;

use crate::chat_bridge::{self, ChatBridgeError, ResponsesToChatStream};
use crate::error::{Error, ErrorKind, Result};
use crate::provider::Provider;
use crate::responses_bridge::{self, BridgeError, ChatToResponsesStream};
use crate::stream::{translate, ByteStream, ChatStream};
use crate::types::chat::{
    ChatCompletion, ChatCompletionRequest, CompletionTokensDetails, PromptTokensDetails, Usage,
};
use crate::types::responses::{
    CreateResponseRequest, Response, ResponseError, ResponseStreamEvent, ResponseUsage,
};
use crate::unix_now;

/// A stream of Responses API events. An `Err` item ends the stream; an
/// upstream that fails mid-way has usually sent `response.failed` first.
pub type ResponseStream = crate::stream::ResultStream<StreamedEvent>;

/// One event of a Responses stream, with the upstream's own JSON when it
/// came from an upstream that speaks the API, so the gateway can pass it on
/// byte for byte (and skip serialising it) unless it must change it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamedEvent {
    /// The event, parsed.
    pub event: ResponseStreamEvent,
    /// The `data:` JSON it was parsed from; `None` when llmux made it.
    pub raw: Option<String>,
}

impl From<ResponseStreamEvent> for StreamedEvent {
    fn from(event: ResponseStreamEvent) -> Self {
        StreamedEvent { event, raw: None }
    }
}

/// A fresh response id (`resp_` and 32 hex digits): unique across
/// processes by time, process id and a counter, so gateways sharing one
/// database never collide.
pub fn new_response_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let salt = u64::from(std::process::id()).rotate_left(32) ^ n;
    format!("resp_{nanos:016x}{salt:016x}")
}

/// Responses usage in chat's shape (what pricing and spend read), cache
/// reads, cache writes and reasoning tokens included.
pub fn chat_usage(u: &ResponseUsage) -> Usage {
    let input = u.input_tokens_details.as_ref();
    let cached = input.map(|d| d.cached_tokens).filter(|n| *n > 0);
    let created = input
        .and_then(|d| d.extra.get("cache_creation_tokens"))
        .and_then(serde_json::Value::as_u64);
    let reasoning = u
        .output_tokens_details
        .as_ref()
        .map(|d| d.reasoning_tokens)
        .filter(|n| *n > 0);
    Usage {
        prompt_tokens: u.input_tokens,
        completion_tokens: u.output_tokens,
        total_tokens: u.total_tokens.max(u.input_tokens + u.output_tokens),
        prompt_tokens_details: (cached.is_some() || created.is_some()).then(|| {
            PromptTokensDetails {
                cached_tokens: cached,
                cache_creation_tokens: created,
                ..Default::default()
            }
        }),
        completion_tokens_details: reasoning.map(|r| CompletionTokensDetails {
            reasoning_tokens: Some(r),
            ..Default::default()
        }),
        extra: Default::default(),
    }
}

/// A bridge refusal as a gateway error: a 400 naming what `provider`
/// cannot do (a hosted tool, an item type), or a 502 for a chat stream
/// that cannot be expressed as Responses events.
pub fn bridge_error(provider: &str, e: BridgeError) -> Error {
    match e {
        BridgeError::InterleavedToolCall { .. } => {
            Error::new(ErrorKind::BadGateway, e.to_string()).with_provider(provider)
        }
        BridgeError::UnsupportedTool { .. } => Error::bad_request(format!(
            "{e}: provider '{provider}' serves the Responses API through chat completions and cannot run it"
        ))
        .with_param("tools")
        .with_provider(provider),
        _ => Error::bad_request(format!(
            "{e} (provider '{provider}' serves the Responses API through chat completions)"
        ))
        .with_param("input")
        .with_provider(provider),
    }
}

/// The chat request that serves `request` on a chat-completions provider.
fn chat_request_for(
    provider: &str,
    request: &CreateResponseRequest,
) -> Result<ChatCompletionRequest> {
    responses_bridge::to_chat_request(request, &[]).map_err(|e| bridge_error(provider, e))
}

/// Serve a Responses call with `provider`'s chat completions.
pub async fn via_chat<P: Provider + ?Sized>(
    provider: &P,
    request: CreateResponseRequest,
) -> Result<Response> {
    let chat = chat_request_for(provider.name(), &request)?;
    let completion: ChatCompletion = provider.chat(chat).await?;
    Ok(responses_bridge::from_chat_completion(
        &completion,
        &request,
        &new_response_id(),
        unix_now(),
    ))
}

/// Serve a streamed Responses call with `provider`'s chat stream.
pub async fn stream_via_chat<P: Provider + ?Sized>(
    provider: &P,
    request: CreateResponseRequest,
) -> Result<ResponseStream> {
    let mut chat = chat_request_for(provider.name(), &request)?;
    chat.stream = Some(true);
    let chunks = provider.chat_stream(chat).await?;
    Ok(events_from_chat(provider.name(), chunks, &request))
}

/// OpenAI's error code for an error kind (`response.failed`'s and the
/// `error` event's `code`).
pub fn error_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::RateLimit => "rate_limit_exceeded",
        ErrorKind::BadRequest | ErrorKind::UnprocessableEntity => "invalid_prompt",
        ErrorKind::ContextWindowExceeded => "context_length_exceeded",
        ErrorKind::ContentPolicyViolation => "content_filter",
        _ => "server_error",
    }
}

/// A chat chunk stream as Responses events: `response.created` …
/// `response.completed`; a chunk stream that fails yields `response.failed`
/// and then the error.
pub fn events_from_chat(
    provider: &str,
    chunks: ChatStream,
    request: &CreateResponseRequest,
) -> ResponseStream {
    fn events(out: Vec<ResponseStreamEvent>) -> Vec<Result<StreamedEvent>> {
        out.into_iter().map(|e| Ok(e.into())).collect()
    }
    fn fail(bridge: &mut ChatToResponsesStream, e: Error) -> Vec<Result<StreamedEvent>> {
        let error = ResponseError {
            code: error_code(e.kind).into(),
            message: e.message.clone(),
            extra: Default::default(),
        };
        let mut out = events(bridge.fail(error));
        out.push(Err(e));
        out
    }
    let bridge = ChatToResponsesStream::new(request, &new_response_id(), unix_now());
    translate(
        chunks,
        (bridge, provider.to_string()),
        |(bridge, provider), chunk| match chunk {
            Some(Ok(chunk)) => match bridge.feed(&chunk) {
                Ok(out) => events(out),
                Err(e) => {
                    let e = bridge_error(provider, e);
                    fail(bridge, e)
                }
            },
            Some(Err(e)) => fail(bridge, e),
            None => events(bridge.finish()),
        },
    )
}

/// An upstream's Responses SSE body as events. Each `data:` is one event
/// (its `event:` line repeats the type); a body that ends before a terminal
/// event (`response.completed`, `.failed`, `.incomplete`, `error`) ends
/// the stream with an error, so a cut stream is never taken as complete.
pub fn decode_response_events(provider: &str, model: &str, body: ByteStream) -> ResponseStream {
    let provider_name = provider.to_string();
    let events = crate::sse::raw_events(provider, model, body, is_last_response_event);
    Box::pin(events.filter_map(move |item| {
        let provider = provider_name.clone();
        async move {
            let event = match item {
                Ok(event) if event.data.trim() == "[DONE]" => return None,
                Ok(event) => event,
                Err(e) => return Some(Err(e)),
            };
            let parsed = serde_json::from_str::<ResponseStreamEvent>(&event.data);
            Some(
                parsed
                    .map(|parsed| StreamedEvent {
                        event: parsed,
                        raw: Some(event.data),
                    })
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::BadGateway,
                            format!("upstream sent a Responses event that is not valid JSON: {e}"),
                        )
                        .with_provider(provider)
                    }),
            )
        }
    }))
}

/// Whether `event` ends a Responses stream (by its `event:` name, or by its
/// `type` for upstreams that send no `event:` lines).
fn is_last_response_event(event: &crate::sse::SseEvent) -> bool {
    const LAST: [&str; 4] = [
        "response.completed",
        "response.failed",
        "response.incomplete",
        "error",
    ];
    match event.event.as_deref() {
        Some(name) => LAST.contains(&name),
        None => LAST
            .iter()
            .any(|t| event.data.contains(&format!("\"type\":\"{t}\""))),
    }
}

// ------------------------------------------------- chat through Responses

/// A chat-through-Responses refusal or upstream failure as a gateway error:
/// what the client asked that the Responses API cannot express is a 400
/// naming the parameter; an upstream failure keeps its kind.
pub fn chat_bridge_error(provider: &str, e: ChatBridgeError) -> Error {
    let err = match &e {
        ChatBridgeError::Upstream { code, .. } => {
            let kind = match code.as_deref() {
                Some("rate_limit_exceeded") => ErrorKind::RateLimit,
                Some("context_length_exceeded") => ErrorKind::ContextWindowExceeded,
                Some("invalid_prompt") => ErrorKind::BadRequest,
                _ => ErrorKind::InternalServer,
            };
            Error::new(kind, e.to_string())
        }
        ChatBridgeError::UnknownItem { .. } => Error::new(ErrorKind::BadGateway, e.to_string()),
        _ => {
            let err = Error::bad_request(format!(
                "{e} (this model is served through the Responses API)"
            ));
            match e.param() {
                Some(p) => err.with_param(p),
                None => err,
            }
        }
    };
    err.with_provider(provider)
}

/// The Responses body that serves a chat request (`stream` as asked).
pub fn request_for_chat(
    provider: &str,
    request: &ChatCompletionRequest,
    stream: bool,
) -> Result<CreateResponseRequest> {
    let mut req =
        chat_bridge::to_responses_request(request).map_err(|e| chat_bridge_error(provider, e))?;
    req.stream = stream.then_some(true);
    Ok(req)
}

/// A whole `response` as a chat completion (an upstream failure as an error).
pub fn completion_for_chat(
    provider: &str,
    response: &Response,
    model: &str,
) -> Result<ChatCompletion> {
    if let Some(e) = chat_bridge::upstream_failure(response) {
        return Err(chat_bridge_error(provider, e));
    }
    Ok(chat_bridge::to_chat_completion(response, model))
}

/// Responses events as chat chunks; a failure event ends the stream with
/// its error.
pub fn chunks_from_events(provider: &str, events: ResponseStream, model: &str) -> ChatStream {
    let bridge = ResponsesToChatStream::new(model);
    translate(
        events,
        (bridge, provider.to_string()),
        |(bridge, provider), event| match event {
            Some(Ok(streamed)) => match bridge.push(&streamed.event) {
                Ok(chunks) => chunks.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(chat_bridge_error(provider, e))],
            },
            Some(Err(e)) => vec![Err(e)],
            None => Vec::new(),
        },
    )
}
