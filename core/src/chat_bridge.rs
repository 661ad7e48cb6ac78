//! Serve Chat Completions from an upstream's Responses API: pure translations
//! from [`crate::types::chat`] to [`crate::types::responses`] and back, no I/O.
//! The opposite direction of [`crate::responses_bridge`].
//!
//! Some OpenAI models exist only on `POST /v1/responses` (o1-pro, o3-pro,
//! gpt-5-pro, gpt-5-codex, codex-mini, the deep-research models). A client
//! asking for one on `/v1/chat/completions` is served by:
//!
//! - [`to_responses_request`]: the chat request → a `POST /v1/responses` body
//!   (stateless: `store: false`, the whole conversation in `input`);
//! - [`to_chat_completion`]: the `response` object → a chat completion;
//! - [`ResponsesToChatStream`]: Responses stream events → chat chunks.
//!
//! Chat parameters the Responses API cannot express (`n > 1`, `logprobs`,
//! `audio`, `stop`, penalties, …) are refused with a [`ChatBridgeError`]
//! naming the parameter (the gateway answers 400), or dropped when the
//! client set LiteLLM's `drop_params`.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::responses::chat_usage;
use crate::types::chat::{
    self, AssistantMessage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest,
    ChatMessage, Choice, ChunkChoice, Delta, FinishReason, FunctionCall, FunctionCallDelta,
    ResponseFormat, ResponseMessage, ToolCall, ToolCallDelta, ToolChoice,
};
use crate::types::responses::{
    ContentPart, CreateResponseRequest, CustomTool, CustomToolCallItem, CustomToolCallOutputItem,
    FunctionCallItem, FunctionCallOutputItem, FunctionTool, InputFile, InputImage, InputText, Item,
    JsonSchemaTextFormat, Message, MessageContent, OutputText, ReasoningConfig, ReasoningItem,
    RefusalContent, Response, ResponseInput, ResponseStatus, ResponseStreamEvent,
    ResponsesToolChoice, Role, TextConfig, TextFormat, Tool, ToolOutput,
};

/// Why a chat call cannot be served through an upstream's Responses API,
/// or why that upstream's answer cannot be turned back into chat.
///
/// The first three are the client's doing (the gateway answers 400, with
/// [`ChatBridgeError::param`] as the error's `param`); the last two are the
/// upstream's (the gateway answers with an upstream error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatBridgeError {
    /// A chat parameter with no Responses equivalent (`n > 1`, `logprobs`,
    /// `audio`, `stop`, `seed`, penalties, legacy `functions`, …).
    #[error("parameter `{param}` is not supported for models served through the Responses API: {reason}")]
    UnsupportedParam {
        /// The chat parameter, as the client spelled it.
        param: String,
        /// Why the Responses API cannot express it.
        reason: String,
    },
    /// Message content with no Responses equivalent (audio input, a legacy
    /// `function` message, an assistant `audio` reference).
    #[error("{what} cannot be sent to a model served through the Responses API")]
    UnsupportedContent {
        /// What the content was.
        what: String,
    },
    /// A parameter whose value does not fit the Responses field it maps to.
    #[error("parameter `{param}` is invalid for the Responses API: {reason}")]
    InvalidParam {
        /// The chat parameter.
        param: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The upstream stream sent a delta for an item it never announced with
    /// `response.output_item.added`, so the delta cannot be placed.
    #[error("upstream Responses stream sent `{event}` for item `{item_id}` it never announced")]
    UnknownItem {
        /// The event type.
        event: String,
        /// The item id the event named.
        item_id: String,
    },
    /// The upstream reported a failure (`response.failed` or an `error` event).
    #[error("upstream Responses API failed ({}): {message}", .code.as_deref().unwrap_or("no code"))]
    Upstream {
        /// OpenAI's error code (`server_error`, `rate_limit_exceeded`, …), when sent.
        code: Option<String>,
        /// The upstream's message.
        message: String,
    },
}

impl ChatBridgeError {
    /// The chat parameter a refusal is about, for the 400's `param` field
    /// (`None` for content and upstream errors).
    pub fn param(&self) -> Option<&str> {
        match self {
            ChatBridgeError::UnsupportedParam { param, .. }
            | ChatBridgeError::InvalidParam { param, .. } => Some(param),
            ChatBridgeError::UnsupportedContent { .. } => Some("messages"),
            _ => None,
        }
    }
}

// ------------------------------------------------------------------ request

/// Chat-only keys that arrive in `extra`, with why Responses cannot take them.
const CHAT_ONLY_EXTRA: &[(&str, &str)] = &[
    ("functions", "legacy function calling; send `tools` instead"),
    (
        "function_call",
        "legacy function calling; send `tool_choice` instead",
    ),
    (
        "web_search_options",
        "chat's search models only; the Responses API takes a `web_search` tool",
    ),
];

