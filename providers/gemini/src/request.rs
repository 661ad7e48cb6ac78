//! OpenAI chat request → Gemini `GenerateContentRequest` body (pure).
//!
//! - `system`/`developer` messages become `systemInstruction`;
//! - `user` and `tool` turns have role `user`, `assistant` turns role `model`;
//!   consecutive turns of one role are merged into one `Content`;
//! - parts: `text`, `inlineData` (from `data:` URLs and `input_audio`),
//!   `fileData` (`gs://` and `http(s)` URLs), `functionCall` (assistant tool
//!   calls, with the thought signature carried in the tool-call id) and
//!   `functionResponse` (tool results, named after the call they answer);
//! - `generationConfig`: temperature, topP, topK, maxOutputTokens,
//!   stopSequences, candidateCount (`n`), seed, presence/frequency penalty,
//!   responseLogprobs/logprobs, responseModalities, responseMimeType and
//!   responseSchema (`response_format`), thinkingConfig (`reasoning_effort`).

use std::collections::HashMap;

use llmux_core::codec::tool_arguments_object;
use llmux_core::types::chat::{
    AssistantMessage, ChatCompletionRequest, ChatMessage, ContentPart, MessageContent,
    ResponseFormat, ToolChoice,
};
use llmux_core::{Error, Result};
use serde_json::{json, Map, Value};

use crate::schema::{self, Mode};

/// Separator between a tool-call id and the Gemini thought signature it carries
/// (`call_…__thought__<signature>`), as LiteLLM spells it.
pub const THOUGHT_SIGNATURE_SEPARATOR: &str = "__thought__";

/// What differs between the Gemini API and Vertex AI bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// Vertex needs `mimeType` on every `fileData` part.
    pub file_mime_required: bool,
    /// Vertex accepts request `labels`.
    pub labels: bool,
}

impl Dialect {
    /// Google AI Studio (`gemini/…`).
    pub const GEMINI: Dialect = Dialect {
        file_mime_required: false,
        labels: false,
    };
    /// Vertex AI (`vertex_ai/…`).
    pub const VERTEX: Dialect = Dialect {
        file_mime_required: true,
        labels: true,
    };
}

fn bad(message: impl Into<String>) -> Error {
    Error::bad_request(message)
}

/// The `GenerateContentRequest` body for `request`.
pub fn chat_body(request: &ChatCompletionRequest, dialect: Dialect) -> Result<Value> {
    let mut body = Map::new();
    let (system, contents) = contents(&request.messages, dialect)?;
    body.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({ "parts": system }));
    }
    if let Some(tools) = tools(request)? {
        body.insert("tools".into(), tools);
    }
    if let Some(config) = tool_config(request)? {
        body.insert("toolConfig".into(), config);
    }
    let config = generation_config(request)?;
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    for (names, target) in [
        (&["safety_settings", "safetySettings"][..], "safetySettings"),
        (&["cached_content", "cachedContent"][..], "cachedContent"),
    ] {
        if let Some(v) = names.iter().find_map(|n| request.extra.get(*n)) {
            body.insert(target.into(), v.clone());
        }
    }
    if dialect.labels {
        if let Some(v) = request.extra.get("labels") {
            body.insert("labels".into(), v.clone());
        }
    }
    Ok(Value::Object(body))
}

