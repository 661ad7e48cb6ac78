//! Serve the Responses API from any chat-completions provider: pure
//! translations between [`crate::types::responses`] and [`crate::types::chat`],
//! no I/O.
//!
//! - [`to_chat_request`]: a `POST /v1/responses` body (plus the items of earlier
//!   turns the gateway resolved from `previous_response_id`) → a chat request;
//! - [`from_chat_completion`]: a chat completion → a `response` object;
//! - [`ChatToResponsesStream`]: chat chunks → the Responses stream events, in
//!   the order OpenAI emits them.
//!
//! Reasoning travels the way llmux's chat types already carry it: a chat
//! answer's `reasoning_content` / `thinking_blocks` (Anthropic, Bedrock)
//! become `reasoning` items whose summary is the thinking text and whose
//! `encrypted_content` is the block's signature (or a redacted block's data);
//! such items sent back as input become the next assistant message's
//! `thinking_blocks` again, so the signature round-trips.

use serde_json::{json, Map, Value};

use crate::types::chat::{
    self, AssistantMessage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest,
    ChatMessage, FilePart, FileRef, FinishReason, FunctionCall, FunctionDefinition, ImageUrl,
    ImageUrlPart, JsonSchemaFormat, ResponseFormat, StreamOptions, SystemMessage, TextPart,
    ToolCall, ToolChoice, ToolMessage, UserMessage,
};
use crate::types::responses::{
    ContentPart, ContentPartEvent, CreateResponseRequest, FunctionCallArgumentsDoneEvent,
    FunctionCallItem, IncompleteDetails, InputTokensDetails, Item, ItemDeltaEvent, Message,
    MessageContent, OutputItemEvent, OutputText, OutputTokensDetails, ReasoningItem,
    ReasoningSummaryPartEvent, ReasoningSummaryTextDeltaEvent, ReasoningSummaryTextDoneEvent,
    ReasoningText, RefusalContent, RefusalDoneEvent, Response, ResponseError, ResponseEvent,
    ResponseStatus, ResponseStreamEvent, ResponseUsage, ResponsesToolChoice, Role, TextDeltaEvent,
    TextDoneEvent, TextFormat, Tool, ToolOutput,
};

/// Why a Responses request cannot be served by a chat-completions provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeError {
    /// A hosted tool (web search, file search, code interpreter, …) that only
    /// OpenAI runs; the gateway answers 400 naming the tool and the provider.
    #[error("tool `{tool}` is not supported by chat-completions providers")]
    UnsupportedTool {
        /// The tool's `type`.
        tool: String,
    },
    /// An input item with no chat equivalent (hosted tool calls,
    /// `item_reference` the gateway did not resolve, `local_shell_call`).
    #[error("input item `{item}` is not supported by chat-completions providers")]
    UnsupportedItem {
        /// The item's `type`.
        item: String,
    },
    /// Message content with no chat equivalent (an image by `file_id`, a file by URL).
    #[error("{what} is not supported by chat-completions providers")]
    UnsupportedContent {
        /// What the content was.
        what: String,
    },
    /// A chat stream sent more arguments for a tool call after starting the
    /// next one; Responses events cannot reopen a finished item.
    #[error("chat stream resumed tool call {index} after a later one had started")]
    InterleavedToolCall {
        /// The chat `tool_calls[].index`.
        index: u32,
    },
}

// ------------------------------------------------------------------ request

/// The chat request serving `req`, with `history` (the items of earlier turns,
/// resolved by the caller from `previous_response_id`) before `req.input`.
pub fn to_chat_request(
    req: &CreateResponseRequest,
    history: &[Item],
) -> Result<ChatCompletionRequest, BridgeError> {
    let mut messages = Vec::new();
    if let Some(instructions) = &req.instructions {
        messages.push(ChatMessage::system(instructions.clone()));
    }
    let mut turn = AssistantTurn::default();
    for item in history.iter().chain(req.input_items().iter()) {
        push_item(&mut messages, &mut turn, item)?;
    }
    turn.flush(&mut messages);

    let mut out = ChatCompletionRequest::new(req.model.clone(), messages);
    if let Some(tools) = &req.tools {
        let mut chat_tools = Vec::with_capacity(tools.len());
        for t in tools {
            match chat_tools_for(t) {
                Ok(converted) => chat_tools.extend(converted),
                Err(_) if req.drop_params == Some(true) => {}
                Err(e) => return Err(e),
            }
        }
        out.tools = (!chat_tools.is_empty()).then_some(chat_tools);
        out.drop_params = req.drop_params;
    }
    if let Some(choice) = &req.tool_choice {
        out.tool_choice = Some(chat_tool_choice(choice)?);
    }
    if let Some(text) = &req.text {
        out.response_format = text.format.as_ref().map(|f| match f {
            TextFormat::Text => ResponseFormat::Text,
            TextFormat::JsonObject => ResponseFormat::JsonObject,
            TextFormat::JsonSchema(s) => ResponseFormat::JsonSchema {
                json_schema: JsonSchemaFormat {
                    name: s.name.clone(),
                    description: s.description.clone(),
                    schema: s.schema.clone(),
                    strict: s.strict,
                },
            },
        });
        if let Some(v) = &text.verbosity {
            out.extra.insert("verbosity".into(), json!(v));
        }
    }
    out.reasoning_effort = req.reasoning.as_ref().and_then(|r| r.effort.clone());
    out.max_completion_tokens = req.max_output_tokens;
    out.temperature = req.temperature;
    out.top_p = req.top_p;
    out.user = req.user.clone();
    out.metadata = req.metadata.clone();
    out.parallel_tool_calls = req.parallel_tool_calls;
    out.service_tier = req.service_tier.clone();
    if let Some(n) = req.top_logprobs.filter(|n| *n > 0) {
        out.logprobs = Some(true);
        out.top_logprobs = Some(n);
    }
    if req.is_stream() {
        out.stream = Some(true);
        out.stream_options = Some(StreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        });
    }
    for (key, v) in [
        ("prompt_cache_key", &req.prompt_cache_key),
        ("safety_identifier", &req.safety_identifier),
    ] {
        if let Some(v) = v {
            out.extra.insert(key.into(), json!(v));
        }
    }
    // Unknown fields ride along, as chat requests forward theirs.
    for (k, v) in &req.extra {
        out.extra.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Ok(out)
}

/// The assistant turn being assembled: Responses splits one chat assistant
/// message into reasoning, message and function_call items.
#[derive(Default)]
struct AssistantTurn {
    text: Option<String>,
    refusal: Option<String>,
    tool_calls: Vec<ToolCall>,
    thinking_blocks: Vec<Value>,
}

impl AssistantTurn {
    fn has_answer(&self) -> bool {
        self.text.is_some() || self.refusal.is_some() || !self.tool_calls.is_empty()
    }

    fn flush(&mut self, messages: &mut Vec<ChatMessage>) {
        let turn = std::mem::take(self);
        if !turn.has_answer() {
            // Reasoning with no answer after it has nothing to attach to.
            return;
        }
        let mut extra = Map::new();
        if !turn.thinking_blocks.is_empty() {
            extra.insert("thinking_blocks".into(), Value::Array(turn.thinking_blocks));
        }
        messages.push(ChatMessage::Assistant(AssistantMessage {
            content: turn.text.map(chat::MessageContent::Text),
            refusal: turn.refusal,
            tool_calls: (!turn.tool_calls.is_empty()).then_some(turn.tool_calls),
            extra,
            ..Default::default()
        }));
    }
}

fn push_item(
    messages: &mut Vec<ChatMessage>,
    turn: &mut AssistantTurn,
    item: &Item,
) -> Result<(), BridgeError> {
    match item {
        Item::Message(m) if m.role == Role::Assistant => {
            if turn.text.is_some() || turn.refusal.is_some() {
                turn.flush(messages);
            }
            let (text, refusal) = assistant_text(&m.content);
            turn.text = text;
            turn.refusal = refusal;
        }
        Item::Message(m) => {
            turn.flush(messages);
            messages.push(input_message(m)?);
        }
        Item::Reasoning(r) => {
            if turn.has_answer() {
                turn.flush(messages);
            }
            turn.thinking_blocks.extend(thinking_block(r));
        }
        Item::FunctionCall(fc) => turn.tool_calls.push(ToolCall::function(
            fc.call_id.clone(),
            fc.name.clone(),
            fc.arguments.clone(),
        )),
        Item::CustomToolCall(c) => turn.tool_calls.push(ToolCall {
            id: c.call_id.clone(),
            r#type: "custom".into(),
            function: FunctionCall {
                name: c.name.clone(),
                arguments: c.input.clone(),
            },
        }),
        Item::FunctionCallOutput(o) => {
            turn.flush(messages);
            messages.push(tool_message(&o.call_id, &o.output)?);
        }
        Item::CustomToolCallOutput(o) => {
            turn.flush(messages);
            messages.push(tool_message(&o.call_id, &o.output)?);
        }
        other => {
            return Err(BridgeError::UnsupportedItem {
                item: other.type_name().to_owned(),
            })
        }
    }
    Ok(())
}