/// The `POST /v1/responses` body serving the chat request `req`.
///
/// Leading `system`/`developer` messages become `instructions` (joined by a
/// blank line), as OpenAI's migration guide recommends; a system or developer
/// message later in the conversation stays an input message at its place.
/// User content becomes `input_text` / `input_image` / `input_file` parts;
/// an assistant turn becomes an output message (`output_text`, `refusal`)
/// followed by one `function_call` (or `custom_tool_call`) item per tool call;
/// a tool message becomes the matching `function_call_output`.
///
/// Function tools are sent with an explicit `strict` (chat's default,
/// `false`, where the client left it out), because the Responses API
/// defaults to strict. `store` is `false` unless the client asked for
/// `store: true`: the whole conversation is sent every time, so the upstream
/// never needs to keep a turn. A message's `name` has no Responses field
/// and is left out. Unknown fields ride along (a Responses-only
/// field such as `include` or `truncation` reaches the upstream), merged
/// under the fields set here.
pub fn to_responses_request(
    req: &ChatCompletionRequest,
) -> Result<CreateResponseRequest, ChatBridgeError> {
    let drop = req.drop_params == Some(true);
    let refuse = |param: &str, reason: &str| -> Result<(), ChatBridgeError> {
        if drop {
            Ok(())
        } else {
            Err(ChatBridgeError::UnsupportedParam {
                param: param.to_owned(),
                reason: reason.to_owned(),
            })
        }
    };
    refuse_chat_only(req, &refuse)?;

    let mut out = CreateResponseRequest {
        model: req.model.clone(),
        ..Default::default()
    };

    let (instructions, items) = input_items(&req.messages)?;
    out.instructions = (!instructions.is_empty()).then(|| instructions.join("\n\n"));
    out.input = Some(ResponseInput::Items(items));

    if let Some(tools) = &req.tools {
        let mut converted = Vec::with_capacity(tools.len());
        for t in tools {
            match responses_tool(t)? {
                Some(tool) => converted.push(tool),
                None => refuse(
                    "tools",
                    &format!("tool type `{}` has no Responses equivalent", t.r#type),
                )?,
            }
        }
        out.tools = Some(converted);
    }
    if let Some(choice) = &req.tool_choice {
        match responses_tool_choice(choice) {
            Some(c) => out.tool_choice = Some(c),
            None => refuse(
                "tool_choice",
                "this tool_choice shape has no Responses equivalent",
            )?,
        }
    }

    let format = req.response_format.as_ref().map(|f| match f {
        ResponseFormat::Text => TextFormat::Text,
        ResponseFormat::JsonObject => TextFormat::JsonObject,
        ResponseFormat::JsonSchema { json_schema: s } => {
            TextFormat::JsonSchema(JsonSchemaTextFormat {
                name: s.name.clone(),
                schema: s.schema.clone(),
                description: s.description.clone(),
                strict: s.strict,
            })
        }
    });
    let verbosity = match req.extra.get("verbosity") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(v.clone()),
        Some(_) => {
            return Err(ChatBridgeError::InvalidParam {
                param: "verbosity".into(),
                reason: "must be a string".into(),
            })
        }
    };
    if format.is_some() || verbosity.is_some() {
        out.text = Some(TextConfig {
            format,
            verbosity,
            extra: Map::new(),
        });
    }

    out.reasoning = req.reasoning_effort.as_ref().map(|e| ReasoningConfig {
        effort: Some(e.clone()),
        ..Default::default()
    });
    out.max_output_tokens = req.max_output_tokens();
    out.temperature = req.temperature;
    out.top_p = req.top_p;
    out.user = req.user.clone();
    out.metadata = req.metadata.clone();
    out.parallel_tool_calls = req.parallel_tool_calls;
    out.service_tier = req.service_tier.clone();
    out.store = Some(req.store == Some(true));
    if req.is_stream() {
        out.stream = Some(true);
        // Usage always arrives with `response.completed`; only the
        // options Responses shares with chat (`include_obfuscation`) go on.
        out.stream_options = req
            .stream_options
            .as_ref()
            .map(|o| o.extra.clone())
            .filter(|o| !o.is_empty());
    }

    let rest: Map<String, Value> = req
        .extra
        .iter()
        .filter(|(k, _)| {
            k.as_str() != "verbosity" && !CHAT_ONLY_EXTRA.iter().any(|(name, _)| name == k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !rest.is_empty() {
        out = merge_extra(out, rest)?;
    }
    Ok(out)
}

/// Refuse (or, with `drop_params`, skip) every chat parameter Responses
/// cannot express.
fn refuse_chat_only(
    req: &ChatCompletionRequest,
    refuse: &dyn Fn(&str, &str) -> Result<(), ChatBridgeError>,
) -> Result<(), ChatBridgeError> {
    if req.n.is_some_and(|n| n > 1) {
        refuse("n", "the Responses API returns one answer per call")?;
    }
    if req.logprobs == Some(true) {
        refuse(
            "logprobs",
            "token logprobs are not translated to chat's shape",
        )?;
    } else if req.top_logprobs.is_some_and(|n| n > 0) {
        refuse(
            "top_logprobs",
            "token logprobs are not translated to chat's shape",
        )?;
    }
    if req.audio.is_some() {
        refuse("audio", "the Responses API has no audio output")?;
    }
    if req
        .modalities
        .as_ref()
        .is_some_and(|m| m.iter().any(|x| x != "text"))
    {
        refuse("modalities", "the Responses API answers in text only")?;
    }
    if req.prediction.is_some() {
        refuse("prediction", "the Responses API has no predicted outputs")?;
    }
    if req.stop.is_some() {
        refuse("stop", "the Responses API has no stop sequences")?;
    }
    if req.presence_penalty.is_some_and(|p| p != 0.0) {
        refuse("presence_penalty", "the Responses API has no penalties")?;
    }
    if req.frequency_penalty.is_some_and(|p| p != 0.0) {
        refuse("frequency_penalty", "the Responses API has no penalties")?;
    }
    if req.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
        refuse("logit_bias", "the Responses API has no logit bias")?;
    }
    if req.seed.is_some() {
        refuse("seed", "the Responses API has no seed")?;
    }
    for (key, reason) in CHAT_ONLY_EXTRA {
        if req.extra.get(*key).is_some_and(|v| !v.is_null()) {
            refuse(key, reason)?;
        }
    }
    Ok(())
}

/// `out` with the client's unknown fields added where `out` has no value
/// (objects merged one level deep, so `reasoning: {"summary": "auto"}` joins
/// `reasoning_effort`), decoded again so known Responses fields land typed.
fn merge_extra(
    out: CreateResponseRequest,
    rest: Map<String, Value>,
) -> Result<CreateResponseRequest, ChatBridgeError> {
    let invalid = |e: serde_json::Error| ChatBridgeError::InvalidParam {
        param: rest.keys().cloned().collect::<Vec<_>>().join(", "),
        reason: e.to_string(),
    };
    let mut body = serde_json::to_value(&out).map_err(invalid)?;
    if let Value::Object(map) = &mut body {
        for (k, v) in &rest {
            match (map.get_mut(k), v) {
                (None, _) => {
                    map.insert(k.clone(), v.clone());
                }
                (Some(Value::Object(ours)), Value::Object(theirs)) => {
                    for (ik, iv) in theirs {
                        ours.entry(ik.clone()).or_insert_with(|| iv.clone());
                    }
                }
                _ => {}
            }
        }
    }
    serde_json::from_value(body).map_err(invalid)
}

/// The `instructions` (leading system/developer texts) and the input items
/// of a chat conversation.
fn input_items(messages: &[ChatMessage]) -> Result<(Vec<String>, Vec<Item>), ChatBridgeError> {
    let mut instructions = Vec::new();
    let mut items = Vec::new();
    // Call ids of custom tool calls, whose results are `custom_tool_call_output`.
    let mut custom_calls = HashSet::new();
    let mut leading = true;
    for m in messages {
        match m {
            ChatMessage::System(s) | ChatMessage::Developer(s) if leading => {
                instructions.push(s.content.text());
            }
            ChatMessage::System(s) => {
                items.push(message(Role::System, vec![input_text(s.content.text())]))
            }
            ChatMessage::Developer(s) => {
                items.push(message(Role::Developer, vec![input_text(s.content.text())]))
            }
            ChatMessage::User(u) => items.push(message(Role::User, input_parts(&u.content)?)),
            ChatMessage::Assistant(a) => assistant_items(a, &mut items, &mut custom_calls)?,
            ChatMessage::Tool(t) => {
                let output = tool_output(&t.content)?;
                let call_id = t.tool_call_id.clone();
                items.push(if custom_calls.contains(&call_id) {
                    Item::CustomToolCallOutput(CustomToolCallOutputItem {
                        call_id,
                        output,
                        id: None,
                        extra: Map::new(),
                    })
                } else {
                    Item::FunctionCallOutput(FunctionCallOutputItem {
                        call_id,
                        output,
                        id: None,
                        status: None,
                        extra: Map::new(),
                    })
                });
            }
            ChatMessage::Function(_) => {
                return Err(ChatBridgeError::UnsupportedContent {
                    what: "a legacy `function` role message (send `tool` messages)".into(),
                })
            }
        }
        if !matches!(m, ChatMessage::System(_) | ChatMessage::Developer(_)) {
            leading = false;
        }
    }
    Ok((instructions, items))
}

/// A `message` item (explicit `type`) with `parts`.
fn message(role: Role, parts: Vec<ContentPart>) -> Item {
    Item::Message(Message {
        r#type: Some("message".into()),
        id: None,
        role,
        content: MessageContent::Parts(parts),
        status: None,
        extra: Map::new(),
    })
}

fn input_text(text: String) -> ContentPart {
    ContentPart::InputText(InputText {
        text,
        extra: Map::new(),
    })
}

/// User (or tool) content as Responses input parts.
fn input_parts(content: &chat::MessageContent) -> Result<Vec<ContentPart>, ChatBridgeError> {
    let parts = match content {
        chat::MessageContent::Text(t) => return Ok(vec![input_text(t.clone())]),
        chat::MessageContent::Parts(parts) => parts,
    };
    parts
        .iter()
        .map(|p| {
            Ok(match p {
                chat::ContentPart::Text(t) => input_text(t.text.clone()),
                chat::ContentPart::ImageUrl(i) => ContentPart::InputImage(InputImage {
                    image_url: Some(i.image_url.url.clone()),
                    file_id: None,
                    // Required by the Responses API; chat's default is `auto`.
                    detail: Some(i.image_url.detail.clone().unwrap_or_else(|| "auto".into())),
                    extra: Map::new(),
                }),
                chat::ContentPart::File(f) => ContentPart::InputFile(InputFile {
                    file_id: f.file.file_id.clone(),
                    file_data: f.file.file_data.clone(),
                    file_url: None,
                    filename: f.file.filename.clone(),
                    extra: Map::new(),
                }),
                chat::ContentPart::InputAudio(_) => {
                    return Err(ChatBridgeError::UnsupportedContent {
                        what: "an `input_audio` content part".into(),
                    })
                }
                chat::ContentPart::Refusal(_) => {
                    return Err(ChatBridgeError::UnsupportedContent {
                        what: "a `refusal` content part outside an assistant message".into(),
                    })
                }
            })
        })
        .collect()
}

/// A tool result: plain text stays a string (text parts joined); content
/// with images or files becomes a list of input parts.
fn tool_output(content: &chat::MessageContent) -> Result<ToolOutput, ChatBridgeError> {
    match content {
        chat::MessageContent::Parts(parts)
            if parts
                .iter()
                .any(|p| !matches!(p, chat::ContentPart::Text(_))) =>
        {
            Ok(ToolOutput::Parts(input_parts(content)?))
        }
        _ => Ok(ToolOutput::Text(content.text())),
    }
}

/// An assistant turn: an output message (text and refusal, if any), then one
/// call item per tool call.
fn assistant_items(
    a: &AssistantMessage,
    items: &mut Vec<Item>,
    custom_calls: &mut HashSet<String>,
) -> Result<(), ChatBridgeError> {
    if a.function_call.is_some() {
        return Err(ChatBridgeError::UnsupportedContent {
            what: "an assistant `function_call` (legacy function calling; send `tool_calls`)"
                .into(),
        });
    }
    if a.audio.is_some() {
        return Err(ChatBridgeError::UnsupportedContent {
            what: "an assistant `audio` reference".into(),
        });
    }
    let mut parts = Vec::new();
    match &a.content {
        Some(chat::MessageContent::Text(t)) if !t.is_empty() => {
            parts.push(ContentPart::OutputText(OutputText::new(t.clone())))
        }
        Some(chat::MessageContent::Parts(ps)) => {
            for p in ps {
                parts.push(match p {
                    chat::ContentPart::Text(t) => {
                        ContentPart::OutputText(OutputText::new(t.text.clone()))
                    }
                    chat::ContentPart::Refusal(r) => refusal_part(&r.refusal),
                    _ => {
                        return Err(ChatBridgeError::UnsupportedContent {
                            what: "non-text content in an assistant message".into(),
                        })
                    }
                });
            }
        }
        _ => {}
    }
    if let Some(r) = &a.refusal {
        parts.push(refusal_part(r));
    }
    if !parts.is_empty() {
        items.push(message(Role::Assistant, parts));
    }
    for call in a.tool_calls.iter().flatten() {
        if call.r#type == "custom" {
            custom_calls.insert(call.id.clone());
            items.push(Item::CustomToolCall(CustomToolCallItem {
                id: None,
                call_id: call.id.clone(),
                name: call.function.name.clone(),
                input: call.function.arguments.clone(),
                status: None,
                extra: Map::new(),
            }));
        } else {
            items.push(Item::FunctionCall(FunctionCallItem {
                id: None,
                call_id: call.id.clone(),
                name: call.function.name.clone(),
                arguments: call.function.arguments.clone(),
                status: None,
                extra: Map::new(),
            }));
        }
    }
    Ok(())
}

fn refusal_part(text: &str) -> ContentPart {
    ContentPart::Refusal(RefusalContent {
        refusal: text.to_owned(),
        extra: Map::new(),
    })
}

/// A chat tool as a Responses tool: a function tool flattened (with an
/// explicit `strict`), a custom tool as is; `None` for any other type.
fn responses_tool(t: &chat::Tool) -> Result<Option<Tool>, ChatBridgeError> {
    match (t.r#type.as_str(), &t.function) {
        ("function", Some(f)) => Ok(Some(Tool::Function(FunctionTool {
            name: f.name.clone(),
            description: f.description.clone(),
            parameters: f.parameters.clone(),
            strict: Some(f.strict.unwrap_or(false)),
            extra: Map::new(),
        }))),
        ("custom", _) => {
            let custom = t.extra.get("custom").cloned().unwrap_or(Value::Null);
            serde_json::from_value::<CustomTool>(custom)
                .map(|c| Some(Tool::Custom(c)))
                .map_err(|e| ChatBridgeError::InvalidParam {
                    param: "tools".into(),
                    reason: format!("custom tool: {e}"),
                })
        }
        _ => Ok(None),
    }
}

/// Chat's `tool_choice` in the Responses shape (named tools flat, not
/// wrapped); `None` for a shape Responses has no equivalent for.
fn responses_tool_choice(c: &ToolChoice) -> Option<ResponsesToolChoice> {
    Some(match c {
        ToolChoice::None => ResponsesToolChoice::None,
        ToolChoice::Auto => ResponsesToolChoice::Auto,
        ToolChoice::Required => ResponsesToolChoice::Required,
        ToolChoice::Function(name) => ResponsesToolChoice::Function(name.clone()),
        ToolChoice::Other(v) => match v.get("type").and_then(Value::as_str)? {
            "custom" => ResponsesToolChoice::Custom(named(v, "custom")?),
            "allowed_tools" => {
                let allowed = v.get("allowed_tools")?;
                let mode = allowed.get("mode")?.as_str()?.to_owned();
                let tools = allowed
                    .get("tools")?
                    .as_array()?
                    .iter()
                    .map(|t| {
                        let ty = t.get("type")?.as_str()?;
                        match ty {
                            "function" | "custom" => {
                                Some(serde_json::json!({"type": ty, "name": named(t, ty)?}))
                            }
                            _ => None,
                        }
                    })
                    .collect::<Option<Vec<_>>>()?;
                ResponsesToolChoice::AllowedTools { mode, tools }
            }
            _ => return None,
        },
    })
}

/// `v[key].name`, chat's wrapped tool name.
fn named(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.get("name")?.as_str().map(str::to_owned)
}

// ------------------------------------------------------------------ response

/// The chat completion id for a response id: `chatcmpl-` and the response
/// id without `resp_`, so one upstream call has one id in logs and spend.
fn chat_id(response_id: &str) -> String {
    format!(
        "chatcmpl-{}",
        response_id.strip_prefix("resp_").unwrap_or(response_id)
    )
}

/// Chat's finish reason for a finished response: a stop cut short
/// (`incomplete`) says why first — a call cut by the token limit has broken
/// arguments and must not be run — then `tool_calls` if the model called a
/// tool, else `stop`.
fn finish_reason(resp: &Response, has_tool_calls: bool) -> FinishReason {
    if resp.status == ResponseStatus::Incomplete {
        match resp.incomplete_details.as_ref().map(|d| d.reason.as_str()) {
            Some("content_filter") => return FinishReason::ContentFilter,
            Some("max_output_tokens") => return FinishReason::Length,
            _ => {}
        }
    }
    if has_tool_calls {
        FinishReason::ToolCalls
    } else {
        FinishReason::Stop
    }
}

/// The readable reasoning of a reasoning item: its summary parts, then any
/// raw reasoning text (models that expose it), one entry per part.
fn reasoning_texts(r: &ReasoningItem) -> impl Iterator<Item = &str> {
    r.summary
        .iter()
        .chain(r.content.iter().flatten())
        .map(|t| t.text.as_str())
}

/// Reasoning parts are joined with a blank line (in a stream too), as the
/// summary paragraphs read.
const REASONING_SEPARATOR: &str = "\n\n";

/// The chat completion for a finished upstream `response`, answered under
/// `model` (the name the client asked for).
///
/// Output text of all messages is the `content` (`null` when there is none),
/// refusals the `refusal`, `function_call` items the `tool_calls` (id =
/// `call_id`; `custom_tool_call` items as custom calls), reasoning summaries
/// the `reasoning_content`. Hosted tool items (web search, …) have no chat
/// shape and are left out. A `failed` response should not reach here: see
/// [`upstream_failure`].
pub fn to_chat_completion(resp: &Response, model: &str) -> ChatCompletion {
    let mut content: Option<String> = None;
    let mut refusal: Option<String> = None;
    let mut reasoning: Vec<&str> = Vec::new();
    let mut tool_calls = Vec::new();
    for item in &resp.output {
        match item {
            Item::Message(m) => match &m.content {
                MessageContent::Text(t) => content.get_or_insert_with(String::new).push_str(t),
                MessageContent::Parts(parts) => {
                    for p in parts {
                        match p {
                            ContentPart::OutputText(t) => {
                                content.get_or_insert_with(String::new).push_str(&t.text)
                            }
                            ContentPart::Refusal(r) => {
                                refusal.get_or_insert_with(String::new).push_str(&r.refusal)
                            }
                            _ => {}
                        }
                    }
                }
            },
            Item::FunctionCall(fc) => tool_calls.push(ToolCall::function(
                fc.call_id.clone(),
                fc.name.clone(),
                fc.arguments.clone(),
            )),
            Item::CustomToolCall(c) => tool_calls.push(ToolCall {
                id: c.call_id.clone(),
                r#type: "custom".into(),
                function: FunctionCall {
                    name: c.name.clone(),
                    arguments: c.input.clone(),
                },
            }),
            Item::Reasoning(r) => reasoning.extend(reasoning_texts(r)),
            _ => {}
        }
    }
    let finish = finish_reason(resp, !tool_calls.is_empty());
    ChatCompletion {
        id: chat_id(&resp.id),
        object: "chat.completion".into(),
        created: resp.created_at,
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                content,
                refusal,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                reasoning_content: (!reasoning.is_empty())
                    .then(|| reasoning.join(REASONING_SEPARATOR)),
                ..Default::default()
            },
            logprobs: None,
            finish_reason: Some(finish),
            extra: Map::new(),
        }],
        usage: resp.usage.as_ref().map(chat_usage),
        system_fingerprint: None,
        service_tier: resp.service_tier.clone(),
        extra: Map::new(),
    }
}

