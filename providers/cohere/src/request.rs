//! OpenAI chat request → Cohere Chat v2 body (`POST /v2/chat`), pure.
//!
//! - messages keep their roles (`developer` becomes `system`); user content is
//!   a string or `text` / `image_url` parts; assistant turns carry `tool_calls`
//!   in OpenAI's own shape (Cohere v2 uses it) and a `tool_plan` (from the
//!   message's `tool_plan` or `reasoning_content`); `tool` results keep their `tool_call_id`;
//! - `tools` pass as `{"type": "function", "function": {...}}` (parameters
//!   default to an empty object schema); a `strict` function sets `strict_tools`;
//! - `tool_choice`: `none` → `NONE`, `required` → `REQUIRED`, a named function →
//!   `REQUIRED` with only that tool offered, `auto` → left out (Cohere's default);
//! - `response_format`: `json_object` → `{"type": "json_object"}`, `json_schema` →
//!   `{"type": "json_object", "json_schema": <schema>}`;
//! - `stop` → `stop_sequences`, `top_p` → `p`, `top_k` → `k`, `max_tokens` /
//!   `max_completion_tokens` → `max_tokens`, `temperature`, `seed`,
//!   `frequency_penalty`, `presence_penalty`, `logprobs`;
//!   `reasoning_effort` → `thinking` (`none` disables it, anything else enables it);
//! - Cohere's own parameters given as extra fields pass through: `safety_mode`,
//!   `documents`, `citation_options`, `thinking`, `priority`, `strict_tools`, `k`, `p`.

use llmux_core::codec::{function_tool, pass_through, refuse_unsupported_chat_fields};
use llmux_core::types::chat::{
    AssistantMessage, ChatCompletionRequest, ChatMessage, ContentPart, MessageContent,
    ResponseFormat, ToolChoice,
};
use llmux_core::{Error, Result};
use serde_json::{json, Map, Value};

/// Cohere parameters accepted as extra request fields and passed on unchanged.
pub const PASS_THROUGH: &[&str] = &[
    "safety_mode",
    "documents",
    "citation_options",
    "thinking",
    "priority",
    "strict_tools",
    "k",
    "p",
];

fn bad(message: impl Into<String>) -> Error {
    Error::bad_request(message)
}

/// The Chat v2 body for `request`; `stream` sets `"stream": true`.
pub fn chat_body(request: &ChatCompletionRequest, stream: bool) -> Result<Value> {
    refuse_unsupported_chat_fields("Cohere", request)?;
    let mut body = Map::new();
    body.insert("model".into(), Value::String(request.model.clone()));
    let messages = request
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| message(m, i))
        .collect::<Result<Vec<_>>>()?;
    body.insert("messages".into(), Value::Array(messages));
    tools(request, &mut body)?;
    if let Some(format) = &request.response_format {
        let value = match format {
            ResponseFormat::Text => json!({"type": "text"}),
            ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ResponseFormat::JsonSchema { json_schema } => match &json_schema.schema {
                Some(schema) => json!({"type": "json_object", "json_schema": schema}),
                None => json!({"type": "json_object"}),
            },
        };
        body.insert("response_format".into(), value);
    }
    if let Some(stop) = &request.stop {
        body.insert("stop_sequences".into(), json!(stop.to_vec()));
    }
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            body.insert(k.into(), v);
        }
    };
    set("temperature", request.temperature.map(Value::from));
    set("p", request.top_p.map(Value::from));
    set("max_tokens", request.max_output_tokens().map(Value::from));
    set("seed", request.seed.map(Value::from));
    set(
        "frequency_penalty",
        request.frequency_penalty.map(Value::from),
    );
    set(
        "presence_penalty",
        request.presence_penalty.map(Value::from),
    );
    set("logprobs", request.logprobs.map(Value::from));
    set("k", request.extra.get("top_k").cloned());
    set(
        "thinking",
        request
            .reasoning_effort
            .as_deref()
            .map(|effort| match effort {
                "none" => json!({"type": "disabled"}),
                _ => json!({"type": "enabled"}),
            }),
    );
    pass_through(&mut body, &request.extra, PASS_THROUGH);
    if stream {
        body.insert("stream".into(), Value::Bool(true));
    }
    Ok(Value::Object(body))
}

fn text_only(content: &MessageContent, i: usize, role: &str) -> Result<String> {
    match content {
        MessageContent::Text(t) => Ok(t.clone()),
        MessageContent::Parts(parts) => parts
            .iter()
            .map(|p| match p {
                ContentPart::Text(t) => Ok(t.text.as_str()),
                _ => Err(bad(format!(
                    "messages[{i}]: a {role} message can only hold text for Cohere"
                ))),
            })
            .collect::<Result<Vec<_>>>()
            .map(|texts| texts.concat()),
    }
}