/// An assistant message's text and refusal.
fn assistant_text(content: &MessageContent) -> (Option<String>, Option<String>) {
    match content {
        MessageContent::Text(t) => (Some(t.clone()), None),
        MessageContent::Parts(parts) => {
            let mut text: Option<String> = None;
            let mut refusal: Option<String> = None;
            for p in parts {
                match p {
                    ContentPart::OutputText(t) => {
                        text.get_or_insert_with(String::new).push_str(&t.text)
                    }
                    ContentPart::InputText(t) => {
                        text.get_or_insert_with(String::new).push_str(&t.text)
                    }
                    ContentPart::Refusal(r) => {
                        refusal.get_or_insert_with(String::new).push_str(&r.refusal)
                    }
                    _ => {}
                }
            }
            (text, refusal)
        }
    }
}

/// The thinking block a reasoning item stands for: text and signature, or
/// (no text) a redacted block's data. `None` when there is nothing a provider
/// could verify (an OpenAI reasoning item without `encrypted_content`).
fn thinking_block(r: &ReasoningItem) -> Option<Value> {
    let sig = r.encrypted_content.as_ref()?;
    let text: String = r
        .summary
        .iter()
        .chain(r.content.iter().flatten())
        .map(|t| t.text.as_str())
        .collect();
    Some(if text.is_empty() {
        json!({"type": "redacted_thinking", "data": sig})
    } else {
        json!({"type": "thinking", "thinking": text, "signature": sig})
    })
}

fn input_message(m: &Message) -> Result<ChatMessage, BridgeError> {
    let content = chat_content(&m.content)?;
    Ok(match m.role {
        Role::User | Role::Assistant => ChatMessage::User(UserMessage {
            content,
            name: None,
            extra: Map::new(),
        }),
        Role::System => ChatMessage::System(SystemMessage {
            content,
            name: None,
            extra: Map::new(),
        }),
        Role::Developer => ChatMessage::Developer(SystemMessage {
            content,
            name: None,
            extra: Map::new(),
        }),
    })
}

fn tool_message(call_id: &str, output: &ToolOutput) -> Result<ChatMessage, BridgeError> {
    let content = match output {
        ToolOutput::Text(t) => chat::MessageContent::Text(t.clone()),
        ToolOutput::Parts(parts) => chat::MessageContent::Parts(chat_parts(parts)?),
    };
    Ok(ChatMessage::Tool(ToolMessage {
        content,
        tool_call_id: call_id.to_owned(),
        extra: Map::new(),
    }))
}

fn chat_content(c: &MessageContent) -> Result<chat::MessageContent, BridgeError> {
    Ok(match c {
        MessageContent::Text(t) => chat::MessageContent::Text(t.clone()),
        MessageContent::Parts(parts) => chat::MessageContent::Parts(chat_parts(parts)?),
    })
}

fn chat_parts(parts: &[ContentPart]) -> Result<Vec<chat::ContentPart>, BridgeError> {
    parts.iter().map(chat_part).collect()
}

fn chat_part(p: &ContentPart) -> Result<chat::ContentPart, BridgeError> {
    let text = |t: &str| {
        chat::ContentPart::Text(TextPart {
            text: t.to_owned(),
            extra: Map::new(),
        })
    };
    Ok(match p {
        ContentPart::InputText(t) => text(&t.text),
        ContentPart::OutputText(t) => text(&t.text),
        ContentPart::Refusal(r) => chat::ContentPart::Refusal(chat::RefusalPart {
            refusal: r.refusal.clone(),
        }),
        ContentPart::InputImage(i) => match &i.image_url {
            Some(url) => chat::ContentPart::ImageUrl(ImageUrlPart {
                image_url: ImageUrl {
                    url: url.clone(),
                    detail: i.detail.clone(),
                    format: None,
                },
                extra: Map::new(),
            }),
            None => {
                return Err(BridgeError::UnsupportedContent {
                    what: "an input_image by file_id".into(),
                })
            }
        },
        ContentPart::InputFile(f) => {
            if f.file_id.is_none() && f.file_data.is_none() {
                return Err(BridgeError::UnsupportedContent {
                    what: "an input_file by file_url".into(),
                });
            }
            chat::ContentPart::File(FilePart {
                file: FileRef {
                    file_id: f.file_id.clone(),
                    file_data: f.file_data.clone(),
                    filename: f.filename.clone(),
                    format: None,
                },
                extra: Map::new(),
            })
        }
        ContentPart::Other(_) => {
            return Err(BridgeError::UnsupportedContent {
                what: format!("a `{}` content part", p.type_name()),
            })
        }
    })
}

/// The chat tools for one Responses tool: itself, or the function tools a
/// `namespace` groups (Codex's `multi_agent_v1`), flattened.
fn chat_tools_for(t: &Tool) -> Result<Vec<chat::Tool>, BridgeError> {
    if let Tool::Hosted(v) = t {
        if v.get("type").and_then(Value::as_str) == Some("namespace") {
            let inner: Vec<Tool> = v
                .get("tools")
                .cloned()
                .and_then(|tools| serde_json::from_value(tools).ok())
                .unwrap_or_default();
            return inner.iter().map(chat_tool).collect();
        }
    }
    chat_tool(t).map(|c| vec![c])
}

fn chat_tool(t: &Tool) -> Result<chat::Tool, BridgeError> {
    match t {
        Tool::Function(f) => Ok(chat::Tool::function(FunctionDefinition {
            name: f.name.clone(),
            description: f.description.clone(),
            parameters: f.parameters.clone(),
            strict: f.strict,
        })),
        Tool::Custom(c) => {
            let mut custom = Map::new();
            custom.insert("name".into(), json!(c.name));
            if let Some(d) = &c.description {
                custom.insert("description".into(), json!(d));
            }
            if let Some(f) = &c.format {
                custom.insert("format".into(), f.clone());
            }
            let mut extra = Map::new();
            extra.insert("custom".into(), Value::Object(custom));
            Ok(chat::Tool {
                r#type: "custom".into(),
                function: None,
                extra,
            })
        }
        Tool::Hosted(_) => Err(BridgeError::UnsupportedTool {
            tool: t.type_name().to_owned(),
        }),
    }
}