/// The upstream error of a response that did not finish (`failed`,
/// `cancelled`), so the gateway answers with an error instead of an empty
/// completion; `None` for a completed or incomplete response.
pub fn upstream_failure(resp: &Response) -> Option<ChatBridgeError> {
    match resp.status {
        ResponseStatus::Failed | ResponseStatus::Cancelled => Some(failure(resp)),
        _ => None,
    }
}

fn failure(resp: &Response) -> ChatBridgeError {
    match &resp.error {
        Some(e) => ChatBridgeError::Upstream {
            code: Some(e.code.clone()),
            message: e.message.clone(),
        },
        None => ChatBridgeError::Upstream {
            code: None,
            message: format!("response `{}` ended with status {:?}", resp.id, resp.status),
        },
    }
}

// ------------------------------------------------------------------ stream

/// A tool call announced by `response.output_item.added`.
struct OpenCall {
    /// Its chat `tool_calls[].index`.
    index: u32,
    /// Whether any arguments were sent (if not, `.done` sends them whole).
    sent_arguments: bool,
}

/// Turns an upstream's Responses stream events into chat chunks, one event
/// at a time, as they arrive.
///
/// All chunks share one id (`chatcmpl-` + the response id without `resp_`),
/// `created` (the response's `created_at`) and `model`. The first chunk
/// carries `role: assistant` (sent on `response.created`, so a client sees
/// the stream open while a slow reasoning model thinks); the end is a chunk
/// with `finish_reason`, then a usage chunk (`choices: []`) that the gateway
/// passes on only when the client asked for `stream_options.include_usage`.
pub struct ResponsesToChatStream {
    model: String,
    id: String,
    created: u64,
    started: bool,
    ended: bool,
    /// Tool calls by item id (or `#<output_index>` for an item without id).
    calls: HashMap<String, OpenCall>,
    /// The reasoning part the last reasoning delta belonged to.
    reasoning_part: Option<String>,
}

