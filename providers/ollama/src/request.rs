//! OpenAI chat request → Ollama `POST /api/chat` body, pure.
//!
//! - messages: `system`/`developer` → `system`; user text parts are joined and
//!   images (`data:` URLs) go to the message's `images` as bare base64;
//!   assistant `tool_calls` go back with their arguments as JSON objects;
//!   `tool` results carry `tool_name` (the function of the call they answer);
//! - `tools` pass in OpenAI's shape (Ollama uses it); `tool_choice: "none"`
//!   leaves them out; Ollama cannot force a call, so `required` and a named
//!   function are sent as plain `tools` (as LiteLLM does);
//! - `response_format`: `json_object` → `"format": "json"`, `json_schema` →
//!   `"format": <schema>`;
//! - `options`: `temperature`, `top_p`, `top_k`, `num_predict` (from
//!   `max_tokens`/`max_completion_tokens`), `stop`, `seed`, `frequency_penalty`,
//!   `presence_penalty`, merged over an `options` extra field (e.g. `num_ctx`);
//! - `think` from the extra field `think`, else `reasoning_effort` (`"none"` →
//!   `false`, anything else → `true`); `keep_alive` passes through;
//! - `stream` is always sent (Ollama streams unless told `false`).

use std::collections::HashMap;

use llmux_core::codec::{function_tool, refuse_unsupported_chat_fields};
use llmux_core::types::chat::{
    ChatCompletionRequest, ChatMessage, ContentPart, MessageContent, ResponseFormat, ToolChoice,
};
use llmux_core::{Error, Result};
use serde_json::{json, Map, Value};

fn bad(message: impl Into<String>) -> Error {
    Error::bad_request(message)
}

