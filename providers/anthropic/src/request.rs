//! OpenAI chat request → Anthropic `MessagesRequest` (pure).
//!
//! - `system`/`developer` messages (wherever they appear) → top-level
//!   `system`: a string for one plain text, else text blocks (which keep
//!   `cache_control`);
//! - `user` and `tool` messages → `user` turns, `assistant` → `assistant`
//!   turns; consecutive turns of one role are merged into one, so several
//!   `tool` results in a row become one user turn of `tool_result` blocks;
//! - parts: text, images (`data:` URL → base64 source, `http(s)` URL → url
//!   source), files (PDF/other `data:` → base64 document, `text/plain` →
//!   text document, `file_id` → file source with the Files API beta);
//!   `cache_control` on a part, a message (→ its last block) or a tool is
//!   passed through (prompt caching);
//! - assistant `tool_calls` → `tool_use` blocks (arguments parsed back into
//!   JSON), `thinking_blocks` sent back → `thinking`/`redacted_thinking`
//!   blocks ahead of the text;
//! - `max_tokens`/`max_completion_tokens` (default [`DEFAULT_MAX_TOKENS`],
//!   plus the thinking budget when thinking is on), `stop` →
//!   `stop_sequences`, `temperature`, `top_p`, `top_k`, `user` →
//!   `metadata.user_id`, tools, `tool_choice`, `parallel_tool_calls`,
//!   `response_format` (a forced tool, see [`JSON_TOOL_NAME`]),
//!   `reasoning_effort`/`thinking` → `thinking`.

use base64::Engine;
use llmux_core::codec::{base64_data_url, pass_through, tool_arguments_object};
use llmux_core::types::chat::{
    AssistantMessage, ChatCompletionRequest, ChatMessage, ContentPart, FilePart, MessageContent,
    ResponseFormat, ToolChoice as OaiToolChoice,
};
use llmux_core::{Error, Result};
use serde_json::{json, Map, Value};

use crate::wire::{
    Content, ContentBlock, DocumentBlock, ImageBlock, Message, MessagesRequest, Metadata, Role,
    Source, System, TextBlock, Tool, ToolChoice, ToolResultBlock, ToolUseBlock,
};

/// Name of the tool that emulates `response_format` (LiteLLM's name).
pub const JSON_TOOL_NAME: &str = "json_tool_call";

/// The beta of Anthropic's native structured outputs (`output_format`).
pub const STRUCTURED_OUTPUTS_BETA: &str = "structured-outputs-2025-11-13";

/// Whether `model` has native structured outputs: Claude Sonnet 4.5, Opus
/// 4.1 and 4.5, Haiku 4.5 (LiteLLM's list); other models get the forced
/// `json_tool_call` tool.
pub fn native_structured_outputs(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    ["sonnet-4-5", "opus-4-1", "opus-4-5", "haiku-4-5"]
        .iter()
        .any(|f| m.contains(f))
}

/// The schema `response_format` asks for, when `model` takes it natively
/// (an object schema; anything else is emulated with the tool).
fn native_schema(request: &ChatCompletionRequest) -> Option<&Value> {
    match &request.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => json_schema
            .schema
            .as_ref()
            .filter(|s| s.get("type").and_then(Value::as_str) == Some("object"))
            .filter(|_| native_structured_outputs(&request.model)),
        _ => None,
    }
}
/// `max_tokens` sent when the caller sets none (LiteLLM's default). Anthropic
/// requires the field and reserves output-token rate limit for all of it, so
/// the default stays modest rather than the model's maximum.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;
/// Beta needed to reference uploaded files by `file_id`.
pub const FILES_API_BETA: &str = "files-api-2025-04-14";

/// How `response_format` was emulated, so the answer can be turned back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonMode {
    /// The schema was not an object and was wrapped as `{"values": schema}`.
    pub wrapped: bool,
}

/// An encoded request and what decoding its answer needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The `/v1/messages` request body.
    pub body: MessagesRequest,
    /// Set when `response_format` was turned into the `json_tool_call` tool, so the
    /// reply's call to that tool is read back as message content.
    pub json_mode: Option<JsonMode>,
    /// `anthropic-beta` values the body needs.
    pub betas: Vec<&'static str>,
}

/// The largest output of `model`: the price table's `max_output_tokens`
/// (as LiteLLM reads it), else what Anthropic documents for the model's
/// family — also for platform ids (`us.anthropic.claude-…-v1:0` on Bedrock,
/// `claude-…@2025…` on Vertex AI); `None` when unknown.
pub fn max_output_tokens(model: &str) -> Option<u32> {
    let from_table = [model.to_string(), format!("anthropic/{model}")]
        .iter()
        .find_map(|m| llmux_cost::get_model_info(m).ok()?.max_output_tokens);
    if let Some(n) = from_table {
        return Some(u32::try_from(n).unwrap_or(u32::MAX));
    }
    let m = model.to_ascii_lowercase();
    let m = m.rsplit("anthropic.").next().unwrap_or(&m);
    let table: &[(&str, u32)] = &[
        ("claude-opus-4-5", 64_000),
        ("claude-opus-4-1", 32_000),
        ("claude-opus-4", 32_000),
        ("claude-sonnet-4", 64_000),
        ("claude-haiku-4-5", 64_000),
        ("claude-3-7-sonnet", 64_000),
        ("claude-3-5-sonnet", 8_192),
        ("claude-3-5-haiku", 8_192),
        ("claude-3-opus", 4_096),
        ("claude-3-sonnet", 4_096),
        ("claude-3-haiku", 4_096),
    ];
    table
        .iter()
        .find(|(prefix, _)| m.starts_with(prefix))
        .map(|(_, n)| *n)
}