/// `systemInstruction` parts and `contents`.
fn contents(messages: &[ChatMessage], dialect: Dialect) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut system = Vec::new();
    let mut contents: Vec<(&'static str, Vec<Value>)> = Vec::new();
    // Tool-call id → function name, from earlier assistant turns.
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let (role, parts) = match message {
            ChatMessage::System(m) | ChatMessage::Developer(m) => {
                match &m.content {
                    MessageContent::Text(t) => push_text(&mut system, t),
                    MessageContent::Parts(parts) => {
                        for p in parts {
                            match p {
                                ContentPart::Text(t) => push_text(&mut system, &t.text),
                                _ => {
                                    return Err(bad(format!(
                                        "messages[{i}]: a {} message can only hold text",
                                        message.role()
                                    )))
                                }
                            }
                        }
                    }
                }
                continue;
            }
            ChatMessage::User(m) => ("user", user_parts(&m.content, i, dialect)?),
            ChatMessage::Assistant(m) => {
                for call in m.tool_calls.iter().flatten() {
                    call_names.insert(call.id.as_str(), call.function.name.as_str());
                }
                ("model", assistant_parts(m, i)?)
            }
            ChatMessage::Tool(m) => {
                let name = call_names.get(m.tool_call_id.as_str()).ok_or_else(|| {
                    bad(format!(
                        "messages[{i}]: tool_call_id '{}' does not match a tool call of an earlier assistant message (Gemini needs the function name)",
                        m.tool_call_id
                    ))
                })?;
                ("user", vec![function_response(name, &m.content.text())])
            }
            ChatMessage::Function(m) => (
                "user",
                vec![function_response(
                    &m.name,
                    m.content.as_deref().unwrap_or_default(),
                )],
            ),
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => contents.push((role, parts)),
        }
    }
    let contents = contents
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect();
    Ok((system, contents))
}

fn push_text(parts: &mut Vec<Value>, text: &str) {
    if !text.is_empty() {
        parts.push(json!({ "text": text }));
    }
}

fn user_parts(content: &MessageContent, i: usize, dialect: Dialect) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    match content {
        MessageContent::Text(t) => push_text(&mut out, t),
        MessageContent::Parts(parts) => {
            for (j, part) in parts.iter().enumerate() {
                let at = format!("messages[{i}].content[{j}]");
                match part {
                    ContentPart::Text(t) => push_text(&mut out, &t.text),
                    ContentPart::Refusal(r) => push_text(&mut out, &r.refusal),
                    ContentPart::ImageUrl(p) => out.push(media_part(
                        &p.image_url.url,
                        p.image_url.format.as_deref(),
                        None,
                        dialect,
                        &at,
                    )?),
                    ContentPart::InputAudio(a) => {
                        let format = a.input_audio.format.to_ascii_lowercase();
                        let mime = mime_for_extension(&format)
                            .filter(|m| m.starts_with("audio/"))
                            .ok_or_else(|| {
                                bad(format!(
                                    "{at}: unknown input_audio format '{}'",
                                    a.input_audio.format
                                ))
                            })?;
                        out.push(json!({"inlineData": {
                            "mimeType": mime,
                            "data": a.input_audio.data,
                        }}));
                    }
                    ContentPart::File(f) => {
                        let source = f
                            .file
                            .file_data
                            .as_deref()
                            .or(f.file.file_id.as_deref())
                            .ok_or_else(|| {
                                bad(format!("{at}: a file part needs file_data or file_id"))
                            })?;
                        out.push(media_part(
                            source,
                            f.file.format.as_deref(),
                            f.file.filename.as_deref(),
                            dialect,
                            &at,
                        )?);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `inlineData` for a `data:` URL, `fileData` for a `gs://` or `http(s)://` URL.
fn media_part(
    url: &str,
    format: Option<&str>,
    filename: Option<&str>,
    dialect: Dialect,
    at: &str,
) -> Result<Value> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| bad(format!("{at}: malformed data: URL")))?;
        let mime = meta
            .strip_suffix(";base64")
            .ok_or_else(|| bad(format!("{at}: only base64 data: URLs are supported")))?;
        let mime = format.filter(|f| f.contains('/')).unwrap_or(mime);
        if mime.is_empty() {
            return Err(bad(format!("{at}: the data: URL names no media type")));
        }
        return Ok(json!({"inlineData": {"mimeType": mime, "data": data}}));
    }
    let remote = ["gs://", "https://", "http://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if !remote {
        return Err(bad(format!(
            "{at}: expected a data: URL or a gs:// or http(s):// URL"
        )));
    }
    let mime = format
        .filter(|f| f.contains('/'))
        .or_else(|| extension_of(filename.unwrap_or(url)).and_then(|e| mime_for_extension(&e)));
    match mime {
        Some(m) => Ok(json!({"fileData": {"mimeType": m, "fileUri": url}})),
        None if !dialect.file_mime_required => Ok(json!({"fileData": {"fileUri": url}})),
        None => Err(bad(format!(
            "{at}: cannot tell the media type of '{url}'; set its `format` (e.g. \"image/png\")"
        ))),
    }
}

/// Lower-case extension of the path part of a URL or file name.
fn extension_of(name: &str) -> Option<String> {
    let path = name.split(['?', '#']).next().unwrap_or(name);
    let last = path.rsplit('/').next().unwrap_or(path);
    let (_, ext) = last.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// Media types Gemini documents for images, audio, video and documents.
fn mime_for_extension(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "wav" => "audio/wav",
        "mp3" => "audio/mp3",
        "aiff" => "audio/aiff",
        "aac" => "audio/aac",
        "ogg" => "audio/ogg",
        "flac" => "audio/flac",
        "mp4" => "video/mp4",
        "mpeg" | "mpg" => "video/mpeg",
        "mov" => "video/mov",
        "avi" => "video/avi",
        "flv" => "video/x-flv",
        "webm" => "video/webm",
        "wmv" => "video/wmv",
        "3gp" | "3gpp" => "video/3gpp",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "html" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "md" => "text/md",
        "xml" => "text/xml",
        "rtf" => "text/rtf",
        "js" => "application/x-javascript",
        "py" => "application/x-python",
        _ => return None,
    })
}

fn assistant_parts(m: &AssistantMessage, i: usize) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    match &m.content {
        Some(MessageContent::Text(t)) => push_text(&mut out, t),
        Some(MessageContent::Parts(parts)) => {
            for p in parts {
                match p {
                    ContentPart::Text(t) => push_text(&mut out, &t.text),
                    ContentPart::Refusal(r) => push_text(&mut out, &r.refusal),
                    _ => {
                        return Err(bad(format!(
                            "messages[{i}]: assistant content can only hold text"
                        )))
                    }
                }
            }
        }
        None => {}
    }
    for (j, call) in m.tool_calls.iter().flatten().enumerate() {
        let args = tool_arguments_object(&call.function.arguments).map_err(|e| {
            bad(format!(
                "messages[{i}].tool_calls[{j}].function.arguments: {e}"
            ))
        })?;
        let mut part = Map::new();
        part.insert(
            "functionCall".into(),
            json!({"name": call.function.name, "args": args}),
        );
        if let Some((_, signature)) = call.id.split_once(THOUGHT_SIGNATURE_SEPARATOR) {
            if !signature.is_empty() {
                part.insert("thoughtSignature".into(), Value::String(signature.into()));
            }
        }
        out.push(Value::Object(part));
    }
    if let Some(call) = &m.function_call {
        let args = tool_arguments_object(&call.arguments)
            .map_err(|e| bad(format!("messages[{i}].function_call.arguments: {e}")))?;
        out.push(json!({"functionCall": {"name": call.name, "args": args}}));
    }
    Ok(out)
}

