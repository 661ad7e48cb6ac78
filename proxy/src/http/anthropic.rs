//! Anthropic's Messages API inbound (`POST /v1/messages`), so Anthropic SDK
//! clients can use any model group: the request is translated to an OpenAI
//! chat call, routed like any other, and the answer (whole or streamed)
//! translated back into Anthropic's shapes and event stream. Errors use
//! Anthropic's `{"type": "error", "error": {...}}` body.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use llmux_core::endpoint::{Call, Reply};
use llmux_core::types::chat::{
    AssistantMessage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage,
    ContentPart, Extra, FilePart, FileRef, FinishReason, FunctionDefinition, ImageUrl,
    ImageUrlPart, MessageContent, SystemMessage, TextPart, Tool, ToolCall, ToolChoice, ToolMessage,
    UserMessage,
};
use llmux_core::types::OneOrMany;
use llmux_core::{ChatStream, Error, ErrorKind};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::body::parse_json;
use crate::gateway::Ctx;
use crate::gateway::Gateway;
use crate::http::chat::fill_usage;
use crate::http::chat::force_stream_usage;
use crate::http::respond::route_headers;
use crate::pricing::{PromptSize, UsageTracker};

use crate::http::Routes;
use axum::routing::post;

/// The routes of this module.
pub(crate) fn routes() -> Routes {
    Routes::new().route("/v1/messages", post(messages))
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

/// Anthropic's `error.type` for a kind.
pub(crate) fn anthropic_error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::PermissionDenied => "permission_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::ServiceUnavailable => "overloaded_error",
        ErrorKind::Timeout => "timeout_error",
        ErrorKind::InternalServer | ErrorKind::BadGateway | ErrorKind::ApiConnection => "api_error",
        ErrorKind::BadRequest
        | ErrorKind::ContextWindowExceeded
        | ErrorKind::ContentPolicyViolation
        | ErrorKind::UnprocessableEntity
        | ErrorKind::Unsupported => "invalid_request_error",
    }
}

pub(crate) fn error_body(e: &Error) -> Value {
    json!({"type": "error", "error": {"type": anthropic_error_type(e.kind), "message": e.message}})
}

impl IntoResponse for AnthropicError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, error_body(&self.0).to_string()).into_response();
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

/// `POST /v1/messages` request body.
#[derive(Debug, Deserialize)]
pub(crate) struct MessagesRequest {
    pub model: String,
    pub max_tokens: u32,
    pub messages: Vec<InMessage>,
    #[serde(default)]
    pub system: Option<SystemPrompt>,
    #[serde(default)]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub top_k: Option<u32>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub tools: Option<Vec<InTool>>,
    #[serde(default)]
    pub tool_choice: Option<InToolChoice>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// `{"type": "enabled", "budget_tokens": N}`, passed through.
    #[serde(default)]
    pub thinking: Option<Value>,
    /// Fields the translated path has no place for (the native Messages
    /// path of the Claude Code issue will forward them).
    #[serde(flatten)]
    #[allow(dead_code)]
    pub extra: Extra,
}

