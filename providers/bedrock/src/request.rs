//! OpenAI chat request → Bedrock Converse request body (pure).
//!
//! - `system` / `developer` messages → top-level `system` blocks;
//! - user content → `text`, `image` (bytes from `data:` URLs, or `s3Location`
//!   for `s3://` URLs) and `document` blocks (files as `data:` URLs);
//! - assistant `tool_calls` → `toolUse`; `tool` messages → `toolResult`
//!   blocks, consecutive ones grouped in one user turn; consecutive turns of
//!   one role are merged, as Converse requires roles to alternate;
//! - assistant `thinking_blocks` (as llmux returns them) → `reasoningContent`;
//! - `max_tokens` / `temperature` / `top_p` / `stop` → `inferenceConfig`;
//! - `tools` / `tool_choice` → `toolConfig` (`toolSpec` with
//!   `inputSchema.json`; `auto` / `any` / `tool`; `none` leaves tools out);
//! - `reasoning_effort` → `thinking` (Anthropic) or `reasoningConfig` (Nova)
//!   in `additionalModelRequestFields`, where `top_k`, `thinking` and any
//!   other request field Converse does not define also go (as LiteLLM does);
//! - `guardrailConfig`, `performanceConfig`, `requestMetadata`,
//!   `promptVariables` and `additionalModelResponseFieldPaths` (camelCase or
//!   snake_case) pass through.
//!
//! `response_format` json modes become the forced `json_tool_call` tool.
//! OpenAI parameters Converse cannot honour fail clearly (`n` > 1,
//! `logprobs`, audio output, audio input);
//! sampling knobs it lacks (`presence_penalty`, `frequency_penalty`, `seed`,
//! `logit_bias`) are dropped.

use base64::Engine;
use llmux_core::codec::base64_data_url;
use llmux_core::types::chat::{
    AssistantMessage, ChatCompletionRequest, ChatMessage, ContentPart, MessageContent,
    ResponseFormat, ToolChoice,
};
use llmux_core::{Error, Result};
use serde_json::{json, Map, Value};

fn bad(message: impl Into<String>) -> Error {
    Error::bad_request(message).with_provider("bedrock")
}

/// Request fields handled here or meaningless upstream: never forwarded in
/// `additionalModelRequestFields`.
const NOT_FORWARDED: &[&str] = &[
    "additionalModelRequestFields",
    "additional_model_request_fields",
    "guardrailConfig",
    "guardrail_config",
    "performanceConfig",
    "performance_config",
    "requestMetadata",
    "request_metadata",
    "promptVariables",
    "prompt_variables",
    "additionalModelResponseFieldPaths",
    "additional_model_response_field_paths",
    // LiteLLM / router-level settings that may reach a provider.
    "drop_params",
    "num_retries",
    "fallbacks",
    "context_window_fallbacks",
    "mock_response",
    "caching",
    "tags",
    "timeout",
    "api_key",
    "api_base",
    "api_version",
    "aws_region_name",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_profile_name",
    "aws_bedrock_runtime_endpoint",
];

/// Top-level Converse fields passed through: (camelCase, snake_case).
const PASSTHROUGH: &[(&str, &str)] = &[
    ("guardrailConfig", "guardrail_config"),
    ("performanceConfig", "performance_config"),
    ("requestMetadata", "request_metadata"),
    ("promptVariables", "prompt_variables"),
    (
        "additionalModelResponseFieldPaths",
        "additional_model_response_field_paths",
    ),
];

/// The Converse / ConverseStream body for `request` to `model`.
pub fn converse_body(request: &ChatCompletionRequest, model: &str) -> Result<Value> {
    check_unsupported(request)?;
    let mut body = Map::new();
    let (system, messages) = messages(&request.messages)?;
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let inference = inference_config(request);
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    if let Some(tc) = tool_config(request)? {
        body.insert("toolConfig".into(), tc);
    }
    let additional = additional_fields(request, model)?;
    if !additional.is_empty() {
        body.insert(
            "additionalModelRequestFields".into(),
            Value::Object(additional),
        );
    }
    for (camel, snake) in PASSTHROUGH {
        if let Some(v) = request
            .extra
            .get(*camel)
            .or_else(|| request.extra.get(*snake))
        {
            body.insert((*camel).into(), v.clone());
        }
    }
    Ok(Value::Object(body))
}