fn chat_tool_choice(c: &ResponsesToolChoice) -> Result<ToolChoice, BridgeError> {
    Ok(match c {
        ResponsesToolChoice::None => ToolChoice::None,
        ResponsesToolChoice::Auto => ToolChoice::Auto,
        ResponsesToolChoice::Required => ToolChoice::Required,
        ResponsesToolChoice::Function(name) => ToolChoice::Function(name.clone()),
        ResponsesToolChoice::Custom(name) => {
            ToolChoice::Other(json!({"type": "custom", "custom": {"name": name}}))
        }
        ResponsesToolChoice::AllowedTools { mode, tools } => {
            let tools = tools
                .iter()
                .map(|t| {
                    let ty = t.get("type").and_then(Value::as_str).unwrap_or("");
                    match (ty, t.get("name")) {
                        ("function" | "custom", Some(name)) => {
                            Ok(json!({"type": ty, ty: {"name": name}}))
                        }
                        _ => Err(BridgeError::UnsupportedTool {
                            tool: ty.to_owned(),
                        }),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            ToolChoice::Other(json!({
                "type": "allowed_tools",
                "allowed_tools": {"mode": mode, "tools": tools}
            }))
        }
        ResponsesToolChoice::Hosted(t) => {
            return Err(BridgeError::UnsupportedTool { tool: t.clone() })
        }
        ResponsesToolChoice::Other(v) => {
            return Err(BridgeError::UnsupportedTool {
                tool: v
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("tool_choice")
                    .to_owned(),
            })
        }
    })
}

// ------------------------------------------------------------------ response

/// The `response` object for `request` (its parameters echoed, as OpenAI
/// does), with no output yet.
fn response_skeleton(
    request: &CreateResponseRequest,
    response_id: &str,
    created_at: u64,
    model: &str,
    status: ResponseStatus,
) -> Response {
    let mut r = Response::new(response_id, created_at, model, status);
    r.instructions = request.instructions.clone().map(Value::String);
    r.max_output_tokens = request.max_output_tokens;
    r.parallel_tool_calls = Some(request.parallel_tool_calls.unwrap_or(true));
    r.previous_response_id = request.previous_response_id.clone();
    r.reasoning = request.reasoning.clone();
    r.store = request.store;
    r.temperature = request.temperature;
    r.text = request.text.clone();
    r.tool_choice = Some(
        request
            .tool_choice
            .clone()
            .unwrap_or(ResponsesToolChoice::Auto),
    );
    r.tools = Some(request.tools.clone().unwrap_or_default());
    r.top_p = request.top_p;
    r.truncation = request.truncation.clone();
    r.user = request.user.clone();
    r.metadata = Some(request.metadata.clone().unwrap_or_default());
    r.service_tier = request.service_tier.clone();
    r
}

/// Item ids derived from the response id: `msg_<suffix>_<output_index>`,
/// `fc_…`, `rs_…`, where `<suffix>` is the response id without `resp_`.
fn item_id(prefix: &str, response_id: &str, output_index: usize) -> String {
    let suffix = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{suffix}_{output_index}")
}

/// Chat usage in the Responses shape (cache writes kept in
/// `input_tokens_details.cache_creation_tokens`).
pub fn response_usage(u: &chat::Usage) -> ResponseUsage {
    ResponseUsage {
        input_tokens: u.prompt_tokens,
        input_tokens_details: Some(InputTokensDetails {
            cached_tokens: u.cached_tokens(),
            // Anthropic's and Bedrock's cache writes are priced apart; keep them.
            extra: u
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cache_creation_tokens)
                .map(|n| Map::from_iter([("cache_creation_tokens".to_string(), json!(n))]))
                .unwrap_or_default(),
        }),
        output_tokens: u.completion_tokens,
        output_tokens_details: Some(OutputTokensDetails {
            reasoning_tokens: u.reasoning_tokens(),
            extra: Map::new(),
        }),
        total_tokens: u.total_tokens,
        extra: Map::new(),
    }
}

/// Status and `incomplete_details` for a chat `finish_reason`.
fn final_status(finish: Option<&FinishReason>) -> (ResponseStatus, Option<IncompleteDetails>) {
    let reason = match finish {
        Some(FinishReason::Length) => "max_output_tokens",
        Some(FinishReason::ContentFilter) => "content_filter",
        _ => return (ResponseStatus::Completed, None),
    };
    (
        ResponseStatus::Incomplete,
        Some(IncompleteDetails {
            reason: reason.into(),
            extra: Map::new(),
        }),
    )
}

/// A reasoning item per thinking block (text + signature, or a redacted
/// block's data), or one with the plain `reasoning_content` when the provider
/// sent no blocks.
fn reasoning_items(
    reasoning_content: Option<&str>,
    thinking_blocks: Option<&[Value]>,
) -> Vec<ReasoningItem> {
    let mut out = Vec::new();
    for b in thinking_blocks.unwrap_or_default() {
        let (text, sig) = match b.get("type").and_then(Value::as_str) {
            Some("thinking") => (
                b.get("thinking").and_then(Value::as_str).unwrap_or(""),
                b.get("signature").and_then(Value::as_str),
            ),
            Some("redacted_thinking") => ("", b.get("data").and_then(Value::as_str)),
            _ => continue,
        };
        out.push(reasoning_item(text, sig.map(str::to_owned)));
    }
    if out.is_empty() {
        if let Some(text) = reasoning_content.filter(|t| !t.is_empty()) {
            out.push(reasoning_item(text, None));
        }
    }
    out
}

fn reasoning_item(text: &str, encrypted_content: Option<String>) -> ReasoningItem {
    ReasoningItem {
        id: None,
        summary: if text.is_empty() {
            Vec::new()
        } else {
            vec![ReasoningText::summary(text)]
        },
        content: None,
        encrypted_content,
        status: None,
        extra: Map::new(),
    }
}

/// The `response` object for a chat completion answering `request`.
pub fn from_chat_completion(
    completion: &ChatCompletion,
    request: &CreateResponseRequest,
    response_id: &str,
    created_at: u64,
) -> Response {
    let choice = completion.choices.first();
    let (status, incomplete) = final_status(choice.and_then(|c| c.finish_reason.as_ref()));
    let mut r = response_skeleton(request, response_id, created_at, &completion.model, status);
    r.incomplete_details = incomplete;
    r.usage = completion.usage.as_ref().map(response_usage);
    if completion.service_tier.is_some() {
        r.service_tier = completion.service_tier.clone();
    }
    let Some(choice) = choice else {
        return r;
    };
    let msg = &choice.message;
    let item_status = if status == ResponseStatus::Incomplete {
        "incomplete"
    } else {
        "completed"
    };
    for mut rs in reasoning_items(
        msg.reasoning_content.as_deref(),
        msg.thinking_blocks.as_deref(),
    ) {
        rs.id = Some(item_id("rs", response_id, r.output.len()));
        r.output.push(Item::Reasoning(rs));
    }
    let mut parts = Vec::new();
    if let Some(text) = &msg.content {
        let mut t = OutputText::new(text.clone());
        t.annotations = msg.annotations.clone().unwrap_or_default();
        t.logprobs = Some(Vec::new());
        parts.push(ContentPart::OutputText(t));
    }
    if let Some(refusal) = &msg.refusal {
        parts.push(ContentPart::Refusal(RefusalContent {
            refusal: refusal.clone(),
            extra: Map::new(),
        }));
    }
    if !parts.is_empty() {
        let id = item_id("msg", response_id, r.output.len());
        r.output.push(Item::Message(Message {
            r#type: Some("message".into()),
            id: Some(id),
            role: Role::Assistant,
            content: MessageContent::Parts(parts),
            status: Some(item_status.into()),
            extra: Map::new(),
        }));
    }
    for call in msg.tool_calls.iter().flatten() {
        let id = item_id("fc", response_id, r.output.len());
        r.output.push(tool_call_item(call, id, item_status));
    }
    r
}

fn tool_call_item(call: &ToolCall, id: String, status: &str) -> Item {
    if call.r#type == "custom" {
        Item::CustomToolCall(crate::types::responses::CustomToolCallItem {
            id: Some(id),
            call_id: call.id.clone(),
            name: call.function.name.clone(),
            input: call.function.arguments.clone(),
            status: Some(status.into()),
            extra: Map::new(),
        })
    } else {
        Item::FunctionCall(FunctionCallItem {
            id: Some(id),
            call_id: call.id.clone(),
            name: call.function.name.clone(),
            arguments: call.function.arguments.clone(),
            status: Some(status.into()),
            extra: Map::new(),
        })
    }
}

// ------------------------------------------------------------------ stream

/// The output item a stream is currently writing.
enum Open {
    Message {
        id: String,
        /// Finished parts of this message.
        parts: Vec<ContentPart>,
        /// The part being written: `true` for refusal, `false` for text.
        refusal: bool,
        text: String,
    },
    Reasoning {
        id: String,
        text: String,
        signature: Option<String>,
    },
    ToolCall {
        id: String,
        index: u32,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// Turns a chat completion stream into the Responses API stream: feed it
/// every [`ChatCompletionChunk`], then call [`finish`](Self::finish) when the
/// upstream stream ends, or [`fail`](Self::fail) when it breaks.
///
/// The events are the ones OpenAI emits, in its order: `response.created`,
/// `response.in_progress`, then per output item `output_item.added`, its
/// content events and `output_item.done`, then `response.completed` (or
/// `response.incomplete`, or `response.failed`), numbered from 0 by
/// `sequence_number`. Items are written one at a time; chat's parallel tool
/// calls arrive one after another, and a chunk resuming an earlier call is
/// refused with [`BridgeError::InterleavedToolCall`].
pub struct ChatToResponsesStream {
    request: CreateResponseRequest,
    response_id: String,
    created_at: u64,
    model: String,
    seq: u64,
    started: bool,
    ended: bool,
    output: Vec<Item>,
    open: Option<Open>,
    closed_tool_calls: Vec<u32>,
    finish_reason: Option<FinishReason>,
    usage: Option<chat::Usage>,
    error: Option<ResponseError>,
}

impl ChatToResponsesStream {
    /// A stream for `request`, whose response will be `response_id`.
    pub fn new(request: &CreateResponseRequest, response_id: &str, created_at: u64) -> Self {
        ChatToResponsesStream {
            request: request.clone(),
            response_id: response_id.to_owned(),
            created_at,
            model: request.model.clone(),
            seq: 0,
            started: false,
            ended: false,
            output: Vec::new(),
            open: None,
            closed_tool_calls: Vec::new(),
            finish_reason: None,
            usage: None,
            error: None,
        }
    }

    fn next_seq(&mut self) -> u64 {
        let s = self.seq;
        self.seq += 1;
        s
    }

    fn snapshot(&self, status: ResponseStatus) -> Response {
        let mut r = response_skeleton(
            &self.request,
            &self.response_id,
            self.created_at,
            &self.model,
            status,
        );
        r.output = self.output.clone();
        r
    }

    fn start(&mut self, out: &mut Vec<ResponseStreamEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let r = self.snapshot(ResponseStatus::InProgress);
        let seq = self.next_seq();
        out.push(ResponseStreamEvent::Created(response_event(r.clone(), seq)));
        let seq = self.next_seq();
        out.push(ResponseStreamEvent::InProgress(response_event(r, seq)));
    }

    /// The events for one chat chunk.
    pub fn feed(
        &mut self,
        chunk: &ChatCompletionChunk,
    ) -> Result<Vec<ResponseStreamEvent>, BridgeError> {
        let mut out = Vec::new();
        if self.ended {
            return Ok(out);
        }
        if !self.started && !chunk.model.is_empty() {
            self.model = chunk.model.clone();
        }
        self.start(&mut out);
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.clone());
        }
        let Some(choice) = chunk.choices.iter().find(|c| c.index == 0) else {
            return Ok(out);
        };
        let d = &choice.delta;
        if let Some(t) = d.reasoning_content.as_deref().filter(|t| !t.is_empty()) {
            self.reasoning_delta(&mut out, t);
        }
        for b in d.thinking_blocks.iter().flatten() {
            self.thinking_block(&mut out, b);
        }
        if let Some(t) = d.content.as_deref().filter(|t| !t.is_empty()) {
            self.text_delta(&mut out, t, false);
        }
        if let Some(t) = d.refusal.as_deref().filter(|t| !t.is_empty()) {
            self.text_delta(&mut out, t, true);
        }
        for tc in d.tool_calls.iter().flatten() {
            self.tool_call_delta(&mut out, tc)?;
        }
        if let Some(f) = &choice.finish_reason {
            self.finish_reason = Some(f.clone());
        }
        Ok(out)
    }

    fn reasoning_delta(&mut self, out: &mut Vec<ResponseStreamEvent>, t: &str) {
        if !matches!(self.open, Some(Open::Reasoning { .. })) {
            self.close(out);
            let id = item_id("rs", &self.response_id, self.output.len());
            self.open_item(out, Item::Reasoning(reasoning_stub(&id)));
            let seq = self.next_seq();
            out.push(ResponseStreamEvent::ReasoningSummaryPartAdded(
                ReasoningSummaryPartEvent {
                    item_id: id.clone(),
                    output_index: self.index(),
                    summary_index: 0,
                    part: ReasoningText::summary(""),
                    sequence_number: seq,
                    extra: Map::new(),
                },
            ));
            self.open = Some(Open::Reasoning {
                id,
                text: String::new(),
                signature: None,
            });
        }
        let seq = self.next_seq();
        let output_index = self.index();
        if let Some(Open::Reasoning { id, text, .. }) = &mut self.open {
            text.push_str(t);
            out.push(ResponseStreamEvent::ReasoningSummaryTextDelta(
                ReasoningSummaryTextDeltaEvent {
                    item_id: id.clone(),
                    output_index,
                    summary_index: 0,
                    delta: t.to_owned(),
                    sequence_number: seq,
                    extra: Map::new(),
                },
            ));
        }
    }

    /// A whole thinking block (sent once, when the block ends): its signature
    /// completes the open reasoning item; a redacted block is an item of its own.
    fn thinking_block(&mut self, out: &mut Vec<ResponseStreamEvent>, b: &Value) {
        match b.get("type").and_then(Value::as_str) {
            Some("thinking") => {
                let sig = b
                    .get("signature")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if let Some(Open::Reasoning { signature, .. }) = &mut self.open {
                    *signature = sig;
                    self.close(out);
                } else {
                    // A block whose text never came as deltas.
                    let text = b.get("thinking").and_then(Value::as_str).unwrap_or("");
                    if !text.is_empty() {
                        self.reasoning_delta(out, text);
                        if let Some(Open::Reasoning { signature, .. }) = &mut self.open {
                            *signature = sig;
                        }
                        self.close(out);
                    }
                }
            }
            Some("redacted_thinking") => {
                self.close(out);
                let id = item_id("rs", &self.response_id, self.output.len());
                self.open_item(out, Item::Reasoning(reasoning_stub(&id)));
                let mut item = reasoning_stub(&id);
                item.encrypted_content = b.get("data").and_then(Value::as_str).map(str::to_owned);
                self.done_item(out, Item::Reasoning(item));
            }
            _ => {}
        }
    }

    fn text_delta(&mut self, out: &mut Vec<ResponseStreamEvent>, t: &str, is_refusal: bool) {
        if !matches!(self.open, Some(Open::Message { .. })) {
            self.close(out);
            let id = item_id("msg", &self.response_id, self.output.len());
            self.open_item(
                out,
                Item::Message(Message {
                    r#type: Some("message".into()),
                    id: Some(id.clone()),
                    role: Role::Assistant,
                    content: MessageContent::Parts(Vec::new()),
                    status: Some("in_progress".into()),
                    extra: Map::new(),
                }),
            );
            self.open = Some(Open::Message {
                id,
                parts: Vec::new(),
                refusal: is_refusal,
                text: String::new(),
            });
            self.part_added(out, is_refusal);
        } else if matches!(&self.open, Some(Open::Message { refusal, .. }) if *refusal != is_refusal)
        {
            self.part_done(out);
            if let Some(Open::Message { refusal, .. }) = &mut self.open {
                *refusal = is_refusal;
            }
            self.part_added(out, is_refusal);
        }
        let seq = self.next_seq();
        let output_index = self.index();
        if let Some(Open::Message {
            id, parts, text, ..
        }) = &mut self.open
        {
            text.push_str(t);
            let ev = TextDeltaEvent {
                item_id: id.clone(),
                output_index,
                content_index: parts.len() as u32,
                delta: t.to_owned(),
                logprobs: (!is_refusal).then(Vec::new),
                sequence_number: seq,
                extra: Map::new(),
            };
            out.push(if is_refusal {
                ResponseStreamEvent::RefusalDelta(ev)
            } else {
                ResponseStreamEvent::OutputTextDelta(ev)
            });
        }
    }

    fn part_added(&mut self, out: &mut Vec<ResponseStreamEvent>, is_refusal: bool) {
        let seq = self.next_seq();
        let output_index = self.index();
        if let Some(Open::Message { id, parts, .. }) = &self.open {
            out.push(ResponseStreamEvent::ContentPartAdded(ContentPartEvent {
                item_id: id.clone(),
                output_index,
                content_index: parts.len() as u32,
                part: content_part("", is_refusal),
                sequence_number: seq,
                extra: Map::new(),
            }));
        }
    }

    /// Ends the message's current part: its `.done` and `content_part.done`.
    fn part_done(&mut self, out: &mut Vec<ResponseStreamEvent>) {
        let output_index = self.index();
        let s1 = self.next_seq();
        let s2 = self.next_seq();
        if let Some(Open::Message {
            id,
            parts,
            refusal,
            text,
        }) = &mut self.open
        {
            let content_index = parts.len() as u32;
            let full = std::mem::take(text);
            out.push(if *refusal {
                ResponseStreamEvent::RefusalDone(RefusalDoneEvent {
                    item_id: id.clone(),
                    output_index,
                    content_index,
                    refusal: full.clone(),
                    sequence_number: s1,
                    extra: Map::new(),
                })
            } else {
                ResponseStreamEvent::OutputTextDone(TextDoneEvent {
                    item_id: id.clone(),
                    output_index,
                    content_index,
                    text: full.clone(),
                    logprobs: Some(Vec::new()),
                    sequence_number: s1,
                    extra: Map::new(),
                })
            });
            let part = content_part(&full, *refusal);
            out.push(ResponseStreamEvent::ContentPartDone(ContentPartEvent {
                item_id: id.clone(),
                output_index,
                content_index,
                part: part.clone(),
                sequence_number: s2,
                extra: Map::new(),
            }));
            parts.push(part);
        }
    }

    fn tool_call_delta(
        &mut self,
        out: &mut Vec<ResponseStreamEvent>,
        tc: &chat::ToolCallDelta,
    ) -> Result<(), BridgeError> {
        let same = matches!(&self.open, Some(Open::ToolCall { index, .. }) if *index == tc.index);
        if !same {
            if self.closed_tool_calls.contains(&tc.index) {
                return Err(BridgeError::InterleavedToolCall { index: tc.index });
            }
            self.close(out);
            let id = item_id("fc", &self.response_id, self.output.len());
            let f = tc.function.as_ref();
            let call_id = tc.id.clone().unwrap_or_default();
            let name = f.and_then(|f| f.name.clone()).unwrap_or_default();
            self.open_item(
                out,
                Item::FunctionCall(FunctionCallItem {
                    id: Some(id.clone()),
                    call_id: call_id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                    status: Some("in_progress".into()),
                    extra: Map::new(),
                }),
            );
            self.open = Some(Open::ToolCall {
                id,
                index: tc.index,
                call_id,
                name,
                arguments: String::new(),
            });
        }
        let Some(delta) = tc
            .function
            .as_ref()
            .and_then(|f| f.arguments.as_deref())
            .filter(|a| !a.is_empty())
        else {
            return Ok(());
        };
        let seq = self.next_seq();
        let output_index = self.index();
        if let Some(Open::ToolCall { id, arguments, .. }) = &mut self.open {
            arguments.push_str(delta);
            out.push(ResponseStreamEvent::FunctionCallArgumentsDelta(
                ItemDeltaEvent {
                    item_id: id.clone(),
                    output_index,
                    delta: delta.to_owned(),
                    sequence_number: seq,
                    extra: Map::new(),
                },
            ));
        }
        Ok(())
    }

    /// The output index of the open item (the next one when none is open).
    fn index(&self) -> u32 {
        self.output.len() as u32
    }

    fn open_item(&mut self, out: &mut Vec<ResponseStreamEvent>, item: Item) {
        let seq = self.next_seq();
        out.push(ResponseStreamEvent::OutputItemAdded(OutputItemEvent {
            output_index: self.index(),
            item,
            sequence_number: seq,
            extra: Map::new(),
        }));
    }

    fn done_item(&mut self, out: &mut Vec<ResponseStreamEvent>, item: Item) {
        let seq = self.next_seq();
        out.push(ResponseStreamEvent::OutputItemDone(OutputItemEvent {
            output_index: self.index(),
            item: item.clone(),
            sequence_number: seq,
            extra: Map::new(),
        }));
        self.output.push(item);
    }

    /// Finishes the open item, if any, with its closing events.
    fn close(&mut self, out: &mut Vec<ResponseStreamEvent>) {
        let status = match final_status(self.finish_reason.as_ref()).0 {
            ResponseStatus::Incomplete => "incomplete",
            _ => "completed",
        };
        if matches!(self.open, Some(Open::Message { .. })) {
            self.part_done(out);
        }
        let output_index = self.index();
        match self.open.take() {
            None => {}
            Some(Open::Message { id, parts, .. }) => {
                let item = Item::Message(Message {
                    r#type: Some("message".into()),
                    id: Some(id),
                    role: Role::Assistant,
                    content: MessageContent::Parts(parts),
                    status: Some(status.into()),
                    extra: Map::new(),
                });
                self.done_item(out, item);
            }
            Some(Open::Reasoning {
                id,
                text,
                signature,
            }) => {
                let s1 = self.next_seq();
                out.push(ResponseStreamEvent::ReasoningSummaryTextDone(
                    ReasoningSummaryTextDoneEvent {
                        item_id: id.clone(),
                        output_index,
                        summary_index: 0,
                        text: text.clone(),
                        sequence_number: s1,
                        extra: Map::new(),
                    },
                ));
                let s2 = self.next_seq();
                out.push(ResponseStreamEvent::ReasoningSummaryPartDone(
                    ReasoningSummaryPartEvent {
                        item_id: id.clone(),
                        output_index,
                        summary_index: 0,
                        part: ReasoningText::summary(text.clone()),
                        sequence_number: s2,
                        extra: Map::new(),
                    },
                ));
                let mut item = reasoning_item(&text, signature);
                item.id = Some(id);
                self.done_item(out, Item::Reasoning(item));
            }
            Some(Open::ToolCall {
                id,
                index,
                call_id,
                name,
                arguments,
            }) => {
                let seq = self.next_seq();
                out.push(ResponseStreamEvent::FunctionCallArgumentsDone(
                    FunctionCallArgumentsDoneEvent {
                        item_id: id.clone(),
                        output_index,
                        name: None,
                        arguments: arguments.clone(),
                        sequence_number: seq,
                        extra: Map::new(),
                    },
                ));
                self.closed_tool_calls.push(index);
                self.done_item(
                    out,
                    Item::FunctionCall(FunctionCallItem {
                        id: Some(id),
                        call_id,
                        name,
                        arguments,
                        status: Some(status.into()),
                        extra: Map::new(),
                    }),
                );
            }
        }
    }

    /// The closing events once the upstream stream ended: the open item's
    /// `.done` events, then `response.completed` with usage, or
    /// `response.incomplete` when the model stopped at the token limit or a
    /// content filter. A stream that ended without any `finish_reason` counts
    /// as completed.
    pub fn finish(&mut self) -> Vec<ResponseStreamEvent> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        self.start(&mut out);
        self.close(&mut out);
        self.ended = true;
        let (status, incomplete) = final_status(self.finish_reason.as_ref());
        let mut r = self.snapshot(status);
        r.incomplete_details = incomplete;
        r.usage = self.usage.as_ref().map(response_usage);
        let seq = self.next_seq();
        let ev = response_event(r, seq);
        out.push(if status == ResponseStatus::Incomplete {
            ResponseStreamEvent::Incomplete(ev)
        } else {
            ResponseStreamEvent::Completed(ev)
        });
        out
    }

    /// The closing event of a stream cut mid-way: `response.failed` carrying
    /// `error` and the items finished so far (the open one is dropped, its
    /// content never completed). Never `response.completed`.
    pub fn fail(&mut self, error: ResponseError) -> Vec<ResponseStreamEvent> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        self.start(&mut out);
        self.open = None;
        self.ended = true;
        self.error = Some(error.clone());
        let mut r = self.snapshot(ResponseStatus::Failed);
        r.error = Some(error);
        r.usage = self.usage.as_ref().map(response_usage);
        let seq = self.next_seq();
        out.push(ResponseStreamEvent::Failed(response_event(r, seq)));
        out
    }

    /// The response as it stands (for storing it once the stream ended).
    pub fn response(&self) -> Response {
        let (status, incomplete) = if self.error.is_some() {
            (ResponseStatus::Failed, None)
        } else if self.ended {
            final_status(self.finish_reason.as_ref())
        } else {
            (ResponseStatus::InProgress, None)
        };
        let mut r = self.snapshot(status);
        r.incomplete_details = incomplete;
        r.error = self.error.clone();
        r.usage = self.usage.as_ref().map(response_usage);
        r
    }
}