/// `system`: a string or text blocks.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum SystemPrompt {
    Text(String),
    Blocks(Vec<Map<String, Value>>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct InMessage {
    pub role: String,
    pub content: InContent,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum InContent {
    Text(String),
    Blocks(Vec<Map<String, Value>>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct InTool {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub input_schema: Option<Value>,
    #[serde(flatten)]
    #[allow(dead_code)] // see MessagesRequest::extra
    pub extra: Extra,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InToolChoice {
    #[serde(rename = "type")]
    pub r#type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub disable_parallel_tool_use: Option<bool>,
}

pub(crate) fn bad(message: impl Into<String>) -> Error {
    Error::bad_request(message)
}

pub(crate) fn str_field<'a>(
    block: &'a Map<String, Value>,
    field: &str,
    at: &str,
) -> Result<&'a str, Error> {
    block
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{at}.{field}: expected a string")))
}

/// An image or document `source` as a URL OpenAI-shaped providers accept.
pub(crate) fn source_url(block: &Map<String, Value>, at: &str) -> Result<String, Error> {
    let source = block
        .get("source")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(format!("{at}.source: expected an object")))?;
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => Ok(format!(
            "data:{};base64,{}",
            str_field(source, "media_type", &format!("{at}.source"))?,
            str_field(source, "data", &format!("{at}.source"))?
        )),
        Some("url") => Ok(str_field(source, "url", &format!("{at}.source"))?.to_string()),
        other => Err(bad(format!(
            "{at}.source.type: unsupported source type {other:?}"
        ))),
    }
}

pub(crate) fn tool_result_text(block: &Map<String, Value>) -> String {
    match block.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// Anthropic request → OpenAI chat request.
pub(crate) fn to_chat(req: MessagesRequest) -> Result<ChatCompletionRequest, Error> {
    let mut messages = Vec::new();
    match req.system {
        Some(SystemPrompt::Text(t)) => messages.push(ChatMessage::system(t)),
        Some(SystemPrompt::Blocks(blocks)) => {
            let text: Vec<&str> = blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            messages.push(ChatMessage::System(SystemMessage {
                content: MessageContent::Text(text.join("\n")),
                name: None,
                extra: Extra::new(),
            }));
        }
        None => {}
    }
    for (i, m) in req.messages.into_iter().enumerate() {
        let at = format!("messages[{i}]");
        let blocks = match m.content {
            InContent::Text(t) => {
                messages.push(match m.role.as_str() {
                    "user" => ChatMessage::user(t),
                    "assistant" => ChatMessage::assistant(t),
                    other => {
                        return Err(bad(format!(
                            "{at}.role: expected user or assistant, got '{other}'"
                        )))
                    }
                });
                continue;
            }
            InContent::Blocks(b) => b,
        };
        match m.role.as_str() {
            "user" => {
                let mut parts = Vec::new();
                for (j, block) in blocks.iter().enumerate() {
                    let bat = format!("{at}.content[{j}]");
                    match block.get("type").and_then(Value::as_str) {
                        Some("text") => parts.push(ContentPart::Text(TextPart {
                            text: str_field(block, "text", &bat)?.to_string(),
                            extra: Extra::new(),
                        })),
                        Some("image") => parts.push(ContentPart::ImageUrl(ImageUrlPart {
                            image_url: ImageUrl {
                                url: source_url(block, &bat)?,
                                detail: None,
                                format: None,
                            },
                            extra: Extra::new(),
                        })),
                        Some("document") => parts.push(ContentPart::File(FilePart {
                            file: FileRef {
                                file_id: None,
                                file_data: Some(source_url(block, &bat)?),
                                filename: None,
                                format: None,
                            },
                            extra: Extra::new(),
                        })),
                        Some("tool_result") => messages.push(ChatMessage::Tool(ToolMessage {
                            content: MessageContent::Text(tool_result_text(block)),
                            tool_call_id: str_field(block, "tool_use_id", &bat)?.to_string(),
                            extra: Extra::new(),
                        })),
                        other => {
                            return Err(bad(format!(
                                "{bat}.type: unsupported content block {other:?} in a user turn"
                            )))
                        }
                    }
                }
                if !parts.is_empty() {
                    messages.push(ChatMessage::User(UserMessage {
                        content: MessageContent::Parts(parts),
                        name: None,
                        extra: Extra::new(),
                    }));
                }
            }
            "assistant" => {
                let mut text = String::new();
                let mut calls = Vec::new();
                for (j, block) in blocks.iter().enumerate() {
                    let bat = format!("{at}.content[{j}]");
                    match block.get("type").and_then(Value::as_str) {
                        Some("text") => text.push_str(str_field(block, "text", &bat)?),
                        Some("tool_use") => calls.push(ToolCall::function(
                            str_field(block, "id", &bat)?,
                            str_field(block, "name", &bat)?,
                            block.get("input").cloned().unwrap_or(json!({})).to_string(),
                        )),
                        // Earlier thinking is not sent back upstream: OpenAI-shaped
                        // providers have no field for it.
                        Some("thinking") | Some("redacted_thinking") => {}
                        other => {
                            return Err(bad(format!(
                            "{bat}.type: unsupported content block {other:?} in an assistant turn"
                        )))
                        }
                    }
                }
                messages.push(ChatMessage::Assistant(AssistantMessage {
                    content: (!text.is_empty()).then_some(MessageContent::Text(text)),
                    tool_calls: (!calls.is_empty()).then_some(calls),
                    ..Default::default()
                }));
            }
            other => {
                return Err(bad(format!(
                    "{at}.role: expected user or assistant, got '{other}'"
                )))
            }
        }
    }
    let mut chat = ChatCompletionRequest::new(req.model, messages);
    chat.max_tokens = Some(req.max_tokens);
    chat.temperature = req.temperature;
    chat.top_p = req.top_p;
    chat.stop = req.stop_sequences.map(OneOrMany::Many);
    chat.stream = req.stream;
    chat.user = req
        .metadata
        .as_ref()
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(k) = req.top_k {
        chat.extra.insert("top_k".into(), json!(k));
    }
    if let Some(t) = req.thinking {
        chat.extra.insert("thinking".into(), t);
    }
    if let Some(tools) = req.tools {
        chat.tools = Some(
            tools
                .into_iter()
                .map(|t| {
                    Tool::function(FunctionDefinition {
                        name: t.name,
                        description: t.description,
                        parameters: t.input_schema,
                        strict: None,
                    })
                })
                .collect(),
        );
    }
    if let Some(tc) = req.tool_choice {
        chat.tool_choice = Some(match tc.r#type.as_str() {
            "auto" => ToolChoice::Auto,
            "any" => ToolChoice::Required,
            "none" => ToolChoice::None,
            "tool" => ToolChoice::Function(
                tc.name
                    .ok_or_else(|| bad("tool_choice.name is required when type is 'tool'"))?,
            ),
            other => return Err(bad(format!("tool_choice.type: unknown '{other}'"))),
        });
        if tc.disable_parallel_tool_use == Some(true) {
            chat.parallel_tool_calls = Some(false);
        }
    }
    Ok(chat)
}

pub(crate) fn stop_reason(f: Option<&FinishReason>) -> &'static str {
    match f {
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls) | Some(FinishReason::FunctionCall) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
        _ => "end_turn",
    }
}