fn check_unsupported(request: &ChatCompletionRequest) -> Result<()> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(bad(
            "bedrock returns one choice per call; n > 1 is not supported",
        ));
    }
    if request.logprobs == Some(true) {
        return Err(bad("bedrock's Converse API does not return logprobs"));
    }
    if request.audio.is_some()
        || request
            .modalities
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "audio"))
    {
        return Err(bad("bedrock's Converse API does not produce audio"));
    }
    json_tool(request).map(|_| ())
}

/// The tool that carries `response_format` (LiteLLM's name): its input is
/// the JSON answer.
pub const JSON_TOOL_NAME: &str = "json_tool_call";

/// Whether `request`'s `response_format` is answered through
/// [`JSON_TOOL_NAME`] (then that tool's input comes back as the content).
pub fn json_mode(request: &ChatCompletionRequest) -> bool {
    matches!(json_tool(request), Ok(Some(_)))
}

/// The forced tool that emulates `response_format` on Converse (as LiteLLM
/// does): `json_object` takes any object, `json_schema` its object schema.
fn json_tool(request: &ChatCompletionRequest) -> Result<Option<Value>> {
    let (schema, description) = match &request.response_format {
        None | Some(ResponseFormat::Text) => return Ok(None),
        Some(ResponseFormat::JsonObject) => (json!({"type": "object"}), None),
        Some(ResponseFormat::JsonSchema { json_schema }) => (
            json_schema
                .schema
                .clone()
                .unwrap_or_else(|| json!({"type": "object"})),
            json_schema.description.clone(),
        ),
    };
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(bad(
            "bedrock answers response_format through a tool, whose input must be an object: give json_schema.schema \"type\": \"object\"",
        )
        .with_param("response_format"));
    }
    let mut spec = json!({"name": JSON_TOOL_NAME, "inputSchema": {"json": schema}});
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        spec["description"] = json!(d);
    }
    Ok(Some(json!({ "toolSpec": spec })))
}

/// Append `blocks` as a turn of `role`, merging with the previous turn of the same role.
fn push_turn(turns: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut() {
        if last["role"] == role {
            if let Some(content) = last["content"].as_array_mut() {
                content.extend(blocks);
                return;
            }
        }
    }
    turns.push(json!({"role": role, "content": blocks}));
}

fn messages(messages: &[ChatMessage]) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut system = Vec::new();
    let mut turns = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        match message {
            ChatMessage::System(m) | ChatMessage::Developer(m) => {
                system.extend(text_blocks(&m.content, i)?);
            }
            ChatMessage::User(m) => {
                let blocks = user_blocks(&m.content, i)?;
                push_turn(&mut turns, "user", blocks);
            }
            ChatMessage::Assistant(m) => {
                let blocks = assistant_blocks(m, i)?;
                push_turn(&mut turns, "assistant", blocks);
            }
            ChatMessage::Tool(m) => {
                let text = m.content.text();
                let block = json!({"toolResult": {
                    "toolUseId": m.tool_call_id,
                    "content": [{"text": text}]
                }});
                push_turn(&mut turns, "user", vec![block]);
            }
            ChatMessage::Function(m) => {
                return Err(bad(format!(
                    "messages[{i}]: the deprecated 'function' role (function '{}') is not supported for bedrock; use tool messages",
                    m.name
                )))
            }
        }
    }
    Ok((system, turns))
}

/// `cachePoint` block after a part marked with `cache_control` (LiteLLM's
/// prompt-caching convention).
fn cache_point(extra: &Map<String, Value>) -> Option<Value> {
    extra
        .get("cache_control")
        .filter(|v| !v.is_null())
        .map(|_| json!({"cachePoint": {"type": "default"}}))
}

fn text_blocks(content: &MessageContent, i: usize) -> Result<Vec<Value>> {
    match content {
        MessageContent::Text(t) if t.is_empty() => Ok(Vec::new()),
        MessageContent::Text(t) => Ok(vec![json!({ "text": t })]),
        MessageContent::Parts(parts) => {
            let mut out = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::Text(t) => {
                        if !t.text.is_empty() {
                            out.push(json!({"text": t.text}));
                        }
                        out.extend(cache_point(&t.extra));
                    }
                    _ => {
                        return Err(bad(format!(
                            "messages[{i}].content[{j}]: only text is allowed in system messages"
                        )))
                    }
                }
            }
            Ok(out)
        }
    }
}