/// A `functionResponse` part: a JSON-object result as is, anything else
/// wrapped as `{"content": text}`.
fn function_response(name: &str, text: &str) -> Value {
    let response = match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "content": text }),
    };
    json!({"functionResponse": {"name": name, "response": response}})
}

fn tools(request: &ChatCompletionRequest) -> Result<Option<Value>> {
    let Some(tools) = request.tools.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let mut declarations = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let function = match (&tool.function, tool.r#type.as_str()) {
            (Some(f), "function") => f,
            _ => {
                return Err(bad(format!(
                    "tools[{i}]: Gemini supports only function tools (got type '{}')",
                    tool.r#type
                )))
            }
        };
        let mut decl = Map::new();
        decl.insert("name".into(), Value::String(function.name.clone()));
        if let Some(d) = &function.description {
            decl.insert("description".into(), Value::String(d.clone()));
        }
        if let Some(params) = &function.parameters {
            let empty_object = params
                .get("properties")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
                && params.get("type").and_then(Value::as_str) == Some("object");
            // Gemini rejects an OBJECT with no properties; a function without
            // arguments simply has no `parameters`.
            if !empty_object {
                let converted = schema::convert(
                    params,
                    Mode::Lenient,
                    &format!("tools[{i}].function.parameters"),
                )
                .map_err(bad)?;
                decl.insert("parameters".into(), converted);
            }
        }
        declarations.push(Value::Object(decl));
    }
    if request.parallel_tool_calls == Some(false) && declarations.len() > 1 {
        return Err(bad(
            "parallel_tool_calls=false cannot be expressed for Gemini with more than one tool",
        ));
    }
    Ok(Some(json!([{ "functionDeclarations": declarations }])))
}