fn message(message: &ChatMessage, i: usize) -> Result<Value> {
    Ok(match message {
        ChatMessage::System(m) | ChatMessage::Developer(m) => {
            json!({"role": "system", "content": text_only(&m.content, i, message.role())?})
        }
        ChatMessage::User(m) => json!({"role": "user", "content": user_content(&m.content, i)?}),
        ChatMessage::Assistant(m) => assistant(m, i)?,
        ChatMessage::Tool(m) => json!({
            "role": "tool",
            "tool_call_id": m.tool_call_id,
            "content": text_only(&m.content, i, "tool")?,
        }),
        ChatMessage::Function(_) => {
            return Err(bad(format!(
                "messages[{i}]: the deprecated function role is not supported by Cohere; use tool messages"
            )))
        }
    })
}

fn user_content(content: &MessageContent, i: usize) -> Result<Value> {
    match content {
        MessageContent::Text(t) => Ok(Value::String(t.clone())),
        MessageContent::Parts(parts) => parts
            .iter()
            .enumerate()
            .map(|(j, part)| match part {
                ContentPart::Text(t) => Ok(json!({"type": "text", "text": t.text})),
                ContentPart::ImageUrl(p) => {
                    let mut image = json!({"url": p.image_url.url});
                    if let Some(d) = &p.image_url.detail {
                        image["detail"] = json!(d);
                    }
                    Ok(json!({"type": "image_url", "image_url": image}))
                }
                _ => Err(bad(format!(
                    "messages[{i}].content[{j}]: Cohere chat takes text and images only"
                ))),
            })
            .collect::<Result<Vec<_>>>()
            .map(Value::Array),
    }
}

fn assistant(m: &AssistantMessage, i: usize) -> Result<Value> {
    let mut out = Map::new();
    out.insert("role".into(), json!("assistant"));
    if let Some(content) = &m.content {
        let text = text_only(content, i, "assistant")?;
        if !text.is_empty() {
            out.insert("content".into(), Value::String(text));
        }
    }
    if let Some(calls) = m.tool_calls.as_ref().filter(|c| !c.is_empty()) {
        let calls: Vec<Value> = calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                       "function": {"name": c.function.name, "arguments": c.function.arguments}})
            })
            .collect();
        out.insert("tool_calls".into(), Value::Array(calls));
        // The plan llmux returned as `reasoning_content` goes back as `tool_plan`.
        if let Some(plan) = m
            .extra
            .get("tool_plan")
            .or_else(|| m.extra.get("reasoning_content"))
        {
            out.insert("tool_plan".into(), plan.clone());
        }
    }
    if !out.contains_key("content") && !out.contains_key("tool_calls") {
        // Cohere rejects an assistant turn with neither; keep the turn.
        out.insert("content".into(), Value::String(String::new()));
    }
    Ok(Value::Object(out))
}