fn user_blocks(content: &MessageContent, i: usize) -> Result<Vec<Value>> {
    let parts = match content {
        MessageContent::Text(_) => return text_blocks(content, i),
        MessageContent::Parts(parts) => parts,
    };
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        match part {
            ContentPart::Text(t) => {
                if !t.text.is_empty() {
                    out.push(json!({"text": t.text}));
                }
                out.extend(cache_point(&t.extra));
            }
            ContentPart::ImageUrl(p) => {
                out.push(image_block(
                    &p.image_url.url,
                    p.image_url.format.as_deref(),
                    &at,
                )?);
                out.extend(cache_point(&p.extra));
            }
            ContentPart::File(p) => {
                let f = &p.file;
                let block = match (&f.file_data, &f.file_id) {
                    (Some(data), _) => file_block(data, f.filename.as_deref(), f.format.as_deref(), j, &at)?,
                    (None, Some(id)) if id.starts_with("s3://") => {
                        let format = f
                            .format
                            .as_deref()
                            .and_then(document_format)
                            .or_else(|| f.filename.as_deref().and_then(extension).and_then(|e| document_format(&e)))
                            .or_else(|| extension(id).and_then(|e| document_format(&e)))
                            .ok_or_else(|| bad(format!("{at}: cannot tell the document format of {id}; set file.format")))?;
                        json!({"document": {
                            "format": format,
                            "name": document_name(f.filename.as_deref(), j),
                            "source": {"s3Location": {"uri": id}}
                        }})
                    }
                    _ => {
                        return Err(bad(format!(
                            "{at}: bedrock needs the file inline (file_data as a base64 data: URL) or an s3:// file_id"
                        )))
                    }
                };
                out.push(block);
                out.extend(cache_point(&p.extra));
            }
            ContentPart::InputAudio(_) => {
                return Err(bad(format!(
                    "{at}: bedrock's Converse API does not take audio input"
                )))
            }
            ContentPart::Refusal(_) => {
                return Err(bad(format!(
                    "{at}: refusal parts belong to assistant messages"
                )))
            }
        }
    }
    Ok(out)
}

/// `(media type, base64 data)` of a `data:` URL.
fn parse_data_url<'a>(url: &'a str, at: &str) -> Result<Option<(&'a str, &'a str)>> {
    let parts = base64_data_url(url).map_err(|e| bad(format!("{at}: {e}")))?;
    let Some((media, data)) = parts else {
        return Ok(None);
    };
    // Check the payload is base64 (Bedrock would only say "invalid blob").
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| bad(format!("{at}: the data: URL is not valid base64")))?;
    Ok(Some((media.trim(), data.trim())))
}

fn image_format(media: &str) -> Option<&'static str> {
    Some(match media.to_ascii_lowercase().as_str() {
        "image/png" | "png" => "png",
        "image/jpeg" | "image/jpg" | "jpeg" | "jpg" => "jpeg",
        "image/gif" | "gif" => "gif",
        "image/webp" | "webp" => "webp",
        _ => return None,
    })
}

fn document_format(media: &str) -> Option<&'static str> {
    Some(match media.to_ascii_lowercase().as_str() {
        "application/pdf" | "pdf" => "pdf",
        "text/csv" | "csv" => "csv",
        "application/msword" | "doc" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" | "docx" => {
            "docx"
        }
        "application/vnd.ms-excel" | "xls" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" | "xlsx" => "xlsx",
        "text/html" | "html" => "html",
        "text/plain" | "txt" => "txt",
        "text/markdown" | "md" => "md",
        _ => return None,
    })
}

