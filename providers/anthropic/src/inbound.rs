//! Anthropic's Messages API served from any OpenAI-shaped model: a client's
//! `POST /v1/messages` body → an OpenAI chat request, and the chat answer
//! (whole or as chunks) → Anthropic's message and event stream (pure; the
//! gateway's `/v1/messages` route does the HTTP).
//!
//! This is the inverse of the outbound codec ([`crate::request`],
//! [`crate::response`], [`crate::stream`]) and speaks the same [`crate::wire`]
//! types, so there is one definition of Anthropic's format in llmux.
//!
//! What OpenAI's chat shape cannot carry is refused with a 400 naming the
//! field (hosted tools' blocks, a tool choice of an unknown type), except
//! earlier thinking in assistant turns, which is dropped: OpenAI-shaped
//! providers have no field for it (the native path sends it as it came).

use llmux_core::types::chat::{
    AssistantMessage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage,
    ContentPart, Extra, FilePart, FileRef, FinishReason, FunctionDefinition, ImageUrl,
    ImageUrlPart, MessageContent, TextPart, Tool as ChatTool, ToolCall, ToolChoice as ChatChoice,
    ToolMessage, Usage as ChatUsage, UserMessage,
};
use llmux_core::types::OneOrMany;
use llmux_core::Error;
use serde_json::{json, Value};

use crate::error::type_for_kind;
use crate::wire::{
    BlockDelta, Content, ContentBlock, DocumentBlock, ErrorBody, ErrorDetail, ImageBlock,
    MessageDeltaBody, MessagesRequest, MessagesResponse, RedactedThinkingBlock, Role, Source,
    StreamEvent, System, TextBlock, ThinkingBlock, ToolResultBlock, ToolUseBlock, Usage,
};

fn bad(message: impl Into<String>) -> Error {
    Error::bad_request(message)
}

/// Anthropic's error body for an error of any origin.
pub fn error_body(e: &Error) -> ErrorBody {
    ErrorBody {
        r#type: "error".into(),
        error: ErrorDetail {
            r#type: type_for_kind(e.kind).into(),
            message: e.message.clone(),
        },
        request_id: None,
    }
}