impl ResponsesToChatStream {
    /// A translator answering under `model` (the name the client asked for).
    pub fn new(model: impl Into<String>) -> Self {
        ResponsesToChatStream {
            model: model.into(),
            id: String::new(),
            created: 0,
            started: false,
            ended: false,
            calls: HashMap::new(),
            reasoning_part: None,
        }
    }

    /// Whether a terminal event (`completed`, `incomplete`, `failed`,
    /// `error`) arrived; a stream that ends before it was cut.
    pub fn is_done(&self) -> bool {
        self.ended
    }

    /// The chunks one upstream event stands for (often none). A failure
    /// event is an `Err` ([`ChatBridgeError::Upstream`]); events after the
    /// terminal one, and event types with no chat meaning, give no chunks.
    pub fn push(
        &mut self,
        event: &ResponseStreamEvent,
    ) -> Result<Vec<ChatCompletionChunk>, ChatBridgeError> {
        let mut out = Vec::new();
        if self.ended {
            return Ok(out);
        }
        match event {
            ResponseStreamEvent::Created(e)
            | ResponseStreamEvent::InProgress(e)
            | ResponseStreamEvent::Queued(e) => {
                self.adopt(&e.response);
                if !self.started {
                    out.push(self.chunk(Delta::default(), None));
                }
            }
            ResponseStreamEvent::OutputTextDelta(d) if !d.delta.is_empty() => {
                out.push(self.delta(Delta {
                    content: Some(d.delta.clone()),
                    ..Default::default()
                }));
            }
            ResponseStreamEvent::RefusalDelta(d) if !d.delta.is_empty() => {
                out.push(self.delta(Delta {
                    refusal: Some(d.delta.clone()),
                    ..Default::default()
                }));
            }
            ResponseStreamEvent::ReasoningSummaryTextDelta(d) => {
                let part = format!("{}/summary/{}", d.item_id, d.summary_index);
                out.extend(self.reasoning(part, &d.delta));
            }
            ResponseStreamEvent::ReasoningTextDelta(d) => {
                let part = format!("{}/content/{}", d.item_id, d.content_index);
                out.extend(self.reasoning(part, &d.delta));
            }
            ResponseStreamEvent::OutputItemAdded(e) => {
                let (kind, id, call_id, name, arguments) = match &e.item {
                    Item::FunctionCall(fc) => (
                        "function",
                        fc.id.as_deref(),
                        &fc.call_id,
                        &fc.name,
                        &fc.arguments,
                    ),
                    Item::CustomToolCall(c) => {
                        ("custom", c.id.as_deref(), &c.call_id, &c.name, &c.input)
                    }
                    _ => return Ok(out),
                };
                let key = call_key(id, e.output_index);
                let index = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
                self.calls.insert(
                    key,
                    OpenCall {
                        index,
                        sent_arguments: !arguments.is_empty(),
                    },
                );
                out.push(self.delta(Delta {
                    tool_calls: Some(vec![ToolCallDelta {
                        index,
                        id: Some(call_id.clone()),
                        r#type: Some(kind.into()),
                        function: Some(FunctionCallDelta {
                            name: Some(name.clone()),
                            arguments: Some(arguments.clone()),
                        }),
                    }]),
                    ..Default::default()
                }));
            }
            ResponseStreamEvent::FunctionCallArgumentsDelta(d)
            | ResponseStreamEvent::CustomToolCallInputDelta(d) => {
                out.extend(self.arguments_delta(event, &d.item_id, d.output_index, &d.delta)?);
            }
            ResponseStreamEvent::FunctionCallArgumentsDone(d) => {
                out.extend(self.arguments_done(event, &d.item_id, d.output_index, &d.arguments)?);
            }
            ResponseStreamEvent::CustomToolCallInputDone(d) => {
                out.extend(self.arguments_done(event, &d.item_id, d.output_index, &d.input)?);
            }
            ResponseStreamEvent::Completed(e) | ResponseStreamEvent::Incomplete(e) => {
                self.adopt(&e.response);
                self.ended = true;
                let has_calls = !self.calls.is_empty()
                    || e.response
                        .output
                        .iter()
                        .any(|i| matches!(i, Item::FunctionCall(_) | Item::CustomToolCall(_)));
                let finish = finish_reason(&e.response, has_calls);
                out.push(self.chunk(Delta::default(), Some(finish)));
                if let Some(u) = &e.response.usage {
                    let mut usage = self.chunk(Delta::default(), None);
                    usage.choices.clear();
                    usage.usage = Some(chat_usage(u));
                    out.push(usage);
                }
            }
            ResponseStreamEvent::Failed(e) => {
                self.ended = true;
                return Err(failure(&e.response));
            }
            ResponseStreamEvent::Error(e) => {
                self.ended = true;
                return Err(ChatBridgeError::Upstream {
                    code: e.code.clone(),
                    message: e.message.clone(),
                });
            }
            _ => {}
        }
        Ok(out)
    }