fn extension(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// A document name Bedrock accepts: letters, digits, single spaces, hyphens,
/// parentheses and square brackets.
fn document_name(filename: Option<&str>, j: usize) -> String {
    let stem = filename
        .map(|f| f.rsplit_once('.').map_or(f, |(s, _)| s))
        .unwrap_or_default();
    let mut out = String::new();
    for c in stem.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']') {
            c
        } else {
            ' '
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_end().to_string();
    if out.is_empty() {
        format!("document-{j}")
    } else {
        out
    }
}

fn image_block(url: &str, format: Option<&str>, at: &str) -> Result<Value> {
    if let Some((media, data)) = parse_data_url(url, at)? {
        let format = image_format(media).ok_or_else(|| {
            bad(format!(
                "{at}: bedrock takes png, jpeg, gif or webp images, not '{media}'"
            ))
        })?;
        return Ok(json!({"image": {"format": format, "source": {"bytes": data}}}));
    }
    if url.starts_with("s3://") {
        let format = format
            .and_then(image_format)
            .or_else(|| extension(url).and_then(|e| image_format(&e)))
            .ok_or_else(|| {
                bad(format!(
                    "{at}: cannot tell the image format of {url}; set image_url.format"
                ))
            })?;
        return Ok(json!({"image": {"format": format, "source": {"s3Location": {"uri": url}}}}));
    }
    Err(bad(format!(
        "{at}: bedrock needs image bytes: pass a base64 data: URL (or an s3:// URI), not a web URL"
    )))
}

fn file_block(
    data_url: &str,
    filename: Option<&str>,
    format: Option<&str>,
    j: usize,
    at: &str,
) -> Result<Value> {
    let (media, data) = parse_data_url(data_url, at)?
        .ok_or_else(|| bad(format!("{at}: file_data must be a base64 data: URL")))?;
    let media = format.unwrap_or(media);
    if image_format(media).is_some() {
        return image_block(&format!("data:{media};base64,{data}"), None, at);
    }
    let doc = document_format(media)
        .ok_or_else(|| bad(format!("{at}: bedrock cannot take files of type '{media}'")))?;
    Ok(json!({"document": {
        "format": doc,
        "name": document_name(filename, j),
        "source": {"bytes": data}
    }}))
}

fn assistant_blocks(m: &AssistantMessage, i: usize) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    if let Some(blocks) = m.extra.get("thinking_blocks").and_then(Value::as_array) {
        for b in blocks {
            match b.get("type").and_then(Value::as_str) {
                Some("thinking") => {
                    let mut text =
                        json!({"text": b.get("thinking").and_then(Value::as_str).unwrap_or("")});
                    if let Some(sig) = b.get("signature").and_then(Value::as_str) {
                        text["signature"] = json!(sig);
                    }
                    out.push(json!({"reasoningContent": {"reasoningText": text}}));
                }
                Some("redacted_thinking") => {
                    if let Some(data) = b.get("data").and_then(Value::as_str) {
                        out.push(json!({"reasoningContent": {"redactedContent": data}}));
                    }
                }
                _ => {}
            }
        }
    }
    match &m.content {
        Some(MessageContent::Text(t)) if !t.trim().is_empty() => out.push(json!({"text": t})),
        None | Some(MessageContent::Text(_)) => {}
        Some(MessageContent::Parts(parts)) => {
            for part in parts {
                match part {
                    ContentPart::Text(t) => {
                        if !t.text.trim().is_empty() {
                            out.push(json!({"text": t.text}));
                        }
                        out.extend(cache_point(&t.extra));
                    }
                    ContentPart::Refusal(r) => out.push(json!({"text": r.refusal})),
                    _ => {
                        return Err(bad(format!(
                            "messages[{i}]: assistant content may only hold text"
                        )))
                    }
                }
            }
        }
    }
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        let args = call.function.arguments.trim();
        let input: Value = if args.is_empty() {
            json!({})
        } else {
            serde_json::from_str(args).map_err(|e| {
                bad(format!(
                    "messages[{i}].tool_calls[{j}].function.arguments is not valid JSON: {e}"
                ))
            })?
        };
        out.push(json!({"toolUse": {
            "toolUseId": call.id,
            "name": call.function.name,
            "input": input
        }}));
    }
    Ok(out)
}