pub(crate) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_string()
    } else {
        format!("msg_{}", id.trim_start_matches("chatcmpl-"))
    }
}

pub(crate) fn usage_json(u: Option<&llmux_core::types::chat::Usage>) -> Value {
    let Some(u) = u else {
        return json!({"input_tokens": 0, "output_tokens": 0});
    };
    let cached = u.cached_tokens();
    let created = u
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cache_creation_tokens)
        .unwrap_or(0);
    json!({
        "input_tokens": u.prompt_tokens.saturating_sub(cached + created),
        "output_tokens": u.completion_tokens,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": created,
    })
}

/// OpenAI completion → Anthropic message.
pub(crate) fn to_message(c: &ChatCompletion) -> Value {
    let choice = c.choices.first();
    let mut content = Vec::new();
    if let Some(m) = choice.map(|c| &c.message) {
        if let Some(r) = &m.reasoning_content {
            let signature = m
                .thinking_blocks
                .as_ref()
                .and_then(|b| b.first())
                .and_then(|b| b.get("signature"))
                .cloned()
                .unwrap_or(Value::String(String::new()));
            content.push(json!({"type": "thinking", "thinking": r, "signature": signature}));
        }
        if let Some(t) = m.content.as_deref().filter(|t| !t.is_empty()) {
            content.push(json!({"type": "text", "text": t}));
        }
        for call in m.tool_calls.iter().flatten() {
            let input: Value = serde_json::from_str(&call.function.arguments).unwrap_or(json!({}));
            content.push(json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": input}));
        }
    }
    json!({
        "id": message_id(&c.id),
        "type": "message",
        "role": "assistant",
        "model": c.model,
        "content": content,
        "stop_reason": stop_reason(choice.and_then(|c| c.finish_reason.as_ref())),
        "stop_sequence": null,
        "usage": usage_json(c.usage.as_ref()),
    })
}

pub(crate) fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// Which content block is open in the Anthropic stream.
#[derive(PartialEq)]
enum Open {
    None,
    Thinking(usize),
    Text(usize),
    Tool(usize, u32),
}

struct Translator {
    started: bool,
    open: Open,
    next_index: usize,
    finish: Option<FinishReason>,
    usage: UsageTracker,
    model: String,
    id: String,
}

impl Translator {
    fn close(&mut self, out: &mut Vec<Bytes>) {
        let index = match self.open {
            Open::None => return,
            Open::Thinking(i) | Open::Text(i) | Open::Tool(i, _) => i,
        };
        out.push(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        self.open = Open::None;
    }

    fn open_block(&mut self, kind: Open, block: Value, out: &mut Vec<Bytes>) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        self.open = match kind {
            Open::Thinking(_) => Open::Thinking(index),
            Open::Text(_) => Open::Text(index),
            Open::Tool(_, k) => Open::Tool(index, k),
            Open::None => Open::None,
        };
        index
    }

    fn push(&mut self, chunk: &ChatCompletionChunk, out: &mut Vec<Bytes>) {
        if !self.started {
            self.started = true;
            self.id = message_id(&chunk.id);
            self.model.clone_from(&chunk.model);
            out.push(event(
                "message_start",
                &json!({"type": "message_start", "message": {
                    "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 0}
                }}),
            ));
        }
        self.usage.observe_chunk(chunk);
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let d = &choice.delta;
            if let Some(r) = d.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
                let index = match self.open {
                    Open::Thinking(i) => i,
                    _ => self.open_block(
                        Open::Thinking(0),
                        json!({"type": "thinking", "thinking": ""}),
                        out,
                    ),
                };
                out.push(event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": r}}),
                ));
            }
            if let Some(t) = d.content.as_deref().filter(|t| !t.is_empty()) {
                let index = match self.open {
                    Open::Text(i) => i,
                    _ => self.open_block(Open::Text(0), json!({"type": "text", "text": ""}), out),
                };
                out.push(event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": t}}),
                ));
            }
            for tc in d.tool_calls.iter().flatten() {
                let index = match self.open {
                    Open::Tool(i, k) if k == tc.index => i,
                    _ => {
                        let name = tc
                            .function
                            .as_ref()
                            .and_then(|f| f.name.clone())
                            .unwrap_or_default();
                        let id = tc
                            .id
                            .clone()
                            .unwrap_or_else(|| format!("toolu_{}", tc.index));
                        self.open_block(
                            Open::Tool(0, tc.index),
                            json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                            out,
                        )
                    }
                };
                if let Some(args) = tc
                    .function
                    .as_ref()
                    .and_then(|f| f.arguments.as_deref())
                    .filter(|a| !a.is_empty())
                {
                    out.push(event(
                        "content_block_delta",
                        &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": args}}),
                    ));
                }
            }
            if choice.finish_reason.is_some() {
                self.finish.clone_from(&choice.finish_reason);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        self.close(out);
        let usage = usage_json(Some(&self.usage.usage()));
        out.push(event(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason(self.finish.as_ref()), "stop_sequence": null},
                    "usage": usage}),
        ));
        out.push(event("message_stop", &json!({"type": "message_stop"})));
    }
}