/// A client's Messages request → an OpenAI chat request for the router.
pub fn to_chat(req: MessagesRequest) -> Result<ChatCompletionRequest, Error> {
    let max_tokens = req
        .max_tokens
        .ok_or_else(|| bad("max_tokens: Field required"))?;
    let mut messages = Vec::new();
    if let Some(system) = req.system {
        messages.push(ChatMessage::system(system_text(system)));
    }
    for (i, m) in req.messages.into_iter().enumerate() {
        let at = format!("messages[{i}]");
        match (m.role, m.content) {
            (Role::System, content) => messages.push(ChatMessage::system(match content {
                Content::Text(t) => t,
                Content::Blocks(b) => system_text(System::Blocks(b)),
            })),
            (Role::User, Content::Text(t)) => messages.push(ChatMessage::user(t)),
            (Role::Assistant, Content::Text(t)) => messages.push(ChatMessage::assistant(t)),
            (Role::User, Content::Blocks(blocks)) => user_turn(blocks, &at, &mut messages)?,
            (Role::Assistant, Content::Blocks(blocks)) => {
                messages.push(assistant_turn(blocks, &at)?)
            }
        }
    }
    let mut chat = ChatCompletionRequest::new(req.model, messages);
    chat.max_tokens = Some(max_tokens);
    chat.temperature = req.temperature;
    chat.top_p = req.top_p;
    chat.stop = req.stop_sequences.map(OneOrMany::Many);
    chat.stream = req.stream;
    chat.user = req.metadata.and_then(|m| m.user_id);
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
                .enumerate()
                .map(|(i, t)| match t.r#type.as_deref() {
                    None | Some("custom") => Ok(ChatTool::function(FunctionDefinition {
                        name: t.name,
                        description: t.description,
                        parameters: t.input_schema,
                        strict: None,
                    })),
                    Some(hosted) => Err(bad(format!(
                        "tools[{i}].type: '{hosted}' is a tool Anthropic runs itself; this model group's deployment speaks OpenAI's chat API and cannot run it"
                    ))),
                })
                .collect::<Result<_, _>>()?,
        );
    }
    if let Some(tc) = req.tool_choice {
        chat.tool_choice = Some(match tc.r#type.as_str() {
            "auto" => ChatChoice::Auto,
            "any" => ChatChoice::Required,
            "none" => ChatChoice::None,
            "tool" => ChatChoice::Function(
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

/// The text of a system prompt (text blocks joined by newlines).
fn system_text(system: System) -> String {
    match system {
        System::Text(t) => t,
        System::Blocks(blocks) => blocks
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// A user turn's blocks: tool results become `tool` messages, the rest one
/// `user` message of parts.
fn user_turn(
    blocks: Vec<ContentBlock>,
    at: &str,
    messages: &mut Vec<ChatMessage>,
) -> Result<(), Error> {
    let mut parts = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        match block {
            ContentBlock::Text(t) => parts.push(ContentPart::Text(TextPart {
                text: t.text,
                extra: Extra::new(),
            })),
            ContentBlock::Image(ImageBlock { source, .. }) => {
                parts.push(ContentPart::ImageUrl(ImageUrlPart {
                    image_url: ImageUrl {
                        url: source_url(source, &at)?,
                        detail: None,
                        format: None,
                    },
                    extra: Extra::new(),
                }))
            }
            ContentBlock::Document(DocumentBlock { source, .. }) => parts.push(match source {
                Source::Text { data, .. } => ContentPart::Text(TextPart {
                    text: data,
                    extra: Extra::new(),
                }),
                Source::File { file_id } => file_part(Some(file_id), None),
                source => file_part(None, Some(source_url(source, &at)?)),
            }),
            ContentBlock::ToolResult(ToolResultBlock {
                tool_use_id,
                content,
                ..
            }) => messages.push(ChatMessage::Tool(ToolMessage {
                content: MessageContent::Text(content.map(content_text).unwrap_or_default()),
                tool_call_id: tool_use_id,
                extra: Extra::new(),
            })),
            other => return Err(unsupported(&other, &at, "a user turn")),
        }
    }
    if !parts.is_empty() {
        messages.push(ChatMessage::User(UserMessage {
            content: MessageContent::Parts(parts),
            name: None,
            extra: Extra::new(),
        }));
    }
    Ok(())
}

/// An assistant turn: its text and its tool calls.
fn assistant_turn(blocks: Vec<ContentBlock>, at: &str) -> Result<ChatMessage, Error> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        match block {
            ContentBlock::Text(t) => text.push_str(&t.text),
            ContentBlock::ToolUse(ToolUseBlock {
                id, name, input, ..
            }) => calls.push(ToolCall::function(
                id,
                name,
                if input.is_null() {
                    "{}".to_string()
                } else {
                    input.to_string()
                },
            )),
            ContentBlock::Thinking(_) | ContentBlock::RedactedThinking(_) => {}
            other => {
                return Err(unsupported(
                    &other,
                    &format!("{at}.content[{j}]"),
                    "an assistant turn",
                ))
            }
        }
    }
    Ok(ChatMessage::Assistant(AssistantMessage {
        content: (!text.is_empty()).then_some(MessageContent::Text(text)),
        tool_calls: (!calls.is_empty()).then_some(calls),
        ..Default::default()
    }))
}

fn file_part(file_id: Option<String>, file_data: Option<String>) -> ContentPart {
    ContentPart::File(FilePart {
        file: FileRef {
            file_id,
            file_data,
            filename: None,
            format: None,
        },
        extra: Extra::new(),
    })
}

/// An image's or document's source as a URL OpenAI-shaped providers accept.
fn source_url(source: Source, at: &str) -> Result<String, Error> {
    match source {
        Source::Base64 { media_type, data } => Ok(format!("data:{media_type};base64,{data}")),
        Source::Url { url } => Ok(url),
        Source::Text { .. } | Source::File { .. } => Err(bad(format!(
            "{at}.source.type: this source type is supported on documents only"
        ))),
        Source::Other(v) => Err(bad(format!(
            "{at}.source.type: unsupported source type {}",
            v.get("type").unwrap_or(&Value::Null)
        ))),
    }
}

/// A tool result's content as text (text blocks concatenated).
fn content_text(content: Content) -> String {
    match content {
        Content::Text(t) => t,
        Content::Blocks(blocks) => blocks
            .into_iter()
            .filter_map(|b| match b {
                ContentBlock::Text(t) => Some(t.text),
                _ => None,
            })
            .collect(),
    }
}

/// The 400 for a block a turn cannot carry: a block of a known type that did
/// not parse names what is wrong with it; an unknown type is named as such.
fn unsupported(block: &ContentBlock, at: &str, turn: &str) -> Error {
    let ContentBlock::Other(raw) = block else {
        let kind = serde_json::to_value(block)
            .ok()
            .and_then(|v| v.get("type").cloned())
            .unwrap_or(Value::Null);
        return bad(format!(
            "{at}.type: a {kind} block is not allowed in {turn}"
        ));
    };
    let kind = raw.get("type").and_then(Value::as_str);
    let invalid = |e: serde_json::Error| bad(format!("{at}: invalid {kind:?} block: {e}"));
    let parsed = match kind {
        Some("text") => serde_json::from_value::<TextBlock>(raw.clone()).map(drop),
        Some("image") => serde_json::from_value::<ImageBlock>(raw.clone()).map(drop),
        Some("document") => serde_json::from_value::<DocumentBlock>(raw.clone()).map(drop),
        Some("tool_use") => serde_json::from_value::<ToolUseBlock>(raw.clone()).map(drop),
        Some("tool_result") => serde_json::from_value::<ToolResultBlock>(raw.clone()).map(drop),
        Some("thinking") => serde_json::from_value::<ThinkingBlock>(raw.clone()).map(drop),
        Some("redacted_thinking") => {
            serde_json::from_value::<RedactedThinkingBlock>(raw.clone()).map(drop)
        }
        _ => {
            return bad(format!(
                "{at}.type: unsupported content block {kind:?} in {turn}"
            ))
        }
    };
    match parsed {
        Err(e) => invalid(e),
        Ok(()) => bad(format!("{at}: invalid {kind:?} block")),
    }
}

/// Anthropic's `stop_reason` for an OpenAI finish reason.
pub fn stop_reason(finish: Option<&FinishReason>) -> &'static str {
    match finish {
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls) | Some(FinishReason::FunctionCall) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
        _ => "end_turn",
    }
}