fn inference_config(request: &ChatCompletionRequest) -> Map<String, Value> {
    let mut c = Map::new();
    if let Some(n) = request.max_output_tokens() {
        c.insert("maxTokens".into(), json!(n));
    }
    if let Some(t) = request.temperature {
        c.insert("temperature".into(), json!(t));
    }
    if let Some(p) = request.top_p {
        c.insert("topP".into(), json!(p));
    }
    if let Some(stop) = &request.stop {
        let stop = stop.to_vec();
        if !stop.is_empty() {
            c.insert("stopSequences".into(), json!(stop));
        }
    }
    c
}

fn tool_config(request: &ChatCompletionRequest) -> Result<Option<Value>> {
    if let Some(json) = json_tool(request)? {
        let mut config = tool_config_of_tools(request)?.unwrap_or_else(|| json!({"tools": []}));
        if let Some(tools) = config["tools"].as_array_mut() {
            tools.push(json);
        }
        config["toolChoice"] = json!({"tool": {"name": JSON_TOOL_NAME}});
        return Ok(Some(config));
    }
    tool_config_of_tools(request)
}

fn tool_config_of_tools(request: &ChatCompletionRequest) -> Result<Option<Value>> {
    let Some(tools) = request.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if request.tool_choice == Some(ToolChoice::None) {
        return Ok(None);
    }
    let mut specs = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let Some(f) = tool.function.as_ref().filter(|_| tool.r#type == "function") else {
            return Err(bad(format!(
                "tools[{i}]: bedrock only takes function tools, not '{}'",
                tool.r#type
            )));
        };
        let mut spec = json!({
            "name": f.name,
            "inputSchema": {"json": f.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}}))}
        });
        if let Some(d) = f.description.as_deref().filter(|d| !d.is_empty()) {
            spec["description"] = json!(d);
        }
        specs.push(json!({ "toolSpec": spec }));
        specs.extend(cache_point(&tool.extra));
    }
    let mut config = json!({ "tools": specs });
    match &request.tool_choice {
        None | Some(ToolChoice::None) => {}
        Some(ToolChoice::Auto) => config["toolChoice"] = json!({"auto": {}}),
        Some(ToolChoice::Required) => config["toolChoice"] = json!({"any": {}}),
        Some(ToolChoice::Function(name)) => config["toolChoice"] = json!({"tool": {"name": name}}),
        Some(ToolChoice::Other(v)) => {
            return Err(bad(format!("tool_choice {v} is not supported for bedrock")))
        }
    }
    Ok(Some(config))
}

fn is_anthropic(model: &str) -> bool {
    model.contains("anthropic.") || model.contains("claude")
}

fn is_nova(model: &str) -> bool {
    model.contains("amazon.nova")
}

/// Thinking budget for `reasoning_effort` on Claude (LiteLLM's budgets).
fn thinking_budget(effort: &str) -> Option<u32> {
    Some(match effort {
        "minimal" | "low" => 1024,
        "medium" => 2048,
        "high" => 4096,
        _ => return None,
    })
}