    /// Take id and `created` from the first response object seen.
    fn adopt(&mut self, resp: &Response) {
        if self.id.is_empty() {
            self.id = chat_id(&resp.id);
            self.created = resp.created_at;
        }
    }

    /// A chunk with one choice; the first chunk of the stream gets the role.
    fn chunk(&mut self, mut delta: Delta, finish: Option<FinishReason>) -> ChatCompletionChunk {
        if !self.started {
            self.started = true;
            delta.role = Some("assistant".into());
        }
        if self.id.is_empty() {
            // No `response.created` came first (OpenAI always sends it).
            self.id = "chatcmpl-llmux".into();
        }
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason: finish,
                extra: Map::new(),
            }],
            usage: None,
            system_fingerprint: None,
            service_tier: None,
            extra: Map::new(),
        }
    }

    fn delta(&mut self, delta: Delta) -> ChatCompletionChunk {
        self.chunk(delta, None)
    }

    /// A reasoning delta, with a blank line first when it opens a new part.
    fn reasoning(&mut self, part: String, text: &str) -> Option<ChatCompletionChunk> {
        if text.is_empty() {
            return None;
        }
        let text = match &self.reasoning_part {
            Some(p) if *p != part => format!("{REASONING_SEPARATOR}{text}"),
            _ => text.to_owned(),
        };
        self.reasoning_part = Some(part);
        Some(self.delta(Delta {
            reasoning_content: Some(text),
            ..Default::default()
        }))
    }

    /// The key of the announced tool call an event names (by item id, or
    /// by output index for a call announced without an id).
    fn known_call(
        &self,
        event: &ResponseStreamEvent,
        item_id: &str,
        output_index: u32,
    ) -> Result<String, ChatBridgeError> {
        if self.calls.contains_key(item_id) {
            return Ok(item_id.to_owned());
        }
        let by_index = call_key(None, output_index);
        if self.calls.contains_key(&by_index) {
            return Ok(by_index);
        }
        Err(ChatBridgeError::UnknownItem {
            event: event.type_name().to_owned(),
            item_id: item_id.to_owned(),
        })
    }

    /// An arguments delta for an announced call (nothing for an empty one).
    fn arguments_delta(
        &mut self,
        event: &ResponseStreamEvent,
        item_id: &str,
        output_index: u32,
        delta: &str,
    ) -> Result<Option<ChatCompletionChunk>, ChatBridgeError> {
        let key = self.known_call(event, item_id, output_index)?;
        let Some(call) = self.calls.get_mut(&key) else {
            return Ok(None);
        };
        if delta.is_empty() {
            return Ok(None);
        }
        call.sent_arguments = true;
        let index = call.index;
        Ok(Some(self.arguments(index, delta)))
    }

    /// An arguments-done event: the whole arguments when no delta carried
    /// any (some upstreams send them only here), else nothing.
    fn arguments_done(
        &mut self,
        event: &ResponseStreamEvent,
        item_id: &str,
        output_index: u32,
        arguments: &str,
    ) -> Result<Option<ChatCompletionChunk>, ChatBridgeError> {
        let key = self.known_call(event, item_id, output_index)?;
        if self.calls.get(&key).is_some_and(|c| c.sent_arguments) {
            return Ok(None);
        }
        self.arguments_delta(event, item_id, output_index, arguments)
    }

    fn arguments(&mut self, index: u32, arguments: &str) -> ChatCompletionChunk {
        self.delta(Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index,
                id: None,
                r#type: None,
                function: Some(FunctionCallDelta {
                    name: None,
                    arguments: Some(arguments.to_owned()),
                }),
            }]),
            ..Default::default()
        })
    }
}