fn tool_config(request: &ChatCompletionRequest) -> Result<Option<Value>> {
    let Some(choice) = &request.tool_choice else {
        return Ok(None);
    };
    let config = match choice {
        ToolChoice::None => json!({"mode": "NONE"}),
        ToolChoice::Auto => json!({"mode": "AUTO"}),
        ToolChoice::Required => json!({"mode": "ANY"}),
        ToolChoice::Function(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        ToolChoice::Other(v) => {
            return Err(bad(format!(
                "tool_choice {v} cannot be expressed for Gemini (use none, auto, required or a function)"
            )))
        }
    };
    Ok(Some(json!({ "functionCallingConfig": config })))
}

fn generation_config(request: &ChatCompletionRequest) -> Result<Map<String, Value>> {
    let mut c = Map::new();
    let mut put = |k: &str, v: Value| {
        c.insert(k.to_string(), v);
    };
    if request.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
        return Err(bad("Gemini does not support logit_bias"));
    }
    if request.audio.is_some() {
        return Err(bad("llmux does not support audio output for Gemini"));
    }
    if request.prediction.is_some() {
        return Err(bad(
            "Gemini does not support predicted outputs (prediction)",
        ));
    }
    if let Some(t) = request.temperature {
        put("temperature", json!(t));
    }
    if let Some(p) = request.top_p {
        put("topP", json!(p));
    }
    if let Some(k) = ["top_k", "topK"].iter().find_map(|n| request.extra.get(*n)) {
        put("topK", k.clone());
    }
    if let Some(m) = request.max_output_tokens() {
        put("maxOutputTokens", json!(m));
    }
    if let Some(stop) = &request.stop {
        put("stopSequences", json!(stop.to_vec()));
    }
    if let Some(n) = request.n {
        put("candidateCount", json!(n));
    }
    if let Some(seed) = request.seed {
        put("seed", json!(seed));
    }
    if let Some(p) = request.presence_penalty {
        put("presencePenalty", json!(p));
    }
    if let Some(p) = request.frequency_penalty {
        put("frequencyPenalty", json!(p));
    }
    if request.logprobs == Some(true) {
        put("responseLogprobs", json!(true));
        if let Some(n) = request.top_logprobs {
            put("logprobs", json!(n));
        }
    }
    if let Some(modalities) = &request.modalities {
        let upper: Vec<String> = modalities.iter().map(|m| m.to_ascii_uppercase()).collect();
        put("responseModalities", json!(upper));
    }
    match &request.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => put("responseMimeType", json!("application/json")),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            put("responseMimeType", json!("application/json"));
            if let Some(s) = json_schema
                .schema
                .as_ref()
                .filter(|_| accepts_json_schema(&request.model))
            {
                // The full JSON Schema, keywords and all (as LiteLLM sends it).
                put("responseJsonSchema", s.clone());
            } else if let Some(s) = &json_schema.schema {
                let converted =
                    schema::convert(s, Mode::Strict, "response_format.json_schema.schema")
                        .map_err(bad)?;
                put("responseSchema", converted);
            }
        }
    }
    if let Some(thinking) = thinking_config(request)? {
        put("thinkingConfig", thinking);
    }
    Ok(c)
}

/// Whether `model` takes a full JSON Schema in `responseJsonSchema`
/// (Gemini 2.5 and later, and the `-latest` aliases); older models get the
/// OpenAPI subset in `responseSchema`.
pub fn accepts_json_schema(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    if m.contains("-latest") && m.contains("gemini-") && !m.contains("gemini-1.") {
        return true;
    }
    let Some(rest) = m.split("gemini-").nth(1) else {
        return false;
    };
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    major > 2 || (major == 2 && minor >= 5)
}