fn additional_fields(request: &ChatCompletionRequest, model: &str) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for key in [
        "additionalModelRequestFields",
        "additional_model_request_fields",
    ] {
        match request.extra.get(key) {
            Some(Value::Object(o)) => out.extend(o.clone()),
            Some(Value::Null) | None => {}
            Some(_) => return Err(bad(format!("{key} must be a JSON object"))),
        }
    }
    for (k, v) in &request.extra {
        if NOT_FORWARDED.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    if let Some(effort) = request.reasoning_effort.as_deref() {
        if effort != "none" && !out.contains_key("thinking") && !out.contains_key("reasoningConfig")
        {
            if is_anthropic(model) {
                let budget = thinking_budget(effort).ok_or_else(|| {
                    bad(format!(
                        "reasoning_effort '{effort}' is not one of minimal, low, medium, high"
                    ))
                })?;
                out.insert(
                    "thinking".into(),
                    json!({"type": "enabled", "budget_tokens": budget}),
                );
            } else if is_nova(model) {
                let level = match effort {
                    "minimal" | "low" => "low",
                    "medium" => "medium",
                    "high" => "high",
                    other => {
                        return Err(bad(format!(
                            "reasoning_effort '{other}' is not one of minimal, low, medium, high"
                        )))
                    }
                };
                out.insert(
                    "reasoningConfig".into(),
                    json!({"type": "enabled", "maxReasoningEffort": level}),
                );
            } else {
                return Err(bad(format!(
                    "reasoning_effort is supported for Anthropic Claude and Amazon Nova models on bedrock, not '{model}'; pass the model's own field in additionalModelRequestFields"
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::types::chat::{
        FilePart, FileRef, FunctionDefinition, ImageUrl, ImageUrlPart, TextPart, Tool, ToolCall,
        UserMessage,
    };
    use llmux_core::types::OneOrMany;
    use llmux_core::ErrorKind;

    const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

    fn text(t: &str) -> ContentPart {
        ContentPart::Text(TextPart {
            text: t.into(),
            extra: Map::new(),
        })
    }

    fn image(url: &str) -> ContentPart {
        ContentPart::ImageUrl(ImageUrlPart {
            image_url: ImageUrl {
                url: url.into(),
                detail: None,
                format: None,
            },
            extra: Map::new(),
        })
    }

    fn user_parts(parts: Vec<ContentPart>) -> ChatMessage {
        ChatMessage::User(UserMessage {
            content: MessageContent::Parts(parts),
            name: None,
            extra: Map::new(),
        })
    }

    fn body(messages: Vec<ChatMessage>) -> Result<Value> {
        converse_body(&ChatCompletionRequest::new(MODEL, messages), MODEL)
    }

    #[test]
    fn system_user_and_inference_config() {
        let mut req = ChatCompletionRequest::new(
            MODEL,
            vec![
                ChatMessage::system("Be brief."),
                ChatMessage::user("Hi"),
                ChatMessage::assistant("Hello!"),
                ChatMessage::user("Bye"),
            ],
        );
        req.max_tokens = Some(100);
        req.max_completion_tokens = Some(50);
        req.temperature = Some(0.5);
        req.top_p = Some(0.9);
        req.stop = Some(OneOrMany::One("END".into()));
        req.seed = Some(7);
        req.presence_penalty = Some(0.1);
        assert_eq!(
            converse_body(&req, MODEL).unwrap(),
            json!({
                "messages": [
                    {"role": "user", "content": [{"text": "Hi"}]},
                    {"role": "assistant", "content": [{"text": "Hello!"}]},
                    {"role": "user", "content": [{"text": "Bye"}]}
                ],
                "system": [{"text": "Be brief."}],
                "inferenceConfig": {"maxTokens": 50, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]}
            })
        );
    }

    #[test]
    fn images_documents_and_cache_points() {
        let mut cached = TextPart {
            text: "Long context".into(),
            extra: Map::new(),
        };
        cached
            .extra
            .insert("cache_control".into(), json!({"type": "ephemeral"}));
        let file = ContentPart::File(FilePart {
            file: FileRef {
                file_id: None,
                file_data: Some("data:application/pdf;base64,JVBERi0=".into()),
                filename: Some("Q3 report_final.v2.pdf".into()),
                format: None,
            },
            extra: Map::new(),
        });
        let s3 = ContentPart::File(FilePart {
            file: FileRef {
                file_id: Some("s3://bucket/notes.md".into()),
                file_data: None,
                filename: None,
                format: None,
            },
            extra: Map::new(),
        });
        let got = body(vec![user_parts(vec![
            ContentPart::Text(cached),
            image("data:image/png;base64,iVBORw0KGgo="),
            image("s3://bucket/cat.JPG"),
            file,
            s3,
            text("What is this?"),
        ])])
        .unwrap();
        assert_eq!(
            got["messages"][0]["content"],
            json!([
                {"text": "Long context"},
                {"cachePoint": {"type": "default"}},
                {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
                {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/cat.JPG"}}}},
                {"document": {"format": "pdf", "name": "Q3 report final v2", "source": {"bytes": "JVBERi0="}}},
                {"document": {"format": "md", "name": "document-4", "source": {"s3Location": {"uri": "s3://bucket/notes.md"}}}},
                {"text": "What is this?"}
            ])
        );
    }

    #[test]
    fn media_errors_are_clear() {
        let cases = [
            (image("https://example.com/cat.png"), "messages[0].content[0]: bedrock needs image bytes: pass a base64 data: URL (or an s3:// URI), not a web URL"),
            (image("data:image/png,raw"), "messages[0].content[0]: only base64 data: URLs are supported"),
            (image("data:image/tiff;base64,AAAA"), "messages[0].content[0]: bedrock takes png, jpeg, gif or webp images, not 'image/tiff'"),
            (image("data:image/png;base64,***"), "messages[0].content[0]: the data: URL is not valid base64"),
        ];
        for (part, message) in cases {
            let err = body(vec![user_parts(vec![part])]).unwrap_err();
            assert_eq!(err.kind, ErrorKind::BadRequest);
            assert_eq!(err.message, message);
        }
    }

    #[test]
    fn tool_round_trip_is_grouped_in_one_user_turn() {
        let assistant = ChatMessage::Assistant(AssistantMessage {
            content: Some(MessageContent::Text("Checking.".into())),
            tool_calls: Some(vec![
                ToolCall::function("tooluse_1", "get_weather", r#"{"city":"Paris"}"#),
                ToolCall::function("tooluse_2", "get_time", ""),
            ]),
            ..Default::default()
        });
        let got = body(vec![
            ChatMessage::user("Weather and time in Paris?"),
            assistant,
            ChatMessage::tool("tooluse_1", "18C"),
            ChatMessage::tool("tooluse_2", "12:00"),
            ChatMessage::user("Thanks"),
        ])
        .unwrap();
        assert_eq!(
            got["messages"],
            json!([
                {"role": "user", "content": [{"text": "Weather and time in Paris?"}]},
                {"role": "assistant", "content": [
                    {"text": "Checking."},
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
                    {"toolUse": {"toolUseId": "tooluse_2", "name": "get_time", "input": {}}}
                ]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C"}]}},
                    {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "12:00"}]}},
                    {"text": "Thanks"}
                ]}
            ])
        );
        let bad_args = ChatMessage::Assistant(AssistantMessage {
            tool_calls: Some(vec![ToolCall::function("t", "f", "{nope")]),
            ..Default::default()
        });
        let err = body(vec![ChatMessage::user("x"), bad_args]).unwrap_err();
        assert!(
            err.message
                .starts_with("messages[1].tool_calls[0].function.arguments is not valid JSON"),
            "{}",
            err.message
        );
    }

    #[test]
    fn thinking_blocks_go_back_as_reasoning_content() {
        let mut m = AssistantMessage {
            content: Some(MessageContent::Text("42".into())),
            ..Default::default()
        };
        m.extra.insert(
            "thinking_blocks".into(),
            json!([{"type": "thinking", "thinking": "Let me think.", "signature": "sig=="},
                   {"type": "redacted_thinking", "data": "cmVkYWN0ZWQ="}]),
        );
        let got = body(vec![ChatMessage::user("Q"), ChatMessage::Assistant(m)]).unwrap();
        assert_eq!(
            got["messages"][1]["content"],
            json!([
                {"reasoningContent": {"reasoningText": {"text": "Let me think.", "signature": "sig=="}}},
                {"reasoningContent": {"redactedContent": "cmVkYWN0ZWQ="}},
                {"text": "42"}
            ])
        );
    }

    fn weather_tool() -> Tool {
        Tool::function(FunctionDefinition {
            name: "get_weather".into(),
            description: Some("Weather for a city".into()),
            parameters: Some(
                json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            ),
            strict: None,
        })
    }

    #[test]
    fn tools_and_tool_choice() {
        let mut req = ChatCompletionRequest::new(MODEL, vec![ChatMessage::user("Hi")]);
        req.tools = Some(vec![
            weather_tool(),
            Tool::function(FunctionDefinition {
                name: "noop".into(),
                description: None,
                parameters: None,
                strict: None,
            }),
        ]);
        let specs = json!([
            {"toolSpec": {"name": "get_weather", "description": "Weather for a city",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}},
            {"toolSpec": {"name": "noop", "inputSchema": {"json": {"type": "object", "properties": {}}}}}
        ]);
        assert_eq!(
            converse_body(&req, MODEL).unwrap()["toolConfig"],
            json!({"tools": specs})
        );
        for (choice, expected) in [
            (ToolChoice::Auto, json!({"auto": {}})),
            (ToolChoice::Required, json!({"any": {}})),
            (
                ToolChoice::Function("get_weather".into()),
                json!({"tool": {"name": "get_weather"}}),
            ),
        ] {
            req.tool_choice = Some(choice);
            assert_eq!(
                converse_body(&req, MODEL).unwrap()["toolConfig"]["toolChoice"],
                expected
            );
        }
        req.tool_choice = Some(ToolChoice::None);
        assert!(converse_body(&req, MODEL)
            .unwrap()
            .get("toolConfig")
            .is_none());
    }

    #[test]
    fn additional_fields_reasoning_and_passthrough() {
        let mut req = ChatCompletionRequest::new(MODEL, vec![ChatMessage::user("Hi")]);
        req.reasoning_effort = Some("medium".into());
        req.extra.insert("top_k".into(), json!(40));
        req.extra.insert(
            "additionalModelRequestFields".into(),
            json!({"anthropic_beta": ["x"]}),
        );
        req.extra.insert(
            "guardrailConfig".into(),
            json!({"guardrailIdentifier": "gr-1", "guardrailVersion": "1", "trace": "enabled"}),
        );
        req.extra
            .insert("performance_config".into(), json!({"latency": "optimized"}));
        req.extra.insert("drop_params".into(), json!(true));
        let got = converse_body(&req, MODEL).unwrap();
        assert_eq!(
            got["additionalModelRequestFields"],
            json!({"anthropic_beta": ["x"], "top_k": 40, "thinking": {"type": "enabled", "budget_tokens": 2048}})
        );
        assert_eq!(
            got["guardrailConfig"],
            json!({"guardrailIdentifier": "gr-1", "guardrailVersion": "1", "trace": "enabled"})
        );
        assert_eq!(got["performanceConfig"], json!({"latency": "optimized"}));
        // An explicit thinking field wins over reasoning_effort.
        req.extra.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": 9000}),
        );
        assert_eq!(
            converse_body(&req, MODEL).unwrap()["additionalModelRequestFields"]["thinking"],
            json!({"type": "enabled", "budget_tokens": 9000})
        );
        let nova = "us.amazon.nova-pro-v1:0";
        let mut req = ChatCompletionRequest::new(nova, vec![ChatMessage::user("Hi")]);
        req.reasoning_effort = Some("high".into());
        assert_eq!(
            converse_body(&req, nova).unwrap()["additionalModelRequestFields"],
            json!({"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "high"}})
        );
        let llama = "meta.llama3-70b-instruct-v1:0";
        let mut req = ChatCompletionRequest::new(llama, vec![ChatMessage::user("Hi")]);
        req.reasoning_effort = Some("high".into());
        assert!(converse_body(&req, llama)
            .unwrap_err()
            .message
            .contains("reasoning_effort is supported for"));
    }

    #[test]
    fn unsupported_params_fail_clearly() {
        let base = ChatCompletionRequest::new(MODEL, vec![ChatMessage::user("Hi")]);
        let mut r = base.clone();
        r.n = Some(2);
        assert_eq!(
            converse_body(&r, MODEL).unwrap_err().message,
            "bedrock returns one choice per call; n > 1 is not supported"
        );
        let mut r = base.clone();
        r.logprobs = Some(true);
        assert!(converse_body(&r, MODEL).is_err());
        // Provider fidelity finding: response_format was refused; it is now
        // the forced `json_tool_call` tool (an object schema only).
        let mut r = base.clone();
        r.response_format = Some(ResponseFormat::JsonObject);
        assert_eq!(
            converse_body(&r, MODEL).unwrap()["toolConfig"],
            json!({"tools": [{"toolSpec": {"name": "json_tool_call", "inputSchema": {"json": {"type": "object"}}}}],
                   "toolChoice": {"tool": {"name": "json_tool_call"}}})
        );
        assert!(json_mode(&r));
        r.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: llmux_core::types::chat::JsonSchemaFormat {
                name: "list".into(),
                description: None,
                schema: Some(json!({"type": "array"})),
                strict: None,
            },
        });
        assert_eq!(
            converse_body(&r, MODEL).unwrap_err().param.as_deref(),
            Some("response_format")
        );
        let mut r = base;
        r.response_format = Some(ResponseFormat::Text);
        r.n = Some(1);
        assert!(converse_body(&r, MODEL).is_ok());
    }
}