/// `max_tokens` for a request that sets none: the model's maximum output
/// (LiteLLM's default too, so answers are not cut at 4,096 tokens), else
/// [`DEFAULT_MAX_TOKENS`].
pub fn default_max_tokens(model: &str) -> u32 {
    max_output_tokens(model).unwrap_or(DEFAULT_MAX_TOKENS)
}

fn bad(message: impl Into<String>) -> Error {
    Error::bad_request(message)
}

/// The `/v1/messages` body for `request`.
pub fn encode(request: &ChatCompletionRequest) -> Result<Encoded> {
    check_unsupported(request)?;
    let mut betas = Vec::new();
    let (system, messages) = messages(&request.messages, &mut betas)?;
    let thinking = thinking(request)?;
    let budget = thinking.as_ref().and_then(thinking_budget);
    let max_tokens = match (request.max_output_tokens(), budget) {
        (Some(m), _) => m,
        (None, Some(b)) => {
            let wanted = b.saturating_add(DEFAULT_MAX_TOKENS);
            match max_output_tokens(&request.model) {
                Some(cap) if cap > b => wanted.min(cap),
                _ => wanted,
            }
        }
        (None, None) => default_max_tokens(&request.model),
    };
    let mut body = MessagesRequest {
        model: request.model.clone(),
        messages,
        max_tokens: Some(max_tokens),
        system,
        stop_sequences: request
            .stop
            .as_ref()
            .map(|s| s.to_vec())
            .filter(|s| !s.is_empty()),
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: top_k(request)?,
        metadata: request
            .user
            .as_deref()
            .filter(|u| usable_user_id(u))
            .map(|u| Metadata {
                user_id: Some(u.to_string()),
                extra: Map::new(),
            }),
        stream: request.stream.filter(|s| *s),
        tools: None,
        tool_choice: None,
        thinking,
        service_tier: request
            .service_tier
            .clone()
            .filter(|t| t == "auto" || t == "standard_only"),
        extra: Map::new(),
    };
    let mut tools = tools(request)?;
    body.tool_choice = tool_choice(request)?;
    let json_mode = match json_tool(request)? {
        Some((tool, mode)) => {
            tools.get_or_insert_with(Vec::new).push(tool);
            // Anthropic refuses a forced tool while thinking; the model is
            // then only asked (by the tool's presence) to answer through it.
            if budget.is_none() {
                body.tool_choice = Some(ToolChoice {
                    r#type: "tool".into(),
                    name: Some(JSON_TOOL_NAME.into()),
                    disable_parallel_tool_use: None,
                });
            }
            Some(mode)
        }
        None => None,
    };
    body.tools = tools;
    if let Some(schema) = native_schema(request) {
        body.extra.insert(
            "output_format".into(),
            json!({"type": "json_schema", "schema": schema}),
        );
        betas.push(STRUCTURED_OUTPUTS_BETA);
    }
    let passed = ["container", "mcp_servers", "context_management"];
    pass_through(&mut body.extra, &request.extra, &passed);
    Ok(Encoded {
        body,
        json_mode,
        betas,
    })
}

/// The `/v1/messages/count_tokens` body for `request`: what goes into the
/// prompt (model, system, messages, tools, tool choice, thinking), nothing
/// about sampling.
pub fn encode_count_tokens(request: &ChatCompletionRequest) -> Result<Encoded> {
    let mut encoded = encode(request)?;
    let b = &mut encoded.body;
    b.max_tokens = None;
    b.stream = None;
    b.stop_sequences = None;
    b.temperature = None;
    b.top_p = None;
    b.top_k = None;
    b.metadata = None;
    b.service_tier = None;
    b.extra.remove("container");
    b.extra.remove("context_management");
    Ok(encoded)
}

fn drop_params(request: &ChatCompletionRequest) -> bool {
    request.drop_params == Some(true)
}

/// OpenAI parameters Anthropic has no equivalent for: a `BadRequest`, or
/// silently dropped when the request sets `drop_params: true`.
fn check_unsupported(request: &ChatCompletionRequest) -> Result<()> {
    let mut found: Vec<&str> = Vec::new();
    if request.n.is_some_and(|n| n > 1) {
        found.push("n");
    }
    if request.presence_penalty.is_some() {
        found.push("presence_penalty");
    }
    if request.frequency_penalty.is_some() {
        found.push("frequency_penalty");
    }
    if request.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
        found.push("logit_bias");
    }
    if request.logprobs == Some(true) {
        found.push("logprobs");
    }
    if request.top_logprobs.is_some() {
        found.push("top_logprobs");
    }
    if request.seed.is_some() {
        found.push("seed");
    }
    if request.audio.is_some() {
        found.push("audio");
    }
    if request.prediction.is_some() {
        found.push("prediction");
    }
    if request
        .modalities
        .as_ref()
        .is_some_and(|m| m.iter().any(|x| x != "text"))
    {
        found.push("modalities");
    }
    match found.first() {
        Some(first) if !drop_params(request) => Err(bad(format!(
            "Anthropic does not support {} (set drop_params: true to drop {})",
            found.join(", "),
            if found.len() == 1 { "it" } else { "them" }
        ))
        .with_param(*first)),
        _ => Ok(()),
    }
}

fn top_k(request: &ChatCompletionRequest) -> Result<Option<u32>> {
    match request.extra.get("top_k") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|k| u32::try_from(k).ok())
            .map(Some)
            .ok_or_else(|| bad("top_k must be a non-negative integer").with_param("top_k")),
    }
}