/// The `/api/chat` body for `request`.
pub fn chat_body(request: &ChatCompletionRequest, stream: bool) -> Result<Value> {
    refuse_unsupported_chat_fields("Ollama", request)?;
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert(
        "messages".into(),
        Value::Array(messages(&request.messages)?),
    );
    let tools_allowed = !matches!(request.tool_choice, Some(ToolChoice::None));
    if let Some(tools) = request
        .tools
        .as_ref()
        .filter(|t| tools_allowed && !t.is_empty())
    {
        let list = tools
            .iter()
            .enumerate()
            .map(|(j, tool)| match (tool.r#type.as_str(), &tool.function) {
                ("function", Some(f)) => Ok(function_tool(f)),
                _ => Err(bad(format!(
                    "tools[{j}]: Ollama takes function tools only (got type '{}')",
                    tool.r#type
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        body.insert("tools".into(), Value::Array(list));
    }
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            body.insert("format".into(), json!("json"));
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            body.insert(
                "format".into(),
                json_schema.schema.clone().unwrap_or_else(|| json!("json")),
            );
        }
        Some(ResponseFormat::Text) | None => {}
    }
    let mut options = match request.extra.get("options") {
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(bad("options must be an object").with_param("options")),
        None => Map::new(),
    };
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            options.insert(k.into(), v);
        }
    };
    set("temperature", request.temperature.map(Value::from));
    set("top_p", request.top_p.map(Value::from));
    set("top_k", request.extra.get("top_k").cloned());
    set("num_predict", request.max_output_tokens().map(Value::from));
    set("stop", request.stop.as_ref().map(|s| json!(s.to_vec())));
    set("seed", request.seed.map(Value::from));
    set(
        "frequency_penalty",
        request.frequency_penalty.map(Value::from),
    );
    set(
        "presence_penalty",
        request.presence_penalty.map(Value::from),
    );
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    let think = request.extra.get("think").cloned().or_else(|| {
        request
            .reasoning_effort
            .as_deref()
            .map(|e| Value::Bool(e != "none"))
    });
    if let Some(t) = think {
        body.insert("think".into(), t);
    }
    if let Some(k) = request.extra.get("keep_alive") {
        body.insert("keep_alive".into(), k.clone());
    }
    body.insert("stream".into(), Value::Bool(stream));
    Ok(Value::Object(body))
}

fn messages(list: &[ChatMessage]) -> Result<Vec<Value>> {
    // Tool-call id → function name, from earlier assistant turns.
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, message) in list.iter().enumerate() {
        let value = match message {
            ChatMessage::System(m) | ChatMessage::Developer(m) => {
                let (text, images) = split_content(&m.content, i)?;
                if !images.is_empty() {
                    return Err(bad(format!(
                        "messages[{i}]: a system message cannot hold images"
                    )));
                }
                json!({"role": "system", "content": text})
            }
            ChatMessage::User(m) => {
                let (text, images) = split_content(&m.content, i)?;
                let mut v = json!({"role": "user", "content": text});
                if !images.is_empty() {
                    v["images"] = json!(images);
                }
                v
            }
            ChatMessage::Assistant(m) => {
                let text = match &m.content {
                    Some(c) => split_content(c, i)?.0,
                    None => String::new(),
                };
                let mut v = json!({"role": "assistant", "content": text});
                if let Some(calls) = m.tool_calls.as_ref().filter(|c| !c.is_empty()) {
                    let calls = calls
                        .iter()
                        .map(|c| {
                            names.insert(c.id.as_str(), c.function.name.as_str());
                            let args: Value = if c.function.arguments.trim().is_empty() {
                                json!({})
                            } else {
                                serde_json::from_str(&c.function.arguments).map_err(|e| {
                                    bad(format!(
                                        "messages[{i}]: tool call '{}' has arguments that are not JSON: {e}",
                                        c.id
                                    ))
                                })?
                            };
                            Ok(json!({"function": {"name": c.function.name, "arguments": args}}))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    v["tool_calls"] = Value::Array(calls);
                }
                if let Some(t) = m.extra.get("reasoning_content").and_then(Value::as_str) {
                    v["thinking"] = json!(t);
                }
                v
            }
            ChatMessage::Tool(m) => {
                let (text, _) = split_content(&m.content, i)?;
                let mut v = json!({"role": "tool", "content": text});
                if let Some(name) = names.get(m.tool_call_id.as_str()) {
                    v["tool_name"] = json!(name);
                }
                v
            }
            ChatMessage::Function(m) => json!({
                "role": "tool",
                "content": m.content.clone().unwrap_or_default(),
                "tool_name": m.name,
            }),
        };
        out.push(value);
    }
    Ok(out)
}

/// Text (parts joined) and base64 images of a content.
fn split_content(content: &MessageContent, i: usize) -> Result<(String, Vec<String>)> {
    match content {
        MessageContent::Text(t) => Ok((t.clone(), Vec::new())),
        MessageContent::Parts(parts) => {
            let mut text = String::new();
            let mut images = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::Text(t) => text.push_str(&t.text),
                    ContentPart::Refusal(r) => text.push_str(&r.refusal),
                    ContentPart::ImageUrl(p) => {
                        let url = p.image_url.url.as_str();
                        let data = url
                            .strip_prefix("data:")
                            .and_then(|rest| rest.split_once(";base64,"))
                            .map(|(_, b64)| b64.to_string())
                            .ok_or_else(|| {
                                bad(format!(
                                    "messages[{i}].content[{j}]: Ollama takes images as base64 data: URLs, not links"
                                ))
                            })?;
                        images.push(data);
                    }
                    _ => {
                        return Err(bad(format!(
                            "messages[{i}].content[{j}]: Ollama chat takes text and images only"
                        )))
                    }
                }
            }
            Ok((text, images))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::types::chat::{AssistantMessage, FunctionDefinition, Tool, ToolCall};

    #[test]
    fn messages_options_format_and_think() {
        let mut r = ChatCompletionRequest::new(
            "llama3.2",
            vec![
                ChatMessage::system("Be brief."),
                ChatMessage::User(llmux_core::types::chat::UserMessage {
                    content: serde_json::from_value(json!([
                        {"type": "text", "text": "What is "},
                        {"type": "text", "text": "this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
                    ]))
                    .unwrap(),
                    name: None,
                    extra: Default::default(),
                }),
            ],
        );
        r.temperature = Some(0.1);
        r.top_p = Some(0.8);
        r.max_tokens = Some(20);
        r.stop = Some(llmux_core::types::OneOrMany::One("\n\n".into()));
        r.seed = Some(3);
        r.extra.insert("top_k".into(), json!(20));
        r.extra.insert(
            "options".into(),
            json!({"num_ctx": 8192, "temperature": 1.0}),
        );
        r.extra.insert("keep_alive".into(), json!("10m"));
        r.reasoning_effort = Some("low".into());
        r.response_format = Some(ResponseFormat::JsonObject);
        assert_eq!(
            chat_body(&r, false).unwrap(),
            json!({
                "model": "llama3.2",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "What is this?", "images": ["iVBORw0KGgo="]}
                ],
                "format": "json",
                "options": {"num_ctx": 8192, "temperature": 0.1, "top_p": 0.8, "top_k": 20,
                            "num_predict": 20, "stop": ["\n\n"], "seed": 3},
                "think": true,
                "keep_alive": "10m",
                "stream": false
            })
        );
    }

    #[test]
    fn tools_calls_and_results() {
        let mut r = ChatCompletionRequest::new(
            "qwen3",
            vec![
                ChatMessage::user("Weather?"),
                ChatMessage::Assistant(AssistantMessage {
                    tool_calls: Some(vec![ToolCall::function(
                        "call_1",
                        "get_weather",
                        "{\"city\":\"Oslo\"}",
                    )]),
                    ..Default::default()
                }),
                ChatMessage::tool("call_1", "11 degrees"),
                ChatMessage::tool("unknown", "?"),
            ],
        );
        r.tools = Some(vec![Tool::function(FunctionDefinition {
            name: "get_weather".into(),
            description: None,
            parameters: None,
            strict: None,
        })]);
        r.tool_choice = Some(ToolChoice::Required);
        let body = chat_body(&r, true).unwrap();
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
                {"role": "tool", "content": "11 degrees", "tool_name": "get_weather"},
                {"role": "tool", "content": "?"}
            ])
        );
        assert_eq!(
            body["tools"],
            json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}])
        );
        assert_eq!(body["stream"], json!(true));
        r.tool_choice = Some(ToolChoice::None);
        assert!(chat_body(&r, true).unwrap().get("tools").is_none());
    }

    #[test]
    fn schema_and_refusals() {
        let mut r = ChatCompletionRequest::new("m", vec![ChatMessage::user("x")]);
        r.response_format = Some(
            serde_json::from_value(json!({"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}}))
                .unwrap(),
        );
        assert_eq!(
            chat_body(&r, false).unwrap()["format"],
            json!({"type": "object"})
        );
        let r = ChatCompletionRequest::new(
            "m",
            vec![ChatMessage::User(llmux_core::types::chat::UserMessage {
                content: serde_json::from_value(
                    json!([{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]),
                )
                .unwrap(),
                name: None,
                extra: Default::default(),
            })],
        );
        assert!(chat_body(&r, false)
            .unwrap_err()
            .message
            .contains("base64 data: URLs"));
        let mut r = ChatCompletionRequest::new("m", vec![ChatMessage::user("x")]);
        r.n = Some(2);
        assert!(chat_body(&r, false).is_err());
    }
}