type OnEnd = Box<dyn FnOnce(&mut UsageTracker, Option<Error>) + Send>;

/// The state of one Anthropic event stream.
struct StreamState {
    inner: ChatStream,
    t: Translator,
    pending: std::collections::VecDeque<Bytes>,
    done: bool,
    on_end: Option<OnEnd>,
}

impl StreamState {
    fn end(&mut self, error: Option<Error>) {
        if let Some(f) = self.on_end.take() {
            f(&mut self.t.usage, error);
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
        t: Translator {
            started: false,
            open: Open::None,
            next_index: 0,
            finish: None,
            usage,
            model: String::new(),
            id: String::new(),
        },
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
                Some(Ok(chunk)) => st.t.push(&chunk, &mut out),
                Some(Err(e)) => {
                    out.push(event("error", &error_body(&e)));
                    st.done = true;
                    st.end(Some(e));
                }
                None => {
                    st.t.finish(&mut out);
                    st.done = true;
                    st.end(None);
                }
            }
            st.pending.extend(out);
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
    let mut chat = to_chat(req)?;
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
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        route_headers(h, &ctx, &r.route);
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
    let body = to_message(&completion).to_string();
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    route_headers(response.headers_mut(), &ctx, &r.route);
    crate::http::respond::cost_header(response.headers_mut(), cost);
    Ok(response)
}