/// The key a tool call is found by: its item id, or its output index.
fn call_key(item_id: Option<&str>, output_index: u32) -> String {
    match item_id {
        Some(id) => id.to_owned(),
        None => format!("#{output_index}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn chat_request(v: Value) -> ChatCompletionRequest {
        serde_json::from_value(v).unwrap()
    }

    fn response(v: Value) -> Response {
        serde_json::from_value(v).unwrap()
    }

    // ------------------------------------------------------------ request

    #[test]
    fn request_with_history_tools_and_format() {
        let params = json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"]
        });
        let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}});
        let req = chat_request(json!({
            "model": "openai/o3-pro",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Use the tools."}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "Where is this, and what is the weather?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/paris.png", "detail": "high"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "file", "file": {"file_id": "file-abc", "filename": "notes.pdf"}}
                ]},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "14:"}, {"type": "text", "text": "05"}]},
                {"role": "user", "content": "Thanks. Answer in JSON."}
            ],
            "tools": [
                {"type": "function", "function": {"name": "get_weather", "description": "Weather by city", "parameters": params}},
                {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}, "strict": true}}
            ],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": true}},
            "reasoning_effort": "high",
            "max_tokens": 500,
            "temperature": 0.2,
            "top_p": 0.9,
            "user": "u-1",
            "metadata": {"team": "a"},
            "parallel_tool_calls": false,
            "stream": true,
            "stream_options": {"include_usage": true},
            "n": 1,
            "verbosity": "low",
            "prompt_cache_key": "pk-1",
            "reasoning": {"summary": "auto"}
        }));
        let out = to_responses_request(&req).unwrap();
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            json!({
                "model": "openai/o3-pro",
                "instructions": "You are terse.\n\nUse the tools.",
                "input": [
                    {"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "Where is this, and what is the weather?"},
                        {"type": "input_image", "image_url": "https://example.com/paris.png", "detail": "high"},
                        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"},
                        {"type": "input_file", "file_id": "file-abc", "filename": "notes.pdf"}
                    ]},
                    {"type": "message", "role": "assistant", "content": [
                        {"type": "output_text", "text": "Checking.", "annotations": []}
                    ]},
                    {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                    {"type": "function_call", "call_id": "call_2", "name": "get_time", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "call_1", "output": "18C, sunny"},
                    {"type": "function_call_output", "call_id": "call_2", "output": "14:05"},
                    {"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "Thanks. Answer in JSON."}
                    ]}
                ],
                "tools": [
                    {"type": "function", "name": "get_weather", "description": "Weather by city", "parameters": params, "strict": false},
                    {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}, "strict": true}
                ],
                "tool_choice": {"type": "function", "name": "get_weather"},
                "text": {"format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": true}, "verbosity": "low"},
                "reasoning": {"effort": "high", "summary": "auto"},
                "max_output_tokens": 500,
                "temperature": 0.2,
                "top_p": 0.9,
                "stream": true,
                "store": false,
                "metadata": {"team": "a"},
                "parallel_tool_calls": false,
                "user": "u-1",
                "prompt_cache_key": "pk-1"
            })
        );
    }

    #[test]
    fn request_tool_choice_shapes_json_object_and_late_system() {
        let base = |choice: Value| {
            chat_request(json!({
                "model": "gpt-5-codex",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "system", "content": "Be brief from now on."},
                    {"role": "assistant", "content": null, "refusal": "I can't."}
                ],
                "tool_choice": choice,
                "response_format": {"type": "json_object"},
                "max_completion_tokens": 64,
                "max_tokens": 9,
                "store": true
            }))
        };
        let out =
            serde_json::to_value(to_responses_request(&base(json!("required"))).unwrap()).unwrap();
        assert_eq!(
            out,
            json!({
                "model": "gpt-5-codex",
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                    {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be brief from now on."}]},
                    {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "I can't."}]}
                ],
                "tool_choice": "required",
                "text": {"format": {"type": "json_object"}},
                "max_output_tokens": 64,
                "store": true
            })
        );
        for (chat, responses) in [
            (json!("none"), json!("none")),
            (json!("auto"), json!("auto")),
            (
                json!({"type": "custom", "custom": {"name": "apply_patch"}}),
                json!({"type": "custom", "name": "apply_patch"}),
            ),
            (
                json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [
                    {"type": "function", "function": {"name": "a"}},
                    {"type": "custom", "custom": {"name": "b"}}
                ]}}),
                json!({"type": "allowed_tools", "mode": "auto", "tools": [
                    {"type": "function", "name": "a"},
                    {"type": "custom", "name": "b"}
                ]}),
            ),
        ] {
            let out = to_responses_request(&base(chat)).unwrap();
            assert_eq!(serde_json::to_value(out.tool_choice).unwrap(), responses);
        }
    }

    #[test]
    fn request_refuses_what_responses_cannot_express() {
        let req = chat_request(json!({
            "model": "o1-pro",
            "messages": [{"role": "user", "content": "hi"}],
            "n": 2
        }));
        let err = to_responses_request(&req).unwrap_err();
        assert_eq!(
            err,
            ChatBridgeError::UnsupportedParam {
                param: "n".into(),
                reason: "the Responses API returns one answer per call".into(),
            }
        );
        assert_eq!(err.param(), Some("n"));
        assert_eq!(
            err.to_string(),
            "parameter `n` is not supported for models served through the Responses API: \
             the Responses API returns one answer per call"
        );

        for (field, value) in [
            ("logprobs", json!(true)),
            ("audio", json!({"voice": "alloy", "format": "wav"})),
            ("stop", json!(["\n"])),
            ("seed", json!(7)),
            ("presence_penalty", json!(0.5)),
            ("functions", json!([{"name": "f"}])),
        ] {
            let mut v = json!({"model": "o1-pro", "messages": [{"role": "user", "content": "hi"}]});
            v[field] = value;
            let err = to_responses_request(&chat_request(v.clone())).unwrap_err();
            assert_eq!(err.param(), Some(field), "{field}");
            // With LiteLLM's drop_params the field is left out instead.
            v["drop_params"] = json!(true);
            v["n"] = json!(2);
            let out = to_responses_request(&chat_request(v)).unwrap();
            assert_eq!(
                serde_json::to_value(out).unwrap(),
                json!({
                    "model": "o1-pro",
                    "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
                    "store": false
                })
            );
        }

        let audio_in = chat_request(json!({
            "model": "o1-pro",
            "messages": [{"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
            ]}]
        }));
        assert_eq!(
            to_responses_request(&audio_in).unwrap_err().to_string(),
            "an `input_audio` content part cannot be sent to a model served through the Responses API"
        );
    }

    // ------------------------------------------------------------ completion

    #[test]
    fn completion_with_reasoning_text_function_call_and_usage() {
        let resp = response(json!({
            "id": "resp_abc123",
            "object": "response",
            "created_at": 1741476542,
            "status": "completed",
            "error": null,
            "incomplete_details": null,
            "model": "o3-pro-2025-06-10",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": [
                    {"type": "summary_text", "text": "**Plan**\n\nLook the weather up."},
                    {"type": "summary_text", "text": "**Then** answer."}
                ]},
                {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [
                    {"type": "output_text", "text": "Let me check ", "annotations": []},
                    {"type": "output_text", "text": "the weather.", "annotations": []}
                ]},
                {"type": "function_call", "id": "fc_1", "call_id": "call_A", "name": "get_weather",
                 "arguments": "{\"city\":\"Paris\"}", "status": "completed"}
            ],
            "usage": {
                "input_tokens": 100,
                "input_tokens_details": {"cached_tokens": 40},
                "output_tokens": 50,
                "output_tokens_details": {"reasoning_tokens": 30},
                "total_tokens": 150
            },
            "service_tier": "default"
        }));
        assert_eq!(upstream_failure(&resp), None);
        assert_eq!(
            serde_json::to_value(to_chat_completion(&resp, "o3-pro")).unwrap(),
            json!({
                "id": "chatcmpl-abc123",
                "object": "chat.completion",
                "created": 1741476542,
                "model": "o3-pro",
                "choices": [{
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Let me check the weather.",
                        "tool_calls": [{
                            "id": "call_A",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}
                        }],
                        "reasoning_content": "**Plan**\n\nLook the weather up.\n\n**Then** answer."
                    },
                    "logprobs": null,
                    "finish_reason": "tool_calls"
                }],
                "usage": {
                    "prompt_tokens": 100,
                    "completion_tokens": 50,
                    "total_tokens": 150,
                    "prompt_tokens_details": {"cached_tokens": 40},
                    "completion_tokens_details": {"reasoning_tokens": 30}
                },
                "service_tier": "default"
            })
        );
    }

    #[test]
    fn completion_incomplete_is_length_or_content_filter() {
        let resp = response(json!({
            "id": "resp_xyz",
            "created_at": 1700000000,
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "model": "o1-pro",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "message", "id": "msg_1", "status": "incomplete", "role": "assistant", "content": [
                    {"type": "output_text", "text": "Once upon a", "annotations": []}
                ]}
            ],
            "usage": {"input_tokens": 10, "output_tokens": 16, "total_tokens": 26}
        }));
        assert_eq!(
            serde_json::to_value(to_chat_completion(&resp, "o1-pro")).unwrap(),
            json!({
                "id": "chatcmpl-xyz",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "o1-pro",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "Once upon a"},
                    "logprobs": null,
                    "finish_reason": "length"
                }],
                "usage": {"prompt_tokens": 10, "completion_tokens": 16, "total_tokens": 26}
            })
        );

        let filtered = response(json!({
            "id": "resp_f",
            "created_at": 1,
            "status": "incomplete",
            "incomplete_details": {"reason": "content_filter"},
            "output": [{"type": "message", "id": "msg_1", "role": "assistant", "content": [
                {"type": "refusal", "refusal": "I can't help with that."}
            ]}]
        }));
        assert_eq!(
            serde_json::to_value(to_chat_completion(&filtered, "o1-pro")).unwrap(),
            json!({
                "id": "chatcmpl-f",
                "object": "chat.completion",
                "created": 1,
                "model": "o1-pro",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."},
                    "logprobs": null,
                    "finish_reason": "content_filter"
                }]
            })
        );

        let failed = response(json!({
            "id": "resp_bad",
            "status": "failed",
            "error": {"code": "server_error", "message": "The model crashed."}
        }));
        assert_eq!(
            upstream_failure(&failed),
            Some(ChatBridgeError::Upstream {
                code: Some("server_error".into()),
                message: "The model crashed.".into()
            })
        );
    }

    // ------------------------------------------------------------ stream

    fn run(
        bridge: &mut ResponsesToChatStream,
        events: Vec<Value>,
    ) -> Result<Vec<Value>, ChatBridgeError> {
        let mut out = Vec::new();
        for e in events {
            let event: ResponseStreamEvent = serde_json::from_value(e).unwrap();
            for chunk in bridge.push(&event)? {
                out.push(serde_json::to_value(chunk).unwrap());
            }
        }
        Ok(out)
    }

    /// A lifecycle event's response, as OpenAI's reference shows it.
    fn lifecycle(kind: &str, seq: u64, status: &str, output: Value, usage: Value) -> Value {
        json!({
            "type": kind,
            "sequence_number": seq,
            "response": {
                "id": "resp_67c9fdcecf",
                "object": "response",
                "created_at": 1741290958,
                "status": status,
                "error": null,
                "incomplete_details": null,
                "instructions": null,
                "max_output_tokens": null,
                "model": "gpt-5-pro-2025-10-06",
                "output": output,
                "parallel_tool_calls": true,
                "previous_response_id": null,
                "reasoning": {"effort": "high", "summary": null},
                "store": false,
                "temperature": 1.0,
                "text": {"format": {"type": "text"}},
                "tool_choice": "auto",
                "tools": [],
                "top_p": 1.0,
                "truncation": "disabled",
                "usage": usage,
                "user": null,
                "metadata": {}
            }
        })
    }

    /// A chat chunk of the stream under test.
    fn chunk(delta: Value, finish: Value) -> Value {
        json!({
            "id": "chatcmpl-67c9fdcecf",
            "object": "chat.completion.chunk",
            "created": 1741290958,
            "model": "gpt-5-pro",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        })
    }

    fn usage_chunk(usage: Value) -> Value {
        json!({
            "id": "chatcmpl-67c9fdcecf",
            "object": "chat.completion.chunk",
            "created": 1741290958,
            "model": "gpt-5-pro",
            "choices": [],
            "usage": usage
        })
    }

    fn text_delta(seq: u64, delta: &str) -> Value {
        json!({
            "type": "response.output_text.delta", "sequence_number": seq,
            "item_id": "msg_67c9", "output_index": 0, "content_index": 0,
            "delta": delta, "logprobs": []
        })
    }

    #[test]
    fn stream_text_answer() {
        let done_message = json!({
            "id": "msg_67c9", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "Hi there!", "annotations": []}]
        });
        let usage = json!({
            "input_tokens": 37,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 11,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 48
        });
        let events = vec![
            lifecycle("response.created", 0, "in_progress", json!([]), Value::Null),
            lifecycle(
                "response.in_progress",
                1,
                "in_progress",
                json!([]),
                Value::Null,
            ),
            json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
                   "item": {"id": "msg_67c9", "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
            json!({"type": "response.content_part.added", "sequence_number": 3, "item_id": "msg_67c9",
                   "output_index": 0, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
            text_delta(4, "Hi"),
            text_delta(5, " there"),
            json!({"type": "response.some_future_event", "sequence_number": 6, "item_id": "msg_67c9"}),
            text_delta(7, "!"),
            json!({"type": "response.output_text.done", "sequence_number": 8, "item_id": "msg_67c9",
                   "output_index": 0, "content_index": 0, "text": "Hi there!", "logprobs": []}),
            json!({"type": "response.content_part.done", "sequence_number": 9, "item_id": "msg_67c9",
                   "output_index": 0, "content_index": 0,
                   "part": {"type": "output_text", "text": "Hi there!", "annotations": []}}),
            json!({"type": "response.output_item.done", "sequence_number": 10, "output_index": 0,
                   "item": done_message}),
            lifecycle(
                "response.completed",
                11,
                "completed",
                json!([done_message]),
                usage,
            ),
        ];
        let mut bridge = ResponsesToChatStream::new("gpt-5-pro");
        let chunks = run(&mut bridge, events).unwrap();
        assert_eq!(
            chunks,
            vec![
                chunk(json!({"role": "assistant"}), Value::Null),
                chunk(json!({"content": "Hi"}), Value::Null),
                chunk(json!({"content": " there"}), Value::Null),
                chunk(json!({"content": "!"}), Value::Null),
                chunk(json!({}), json!("stop")),
                usage_chunk(
                    json!({"prompt_tokens": 37, "completion_tokens": 11, "total_tokens": 48})
                ),
            ]
        );
        assert!(bridge.is_done());
        // Nothing after the terminal event.
        assert_eq!(
            run(&mut bridge, vec![text_delta(12, "late")]).unwrap(),
            Vec::<Value>::new()
        );
    }

    #[test]
    fn stream_reasoning_then_two_function_calls() {
        let fc = |id: &str, call: &str, name: &str, args: &str, status: &str| {
            json!({"type": "function_call", "id": id, "call_id": call, "name": name,
                   "arguments": args, "status": status})
        };
        let args_delta = |seq: u64, item: &str, out: u32, delta: &str| {
            json!({"type": "response.function_call_arguments.delta", "sequence_number": seq,
                   "item_id": item, "output_index": out, "delta": delta})
        };
        let summary_delta = |seq: u64, idx: u32, delta: &str| {
            json!({"type": "response.reasoning_summary_text.delta", "sequence_number": seq,
                   "item_id": "rs_1", "output_index": 0, "summary_index": idx, "delta": delta})
        };
        let rs = json!({"type": "reasoning", "id": "rs_1", "summary": [
            {"type": "summary_text", "text": "**Need** weather."},
            {"type": "summary_text", "text": "Two cities."}
        ]});
        let fc1 = fc(
            "fc_1",
            "call_paris",
            "get_weather",
            "{\"city\":\"Paris\"}",
            "completed",
        );
        let fc2 = fc(
            "fc_2",
            "call_rome",
            "get_weather",
            "{\"city\":\"Rome\"}",
            "completed",
        );
        let events = vec![
            lifecycle("response.created", 0, "in_progress", json!([]), Value::Null),
            json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
                   "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
            json!({"type": "response.reasoning_summary_part.added", "sequence_number": 2,
                   "item_id": "rs_1", "output_index": 0, "summary_index": 0,
                   "part": {"type": "summary_text", "text": ""}}),
            summary_delta(3, 0, "**Need**"),
            summary_delta(4, 0, " weather."),
            json!({"type": "response.reasoning_summary_text.done", "sequence_number": 5,
                   "item_id": "rs_1", "output_index": 0, "summary_index": 0, "text": "**Need** weather."}),
            summary_delta(6, 1, "Two cities."),
            json!({"type": "response.output_item.done", "sequence_number": 7, "output_index": 0, "item": rs}),
            json!({"type": "response.output_item.added", "sequence_number": 8, "output_index": 1,
                   "item": fc("fc_1", "call_paris", "get_weather", "", "in_progress")}),
            args_delta(9, "fc_1", 1, "{\"city\":"),
            args_delta(10, "fc_1", 1, "\"Paris\"}"),
            json!({"type": "response.function_call_arguments.done", "sequence_number": 11,
                   "item_id": "fc_1", "output_index": 1, "arguments": "{\"city\":\"Paris\"}"}),
            json!({"type": "response.output_item.done", "sequence_number": 12, "output_index": 1, "item": fc1}),
            json!({"type": "response.output_item.added", "sequence_number": 13, "output_index": 2,
                   "item": fc("fc_2", "call_rome", "get_weather", "", "in_progress")}),
            args_delta(14, "fc_2", 2, "{\"ci"),
            args_delta(15, "fc_2", 2, "ty\":\"Ro"),
            args_delta(16, "fc_2", 2, "me\"}"),
            json!({"type": "response.function_call_arguments.done", "sequence_number": 17,
                   "item_id": "fc_2", "output_index": 2, "arguments": "{\"city\":\"Rome\"}"}),
            json!({"type": "response.output_item.done", "sequence_number": 18, "output_index": 2, "item": fc2}),
            lifecycle(
                "response.completed",
                19,
                "completed",
                json!([rs, fc1, fc2]),
                json!({"input_tokens": 80, "input_tokens_details": {"cached_tokens": 64},
                       "output_tokens": 120, "output_tokens_details": {"reasoning_tokens": 90},
                       "total_tokens": 200}),
            ),
        ];
        let call = |index: u32, id: &str| {
            json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                                   "function": {"name": "get_weather", "arguments": ""}}]})
        };
        let args = |index: u32, a: &str| json!({"tool_calls": [{"index": index, "function": {"arguments": a}}]});
        let mut bridge = ResponsesToChatStream::new("gpt-5-pro");
        assert_eq!(
            run(&mut bridge, events).unwrap(),
            vec![
                chunk(json!({"role": "assistant"}), Value::Null),
                chunk(json!({"reasoning_content": "**Need**"}), Value::Null),
                chunk(json!({"reasoning_content": " weather."}), Value::Null),
                chunk(json!({"reasoning_content": "\n\nTwo cities."}), Value::Null),
                chunk(call(0, "call_paris"), Value::Null),
                chunk(args(0, "{\"city\":"), Value::Null),
                chunk(args(0, "\"Paris\"}"), Value::Null),
                chunk(call(1, "call_rome"), Value::Null),
                chunk(args(1, "{\"ci"), Value::Null),
                chunk(args(1, "ty\":\"Ro"), Value::Null),
                chunk(args(1, "me\"}"), Value::Null),
                chunk(json!({}), json!("tool_calls")),
                usage_chunk(json!({
                    "prompt_tokens": 80, "completion_tokens": 120, "total_tokens": 200,
                    "prompt_tokens_details": {"cached_tokens": 64},
                    "completion_tokens_details": {"reasoning_tokens": 90}
                })),
            ]
        );
    }

    #[test]
    fn stream_incomplete_ends_with_length() {
        let mut bridge = ResponsesToChatStream::new("gpt-5-pro");
        let mut incomplete = lifecycle(
            "response.incomplete",
            3,
            "incomplete",
            json!([]),
            Value::Null,
        );
        incomplete["response"]["incomplete_details"] = json!({"reason": "max_output_tokens"});
        let chunks = run(
            &mut bridge,
            vec![
                lifecycle("response.created", 0, "in_progress", json!([]), Value::Null),
                text_delta(1, "Once"),
                incomplete,
            ],
        )
        .unwrap();
        assert_eq!(
            chunks,
            vec![
                chunk(json!({"role": "assistant"}), Value::Null),
                chunk(json!({"content": "Once"}), Value::Null),
                chunk(json!({}), json!("length")),
            ]
        );
    }

    #[test]
    fn stream_failure_is_an_upstream_error() {
        let mut bridge = ResponsesToChatStream::new("gpt-5-pro");
        let chunks = run(
            &mut bridge,
            vec![
                lifecycle("response.created", 0, "in_progress", json!([]), Value::Null),
                text_delta(1, "Par"),
            ],
        )
        .unwrap();
        assert_eq!(
            chunks,
            vec![
                chunk(json!({"role": "assistant"}), Value::Null),
                chunk(json!({"content": "Par"}), Value::Null),
            ]
        );
        let mut failed = lifecycle("response.failed", 2, "failed", json!([]), Value::Null);
        failed["response"]["error"] =
            json!({"code": "server_error", "message": "The server had an error."});
        let err = run(&mut bridge, vec![failed]).unwrap_err();
        assert_eq!(
            err,
            ChatBridgeError::Upstream {
                code: Some("server_error".into()),
                message: "The server had an error.".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "upstream Responses API failed (server_error): The server had an error."
        );
        assert!(bridge.is_done());

        // An `error` event fails the stream the same way.
        let mut bridge = ResponsesToChatStream::new("gpt-5-pro");
        let err = run(
            &mut bridge,
            vec![
                json!({"type": "error", "sequence_number": 0, "code": "rate_limit_exceeded",
                        "message": "Slow down.", "param": null}),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err,
            ChatBridgeError::Upstream {
                code: Some("rate_limit_exceeded".into()),
                message: "Slow down.".into()
            }
        );

        // Arguments for a call never announced cannot be placed.
        let mut bridge = ResponsesToChatStream::new("gpt-5-pro");
        let err = run(
            &mut bridge,
            vec![
                json!({"type": "response.function_call_arguments.delta", "sequence_number": 0,
                        "item_id": "fc_9", "output_index": 0, "delta": "{"}),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "upstream Responses stream sent `response.function_call_arguments.delta` for item `fc_9` it never announced"
        );
    }
    #[test]
    fn stream_arguments_only_in_done_are_sent_once() {
        let mut bridge = ResponsesToChatStream::new("gpt-5-pro");
        let chunks = run(
            &mut bridge,
            vec![
                lifecycle("response.created", 0, "in_progress", json!([]), Value::Null),
                json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
                       "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1",
                                "name": "ls", "arguments": ""}}),
                json!({"type": "response.function_call_arguments.done", "sequence_number": 2,
                       "item_id": "fc_1", "output_index": 0, "arguments": "{}"}),
                json!({"type": "response.function_call_arguments.done", "sequence_number": 3,
                       "item_id": "fc_1", "output_index": 0, "arguments": "{}"}),
            ],
        )
        .unwrap();
        assert_eq!(
            chunks,
            vec![
                chunk(json!({"role": "assistant"}), Value::Null),
                chunk(
                    json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                           "function": {"name": "ls", "arguments": ""}}]}),
                    Value::Null
                ),
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
                    Value::Null
                ),
            ]
        );
    }

    #[test]
    fn request_custom_tool_round_trip() {
        let req = chat_request(json!({
            "model": "gpt-5-codex",
            "messages": [
                {"role": "user", "content": "patch it"},
                {"role": "assistant", "tool_calls": [
                    {"id": "call_p", "type": "custom", "custom": {"name": "apply_patch", "input": "*** Begin Patch"}}
                ]},
                {"role": "tool", "tool_call_id": "call_p", "content": "ok"}
            ],
            "tools": [{"type": "custom", "custom": {"name": "apply_patch", "description": "Edit files",
                                                    "format": {"type": "text"}}}]
        }));
        assert_eq!(
            serde_json::to_value(to_responses_request(&req).unwrap()).unwrap(),
            json!({
                "model": "gpt-5-codex",
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "patch it"}]},
                    {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": "*** Begin Patch"},
                    {"type": "custom_tool_call_output", "call_id": "call_p", "output": "ok"}
                ],
                "tools": [{"type": "custom", "name": "apply_patch", "description": "Edit files",
                           "format": {"type": "text"}}],
                "store": false
            })
        );
    }
}