fn tools(request: &ChatCompletionRequest, body: &mut Map<String, Value>) -> Result<()> {
    let named = match &request.tool_choice {
        Some(ToolChoice::Function(name)) => Some(name.as_str()),
        _ => None,
    };
    let mut strict = false;
    let mut list = Vec::new();
    for (j, tool) in request.tools.iter().flatten().enumerate() {
        let f = match (tool.r#type.as_str(), &tool.function) {
            ("function", Some(f)) => f,
            _ => {
                return Err(bad(format!(
                    "tools[{j}]: Cohere takes function tools only (got type '{}')",
                    tool.r#type
                )))
            }
        };
        if named.is_some_and(|n| n != f.name) {
            continue;
        }
        strict |= f.strict == Some(true);
        list.push(function_tool(f));
    }
    if let Some(name) = named {
        if list.is_empty() {
            return Err(bad(format!(
                "tool_choice names function '{name}', which is not in tools"
            ))
            .with_param("tool_choice"));
        }
    }
    let choice = match &request.tool_choice {
        None | Some(ToolChoice::Auto) => None,
        Some(ToolChoice::None) => Some("NONE"),
        Some(ToolChoice::Required) | Some(ToolChoice::Function(_)) => Some("REQUIRED"),
        Some(ToolChoice::Other(v)) => {
            return Err(bad(format!("unsupported tool_choice {v}")).with_param("tool_choice"))
        }
    };
    if !list.is_empty() {
        body.insert("tools".into(), Value::Array(list));
        if strict {
            body.insert("strict_tools".into(), Value::Bool(true));
        }
    }
    if let Some(c) = choice {
        body.insert("tool_choice".into(), json!(c));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::types::chat::{FunctionDefinition, JsonSchemaFormat, Tool, ToolCall};

    fn req(messages: Vec<ChatMessage>) -> ChatCompletionRequest {
        ChatCompletionRequest::new("command-a-03-2025", messages)
    }

    #[test]
    fn messages_and_sampling_parameters() {
        let mut r = req(vec![
            ChatMessage::Developer(llmux_core::types::chat::SystemMessage {
                content: MessageContent::Text("Be brief.".into()),
                name: None,
                extra: Default::default(),
            }),
            ChatMessage::user("Hi"),
            ChatMessage::assistant("Hello"),
            ChatMessage::user("Again"),
        ]);
        r.temperature = Some(0.2);
        r.top_p = Some(0.9);
        r.max_completion_tokens = Some(64);
        r.seed = Some(7);
        r.stop = Some(llmux_core::types::OneOrMany::One("END".into()));
        r.frequency_penalty = Some(0.1);
        r.presence_penalty = Some(0.3);
        r.extra.insert("top_k".into(), json!(40));
        r.extra.insert("safety_mode".into(), json!("STRICT"));
        r.extra.insert("unknown_openai_thing".into(), json!(1));
        r.user = Some("u-1".into());
        assert_eq!(
            chat_body(&r, true).unwrap(),
            json!({
                "model": "command-a-03-2025",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello"},
                    {"role": "user", "content": "Again"}
                ],
                "stop_sequences": ["END"],
                "temperature": 0.2, "p": 0.9, "max_tokens": 64, "seed": 7,
                "frequency_penalty": 0.1, "presence_penalty": 0.3, "k": 40,
                "safety_mode": "STRICT",
                "stream": true
            })
        );
    }

    #[test]
    fn images_tools_and_results() {
        let mut r = req(vec![
            ChatMessage::User(llmux_core::types::chat::UserMessage {
                content: serde_json::from_value(json!([
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"}}
                ]))
                .unwrap(),
                name: None,
                extra: Default::default(),
            }),
            ChatMessage::Assistant(AssistantMessage {
                tool_calls: Some(vec![ToolCall::function("call_1", "lookup", "{\"q\":\"x\"}")]),
                extra: serde_json::from_value(json!({"tool_plan": "I will look it up."})).unwrap(),
                ..Default::default()
            }),
            ChatMessage::tool("call_1", "{\"answer\":42}"),
        ]);
        r.tools = Some(vec![
            Tool::function(FunctionDefinition {
                name: "lookup".into(),
                description: Some("Look up".into()),
                parameters: Some(
                    json!({"type": "object", "properties": {"q": {"type": "string"}}}),
                ),
                strict: Some(true),
            }),
            Tool::function(FunctionDefinition {
                name: "other".into(),
                description: None,
                parameters: None,
                strict: None,
            }),
        ]);
        r.tool_choice = Some(ToolChoice::Function("lookup".into()));
        let body = chat_body(&r, false).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "command-a-03-2025",
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"}}
                    ]},
                    {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}}],
                     "tool_plan": "I will look it up."},
                    {"role": "tool", "tool_call_id": "call_1", "content": "{\"answer\":42}"}
                ],
                "tools": [{"type": "function", "function": {"name": "lookup", "description": "Look up",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}],
                "strict_tools": true,
                "tool_choice": "REQUIRED"
            })
        );
        r.tool_choice = Some(ToolChoice::None);
        let body = chat_body(&r, false).unwrap();
        assert_eq!(body["tool_choice"], json!("NONE"));
        assert_eq!(
            body["tools"][1],
            json!({"type": "function", "function": {"name": "other", "parameters": {"type": "object", "properties": {}}}})
        );
        r.tool_choice = Some(ToolChoice::Auto);
        assert!(chat_body(&r, false).unwrap().get("tool_choice").is_none());
        r.tool_choice = Some(ToolChoice::Function("missing".into()));
        assert!(chat_body(&r, false).is_err());
    }

    #[test]
    fn response_formats_and_thinking() {
        let mut r = req(vec![ChatMessage::user("Hi")]);
        r.response_format = Some(ResponseFormat::JsonObject);
        assert_eq!(
            chat_body(&r, false).unwrap()["response_format"],
            json!({"type": "json_object"})
        );
        let schema =
            json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]});
        r.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: "x".into(),
                description: None,
                schema: Some(schema.clone()),
                strict: Some(true),
            },
        });
        r.reasoning_effort = Some("high".into());
        let body = chat_body(&r, false).unwrap();
        assert_eq!(
            body["response_format"],
            json!({"type": "json_object", "json_schema": schema})
        );
        assert_eq!(body["thinking"], json!({"type": "enabled"}));
        r.reasoning_effort = Some("none".into());
        assert_eq!(
            chat_body(&r, false).unwrap()["thinking"],
            json!({"type": "disabled"})
        );
    }

    #[test]
    fn unsupported_inputs_are_bad_requests() {
        let mut r = req(vec![ChatMessage::user("Hi")]);
        r.n = Some(2);
        assert_eq!(
            chat_body(&r, false).unwrap_err().param.as_deref(),
            Some("n")
        );
        let mut r = req(vec![ChatMessage::user("Hi")]);
        r.logit_bias = Some(Default::default());
        assert!(chat_body(&r, false).is_err());
        let r = req(vec![ChatMessage::User(llmux_core::types::chat::UserMessage {
            content: serde_json::from_value(json!([{"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]))
                .unwrap(),
            name: None,
            extra: Default::default(),
        })]);
        let err = chat_body(&r, false).unwrap_err();
        assert_eq!(
            err.message,
            "messages[0].content[0]: Cohere chat takes text and images only"
        );
    }
}