/// `thinkingConfig` from `reasoning_effort` (or an Anthropic-style `thinking`
/// object), with LiteLLM's budgets: thinking budgets for Gemini 2.x, thinking
/// levels for Gemini 3.
fn thinking_config(request: &ChatCompletionRequest) -> Result<Option<Value>> {
    let model = request.model.to_ascii_lowercase();
    let gemini3 = model.contains("gemini-3");
    if let Some(effort) = &request.reasoning_effort {
        let effort = effort.to_ascii_lowercase();
        if gemini3 {
            let flash = model.contains("gemini-3-flash") || model.contains("gemini-3.1-flash");
            let pro31 = model.contains("gemini-3.1-pro");
            let (level, include) = match effort.as_str() {
                "minimal" => (if flash { "minimal" } else { "low" }, true),
                "low" => ("low", true),
                "medium" => (if flash || pro31 { "medium" } else { "high" }, true),
                "high" => ("high", true),
                "none" | "disable" => (if flash { "minimal" } else { "low" }, false),
                other => return Err(bad(format!("unknown reasoning_effort '{other}'"))),
            };
            return Ok(Some(
                json!({"thinkingLevel": level, "includeThoughts": include}),
            ));
        }
        let (budget, include) = match effort.as_str() {
            "minimal" => {
                let budget = if model.contains("gemini-2.5-flash-lite") {
                    512
                } else if model.contains("gemini-2.5-pro") {
                    128
                } else if model.contains("gemini-2.5-flash") {
                    1
                } else {
                    128
                };
                (budget, true)
            }
            "low" => (1024, true),
            "medium" => (2048, true),
            "high" => (4096, true),
            "none" | "disable" => (0, false),
            other => return Err(bad(format!("unknown reasoning_effort '{other}'"))),
        };
        return Ok(Some(
            json!({"thinkingBudget": budget, "includeThoughts": include}),
        ));
    }
    if let Some(thinking) = request.extra.get("thinking").and_then(Value::as_object) {
        let enabled = thinking.get("type").and_then(Value::as_str) == Some("enabled");
        let budget = thinking.get("budget_tokens").and_then(Value::as_u64);
        let mut out = Map::new();
        out.insert(
            "includeThoughts".into(),
            Value::Bool(enabled && budget != Some(0)),
        );
        if let (Some(b), false) = (budget, gemini3) {
            out.insert("thinkingBudget".into(), json!(b));
        }
        return Ok(Some(Value::Object(out)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::types::chat::{
        FilePart, FileRef, FunctionDefinition, ImageUrl, ImageUrlPart, InputAudio, InputAudioPart,
        JsonSchemaFormat, TextPart, Tool, ToolCall, UserMessage,
    };
    use llmux_core::types::OneOrMany;

    fn user_parts_msg(parts: Vec<ContentPart>) -> ChatMessage {
        ChatMessage::User(UserMessage {
            content: MessageContent::Parts(parts),
            name: None,
            extra: Default::default(),
        })
    }

    fn image(url: &str, format: Option<&str>) -> ContentPart {
        ContentPart::ImageUrl(ImageUrlPart {
            image_url: ImageUrl {
                url: url.into(),
                detail: None,
                format: format.map(str::to_string),
            },
            extra: Default::default(),
        })
    }

    fn text(t: &str) -> ContentPart {
        ContentPart::Text(TextPart {
            text: t.into(),
            extra: Default::default(),
        })
    }

    #[test]
    fn roles_system_instruction_and_merging() {
        let req = ChatCompletionRequest::new(
            "gemini-2.0-flash",
            vec![
                ChatMessage::system("Be brief."),
                ChatMessage::Developer(llmux_core::types::chat::SystemMessage {
                    content: MessageContent::Text("Answer in French.".into()),
                    name: None,
                    extra: Default::default(),
                }),
                ChatMessage::user("Hi"),
                ChatMessage::user("there"),
                ChatMessage::assistant("Bonjour"),
                ChatMessage::assistant(""),
                ChatMessage::user("Again"),
            ],
        );
        assert_eq!(
            chat_body(&req, Dialect::GEMINI).unwrap(),
            json!({
                "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]},
                "contents": [
                    {"role": "user", "parts": [{"text": "Hi"}, {"text": "there"}]},
                    {"role": "model", "parts": [{"text": "Bonjour"}]},
                    {"role": "user", "parts": [{"text": "Again"}]}
                ]
            })
        );
    }

    #[test]
    fn media_parts() {
        let req = ChatCompletionRequest::new(
            "gemini-2.0-flash",
            vec![user_parts_msg(vec![
                text("Describe"),
                image("data:image/png;base64,iVBORw0KGgo=", None),
                image("gs://bucket/cat.JPG", None),
                image("https://example.com/a/b/video.mp4?x=1", None),
                image("https://example.com/image", Some("image/webp")),
                ContentPart::InputAudio(InputAudioPart {
                    input_audio: InputAudio {
                        data: "UklGRg==".into(),
                        format: "wav".into(),
                    },
                    extra: Default::default(),
                }),
                ContentPart::File(FilePart {
                    file: FileRef {
                        file_id: None,
                        file_data: Some("data:application/pdf;base64,JVBERi0=".into()),
                        filename: Some("doc.pdf".into()),
                        format: None,
                    },
                    extra: Default::default(),
                }),
                ContentPart::File(FilePart {
                    file: FileRef {
                        file_id: Some("gs://bucket/report".into()),
                        file_data: None,
                        filename: Some("report.pdf".into()),
                        format: None,
                    },
                    extra: Default::default(),
                }),
            ])],
        );
        assert_eq!(
            chat_body(&req, Dialect::VERTEX).unwrap()["contents"],
            json!([{"role": "user", "parts": [
                {"text": "Describe"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.JPG"}},
                {"fileData": {"mimeType": "video/mp4", "fileUri": "https://example.com/a/b/video.mp4?x=1"}},
                {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/image"}},
                {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
                {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/report"}}
            ]}])
        );
    }

    #[test]
    fn unknown_media_type_is_an_error_on_vertex_only() {
        let req = ChatCompletionRequest::new(
            "m",
            vec![user_parts_msg(vec![image(
                "https://generativelanguage.googleapis.com/v1beta/files/abc",
                None,
            )])],
        );
        assert_eq!(
            chat_body(&req, Dialect::GEMINI).unwrap()["contents"][0]["parts"][0],
            json!({"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}})
        );
        let err = chat_body(&req, Dialect::VERTEX).unwrap_err();
        assert_eq!(err.kind, llmux_core::ErrorKind::BadRequest);
        assert_eq!(
            err.message,
            "messages[0].content[0]: cannot tell the media type of 'https://generativelanguage.googleapis.com/v1beta/files/abc'; set its `format` (e.g. \"image/png\")"
        );
        let req = ChatCompletionRequest::new(
            "m",
            vec![user_parts_msg(vec![image("ftp://x/y.png", None)])],
        );
        assert!(chat_body(&req, Dialect::GEMINI).is_err());
        let req = ChatCompletionRequest::new(
            "m",
            vec![user_parts_msg(vec![image("data:image/png,raw", None)])],
        );
        assert_eq!(
            chat_body(&req, Dialect::GEMINI).unwrap_err().message,
            "messages[0].content[0]: only base64 data: URLs are supported"
        );
    }

    #[test]
    fn tool_round_trip_with_thought_signature() {
        let req = ChatCompletionRequest::new(
            "gemini-2.5-flash",
            vec![
                ChatMessage::user("Weather in Paris and Rome?"),
                ChatMessage::Assistant(AssistantMessage {
                    tool_calls: Some(vec![
                        ToolCall::function(
                            "call_a__thought__c2lnbmF0dXJl",
                            "get_weather",
                            "{\"city\":\"Paris\"}",
                        ),
                        ToolCall::function("call_b", "get_weather", "{\"city\":\"Rome\"}"),
                    ]),
                    ..Default::default()
                }),
                ChatMessage::tool("call_a__thought__c2lnbmF0dXJl", "{\"temp_c\":21}"),
                ChatMessage::tool("call_b", "sunny"),
                ChatMessage::user("Thanks"),
            ],
        );
        assert_eq!(
            chat_body(&req, Dialect::GEMINI).unwrap()["contents"],
            json!([
                {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
                {"role": "model", "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnbmF0dXJl"},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}},
                    {"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}},
                    {"text": "Thanks"}
                ]}
            ])
        );
        let orphan = ChatCompletionRequest::new("m", vec![ChatMessage::tool("nope", "x")]);
        assert!(chat_body(&orphan, Dialect::GEMINI)
            .unwrap_err()
            .message
            .contains("tool_call_id 'nope'"));
        let bad_args = ChatCompletionRequest::new(
            "m",
            vec![ChatMessage::Assistant(AssistantMessage {
                tool_calls: Some(vec![ToolCall::function("c", "f", "[1]")]),
                ..Default::default()
            })],
        );
        assert_eq!(
            chat_body(&bad_args, Dialect::GEMINI).unwrap_err().message,
            "messages[0].tool_calls[0].function.arguments: must encode a JSON object"
        );
    }

    #[test]
    fn tools_tool_choice_and_generation_config() {
        let mut req = ChatCompletionRequest::new("gemini-2.5-pro", vec![ChatMessage::user("Hi")]);
        req.tools = Some(vec![
            Tool::function(FunctionDefinition {
                name: "get_weather".into(),
                description: Some("Weather".into()),
                parameters: Some(
                    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}),
                ),
                strict: Some(true),
            }),
            Tool::function(FunctionDefinition {
                name: "now".into(),
                description: None,
                parameters: Some(json!({"type": "object", "properties": {}})),
                strict: None,
            }),
        ]);
        req.tool_choice = Some(ToolChoice::Function("get_weather".into()));
        req.temperature = Some(0.5);
        req.top_p = Some(0.9);
        req.extra.insert("top_k".into(), json!(40));
        req.max_completion_tokens = Some(100);
        req.stop = Some(OneOrMany::One("END".into()));
        req.n = Some(2);
        req.seed = Some(7);
        req.presence_penalty = Some(0.1);
        req.frequency_penalty = Some(0.2);
        req.logprobs = Some(true);
        req.top_logprobs = Some(3);
        req.reasoning_effort = Some("low".into());
        req.extra.insert(
            "safety_settings".into(),
            json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]),
        );
        req.extra.insert("labels".into(), json!({"team": "a"}));
        req.user = Some("u-1".into());
        let body = chat_body(&req, Dialect::GEMINI).unwrap();
        assert_eq!(
            body,
            json!({
                "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
                "tools": [{"functionDeclarations": [
                    {"name": "get_weather", "description": "Weather", "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}},
                    {"name": "now"}
                ]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
                "generationConfig": {
                    "temperature": 0.5, "topP": 0.9, "topK": 40, "maxOutputTokens": 100,
                    "stopSequences": ["END"], "candidateCount": 2, "seed": 7,
                    "presencePenalty": 0.1, "frequencyPenalty": 0.2,
                    "responseLogprobs": true, "logprobs": 3,
                    "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}
                },
                "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
            })
        );
        // Vertex also takes labels.
        assert_eq!(
            chat_body(&req, Dialect::VERTEX).unwrap()["labels"],
            json!({"team": "a"})
        );
        for (choice, expected) in [
            (ToolChoice::None, json!({"mode": "NONE"})),
            (ToolChoice::Auto, json!({"mode": "AUTO"})),
            (ToolChoice::Required, json!({"mode": "ANY"})),
        ] {
            req.tool_choice = Some(choice);
            assert_eq!(
                chat_body(&req, Dialect::GEMINI).unwrap()["toolConfig"]["functionCallingConfig"],
                expected
            );
        }
        req.parallel_tool_calls = Some(false);
        assert!(chat_body(&req, Dialect::GEMINI).is_err());
    }

    #[test]
    fn reasoning_effort_by_model_family() {
        let cases = [
            (
                "gemini-2.5-flash",
                "minimal",
                json!({"thinkingBudget": 1, "includeThoughts": true}),
            ),
            (
                "gemini-2.5-flash-lite",
                "minimal",
                json!({"thinkingBudget": 512, "includeThoughts": true}),
            ),
            (
                "gemini-2.5-pro",
                "medium",
                json!({"thinkingBudget": 2048, "includeThoughts": true}),
            ),
            (
                "gemini-2.5-pro",
                "high",
                json!({"thinkingBudget": 4096, "includeThoughts": true}),
            ),
            (
                "gemini-2.5-flash",
                "none",
                json!({"thinkingBudget": 0, "includeThoughts": false}),
            ),
            (
                "gemini-3-pro-preview",
                "medium",
                json!({"thinkingLevel": "high", "includeThoughts": true}),
            ),
            (
                "gemini-3-flash-preview",
                "minimal",
                json!({"thinkingLevel": "minimal", "includeThoughts": true}),
            ),
            (
                "gemini-3-pro-preview",
                "low",
                json!({"thinkingLevel": "low", "includeThoughts": true}),
            ),
        ];
        for (model, effort, expected) in cases {
            let mut req = ChatCompletionRequest::new(model, vec![ChatMessage::user("x")]);
            req.reasoning_effort = Some(effort.into());
            assert_eq!(
                chat_body(&req, Dialect::GEMINI).unwrap()["generationConfig"]["thinkingConfig"],
                expected,
                "{model} {effort}"
            );
        }
        let mut req = ChatCompletionRequest::new("gemini-2.5-pro", vec![ChatMessage::user("x")]);
        req.reasoning_effort = Some("extreme".into());
        assert_eq!(
            chat_body(&req, Dialect::GEMINI).unwrap_err().message,
            "unknown reasoning_effort 'extreme'"
        );
        req.reasoning_effort = None;
        req.extra.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": 2000}),
        );
        assert_eq!(
            chat_body(&req, Dialect::GEMINI).unwrap()["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": 2000, "includeThoughts": true})
        );
    }

    #[test]
    fn response_format_json_and_schema_errors() {
        let mut req = ChatCompletionRequest::new("gemini-2.0-flash", vec![ChatMessage::user("x")]);
        req.response_format = Some(ResponseFormat::JsonObject);
        assert_eq!(
            chat_body(&req, Dialect::GEMINI).unwrap()["generationConfig"],
            json!({"responseMimeType": "application/json"})
        );
        req.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: "person".into(),
                description: None,
                schema: Some(
                    json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}),
                ),
                strict: Some(true),
            },
        });
        assert_eq!(
            chat_body(&req, Dialect::GEMINI).unwrap()["generationConfig"],
            json!({"responseMimeType": "application/json", "responseSchema": {"type": "OBJECT", "properties": {"name": {"type": "STRING"}}, "required": ["name"]}})
        );
        req.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: "n".into(),
                description: None,
                schema: Some(json!({"type": "integer", "multipleOf": 3})),
                strict: None,
            },
        });
        let err = chat_body(&req, Dialect::GEMINI).unwrap_err();
        assert_eq!(err.kind, llmux_core::ErrorKind::BadRequest);
        // Gemini 2.5 and later take the full JSON Schema, keywords kept.
        req.model = "gemini-2.5-flash".into();
        assert_eq!(
            chat_body(&req, Dialect::GEMINI).unwrap()["generationConfig"],
            json!({"responseMimeType": "application/json", "responseJsonSchema": {"type": "integer", "multipleOf": 3}})
        );
        for (model, full) in [
            ("gemini-2.0-flash", false),
            ("gemini-1.5-pro", false),
            ("gemini-2.5-pro", true),
            ("gemini-3-pro-preview", true),
            ("gemini-flash-latest", true),
            ("gemma-3-27b-it", false),
        ] {
            assert_eq!(accepts_json_schema(model), full, "{model}");
        }
        assert_eq!(
            err.message,
            "response_format.json_schema.schema.multipleOf: 'multipleOf' cannot be expressed in Gemini's response schema"
        );
    }

    #[test]
    fn unsupported_openai_params_fail_clearly() {
        let mut req = ChatCompletionRequest::new("m", vec![ChatMessage::user("x")]);
        let mut bias = Map::new();
        bias.insert("50256".into(), json!(-100));
        req.logit_bias = Some(bias);
        assert_eq!(
            chat_body(&req, Dialect::GEMINI).unwrap_err().message,
            "Gemini does not support logit_bias"
        );
    }
}