/// Whether `user` may go to Anthropic as `metadata.user_id`: Anthropic asks
/// for an opaque id, never an email address or phone number, so those are
/// left out (as LiteLLM does).
pub fn usable_user_id(user: &str) -> bool {
    let t = user.trim();
    if t.is_empty() {
        return false;
    }
    let email = !t.contains(char::is_whitespace)
        && t.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    let digits = t.strip_prefix('+').unwrap_or(t);
    let phone = digits
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '-'))
        && digits.chars().filter(char::is_ascii_digit).count() >= 7;
    !email && !phone
}

/// `thinking`: an explicit Anthropic `thinking` object wins; else
/// `reasoning_effort` → a budget (`minimal`/`low` 1024, `medium` 2048,
/// `high` 4096; `none` → no thinking).
fn thinking(request: &ChatCompletionRequest) -> Result<Option<Value>> {
    if let Some(t) = request.extra.get("thinking").filter(|t| !t.is_null()) {
        return Ok(Some(t.clone()));
    }
    let Some(effort) = &request.reasoning_effort else {
        return Ok(None);
    };
    let budget = match effort.to_ascii_lowercase().as_str() {
        "minimal" | "low" => 1024,
        "medium" => 2048,
        "high" => 4096,
        "none" | "disable" | "disabled" => return Ok(None),
        other => {
            return Err(bad(format!(
                "unknown reasoning_effort '{other}' (expected minimal, low, medium, high or none)"
            ))
            .with_param("reasoning_effort"))
        }
    };
    Ok(Some(json!({"type": "enabled", "budget_tokens": budget})))
}

/// The budget of an enabled `thinking` object.
pub fn thinking_budget(thinking: &Value) -> Option<u32> {
    if thinking.get("type").and_then(Value::as_str) != Some("enabled") {
        return None;
    }
    thinking
        .get("budget_tokens")
        .and_then(Value::as_u64)
        .and_then(|b| u32::try_from(b).ok())
}

fn cache_control(extra: &Map<String, Value>) -> Option<Value> {
    extra.get("cache_control").filter(|v| !v.is_null()).cloned()
}

/// Put a message-level `cache_control` on its last block (unless it has one).
fn mark_last(blocks: &mut [ContentBlock], cc: Option<Value>) {
    let Some(cc) = cc else { return };
    let slot = match blocks.last_mut() {
        Some(ContentBlock::Text(b)) => &mut b.cache_control,
        Some(ContentBlock::Image(b)) => &mut b.cache_control,
        Some(ContentBlock::Document(b)) => &mut b.cache_control,
        Some(ContentBlock::ToolUse(b)) => &mut b.cache_control,
        Some(ContentBlock::ToolResult(b)) => &mut b.cache_control,
        _ => return,
    };
    if slot.is_none() {
        *slot = Some(cc);
    }
}

fn text_block(text: &str, cc: Option<Value>) -> Option<ContentBlock> {
    // Anthropic rejects empty text blocks.
    (!text.is_empty()).then(|| {
        ContentBlock::Text(TextBlock {
            text: text.to_string(),
            cache_control: cc,
            ..Default::default()
        })
    })
}

type Turns = Vec<(Role, Vec<ContentBlock>)>;

fn push_turn(turns: &mut Turns, role: Role, blocks: Vec<ContentBlock>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// Top-level `system` and the conversation's `messages`.
fn messages(
    messages: &[ChatMessage],
    betas: &mut Vec<&'static str>,
) -> Result<(Option<System>, Vec<Message>)> {
    let mut system: Vec<TextBlock> = Vec::new();
    let mut turns: Turns = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        match message {
            ChatMessage::System(m) | ChatMessage::Developer(m) => {
                let message_cc = cache_control(&m.extra);
                let start = system.len();
                match &m.content {
                    MessageContent::Text(t) => {
                        if !t.is_empty() {
                            system.push(TextBlock::new(t.as_str()));
                        }
                    }
                    MessageContent::Parts(parts) => {
                        for (j, p) in parts.iter().enumerate() {
                            match p {
                                ContentPart::Text(t) if !t.text.is_empty() => {
                                    system.push(TextBlock {
                                        text: t.text.clone(),
                                        cache_control: cache_control(&t.extra),
                                        ..Default::default()
                                    })
                                }
                                ContentPart::Text(_) => {}
                                _ => {
                                    return Err(bad(format!(
                                        "{at}.content[{j}]: a {} message can only hold text",
                                        message.role()
                                    )))
                                }
                            }
                        }
                    }
                }
                if system.len() > start {
                    if let (Some(cc), Some(last)) = (message_cc, system.last_mut()) {
                        if last.cache_control.is_none() {
                            last.cache_control = Some(cc);
                        }
                    }
                }
            }
            ChatMessage::User(m) => {
                let mut blocks = user_blocks(&m.content, &at, betas)?;
                mark_last(&mut blocks, cache_control(&m.extra));
                push_turn(&mut turns, Role::User, blocks);
            }
            ChatMessage::Assistant(m) => {
                let mut blocks = assistant_blocks(m, &at)?;
                mark_last(&mut blocks, cache_control(&m.extra));
                push_turn(&mut turns, Role::Assistant, blocks);
            }
            ChatMessage::Tool(m) => {
                let content = match &m.content {
                    MessageContent::Text(t) => Content::Text(t.clone()),
                    parts @ MessageContent::Parts(_) => {
                        Content::Blocks(user_blocks(parts, &at, betas)?)
                    }
                };
                let block = ContentBlock::ToolResult(ToolResultBlock {
                    tool_use_id: m.tool_call_id.clone(),
                    content: Some(content),
                    is_error: None,
                    cache_control: cache_control(&m.extra),
                    extra: Map::new(),
                });
                push_turn(&mut turns, Role::User, vec![block]);
            }
            ChatMessage::Function(_) => {
                return Err(bad(format!(
                    "{at}: the deprecated function role cannot be sent to Anthropic; use tool_calls and tool messages"
                )))
            }
        }
    }
    trim_final_assistant(&mut turns);
    let system = match system.len() {
        0 => None,
        1 if system[0].cache_control.is_none() => {
            Some(System::Text(std::mem::take(&mut system[0].text)))
        }
        _ => Some(System::Blocks(
            system.into_iter().map(ContentBlock::Text).collect(),
        )),
    };
    let messages = turns
        .into_iter()
        .map(|(role, blocks)| Message {
            role,
            content: Content::Blocks(blocks),
        })
        .collect();
    Ok((system, messages))
}