fn response_event(response: Response, sequence_number: u64) -> ResponseEvent {
    ResponseEvent {
        response,
        sequence_number,
        extra: Map::new(),
    }
}

fn reasoning_stub(id: &str) -> ReasoningItem {
    ReasoningItem {
        id: Some(id.to_owned()),
        ..Default::default()
    }
}

fn content_part(text: &str, is_refusal: bool) -> ContentPart {
    if is_refusal {
        ContentPart::Refusal(RefusalContent {
            refusal: text.to_owned(),
            extra: Map::new(),
        })
    } else {
        let mut t = OutputText::new(text);
        t.logprobs = Some(Vec::new());
        ContentPart::OutputText(t)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(v: Value) -> CreateResponseRequest {
        serde_json::from_value(v).unwrap()
    }

    fn items(v: Value) -> Vec<Item> {
        serde_json::from_value(v).unwrap()
    }

    // ------------------------------------------------------------ to_chat_request

    #[test]
    fn request_maps_every_field_and_item_kind() {
        let req = request(json!({
            "model": "anthropic/claude-sonnet-4-5",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": "What's the weather in Paris and Rome?"},
                {"type": "reasoning", "id": "rs_1",
                 "summary": [{"type": "summary_text", "text": "Need weather."}],
                 "encrypted_content": "EqQBCgIYAh=="},
                {"type": "function_call", "id": "fc_1", "call_id": "toolu_1",
                 "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call", "id": "fc_2", "call_id": "toolu_2",
                 "name": "get_weather", "arguments": "{\"city\":\"Rome\"}"},
                {"type": "function_call_output", "call_id": "toolu_1", "output": "18C"},
                {"type": "function_call_output", "call_id": "toolu_2",
                 "output": [{"type": "input_text", "text": "21C"}]},
                {"role": "developer", "content": [{"type": "input_text", "text": "Answer in French."}]},
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "and this?"},
                    {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "low"},
                    {"type": "input_file", "file_id": "file-1", "filename": "a.pdf"}
                ]}
            ],
            "tools": [{"type": "function", "name": "get_weather", "description": "d",
                       "parameters": {"type": "object"}, "strict": true}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "text": {"format": {"type": "json_schema", "name": "w",
                                "schema": {"type": "object"}, "strict": true}},
            "reasoning": {"effort": "low", "summary": "auto"},
            "max_output_tokens": 500, "temperature": 0.5, "top_p": 0.9, "user": "u1",
            "metadata": {"k": "v"}, "parallel_tool_calls": true, "stream": true, "store": false
        }));
        let history = items(json!([
            {"role": "user", "content": "Hi"},
            {"type": "message", "id": "msg_0", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Hello!", "annotations": []}]}
        ]));
        let chat = to_chat_request(&req, &history).unwrap();
        assert_eq!(
            serde_json::to_value(&chat).unwrap(),
            json!({
                "model": "anthropic/claude-sonnet-4-5",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "What's the weather in Paris and Rome?"},
                    {"role": "assistant",
                     "tool_calls": [
                        {"id": "toolu_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                        {"id": "toolu_2", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}
                     ],
                     "thinking_blocks": [{"type": "thinking", "thinking": "Need weather.",
                                          "signature": "EqQBCgIYAh=="}]},
                    {"role": "tool", "content": "18C", "tool_call_id": "toolu_1"},
                    {"role": "tool", "content": [{"type": "text", "text": "21C"}],
                     "tool_call_id": "toolu_2"},
                    {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                    {"role": "user", "content": [
                        {"type": "text", "text": "and this?"},
                        {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
                        {"type": "file", "file": {"file_id": "file-1", "filename": "a.pdf"}}
                    ]}
                ],
                "temperature": 0.5,
                "top_p": 0.9,
                "stream": true,
                "stream_options": {"include_usage": true},
                "max_completion_tokens": 500,
                "user": "u1",
                "tools": [{"type": "function", "function": {"name": "get_weather",
                           "description": "d", "parameters": {"type": "object"}, "strict": true}}],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                "parallel_tool_calls": true,
                "response_format": {"type": "json_schema", "json_schema": {"name": "w",
                                    "schema": {"type": "object"}, "strict": true}},
                "reasoning_effort": "low",
                "metadata": {"k": "v"}
            })
        );
    }

    #[test]
    fn reasoning_items_become_thinking_blocks_or_are_dropped() {
        let req = request(json!({"model": "m", "input": [
            {"role": "user", "content": "q"},
            // OpenAI's own reasoning item: nothing a chat provider could verify.
            {"type": "reasoning", "id": "rs_0", "summary": []},
            // A redacted block: data, no text.
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "EmwKAhgB"},
            {"type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": "A", "annotations": []}]},
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "ok"},
            // Reasoning at the very end has no answer to attach to.
            {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "x"}
        ],
        "tools": [{"type": "custom", "name": "apply_patch", "description": "patch"}],
        "tool_choice": {"type": "allowed_tools", "mode": "required",
                        "tools": [{"type": "custom", "name": "apply_patch"}]}}));
        let chat = serde_json::to_value(to_chat_request(&req, &[]).unwrap()).unwrap();
        assert_eq!(
            chat["messages"],
            json!([
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "A",
                 "tool_calls": [{"id": "c1", "type": "custom",
                                 "custom": {"name": "apply_patch", "input": "*** Begin"}}],
                 "thinking_blocks": [{"type": "redacted_thinking", "data": "EmwKAhgB"}]},
                {"role": "tool", "content": "ok", "tool_call_id": "c1"}
            ])
        );
        assert_eq!(
            chat["tools"],
            json!([{"type": "custom", "custom": {"name": "apply_patch", "description": "patch"}}])
        );
        assert_eq!(
            chat["tool_choice"],
            json!({"type": "allowed_tools", "allowed_tools": {"mode": "required",
                   "tools": [{"type": "custom", "custom": {"name": "apply_patch"}}]}})
        );
        assert_eq!(chat.get("stream"), None);
    }

    #[test]
    fn hosted_tools_items_and_content_are_refused() {
        let cases = [
            (
                json!({"model": "m", "input": "q", "tools": [{"type": "web_search_preview"}]}),
                BridgeError::UnsupportedTool {
                    tool: "web_search_preview".into(),
                },
            ),
            (
                json!({"model": "m", "input": "q", "tool_choice": {"type": "file_search"}}),
                BridgeError::UnsupportedTool {
                    tool: "file_search".into(),
                },
            ),
            (
                json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}),
                BridgeError::UnsupportedItem {
                    item: "item_reference".into(),
                },
            ),
            (
                json!({"model": "m", "input": [{"type": "web_search_call", "id": "ws_1", "status": "completed"}]}),
                BridgeError::UnsupportedItem {
                    item: "web_search_call".into(),
                },
            ),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [
                    {"type": "input_image", "file_id": "file-1"}]}]}),
                BridgeError::UnsupportedContent {
                    what: "an input_image by file_id".into(),
                },
            ),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [
                    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}),
                BridgeError::UnsupportedContent {
                    what: "a `input_audio` content part".into(),
                },
            ),
        ];
        for (req, want) in cases {
            assert_eq!(
                to_chat_request(&request(req.clone()), &[]),
                Err(want),
                "{req}"
            );
        }
        assert_eq!(
            BridgeError::UnsupportedTool {
                tool: "web_search_preview".into()
            }
            .to_string(),
            "tool `web_search_preview` is not supported by chat-completions providers"
        );
    }

    // ------------------------------------------------------------ from_chat_completion

    fn skeleton(status: &str, model: &str, output: Value, usage: Value) -> Value {
        json!({
            "id": "resp_abc", "object": "response", "created_at": 1700000000,
            "status": status, "error": null, "incomplete_details": null,
            "instructions": null, "max_output_tokens": null, "model": model,
            "output": output, "parallel_tool_calls": true, "previous_response_id": null,
            "tool_choice": "auto", "tools": [], "usage": usage, "user": null, "metadata": {}
        })
    }

    fn completion(v: Value) -> ChatCompletion {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn completion_with_thinking_text_and_tool_call() {
        let c = completion(json!({
            "id": "msg_01", "object": "chat.completion", "created": 1, "model": "claude-sonnet-4-5",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking.",
                "reasoning_content": "Need weather.",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "Need weather.", "signature": "EqQBCgIYAh=="},
                    {"type": "redacted_thinking", "data": "EmwKAhgB"}
                ],
                "tool_calls": [{"id": "toolu_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]
            }}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
                      "prompt_tokens_details": {"cached_tokens": 40},
                      "completion_tokens_details": {"reasoning_tokens": 20}}
        }));
        let req = request(json!({"model": "anthropic/claude-sonnet-4-5", "input": "hi"}));
        let r = from_chat_completion(&c, &req, "resp_abc", 1700000000);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            skeleton(
                "completed",
                "claude-sonnet-4-5",
                json!([
                    {"type": "reasoning", "id": "rs_abc_0",
                     "summary": [{"type": "summary_text", "text": "Need weather."}],
                     "encrypted_content": "EqQBCgIYAh=="},
                    {"type": "reasoning", "id": "rs_abc_1", "summary": [],
                     "encrypted_content": "EmwKAhgB"},
                    {"type": "message", "id": "msg_abc_2", "role": "assistant", "status": "completed",
                     "content": [{"type": "output_text", "text": "Checking.",
                                  "annotations": [], "logprobs": []}]},
                    {"type": "function_call", "id": "fc_abc_3", "call_id": "toolu_1",
                     "name": "get_weather", "arguments": "{\"city\":\"Paris\"}", "status": "completed"}
                ]),
                json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40},
                       "output_tokens": 50, "output_tokens_details": {"reasoning_tokens": 20},
                       "total_tokens": 150})
            )
        );
        assert_eq!(r.output_text(), "Checking.");
        // Sent back as input, the items give the provider its blocks again.
        let next =
            to_chat_request(&request(json!({"model": "m", "input": []})), &r.output).unwrap();
        let v = serde_json::to_value(&next.messages[0]).unwrap();
        assert_eq!(
            v["thinking_blocks"],
            json!([{"type": "thinking", "thinking": "Need weather.", "signature": "EqQBCgIYAh=="},
                   {"type": "redacted_thinking", "data": "EmwKAhgB"}])
        );
    }

    #[test]
    fn completion_stopped_early_is_incomplete() {
        for (finish, reason) in [
            ("length", "max_output_tokens"),
            ("content_filter", "content_filter"),
        ] {
            let c = completion(
                json!({"id": "x", "model": "gpt-4o", "choices": [{"index": 0,
                "finish_reason": finish, "message": {"role": "assistant", "content": "Hel"}}]}),
            );
            let req = request(json!({"model": "gpt-4o", "input": "hi"}));
            let r = serde_json::to_value(from_chat_completion(&c, &req, "resp_abc", 1700000000))
                .unwrap();
            assert_eq!(r["status"], json!("incomplete"));
            assert_eq!(r["incomplete_details"], json!({"reason": reason}));
            assert_eq!(r["output"][0]["status"], json!("incomplete"));
            assert_eq!(r["usage"], Value::Null);
        }
    }

    // ------------------------------------------------------------ stream

    fn chunk(v: Value) -> ChatCompletionChunk {
        let mut base = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                              "created": 1, "model": "gpt-4o-mini"});
        if let (Value::Object(b), Value::Object(extra)) = (&mut base, v) {
            b.extend(extra);
        }
        serde_json::from_value(base).unwrap()
    }

    fn delta(d: Value) -> Value {
        json!({"choices": [{"index": 0, "delta": d, "finish_reason": null}]})
    }

    fn finish(reason: &str) -> Value {
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
    }

    fn usage(p: u64, c: u64) -> Value {
        json!({"choices": [], "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}})
    }

    fn run(chunks: Vec<Value>) -> Vec<Value> {
        let req = request(json!({"model": "openai/gpt-4o-mini", "input": "hi", "stream": true}));
        let mut s = ChatToResponsesStream::new(&req, "resp_abc", 1700000000);
        let mut out = Vec::new();
        for c in chunks {
            out.extend(s.feed(&chunk(c)).unwrap());
        }
        out.extend(s.finish());
        assert!(s.finish().is_empty(), "finish twice emits nothing");
        events_json(out)
    }

    fn events_json(events: Vec<ResponseStreamEvent>) -> Vec<Value> {
        let out: Vec<Value> = events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        for (i, e) in out.iter().enumerate() {
            assert_eq!(e["sequence_number"], json!(i), "{e}");
            // What the bridge writes reads back as the same typed event.
            let back: ResponseStreamEvent = serde_json::from_value(e.clone()).unwrap();
            assert!(!back.is_unknown(), "{e}");
            assert_eq!(&serde_json::to_value(&back).unwrap(), e);
        }
        out
    }

    fn types(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["type"].as_str().unwrap()).collect()
    }

    fn usage_json(i: u64, o: u64) -> Value {
        json!({"input_tokens": i, "input_tokens_details": {"cached_tokens": 0},
               "output_tokens": o, "output_tokens_details": {"reasoning_tokens": 0},
               "total_tokens": i + o})
    }

    #[test]
    fn stream_text_answer() {
        let events = run(vec![
            delta(json!({"role": "assistant", "content": ""})),
            delta(json!({"content": "Hel"})),
            delta(json!({"content": "lo"})),
            finish("stop"),
            usage(5, 2),
        ]);
        let msg_done = json!({"type": "message", "id": "msg_abc_0", "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}]});
        assert_eq!(
            events,
            vec![
                json!({"type": "response.created", "sequence_number": 0,
                       "response": skeleton("in_progress", "gpt-4o-mini", json!([]), Value::Null)}),
                json!({"type": "response.in_progress", "sequence_number": 1,
                       "response": skeleton("in_progress", "gpt-4o-mini", json!([]), Value::Null)}),
                json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
                       "item": {"type": "message", "id": "msg_abc_0", "role": "assistant",
                                "status": "in_progress", "content": []}}),
                json!({"type": "response.content_part.added", "sequence_number": 3,
                       "item_id": "msg_abc_0", "output_index": 0, "content_index": 0,
                       "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}),
                json!({"type": "response.output_text.delta", "sequence_number": 4,
                       "item_id": "msg_abc_0", "output_index": 0, "content_index": 0,
                       "delta": "Hel", "logprobs": []}),
                json!({"type": "response.output_text.delta", "sequence_number": 5,
                       "item_id": "msg_abc_0", "output_index": 0, "content_index": 0,
                       "delta": "lo", "logprobs": []}),
                json!({"type": "response.output_text.done", "sequence_number": 6,
                       "item_id": "msg_abc_0", "output_index": 0, "content_index": 0,
                       "text": "Hello", "logprobs": []}),
                json!({"type": "response.content_part.done", "sequence_number": 7,
                       "item_id": "msg_abc_0", "output_index": 0, "content_index": 0,
                       "part": {"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}}),
                json!({"type": "response.output_item.done", "sequence_number": 8, "output_index": 0,
                       "item": msg_done.clone()}),
                json!({"type": "response.completed", "sequence_number": 9,
                       "response": skeleton("completed", "gpt-4o-mini", json!([msg_done]), usage_json(5, 2))}),
            ]
        );
    }

    #[test]
    fn stream_two_parallel_tool_calls() {
        let events = run(vec![
            delta(
                json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_a",
                "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            ),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]})),
            delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]})),
            delta(
                json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                "function": {"name": "get_time", "arguments": "{\"tz\""}}]}),
            ),
            delta(json!({"tool_calls": [{"index": 1, "function": {"arguments": ":\"CET\"}"}}]})),
            finish("tool_calls"),
            usage(30, 20),
        ]);
        let fc = |id: &str, call: &str, name: &str, args: &str, status: &str| {
            json!({"type": "function_call", "id": id, "call_id": call, "name": name,
                   "arguments": args, "status": status})
        };
        let a = fc(
            "fc_abc_0",
            "call_a",
            "get_weather",
            "{\"city\":\"Paris\"}",
            "completed",
        );
        let b = fc(
            "fc_abc_1",
            "call_b",
            "get_time",
            "{\"tz\":\"CET\"}",
            "completed",
        );
        assert_eq!(
            events[2..events.len() - 1].to_vec(),
            vec![
                json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
                       "item": fc("fc_abc_0", "call_a", "get_weather", "", "in_progress")}),
                json!({"type": "response.function_call_arguments.delta", "sequence_number": 3,
                       "item_id": "fc_abc_0", "output_index": 0, "delta": "{\"city\":"}),
                json!({"type": "response.function_call_arguments.delta", "sequence_number": 4,
                       "item_id": "fc_abc_0", "output_index": 0, "delta": "\"Paris\"}"}),
                json!({"type": "response.function_call_arguments.done", "sequence_number": 5,
                       "item_id": "fc_abc_0", "output_index": 0, "arguments": "{\"city\":\"Paris\"}"}),
                json!({"type": "response.output_item.done", "sequence_number": 6, "output_index": 0,
                       "item": a.clone()}),
                json!({"type": "response.output_item.added", "sequence_number": 7, "output_index": 1,
                       "item": fc("fc_abc_1", "call_b", "get_time", "", "in_progress")}),
                json!({"type": "response.function_call_arguments.delta", "sequence_number": 8,
                       "item_id": "fc_abc_1", "output_index": 1, "delta": "{\"tz\""}),
                json!({"type": "response.function_call_arguments.delta", "sequence_number": 9,
                       "item_id": "fc_abc_1", "output_index": 1, "delta": ":\"CET\"}"}),
                json!({"type": "response.function_call_arguments.done", "sequence_number": 10,
                       "item_id": "fc_abc_1", "output_index": 1, "arguments": "{\"tz\":\"CET\"}"}),
                json!({"type": "response.output_item.done", "sequence_number": 11, "output_index": 1,
                       "item": b.clone()}),
            ]
        );
        assert_eq!(
            events.last().unwrap(),
            &json!({"type": "response.completed", "sequence_number": 12,
                    "response": skeleton("completed", "gpt-4o-mini", json!([a, b]), usage_json(30, 20))})
        );
    }

    #[test]
    fn stream_reasoning_then_text() {
        let events = run(vec![
            delta(json!({"role": "assistant", "reasoning_content": "Let me "})),
            delta(json!({"reasoning_content": "think."})),
            delta(
                json!({"thinking_blocks": [{"type": "thinking", "thinking": "Let me think.",
                                              "signature": "sig=="}]}),
            ),
            delta(json!({"content": "42"})),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16,
                             "completion_tokens_details": {"reasoning_tokens": 5}}}),
        ]);
        assert_eq!(
            types(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let rs = |summary: Value, enc: Option<&str>| {
            let mut v = json!({"type": "reasoning", "id": "rs_abc_0", "summary": summary});
            if let Some(e) = enc {
                v["encrypted_content"] = json!(e);
            }
            v
        };
        assert_eq!(
            events[2..9].to_vec(),
            vec![
                json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
                       "item": rs(json!([]), None)}),
                json!({"type": "response.reasoning_summary_part.added", "sequence_number": 3,
                       "item_id": "rs_abc_0", "output_index": 0, "summary_index": 0,
                       "part": {"type": "summary_text", "text": ""}}),
                json!({"type": "response.reasoning_summary_text.delta", "sequence_number": 4,
                       "item_id": "rs_abc_0", "output_index": 0, "summary_index": 0, "delta": "Let me "}),
                json!({"type": "response.reasoning_summary_text.delta", "sequence_number": 5,
                       "item_id": "rs_abc_0", "output_index": 0, "summary_index": 0, "delta": "think."}),
                json!({"type": "response.reasoning_summary_text.done", "sequence_number": 6,
                       "item_id": "rs_abc_0", "output_index": 0, "summary_index": 0,
                       "text": "Let me think."}),
                json!({"type": "response.reasoning_summary_part.done", "sequence_number": 7,
                       "item_id": "rs_abc_0", "output_index": 0, "summary_index": 0,
                       "part": {"type": "summary_text", "text": "Let me think."}}),
                json!({"type": "response.output_item.done", "sequence_number": 8, "output_index": 0,
                       "item": rs(json!([{"type": "summary_text", "text": "Let me think."}]), Some("sig=="))}),
            ]
        );
        assert_eq!(events[9]["output_index"], json!(1));
        assert_eq!(events[11]["item_id"], json!("msg_abc_1"));
        let done = &events[15]["response"];
        assert_eq!(done["output"].as_array().unwrap().len(), 2);
        assert_eq!(
            done["usage"]["output_tokens_details"],
            json!({"reasoning_tokens": 5})
        );
    }

    #[test]
    fn stream_truncated_by_length_is_incomplete() {
        let events = run(vec![
            delta(json!({"role": "assistant", "content": "Hel"})),
            finish("length"),
            usage(5, 1),
        ]);
        assert_eq!(
            types(&events)[2..],
            [
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.incomplete"
            ]
        );
        assert_eq!(events[7]["item"]["status"], json!("incomplete"));
        let r = &events[8]["response"];
        assert_eq!(r["status"], json!("incomplete"));
        assert_eq!(
            r["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(r["output"][0]["content"][0]["text"], json!("Hel"));
        assert_eq!(r["usage"], usage_json(5, 1));
    }

    #[test]
    fn stream_failure_mid_way_is_failed_never_completed() {
        let req = request(json!({"model": "gpt-4o-mini", "input": "hi", "stream": true}));
        let mut s = ChatToResponsesStream::new(&req, "resp_abc", 1700000000);
        let mut out = s.feed(&chunk(delta(json!({"content": "Hel"})))).unwrap();
        out.extend(s.fail(ResponseError {
            code: "server_error".into(),
            message: "upstream connection reset".into(),
            extra: Map::new(),
        }));
        assert!(s.finish().is_empty());
        assert!(s
            .feed(&chunk(delta(json!({"content": "lo"}))))
            .unwrap()
            .is_empty());
        let events = events_json(out);
        assert_eq!(
            types(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.failed"
            ]
        );
        let mut want = skeleton("failed", "gpt-4o-mini", json!([]), Value::Null);
        want["error"] = json!({"code": "server_error", "message": "upstream connection reset"});
        assert_eq!(events[5]["response"], want);
        assert_eq!(s.response().status, ResponseStatus::Failed);
    }

    #[test]
    fn stream_resuming_a_finished_tool_call_is_an_error() {
        let req = request(json!({"model": "m", "input": "hi"}));
        let mut s = ChatToResponsesStream::new(&req, "resp_abc", 1);
        let call = |i: u32, id: Option<&str>, args: &str| {
            chunk(delta(json!({"tool_calls": [{"index": i, "id": id,
                "function": {"name": "f", "arguments": args}}]})))
        };
        s.feed(&call(0, Some("a"), "{")).unwrap();
        s.feed(&call(1, Some("b"), "{")).unwrap();
        assert_eq!(
            s.feed(&call(0, None, "}")),
            Err(BridgeError::InterleavedToolCall { index: 0 })
        );
    }

    #[test]
    fn stream_text_then_tool_call_and_refusal_parts() {
        let events = run(vec![
            delta(json!({"role": "assistant", "content": "Let me check."})),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]}),
            ),
            finish("tool_calls"),
        ]);
        assert_eq!(
            types(&events)[2..],
            [
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(events[8]["output_index"], json!(1));
        assert_eq!(events[8]["item"]["id"], json!("fc_abc_1"));
        // No usage chunk: the response says so with `usage: null`.
        assert_eq!(events[12]["response"]["usage"], Value::Null);

        let events = run(vec![
            delta(json!({"role": "assistant", "refusal": "I can't"})),
            delta(json!({"refusal": " help with that."})),
            finish("stop"),
        ]);
        assert_eq!(
            events[3..8].to_vec(),
            vec![
                json!({"type": "response.content_part.added", "sequence_number": 3,
                       "item_id": "msg_abc_0", "output_index": 0, "content_index": 0,
                       "part": {"type": "refusal", "refusal": ""}}),
                json!({"type": "response.refusal.delta", "sequence_number": 4,
                       "item_id": "msg_abc_0", "output_index": 0, "content_index": 0,
                       "delta": "I can't"}),
                json!({"type": "response.refusal.delta", "sequence_number": 5,
                       "item_id": "msg_abc_0", "output_index": 0, "content_index": 0,
                       "delta": " help with that."}),
                json!({"type": "response.refusal.done", "sequence_number": 6,
                       "item_id": "msg_abc_0", "output_index": 0, "content_index": 0,
                       "refusal": "I can't help with that."}),
                json!({"type": "response.content_part.done", "sequence_number": 7,
                       "item_id": "msg_abc_0", "output_index": 0, "content_index": 0,
                       "part": {"type": "refusal", "refusal": "I can't help with that."}}),
            ]
        );
    }

    /// The stream and the non-stream path agree on the final response.
    #[test]
    fn stream_and_completion_build_the_same_response() {
        let events = run(vec![
            delta(json!({"role": "assistant", "content": "Hi"})),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                "function": {"name": "f", "arguments": "{}"}}]}),
            ),
            finish("tool_calls"),
            usage(3, 4),
        ]);
        let c = completion(
            json!({"id": "x", "model": "gpt-4o-mini", "choices": [{"index": 0,
            "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Hi",
            "tool_calls": [{"id": "call_a", "type": "function",
                            "function": {"name": "f", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}),
        );
        let req = request(json!({"model": "openai/gpt-4o-mini", "input": "hi", "stream": true}));
        let r = from_chat_completion(&c, &req, "resp_abc", 1700000000);
        assert_eq!(
            events.last().unwrap()["response"],
            serde_json::to_value(&r).unwrap()
        );
    }
}