/// A message id in Anthropic's `msg_` form.
pub fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_string()
    } else {
        format!("msg_{}", id.trim_start_matches("chatcmpl-"))
    }
}

/// OpenAI usage → Anthropic's, where `input_tokens` excludes the cached and
/// cache-written tokens (every count present, zero when unknown).
pub fn usage(u: Option<&ChatUsage>) -> Usage {
    let Some(u) = u else {
        return Usage {
            input_tokens: Some(0),
            output_tokens: Some(0),
            ..Default::default()
        };
    };
    let cached = u.cached_tokens();
    let created = u
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cache_creation_tokens)
        .unwrap_or(0);
    Usage {
        input_tokens: Some(u.prompt_tokens.saturating_sub(cached + created)),
        output_tokens: Some(u.completion_tokens),
        cache_read_input_tokens: Some(cached),
        cache_creation_input_tokens: Some(created),
        extra: Extra::new(),
    }
}

/// An OpenAI completion → Anthropic's message.
pub fn to_message(c: &ChatCompletion) -> MessagesResponse {
    let choice = c.choices.first();
    let mut content = Vec::new();
    if let Some(m) = choice.map(|c| &c.message) {
        if let Some(r) = &m.reasoning_content {
            let signature = m
                .thinking_blocks
                .as_ref()
                .and_then(|b| b.first())
                .and_then(|b| b.get("signature"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            content.push(ContentBlock::Thinking(ThinkingBlock {
                thinking: r.clone(),
                signature: Some(signature.to_string()),
                extra: Extra::new(),
            }));
        }
        if let Some(t) = m.content.as_deref().filter(|t| !t.is_empty()) {
            content.push(ContentBlock::Text(TextBlock::new(t)));
        }
        for call in m.tool_calls.iter().flatten() {
            let input = serde_json::from_str(&call.function.arguments).unwrap_or(json!({}));
            content.push(tool_use(call.id.clone(), call.function.name.clone(), input));
        }
    }
    MessagesResponse {
        id: message_id(&c.id),
        r#type: "message".into(),
        role: Some(Role::Assistant),
        content,
        model: c.model.clone(),
        stop_reason: Some(stop_reason(choice.and_then(|c| c.finish_reason.as_ref())).into()),
        stop_sequence: None,
        usage: usage(c.usage.as_ref()),
        extra: Extra::new(),
    }
}

fn tool_use(id: String, name: String, input: Value) -> ContentBlock {
    ContentBlock::ToolUse(ToolUseBlock {
        id,
        name,
        input,
        cache_control: None,
        extra: Extra::new(),
    })
}

/// Which content block is open in the event stream.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    None,
    Thinking(u32),
    Text(u32),
    /// The block's index and the OpenAI tool call's index.
    Tool(u32, u32),
}

/// OpenAI chat chunks → Anthropic's stream events, in Anthropic's order:
/// `message_start`, then per block `content_block_start`, its deltas and
/// `content_block_stop`, then `message_delta` and `message_stop`.
#[derive(Debug)]
pub struct EventEncoder {
    started: bool,
    open: Open,
    next_index: u32,
    finish: Option<FinishReason>,
}

impl Default for EventEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl EventEncoder {
    /// An encoder before its first chunk.
    pub fn new() -> Self {
        EventEncoder {
            started: false,
            open: Open::None,
            next_index: 0,
            finish: None,
        }
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        let index = match self.open {
            Open::None => return,
            Open::Thinking(i) | Open::Text(i) | Open::Tool(i, _) => i,
        };
        out.push(StreamEvent::ContentBlockStop { index });
        self.open = Open::None;
    }

    /// Close the open block and start `block`; `open` is the new state given
    /// the block's index.
    fn start(
        &mut self,
        block: ContentBlock,
        open: impl FnOnce(u32) -> Open,
        out: &mut Vec<StreamEvent>,
    ) -> u32 {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push(StreamEvent::ContentBlockStart {
            index,
            content_block: block,
        });
        self.open = open(index);
        index
    }

    /// The events for one chunk (only choice 0 is translated).
    pub fn push(&mut self, chunk: &ChatCompletionChunk, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::MessageStart {
                message: MessagesResponse {
                    id: message_id(&chunk.id),
                    r#type: "message".into(),
                    role: Some(Role::Assistant),
                    model: chunk.model.clone(),
                    usage: usage(None),
                    ..Default::default()
                },
            });
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let d = &choice.delta;
            if let Some(r) = d.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
                let index = match self.open {
                    Open::Thinking(i) => i,
                    _ => self.start(
                        ContentBlock::Thinking(ThinkingBlock::default()),
                        Open::Thinking,
                        out,
                    ),
                };
                let delta = BlockDelta::ThinkingDelta {
                    thinking: r.to_string(),
                };
                out.push(StreamEvent::ContentBlockDelta { index, delta });
            }
            if let Some(t) = d.content.as_deref().filter(|t| !t.is_empty()) {
                let index = match self.open {
                    Open::Text(i) => i,
                    _ => self.start(ContentBlock::Text(TextBlock::new("")), Open::Text, out),
                };
                let delta = BlockDelta::TextDelta {
                    text: t.to_string(),
                };
                out.push(StreamEvent::ContentBlockDelta { index, delta });
            }
            for tc in d.tool_calls.iter().flatten() {
                let index = match self.open {
                    Open::Tool(i, k) if k == tc.index => i,
                    _ => {
                        let name = tc.function.as_ref().and_then(|f| f.name.clone());
                        let id = tc.id.clone();
                        let id = id.unwrap_or_else(|| format!("toolu_{}", tc.index));
                        let block = tool_use(id, name.unwrap_or_default(), json!({}));
                        self.start(block, |i| Open::Tool(i, tc.index), out)
                    }
                };
                let args = tc.function.as_ref().and_then(|f| f.arguments.as_deref());
                if let Some(args) = args.filter(|a| !a.is_empty()) {
                    let delta = BlockDelta::InputJsonDelta {
                        partial_json: args.to_string(),
                    };
                    out.push(StreamEvent::ContentBlockDelta { index, delta });
                }
            }
            if choice.finish_reason.is_some() {
                self.finish.clone_from(&choice.finish_reason);
            }
        }
    }

    /// The closing events, with the whole call's usage.
    pub fn finish(&mut self, total: &ChatUsage, out: &mut Vec<StreamEvent>) {
        self.close(out);
        out.push(StreamEvent::MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: Some(stop_reason(self.finish.as_ref()).into()),
                stop_sequence: None,
                extra: Extra::new(),
            },
            usage: Some(usage(Some(total))),
        });
        out.push(StreamEvent::MessageStop);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(v: Value) -> MessagesRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn system_turns_mid_conversation_become_system_messages() {
        let chat = to_chat(request(json!({
            "model": "claude-sonnet", "max_tokens": 10,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
                {"role": "user", "content": "again"}
            ]
        })))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&chat.messages).unwrap(),
            json!([
                {"role": "user", "content": "hi"},
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "again"}
            ])
        );
    }

    #[test]
    fn bad_blocks_name_the_field() {
        let err = |v: Value| to_chat(request(v)).unwrap_err().message.clone();
        assert_eq!(
            err(json!({"model": "m", "messages": []})),
            "max_tokens: Field required"
        );
        let msg = err(json!({"model": "m", "max_tokens": 1, "messages": [
            {"role": "user", "content": [{"type": "text"}]}]}));
        assert_eq!(
            msg,
            "messages[0].content[0]: invalid Some(\"text\") block: missing field `text`"
        );
        let msg = err(json!({"model": "m", "max_tokens": 1, "messages": [
            {"role": "user", "content": [{"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}]}]}));
        assert_eq!(
            msg,
            "messages[0].content[0].type: unsupported content block Some(\"server_tool_use\") in a user turn"
        );
        let msg = err(json!({"model": "m", "max_tokens": 1, "messages": [
            {"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]}));
        assert_eq!(
            msg,
            "messages[0].content[0].type: a \"tool_result\" block is not allowed in an assistant turn"
        );
        let msg = err(json!({"model": "m", "max_tokens": 1,
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "messages": [{"role": "user", "content": "q"}]}));
        assert!(
            msg.starts_with("tools[0].type: 'web_search_20250305'"),
            "{msg}"
        );
    }

    #[test]
    fn documents_map_by_source() {
        let chat = to_chat(request(json!({"model": "m", "max_tokens": 1, "messages": [
            {"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
                {"type": "document", "source": {"type": "file", "file_id": "file_1"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}
            ]}]})))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&chat.messages[0]).unwrap()["content"],
            json!([
                {"type": "text", "text": "notes"},
                {"type": "file", "file": {"file_id": "file_1"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}}
            ])
        );
    }

    #[test]
    fn events_carry_blocks_in_order() {
        let chunk = |delta: Value, finish: Value| -> ChatCompletionChunk {
            serde_json::from_value(
                json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                "created": 1, "model": "gpt-4o",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
            )
            .unwrap()
        };
        let mut enc = EventEncoder::new();
        let mut out = Vec::new();
        enc.push(
            &chunk(json!({"reasoning_content": "hm"}), Value::Null),
            &mut out,
        );
        enc.push(&chunk(json!({"content": "Hi"}), Value::Null), &mut out);
        enc.push(
            &chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
                json!("tool_calls"),
            ),
            &mut out,
        );
        enc.finish(&ChatUsage::new(7, 3), &mut out);
        let got: Vec<Value> = out
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        assert_eq!(
            got,
            vec![
                json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "gpt-4o", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 0, "output_tokens": 0}}}),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}}),
                json!({"type": "content_block_stop", "index": 0}),
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}}),
                json!({"type": "content_block_stop", "index": 1}),
                json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "call_1", "name": "f", "input": {}}}),
                json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
                json!({"type": "content_block_stop", "index": 2}),
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}}),
                json!({"type": "message_stop"}),
            ]
        );
    }
}