/// Anthropic rejects a final (prefill) assistant turn ending in whitespace.
fn trim_final_assistant(turns: &mut Turns) {
    let Some((Role::Assistant, blocks)) = turns.last_mut() else {
        return;
    };
    if let Some(ContentBlock::Text(t)) = blocks.last_mut() {
        let trimmed = t.text.trim_end().len();
        t.text.truncate(trimmed);
        if t.text.is_empty() {
            blocks.pop();
        }
    }
    if blocks.is_empty() {
        turns.pop();
    }
}

fn user_blocks(
    content: &MessageContent,
    at: &str,
    betas: &mut Vec<&'static str>,
) -> Result<Vec<ContentBlock>> {
    let mut out = Vec::new();
    match content {
        MessageContent::Text(t) => out.extend(text_block(t, None)),
        MessageContent::Parts(parts) => {
            for (j, part) in parts.iter().enumerate() {
                let pat = format!("{at}.content[{j}]");
                match part {
                    ContentPart::Text(t) => {
                        out.extend(text_block(&t.text, cache_control(&t.extra)))
                    }
                    ContentPart::Refusal(r) => out.extend(text_block(&r.refusal, None)),
                    ContentPart::ImageUrl(p) => out.push(ContentBlock::Image(ImageBlock {
                        source: source_from_url(&p.image_url.url, &pat)?,
                        cache_control: cache_control(&p.extra),
                        extra: Map::new(),
                    })),
                    ContentPart::File(f) => out.push(file_block(f, &pat, betas)?),
                    ContentPart::InputAudio(_) => {
                        return Err(bad(format!("{pat}: Anthropic does not accept audio input")))
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `data:<type>;base64,<data>` → base64 source; `http(s)://` → url source.
fn source_from_url(url: &str, at: &str) -> Result<Source> {
    if let Some((media_type, data)) = parse_data_url(url, at)? {
        return Ok(Source::Base64 {
            media_type: media_type.to_string(),
            data: data.to_string(),
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Source::Url {
            url: url.to_string(),
        });
    }
    Err(bad(format!(
        "{at}: expected a data: URL or an http(s):// URL"
    )))
}

/// `(media type, base64 data)` of a `data:` URL; `None` for other URLs.
fn parse_data_url<'a>(url: &'a str, at: &str) -> Result<Option<(&'a str, &'a str)>> {
    let parts = base64_data_url(url).map_err(|e| bad(format!("{at}: {e}")))?;
    let Some((media_type, data)) = parts else {
        return Ok(None);
    };
    if media_type.is_empty() {
        return Err(bad(format!("{at}: the data: URL names no media type")));
    }
    Ok(Some((media_type, data)))
}

/// A `file` part: an image block for images, else a document block.
fn file_block(f: &FilePart, at: &str, betas: &mut Vec<&'static str>) -> Result<ContentBlock> {
    let hint = f.file.format.as_deref().filter(|m| m.contains('/'));
    let (source, media) = if let Some(data) = f.file.file_data.as_deref() {
        match parse_data_url(data, at)? {
            Some((media, b64)) => {
                let media = hint.unwrap_or(media);
                let source = if media == "text/plain" {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|e| bad(format!("{at}: file_data is not valid base64 ({e})")))?;
                    let text = String::from_utf8(bytes)
                        .map_err(|_| bad(format!("{at}: a text/plain file must be UTF-8")))?;
                    Source::Text {
                        media_type: "text/plain".into(),
                        data: text,
                    }
                } else {
                    Source::Base64 {
                        media_type: media.to_string(),
                        data: b64.to_string(),
                    }
                };
                (source, Some(media.to_string()))
            }
            None => (source_from_url(data, at)?, hint.map(str::to_string)),
        }
    } else if let Some(id) = f.file.file_id.as_deref() {
        if !betas.contains(&FILES_API_BETA) {
            betas.push(FILES_API_BETA);
        }
        (
            Source::File {
                file_id: id.to_string(),
            },
            hint.map(str::to_string),
        )
    } else {
        return Err(bad(format!("{at}: a file part needs file_data or file_id")));
    };
    let cc = cache_control(&f.extra);
    if media.as_deref().is_some_and(|m| m.starts_with("image/")) {
        return Ok(ContentBlock::Image(ImageBlock {
            source,
            cache_control: cc,
            extra: Map::new(),
        }));
    }
    let text_field = |k: &str| f.extra.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(ContentBlock::Document(DocumentBlock {
        source,
        title: text_field("title"),
        context: text_field("context"),
        citations: f.extra.get("citations").cloned(),
        cache_control: cc,
        extra: Map::new(),
    }))
}

fn assistant_blocks(m: &AssistantMessage, at: &str) -> Result<Vec<ContentBlock>> {
    let mut out = Vec::new();
    // Thinking blocks from an earlier answer go back first, signatures intact.
    if let Some(Value::Array(blocks)) = m.extra.get("thinking_blocks") {
        for (j, b) in blocks.iter().enumerate() {
            let block: ContentBlock = serde_json::from_value(b.clone())
                .map_err(|e| bad(format!("{at}.thinking_blocks[{j}]: {e}")))?;
            match block {
                ContentBlock::Thinking(_) | ContentBlock::RedactedThinking(_) => out.push(block),
                _ => {
                    return Err(bad(format!(
                        "{at}.thinking_blocks[{j}]: expected a thinking or redacted_thinking block"
                    )))
                }
            }
        }
    }
    match &m.content {
        Some(MessageContent::Text(t)) => out.extend(text_block(t, None)),
        Some(MessageContent::Parts(parts)) => {
            for (j, p) in parts.iter().enumerate() {
                match p {
                    ContentPart::Text(t) => {
                        out.extend(text_block(&t.text, cache_control(&t.extra)))
                    }
                    ContentPart::Refusal(r) => out.extend(text_block(&r.refusal, None)),
                    _ => {
                        return Err(bad(format!(
                            "{at}.content[{j}]: assistant content can only hold text"
                        )))
                    }
                }
            }
        }
        None => {}
    }
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        let input = tool_arguments_object(&call.function.arguments)
            .map_err(|e| bad(format!("{at}.tool_calls[{j}].function.arguments: {e}")))?;
        out.push(ContentBlock::ToolUse(ToolUseBlock {
            id: call.id.clone(),
            name: call.function.name.clone(),
            input,
            cache_control: None,
            extra: Map::new(),
        }));
    }
    if m.function_call.is_some() {
        return Err(bad(format!(
            "{at}.function_call: the deprecated function_call cannot be sent to Anthropic; use tool_calls"
        )));
    }
    Ok(out)
}

fn tools(request: &ChatCompletionRequest) -> Result<Option<Vec<Tool>>> {
    let Some(tools) = request.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let cc = cache_control(&tool.extra);
        if tool.r#type == "function" {
            let f = tool
                .function
                .as_ref()
                .ok_or_else(|| bad(format!("tools[{i}]: a function tool needs `function`")))?;
            out.push(Tool {
                r#type: None,
                name: f.name.clone(),
                description: f.description.clone(),
                input_schema: Some(
                    f.parameters
                        .clone()
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                ),
                cache_control: cc,
                extra: Map::new(),
            });
            continue;
        }
        // An Anthropic-hosted tool (`web_search_20250305`, `bash_20250124`,
        // …): its own fields pass through.
        let mut extra = tool.extra.clone();
        extra.remove("cache_control");
        let name = match extra.remove("name") {
            Some(Value::String(n)) => n,
            _ => match &tool.function {
                Some(f) => f.name.clone(),
                None => {
                    return Err(bad(format!(
                        "tools[{i}]: a '{}' tool needs a name",
                        tool.r#type
                    )))
                }
            },
        };
        out.push(Tool {
            r#type: Some(tool.r#type.clone()),
            name,
            description: None,
            input_schema: None,
            cache_control: cc,
            extra,
        });
    }
    Ok(Some(out))
}

fn tool_choice(request: &ChatCompletionRequest) -> Result<Option<ToolChoice>> {
    let mut choice = match &request.tool_choice {
        None => None,
        Some(OaiToolChoice::Auto) => Some(ToolChoice::of("auto")),
        Some(OaiToolChoice::Required) => Some(ToolChoice::of("any")),
        Some(OaiToolChoice::None) => Some(ToolChoice::of("none")),
        Some(OaiToolChoice::Function(name)) => Some(ToolChoice {
            r#type: "tool".into(),
            name: Some(name.clone()),
            disable_parallel_tool_use: None,
        }),
        Some(OaiToolChoice::Other(v)) => {
            let native = v
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| matches!(t, "auto" | "any" | "tool" | "none"));
            match serde_json::from_value::<ToolChoice>(v.clone()) {
                Ok(c) if native => Some(c),
                _ => {
                    return Err(bad(format!(
                        "tool_choice {v} cannot be expressed for Anthropic (use none, auto, required or a function)"
                    ))
                    .with_param("tool_choice"))
                }
            }
        }
    };
    if request.parallel_tool_calls == Some(false) {
        match &mut choice {
            Some(c) if c.r#type == "none" => {}
            Some(c) => c.disable_parallel_tool_use = Some(true),
            None if request.tools.as_ref().is_some_and(|t| !t.is_empty()) => {
                choice = Some(ToolChoice {
                    r#type: "auto".into(),
                    name: None,
                    disable_parallel_tool_use: Some(true),
                })
            }
            None => {}
        }
    }
    Ok(choice)
}

/// The forced tool that emulates `response_format`.
/// How [`encode`] emulates `request`'s `response_format`, if it does: what
/// decoding the answer needs to know, recomputed from the request.
pub fn json_mode(request: &ChatCompletionRequest) -> Option<JsonMode> {
    json_tool(request).ok().flatten().map(|(_, mode)| mode)
}

fn json_tool(request: &ChatCompletionRequest) -> Result<Option<(Tool, JsonMode)>> {
    if native_schema(request).is_some() {
        return Ok(None);
    }
    let (schema, description) = match &request.response_format {
        None | Some(ResponseFormat::Text) => return Ok(None),
        Some(ResponseFormat::JsonObject) => (None, None),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            (json_schema.schema.clone(), json_schema.description.clone())
        }
    };
    let (input_schema, wrapped) = match schema {
        None => (
            json!({"type": "object", "properties": {}, "additionalProperties": true}),
            false,
        ),
        Some(s) if s.get("type").and_then(Value::as_str) == Some("object") => (s, false),
        Some(Value::Object(mut s)) => {
            // Tool input must be an object: wrap, keeping definitions at the
            // root so `#/$defs/…` references still resolve.
            let mut root = Map::new();
            root.insert("type".into(), json!("object"));
            for key in ["$defs", "definitions"] {
                if let Some(d) = s.remove(key) {
                    root.insert(key.into(), d);
                }
            }
            root.insert("properties".into(), json!({ "values": s }));
            root.insert("required".into(), json!(["values"]));
            (Value::Object(root), true)
        }
        Some(other) => {
            return Err(bad(format!(
                "response_format.json_schema.schema must be a JSON object, got {other}"
            ))
            .with_param("response_format"))
        }
    };
    Ok(Some((
        Tool {
            r#type: None,
            name: JSON_TOOL_NAME.into(),
            description,
            input_schema: Some(input_schema),
            cache_control: None,
            extra: Map::new(),
        },
        JsonMode { wrapped },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::types::chat::{
        FileRef, FunctionDefinition, ImageUrl, ImageUrlPart, JsonSchemaFormat, SystemMessage,
        TextPart, Tool as OaiTool, ToolCall, UserMessage,
    };
    use llmux_core::types::OneOrMany;
    use llmux_core::ErrorKind;

    fn body(req: &ChatCompletionRequest) -> Value {
        serde_json::to_value(encode(req).unwrap().body).unwrap()
    }

    fn cc() -> Value {
        json!({"type": "ephemeral"})
    }

    fn with_cc(mut extra: Map<String, Value>) -> Map<String, Value> {
        extra.insert("cache_control".into(), cc());
        extra
    }

    fn text(t: &str) -> ContentPart {
        ContentPart::Text(TextPart {
            text: t.into(),
            extra: Map::new(),
        })
    }

    #[test]
    fn minimal_request_gets_default_max_tokens_and_blocks() {
        let req = ChatCompletionRequest::new(
            "claude-sonnet-4-5",
            vec![ChatMessage::system("Be brief."), ChatMessage::user("Hi")],
        );
        assert_eq!(
            body(&req),
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 64000,
                "system": "Be brief.",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
            })
        );
        assert_eq!(default_max_tokens("claude-3-haiku-20240307"), 4096);
        assert_eq!(default_max_tokens("some-future-model"), 4096);
        // The price table's maximum, also for Bedrock and Vertex ids.
        assert_eq!(default_max_tokens("claude-sonnet-4-5"), 64000);
        assert_eq!(default_max_tokens("claude-3-5-haiku@20241022"), 8192);
        assert_eq!(max_output_tokens("claude-3-5-haiku-latest"), Some(8192));
        assert_eq!(max_output_tokens("claude-opus-4-1-20250805"), Some(32000));
    }

    #[test]
    fn sampling_params_stop_user_and_top_k() {
        let mut req = ChatCompletionRequest::new("claude-3-5-haiku", vec![ChatMessage::user("Hi")]);
        req.max_completion_tokens = Some(100);
        req.max_tokens = Some(5); // max_completion_tokens wins
        req.temperature = Some(0.3);
        req.top_p = Some(0.9);
        req.stop = Some(OneOrMany::One("END".into()));
        req.user = Some("user-42".into());
        req.stream = Some(true);
        req.extra.insert("top_k".into(), json!(40));
        req.service_tier = Some("auto".into());
        assert_eq!(
            body(&req),
            json!({
                "model": "claude-3-5-haiku", "max_tokens": 100, "temperature": 0.3, "top_p": 0.9,
                "top_k": 40, "stop_sequences": ["END"], "metadata": {"user_id": "user-42"},
                "stream": true, "service_tier": "auto",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
            })
        );
        assert!(usable_user_id("u_123"));
        assert!(!usable_user_id("jane@example.com"));
        assert!(!usable_user_id("+1 (555) 123-4567"));
        assert!(!usable_user_id("  "));
    }

    #[test]
    fn system_blocks_merging_and_cache_control() {
        let req = ChatCompletionRequest::new(
            "claude-sonnet-4-5",
            vec![
                ChatMessage::System(SystemMessage {
                    content: MessageContent::Parts(vec![
                        text("Long shared context."),
                        ContentPart::Text(TextPart {
                            text: "Cached part.".into(),
                            extra: with_cc(Map::new()),
                        }),
                    ]),
                    name: None,
                    extra: Map::new(),
                }),
                ChatMessage::user("a"),
                ChatMessage::User(UserMessage {
                    content: MessageContent::Text("b".into()),
                    name: Some("bob".into()),
                    extra: with_cc(Map::new()),
                }),
                ChatMessage::Developer(SystemMessage {
                    content: MessageContent::Text("Later rule.".into()),
                    name: None,
                    extra: Map::new(),
                }),
                ChatMessage::assistant("x"),
                ChatMessage::assistant("y  \n"),
            ],
        );
        assert_eq!(
            body(&req),
            json!({
                "model": "claude-sonnet-4-5", "max_tokens": 64000,
                "system": [
                    {"type": "text", "text": "Long shared context."},
                    {"type": "text", "text": "Cached part.", "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "Later rule."}
                ],
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "a"},
                        {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}
                    ]},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "x"},
                        {"type": "text", "text": "y"}
                    ]}
                ]
            })
        );
    }

    #[test]
    fn images_and_files() {
        let image = |url: &str| {
            ContentPart::ImageUrl(ImageUrlPart {
                image_url: ImageUrl {
                    url: url.into(),
                    detail: Some("high".into()),
                    format: None,
                },
                extra: Map::new(),
            })
        };
        let file = |data: Option<&str>, id: Option<&str>, format: Option<&str>| {
            ContentPart::File(FilePart {
                file: FileRef {
                    file_id: id.map(str::to_string),
                    file_data: data.map(str::to_string),
                    filename: Some("x.pdf".into()),
                    format: format.map(str::to_string),
                },
                extra: with_cc(Map::new()),
            })
        };
        let req = ChatCompletionRequest::new(
            "claude-sonnet-4-5",
            vec![ChatMessage::User(UserMessage {
                content: MessageContent::Parts(vec![
                    text("Look"),
                    image("data:image/png;base64,iVBORw0K"),
                    image("https://example.com/cat.jpg"),
                    file(Some("data:application/pdf;base64,JVBERi0x"), None, None),
                    file(Some("data:text/plain;base64,aGVsbG8="), None, None),
                    file(None, Some("file_011"), None),
                    file(None, Some("file_012"), Some("image/png")),
                    file(Some("https://example.com/doc.pdf"), None, None),
                ]),
                name: None,
                extra: Map::new(),
            })],
        );
        let encoded = encode(&req).unwrap();
        assert_eq!(encoded.betas, vec![FILES_API_BETA]);
        let eph = cc();
        assert_eq!(
            serde_json::to_value(&encoded.body).unwrap()["messages"][0]["content"],
            json!([
                {"type": "text", "text": "Look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}, "cache_control": eph},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello"}, "cache_control": eph},
                {"type": "document", "source": {"type": "file", "file_id": "file_011"}, "cache_control": eph},
                {"type": "image", "source": {"type": "file", "file_id": "file_012"}, "cache_control": eph},
                {"type": "document", "source": {"type": "url", "url": "https://example.com/doc.pdf"}, "cache_control": eph}
            ])
        );
        let bad_req = ChatCompletionRequest::new(
            "m",
            vec![ChatMessage::User(UserMessage {
                content: MessageContent::Parts(vec![image("ftp://x/y.png")]),
                name: None,
                extra: Map::new(),
            })],
        );
        let err = encode(&bad_req).unwrap_err();
        assert_eq!(
            err.message,
            "messages[0].content[0]: expected a data: URL or an http(s):// URL"
        );
    }

    #[test]
    fn tools_choice_and_tool_round_trip_messages() {
        let mut req = ChatCompletionRequest::new(
            "claude-sonnet-4-5",
            vec![
                ChatMessage::user("Weather in Paris and Rome?"),
                ChatMessage::Assistant(AssistantMessage {
                    content: Some(MessageContent::Text("Checking.".into())),
                    tool_calls: Some(vec![
                        ToolCall::function("toolu_1", "get_weather", "{\"city\":\"Paris\"}"),
                        ToolCall::function("toolu_2", "get_weather", "{\"city\":\"Rome\"}"),
                    ]),
                    ..Default::default()
                }),
                ChatMessage::tool("toolu_1", "18C"),
                ChatMessage::tool("toolu_2", "24C"),
                ChatMessage::user("Thanks"),
            ],
        );
        let mut tool = OaiTool::function(FunctionDefinition {
            name: "get_weather".into(),
            description: Some("Weather".into()),
            parameters: Some(json!({"type": "object", "properties": {"city": {"type": "string"}}})),
            strict: Some(true),
        });
        tool.extra.insert("cache_control".into(), cc());
        let bare = OaiTool::function(FunctionDefinition {
            name: "now".into(),
            description: None,
            parameters: None,
            strict: None,
        });
        let mut hosted = OaiTool {
            r#type: "web_search_20250305".into(),
            function: None,
            extra: Map::new(),
        };
        hosted.extra.insert("name".into(), json!("web_search"));
        hosted.extra.insert("max_uses".into(), json!(3));
        req.tools = Some(vec![tool, bare, hosted]);
        req.tool_choice = Some(OaiToolChoice::Required);
        req.parallel_tool_calls = Some(false);
        let b = body(&req);
        assert_eq!(
            b["tools"],
            json!([
                {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}},
                {"name": "now", "input_schema": {"type": "object", "properties": {}}},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
            ])
        );
        assert_eq!(
            b["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
        assert_eq!(
            b["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "24C"},
                    {"type": "text", "text": "Thanks"}
                ]}
            ])
        );
        for (choice, expected) in [
            (OaiToolChoice::Auto, json!({"type": "auto"})),
            (OaiToolChoice::None, json!({"type": "none"})),
            (
                OaiToolChoice::Function("now".into()),
                json!({"type": "tool", "name": "now"}),
            ),
        ] {
            req.tool_choice = Some(choice);
            req.parallel_tool_calls = None;
            assert_eq!(body(&req)["tool_choice"], expected);
        }
        req.tool_choice = None;
        req.parallel_tool_calls = Some(false);
        assert_eq!(
            body(&req)["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
        req.tool_choice = Some(OaiToolChoice::Other(json!({"type": "allowed_tools"})));
        assert_eq!(encode(&req).unwrap_err().kind, ErrorKind::BadRequest);
    }

    #[test]
    fn response_format_becomes_a_forced_tool() {
        let mut req = ChatCompletionRequest::new("claude-sonnet-4-5", vec![ChatMessage::user("x")]);
        req.response_format = Some(ResponseFormat::JsonObject);
        let e = encode(&req).unwrap();
        assert_eq!(e.json_mode, Some(JsonMode { wrapped: false }));
        let b = serde_json::to_value(&e.body).unwrap();
        assert_eq!(
            b["tools"],
            json!([{"name": "json_tool_call", "input_schema": {"type": "object", "properties": {}, "additionalProperties": true}}])
        );
        assert_eq!(
            b["tool_choice"],
            json!({"type": "tool", "name": "json_tool_call"})
        );

        req.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: "list".into(),
                description: Some("A list".into()),
                schema: Some(
                    json!({"type": "array", "items": {"$ref": "#/$defs/item"}, "$defs": {"item": {"type": "string"}}}),
                ),
                strict: Some(true),
            },
        });
        req.reasoning_effort = Some("low".into());
        let e = encode(&req).unwrap();
        assert_eq!(e.json_mode, Some(JsonMode { wrapped: true }));
        let b = serde_json::to_value(&e.body).unwrap();
        assert_eq!(
            b["tools"],
            json!([{"name": "json_tool_call", "description": "A list", "input_schema": {
                "type": "object", "$defs": {"item": {"type": "string"}},
                "properties": {"values": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
                "required": ["values"]
            }}])
        );
        // Thinking forbids a forced tool.
        assert_eq!(b.get("tool_choice"), None);
        assert_eq!(
            b["thinking"],
            json!({"type": "enabled", "budget_tokens": 1024})
        );
        assert_eq!(b["max_tokens"], json!(5120));
    }

    /// Provider fidelity finding: `json_schema` was always emulated with a
    /// forced tool; models with native structured outputs get `output_format`.
    #[test]
    fn object_schemas_use_native_structured_outputs_where_the_model_has_them() {
        let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false});
        let mut req =
            ChatCompletionRequest::new("claude-sonnet-4-5-20250929", vec![ChatMessage::user("x")]);
        req.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: "person".into(),
                description: None,
                schema: Some(schema.clone()),
                strict: Some(true),
            },
        });
        let e = encode(&req).unwrap();
        assert_eq!(
            (e.json_mode, e.betas.clone()),
            (None, vec![STRUCTURED_OUTPUTS_BETA])
        );
        let b = serde_json::to_value(&e.body).unwrap();
        assert_eq!(
            b["output_format"],
            json!({"type": "json_schema", "schema": schema})
        );
        assert_eq!((b.get("tools"), b.get("tool_choice")), (None, None));
        assert_eq!(json_mode(&req), None, "the answer is read as plain text");
        // An older model: the forced tool.
        req.model = "claude-3-5-haiku-20241022".into();
        let e = encode(&req).unwrap();
        assert_eq!(e.json_mode, Some(JsonMode { wrapped: false }));
        assert!(e.betas.is_empty());
        let b = serde_json::to_value(&e.body).unwrap();
        assert_eq!(b.get("output_format"), None);
        assert_eq!(b["tools"][0]["name"], "json_tool_call");
    }

    #[test]
    fn thinking_from_effort_or_explicit() {
        let mut req = ChatCompletionRequest::new("claude-opus-4-1", vec![ChatMessage::user("x")]);
        for (effort, budget) in [
            ("minimal", 1024),
            ("low", 1024),
            ("medium", 2048),
            ("high", 4096),
        ] {
            req.reasoning_effort = Some(effort.into());
            let b = body(&req);
            assert_eq!(
                b["thinking"],
                json!({"type": "enabled", "budget_tokens": budget})
            );
            assert_eq!(b["max_tokens"], json!(budget + 4096));
        }
        req.reasoning_effort = Some("none".into());
        assert_eq!(body(&req).get("thinking"), None);
        req.reasoning_effort = Some("extreme".into());
        assert_eq!(
            encode(&req).unwrap_err().param.as_deref(),
            Some("reasoning_effort")
        );
        // An explicit thinking object wins, and the model cap bounds the default.
        req.extra.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": 30000}),
        );
        let b = body(&req);
        assert_eq!(
            b["thinking"],
            json!({"type": "enabled", "budget_tokens": 30000})
        );
        assert_eq!(b["max_tokens"], json!(32000));
        req.max_tokens = Some(31000);
        assert_eq!(body(&req)["max_tokens"], json!(31000));
    }

    #[test]
    fn thinking_blocks_go_back_before_text() {
        let mut extra = Map::new();
        extra.insert(
            "thinking_blocks".into(),
            json!([{"type": "thinking", "thinking": "hmm", "signature": "sig=="}, {"type": "redacted_thinking", "data": "enc"}]),
        );
        let req = ChatCompletionRequest::new(
            "claude-sonnet-4-5",
            vec![
                ChatMessage::user("q"),
                ChatMessage::Assistant(AssistantMessage {
                    content: None,
                    tool_calls: Some(vec![ToolCall::function("toolu_9", "f", "")]),
                    extra,
                    ..Default::default()
                }),
                ChatMessage::tool("toolu_9", "ok"),
            ],
        );
        assert_eq!(
            body(&req)["messages"][1],
            json!({"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig=="},
                {"type": "redacted_thinking", "data": "enc"},
                {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}}
            ]})
        );
    }

    #[test]
    fn unsupported_params_fail_or_drop() {
        let mut req = ChatCompletionRequest::new("claude-sonnet-4-5", vec![ChatMessage::user("x")]);
        req.seed = Some(1);
        req.presence_penalty = Some(0.5);
        let err = encode(&req).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadRequest);
        assert_eq!(
            err.message,
            "Anthropic does not support presence_penalty, seed (set drop_params: true to drop them)"
        );
        assert_eq!(err.param.as_deref(), Some("presence_penalty"));
        req.drop_params = Some(true);
        let b = body(&req);
        assert_eq!(b.get("seed"), None);
        assert_eq!(b.get("drop_params"), None);
        let mut req = ChatCompletionRequest::new("m", vec![ChatMessage::user("x")]);
        req.n = Some(2);
        assert_eq!(encode(&req).unwrap_err().param.as_deref(), Some("n"));
    }

    #[test]
    fn count_tokens_body_keeps_only_the_prompt() {
        let mut req = ChatCompletionRequest::new(
            "claude-sonnet-4-5",
            vec![ChatMessage::system("s"), ChatMessage::user("Hi")],
        );
        req.temperature = Some(0.5);
        req.max_tokens = Some(10);
        req.stream = Some(true);
        let b = serde_json::to_value(encode_count_tokens(&req).unwrap().body).unwrap();
        assert_eq!(
            b,
            json!({"model": "claude-sonnet-4-5", "system": "s",
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]})
        );
    }
}
