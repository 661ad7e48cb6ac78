//! The Responses API (`POST /v1/responses` and friends), field for field as in
//! OpenAI's API reference ("Responses", "Streaming events") and the
//! `openai-python` types under `types/responses/`.
//!
//! Same policy as [`super::chat`]: every struct keeps fields it does not model
//! in `extra`, and every list of typed things (input/output items, tools,
//! stream events) has a variant holding the raw JSON of a `type` llmux does not
//! know, so a pass-through loses nothing and a new OpenAI item type does not
//! break deserialisation.
//!
//! Fields OpenAI always writes on a `response` object, even when empty
//! (`error`, `incomplete_details`, `instructions`, `max_output_tokens`,
//! `previous_response_id`, `usage`, `user`), are serialised as `null` when
//! `None`, as OpenAI does; every other optional field is omitted when `None`.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use super::chat::Extra;

// ------------------------------------------------------------------ helpers

/// A payload struct written with its `type` tag first (serde flattens the rest).
#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "type")]
    r#type: &'a str,
    #[serde(flatten)]
    inner: &'a T,
}

/// `v` without its `type` key, decoded as `T` (so the tag never lands in `extra`).
fn untag<T: DeserializeOwned, E: serde::de::Error>(mut v: Value) -> Result<T, E> {
    if let Value::Object(map) = &mut v {
        map.remove("type");
    }
    serde_json::from_value(v).map_err(E::custom)
}

/// A `type`-tagged enum with one typed variant per known tag and a variant
/// holding the raw JSON of any other tag.
macro_rules! tagged_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($ty:ty) = $tag:literal, )*
        }
        other $(#[$ometa:meta])* $other:ident
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($ty), )*
            $(#[$ometa])*
            $other(Value),
        }

        impl $name {
            /// The `type` tag as OpenAI spells it.
            pub fn type_name(&self) -> &str {
                match self {
                    $( $name::$variant(_) => $tag, )*
                    $name::$other(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( $name::$variant(inner) => Tagged { r#type: $tag, inner }.serialize(s), )*
                    $name::$other(v) => v.serialize(s),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = Value::deserialize(d)?;
                let tag = v.get("type").and_then(Value::as_str).map(str::to_owned);
                match tag.as_deref() {
                    $( Some($tag) => untag(v).map($name::$variant), )*
                    _ => Ok($name::$other(v)),
                }
            }
        }
    };
}

// ------------------------------------------------------------------ request

/// `POST /v1/responses` request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateResponseRequest {
    /// Model name (for llmux: `provider/model` or a model group).
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<ResponseInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ResponsesToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// `{"include_obfuscation": bool}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// A conversation id or `{"id": ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Value>,
    /// e.g. `["reasoning.encrypted_content"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// `auto` / `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tool_calls: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    /// A stored prompt template reference `{"id", "version", "variables"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Value>,
    /// LiteLLM's `drop_params`: served through chat completions, hosted
    /// tools the provider cannot run are left out instead of refused. A
    /// setting for llmux, never sent upstream.
    #[serde(default, skip_serializing)]
    pub drop_params: Option<bool>,
    /// Fields llmux does not model, forwarded as they came.
    #[serde(flatten)]
    pub extra: Extra,
}

impl CreateResponseRequest {
    /// Whether the caller asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// The input as a list of items (a plain string becomes one user message).
    pub fn input_items(&self) -> Vec<Item> {
        match &self.input {
            None => Vec::new(),
            Some(ResponseInput::Text(t)) => vec![Item::Message(Message::user(t.clone()))],
            Some(ResponseInput::Items(items)) => items.clone(),
        }
    }
}

/// `input`: a plain string or a list of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResponseInput {
    Text(String),
    Items(Vec<Item>),
}

/// `text`: output format and verbosity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    /// `low` / `medium` / `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `text.format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TextFormat {
    Text,
    JsonObject,
    /// Unlike chat's `response_format`, the schema fields sit flat in `format`.
    JsonSchema(JsonSchemaTextFormat),
}

/// `{"type": "json_schema", "name", "schema", "description", "strict"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaTextFormat {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `reasoning`: `{effort, summary}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasoningConfig {
    /// `none` / `minimal` / `low` / `medium` / `high` (a string: vendors add values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// `auto` / `concise` / `detailed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponsesToolChoice {
    None,
    Auto,
    Required,
    /// `{"type": "function", "name": ...}` (flat, unlike chat).
    Function(String),
    /// `{"type": "custom", "name": ...}`.
    Custom(String),
    /// `{"type": "allowed_tools", "mode": "auto"|"required", "tools": [...]}`.
    AllowedTools {
        mode: String,
        tools: Vec<Value>,
    },
    /// A hosted tool by type alone, e.g. `{"type": "web_search_preview"}`.
    Hosted(String),
    /// Any other shape (`mcp`, future ones), forwarded as is.
    Other(Value),
}

impl Serialize for ResponsesToolChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde_json::json;
        match self {
            ResponsesToolChoice::None => s.serialize_str("none"),
            ResponsesToolChoice::Auto => s.serialize_str("auto"),
            ResponsesToolChoice::Required => s.serialize_str("required"),
            ResponsesToolChoice::Function(name) => {
                json!({"type": "function", "name": name}).serialize(s)
            }
            ResponsesToolChoice::Custom(name) => {
                json!({"type": "custom", "name": name}).serialize(s)
            }
            ResponsesToolChoice::AllowedTools { mode, tools } => {
                json!({"type": "allowed_tools", "mode": mode, "tools": tools}).serialize(s)
            }
            ResponsesToolChoice::Hosted(t) => json!({ "type": t }).serialize(s),
            ResponsesToolChoice::Other(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ResponsesToolChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let Value::Object(o) = &v else {
            return Ok(match v.as_str() {
                Some("none") => ResponsesToolChoice::None,
                Some("auto") => ResponsesToolChoice::Auto,
                Some("required") => ResponsesToolChoice::Required,
                _ => ResponsesToolChoice::Other(v),
            });
        };
        let name = o.get("name").and_then(Value::as_str).map(str::to_owned);
        Ok(
            match (o.get("type").and_then(Value::as_str), o.len(), name) {
                (Some("function"), 2, Some(n)) => ResponsesToolChoice::Function(n),
                (Some("custom"), 2, Some(n)) => ResponsesToolChoice::Custom(n),
                (Some("allowed_tools"), 3, _) => {
                    match (
                        o.get("mode").and_then(Value::as_str),
                        o.get("tools").and_then(Value::as_array),
                    ) {
                        (Some(mode), Some(tools)) => ResponsesToolChoice::AllowedTools {
                            mode: mode.to_owned(),
                            tools: tools.clone(),
                        },
                        _ => ResponsesToolChoice::Other(v),
                    }
                }
                (Some(t), 1, _)
                    if !matches!(t, "function" | "custom" | "allowed_tools" | "mcp") =>
                {
                    ResponsesToolChoice::Hosted(t.to_owned())
                }
                _ => ResponsesToolChoice::Other(v),
            },
        )
    }
}

// ------------------------------------------------------------------ tools

tagged_enum! {
    /// A tool the model may use.
    pub enum Tool {
        /// `{"type": "function", "name", "description", "parameters", "strict"}`.
        Function(FunctionTool) = "function",
        /// `{"type": "custom", "name", "description", "format"}` (free-form input).
        Custom(CustomTool) = "custom",
    }
    other
    /// A hosted tool (`web_search`, `web_search_preview`, `file_search`,
    /// `code_interpreter`, `image_generation`, `mcp`, `local_shell`,
    /// `computer_use_preview`, …) kept as its JSON.
    Hosted
}

/// A function tool (flat: no `function` wrapper as in chat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionTool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// The API reference marks it required and nullable; `None` is omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A custom (free-form input) tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomTool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `{"type": "text"}` or `{"type": "grammar", "syntax", "definition"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

// ------------------------------------------------------------------ items

/// One item of `input` or `output` (and of the input-items list).
///
/// Input and output share the item shapes (an output item is sent back as
/// input on the next turn), so one type serves both.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Message(Message),
    FunctionCall(FunctionCallItem),
    FunctionCallOutput(FunctionCallOutputItem),
    Reasoning(ReasoningItem),
    ItemReference(ItemReference),
    LocalShellCall(LocalShellCallItem),
    LocalShellCallOutput(LocalShellCallOutputItem),
    CustomToolCall(CustomToolCallItem),
    CustomToolCallOutput(CustomToolCallOutputItem),
    /// Any other item (`web_search_call`, `file_search_call`, `computer_call`,
    /// `computer_call_output`, `image_generation_call`, `code_interpreter_call`,
    /// `mcp_*`, future ones), kept as its JSON.
    Other(Value),
}

/// Input items (an alias: input and output items share shapes).
pub type InputItem = Item;
/// Output items (an alias: input and output items share shapes).
pub type OutputItem = Item;

impl Item {
    /// The `type` tag as OpenAI spells it (`message` for a message without one).
    pub fn type_name(&self) -> &str {
        match self {
            Item::Message(_) => "message",
            Item::FunctionCall(_) => "function_call",
            Item::FunctionCallOutput(_) => "function_call_output",
            Item::Reasoning(_) => "reasoning",
            Item::ItemReference(_) => "item_reference",
            Item::LocalShellCall(_) => "local_shell_call",
            Item::LocalShellCallOutput(_) => "local_shell_call_output",
            Item::CustomToolCall(_) => "custom_tool_call",
            Item::CustomToolCallOutput(_) => "custom_tool_call_output",
            Item::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let tag = self.type_name();
        match self {
            // A message carries its own optional `type` (see `Message::r#type`).
            Item::Message(m) => m.serialize(s),
            Item::FunctionCall(inner) => Tagged { r#type: tag, inner }.serialize(s),
            Item::FunctionCallOutput(inner) => Tagged { r#type: tag, inner }.serialize(s),
            Item::Reasoning(inner) => Tagged { r#type: tag, inner }.serialize(s),
            Item::ItemReference(inner) => Tagged { r#type: tag, inner }.serialize(s),
            Item::LocalShellCall(inner) => Tagged { r#type: tag, inner }.serialize(s),
            Item::LocalShellCallOutput(inner) => Tagged { r#type: tag, inner }.serialize(s),
            Item::CustomToolCall(inner) => Tagged { r#type: tag, inner }.serialize(s),
            Item::CustomToolCallOutput(inner) => Tagged { r#type: tag, inner }.serialize(s),
            Item::Other(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let tag = v.get("type").and_then(Value::as_str).map(str::to_owned);
        match tag.as_deref() {
            Some("message") => serde_json::from_value(v)
                .map(Item::Message)
                .map_err(D::Error::custom),
            // `EasyInputMessage`: `{"role", "content"}` with no `type`.
            None if v.get("role").is_some() => serde_json::from_value(v)
                .map(Item::Message)
                .map_err(D::Error::custom),
            Some("function_call") => untag(v).map(Item::FunctionCall),
            Some("function_call_output") => untag(v).map(Item::FunctionCallOutput),
            Some("reasoning") => untag(v).map(Item::Reasoning),
            Some("item_reference") => untag(v).map(Item::ItemReference),
            Some("local_shell_call") => untag(v).map(Item::LocalShellCall),
            Some("local_shell_call_output") => untag(v).map(Item::LocalShellCallOutput),
            Some("custom_tool_call") => untag(v).map(Item::CustomToolCall),
            Some("custom_tool_call_output") => untag(v).map(Item::CustomToolCallOutput),
            _ => Ok(Item::Other(v)),
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
    Developer,
}

/// A `message` item: input (user/system/developer/assistant) or output (assistant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `Some("message")`, or `None` for the short input form without `type`
    /// (kept so the item is written back the way it came).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub role: Role,
    pub content: MessageContent,
    /// `in_progress` / `completed` / `incomplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Message {
    /// A user message with plain text, in the short form (no `type`).
    pub fn user(text: impl Into<String>) -> Self {
        Message {
            r#type: None,
            id: None,
            role: Role::User,
            content: MessageContent::Text(text.into()),
            status: None,
            extra: Extra::new(),
        }
    }

    /// An assistant output message with one `output_text` part.
    pub fn assistant_output(id: impl Into<String>, text: impl Into<String>) -> Self {
        Message {
            r#type: Some("message".into()),
            id: Some(id.into()),
            role: Role::Assistant,
            content: MessageContent::Parts(vec![ContentPart::OutputText(OutputText::new(text))]),
            status: Some("completed".into()),
            extra: Extra::new(),
        }
    }

    /// All text of the message (`input_text` and `output_text` parts) joined.
    pub fn text(&self) -> String {
        match &self.content {
            MessageContent::Text(t) => t.clone(),
            MessageContent::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::InputText(t) => Some(t.text.as_str()),
                    ContentPart::OutputText(t) => Some(t.text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// Message content: a plain string or typed parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

tagged_enum! {
    /// One part of a message's content (or of a tool output's content list).
    pub enum ContentPart {
        InputText(InputText) = "input_text",
        InputImage(InputImage) = "input_image",
        InputFile(InputFile) = "input_file",
        /// Assistant text (output, or an earlier output sent back as input).
        OutputText(OutputText) = "output_text",
        Refusal(RefusalContent) = "refusal",
    }
    other
    /// A part type llmux does not model (`input_audio`, future ones), kept as its JSON.
    Other
}

/// `{"type": "input_text", "text"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputText {
    pub text: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"type": "input_image", "image_url" | "file_id", "detail"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputImage {
    /// A URL or a base64 `data:` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// `auto` / `low` / `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"type": "input_file", "file_id" | "file_data" | "file_url", "filename"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// Base64 `data:` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"type": "output_text", "text", "annotations", "logprobs"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputText {
    pub text: String,
    /// `file_citation` / `url_citation` / `container_file_citation` / `file_path`.
    #[serde(default)]
    pub annotations: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<Value>>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl OutputText {
    /// Text with no annotations and no logprobs.
    pub fn new(text: impl Into<String>) -> Self {
        OutputText {
            text: text.into(),
            annotations: Vec::new(),
            logprobs: None,
            extra: Extra::new(),
        }
    }
}

/// `{"type": "refusal", "refusal"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalContent {
    pub refusal: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `function_call`: the model calls one of the caller's functions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallItem {
    /// The item id (`fc_…`); optional when sent back as input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The id the `function_call_output` answers (`call_…`).
    pub call_id: String,
    pub name: String,
    /// JSON-encoded arguments.
    pub arguments: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `function_call_output`: the caller's result for a `function_call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallOutputItem {
    pub call_id: String,
    pub output: ToolOutput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool result: a string or a list of `input_text`/`input_image`/`input_file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolOutput {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl ToolOutput {
    /// The text of the output (text parts joined).
    pub fn text(&self) -> String {
        match self {
            ToolOutput::Text(t) => t.clone(),
            ToolOutput::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::InputText(t) => Some(t.text.as_str()),
                    ContentPart::OutputText(t) => Some(t.text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// `reasoning`: a reasoning model's thinking, summarised and/or encrypted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasoningItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub summary: Vec<ReasoningText>,
    /// Raw reasoning text (`reasoning_text` parts), where a model exposes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ReasoningText>>,
    /// Opaque state to send back on the next turn (with
    /// `include: ["reasoning.encrypted_content"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"type": "summary_text" | "reasoning_text", "text"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningText {
    #[serde(rename = "type")]
    pub r#type: String,
    pub text: String,
}

impl ReasoningText {
    /// A `summary_text` part.
    pub fn summary(text: impl Into<String>) -> Self {
        ReasoningText {
            r#type: "summary_text".into(),
            text: text.into(),
        }
    }
}

/// `item_reference`: an earlier item by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemReference {
    pub id: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `local_shell_call`: the model asks to run a command (Codex CLI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalShellCallItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    pub action: LocalShellAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"type": "exec", "command", "timeout_ms", "working_directory", "env", "user"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalShellAction {
    #[serde(rename = "type")]
    pub r#type: String,
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `local_shell_call_output`: the command's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalShellCallOutputItem {
    /// The id of the `local_shell_call` this answers.
    pub id: String,
    /// JSON string with the command's output.
    pub output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `custom_tool_call`: the model calls a custom tool with free-form input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCallItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub call_id: String,
    pub name: String,
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `custom_tool_call_output`: the caller's result for a `custom_tool_call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCallOutputItem {
    pub call_id: String,
    pub output: ToolOutput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

// ------------------------------------------------------------------ response

/// Where a response is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    Completed,
    Failed,
    InProgress,
    Cancelled,
    Queued,
    Incomplete,
}

/// The `response` object (`POST /v1/responses`, `GET /v1/responses/{id}`, and
/// the `response` of lifecycle stream events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: String,
    /// Always `response`.
    #[serde(default = "object_response")]
    pub object: String,
    #[serde(default)]
    pub created_at: u64,
    pub status: ResponseStatus,
    #[serde(default)]
    pub error: Option<ResponseError>,
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
    /// A string, or (when echoed from a prompt template) a list of items.
    #[serde(default)]
    pub instructions: Option<Value>,
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub output: Vec<Item>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub previous_response_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ResponsesToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<String>,
    #[serde(default)]
    pub usage: Option<ResponseUsage>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tool_calls: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn object_response() -> String {
    "response".into()
}

impl Response {
    /// A response with `id`, `created_at`, `model` and `status` and nothing else.
    pub fn new(
        id: impl Into<String>,
        created_at: u64,
        model: impl Into<String>,
        status: ResponseStatus,
    ) -> Self {
        Response {
            id: id.into(),
            object: object_response(),
            created_at,
            status,
            error: None,
            incomplete_details: None,
            instructions: None,
            max_output_tokens: None,
            model: model.into(),
            output: Vec::new(),
            parallel_tool_calls: None,
            previous_response_id: None,
            reasoning: None,
            store: None,
            temperature: None,
            text: None,
            tool_choice: None,
            tools: None,
            top_p: None,
            truncation: None,
            usage: None,
            user: None,
            metadata: None,
            background: None,
            service_tier: None,
            max_tool_calls: None,
            prompt_cache_key: None,
            safety_identifier: None,
            top_logprobs: None,
            conversation: None,
            prompt: None,
            extra: Extra::new(),
        }
    }

    /// All `output_text` of all output messages joined (the SDKs' `output_text`).
    pub fn output_text(&self) -> String {
        let mut out = String::new();
        for item in &self.output {
            if let Item::Message(m) = item {
                if let MessageContent::Parts(parts) = &m.content {
                    for p in parts {
                        if let ContentPart::OutputText(t) = p {
                            out.push_str(&t.text);
                        }
                    }
                }
            }
        }
        out
    }
}

/// `error` of a failed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseError {
    /// e.g. `server_error`, `rate_limit_exceeded`, `invalid_prompt`.
    pub code: String,
    pub message: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `incomplete_details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    /// `max_output_tokens` / `content_filter`.
    pub reason: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Token accounting of a response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens_details: Option<InputTokensDetails>,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputTokensDetails>,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `usage.input_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    #[serde(default)]
    pub cached_tokens: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `usage.output_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    #[serde(default)]
    pub reasoning_tokens: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

// ------------------------------------------------------------------ other endpoints

/// `GET /v1/responses/{id}/input_items` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputItemList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<Item>,
    #[serde(default)]
    pub first_id: Option<String>,
    #[serde(default)]
    pub last_id: Option<String>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `DELETE /v1/responses/{id}` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseDeleted {
    pub id: String,
    /// `response`.
    pub object: String,
    pub deleted: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/responses/input_tokens` request body (the create fields that
/// shape the prompt).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputTokensRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<ResponseInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ResponsesToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/responses/input_tokens` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputTokensResponse {
    /// `response.input_tokens`.
    pub object: String,
    pub input_tokens: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

// ------------------------------------------------------------------ stream events

tagged_enum! {
    /// One event of a streamed response (`data:` JSON; its `type` repeats the
    /// SSE `event:` name).
    pub enum ResponseStreamEvent {
        Created(ResponseEvent) = "response.created",
        InProgress(ResponseEvent) = "response.in_progress",
        Completed(ResponseEvent) = "response.completed",
        Failed(ResponseEvent) = "response.failed",
        Incomplete(ResponseEvent) = "response.incomplete",
        Queued(ResponseEvent) = "response.queued",
        OutputItemAdded(OutputItemEvent) = "response.output_item.added",
        OutputItemDone(OutputItemEvent) = "response.output_item.done",
        ContentPartAdded(ContentPartEvent) = "response.content_part.added",
        ContentPartDone(ContentPartEvent) = "response.content_part.done",
        OutputTextDelta(TextDeltaEvent) = "response.output_text.delta",
        OutputTextDone(TextDoneEvent) = "response.output_text.done",
        OutputTextAnnotationAdded(AnnotationAddedEvent) = "response.output_text.annotation.added",
        RefusalDelta(TextDeltaEvent) = "response.refusal.delta",
        RefusalDone(RefusalDoneEvent) = "response.refusal.done",
        FunctionCallArgumentsDelta(ItemDeltaEvent) = "response.function_call_arguments.delta",
        FunctionCallArgumentsDone(FunctionCallArgumentsDoneEvent) = "response.function_call_arguments.done",
        ReasoningSummaryPartAdded(ReasoningSummaryPartEvent) = "response.reasoning_summary_part.added",
        ReasoningSummaryPartDone(ReasoningSummaryPartEvent) = "response.reasoning_summary_part.done",
        ReasoningSummaryTextDelta(ReasoningSummaryTextDeltaEvent) = "response.reasoning_summary_text.delta",
        ReasoningSummaryTextDone(ReasoningSummaryTextDoneEvent) = "response.reasoning_summary_text.done",
        ReasoningTextDelta(TextDeltaEvent) = "response.reasoning_text.delta",
        ReasoningTextDone(TextDoneEvent) = "response.reasoning_text.done",
        CustomToolCallInputDelta(ItemDeltaEvent) = "response.custom_tool_call_input.delta",
        CustomToolCallInputDone(CustomToolCallInputDoneEvent) = "response.custom_tool_call_input.done",
        WebSearchCallInProgress(ToolCallProgressEvent) = "response.web_search_call.in_progress",
        WebSearchCallSearching(ToolCallProgressEvent) = "response.web_search_call.searching",
        WebSearchCallCompleted(ToolCallProgressEvent) = "response.web_search_call.completed",
        FileSearchCallInProgress(ToolCallProgressEvent) = "response.file_search_call.in_progress",
        FileSearchCallSearching(ToolCallProgressEvent) = "response.file_search_call.searching",
        FileSearchCallCompleted(ToolCallProgressEvent) = "response.file_search_call.completed",
        CodeInterpreterCallInProgress(ToolCallProgressEvent) = "response.code_interpreter_call.in_progress",
        CodeInterpreterCallInterpreting(ToolCallProgressEvent) = "response.code_interpreter_call.interpreting",
        CodeInterpreterCallCompleted(ToolCallProgressEvent) = "response.code_interpreter_call.completed",
        /// Carries `delta` (in `extra`).
        CodeInterpreterCallCodeDelta(ToolCallProgressEvent) = "response.code_interpreter_call_code.delta",
        /// Carries `code` (in `extra`).
        CodeInterpreterCallCodeDone(ToolCallProgressEvent) = "response.code_interpreter_call_code.done",
        ImageGenerationCallInProgress(ToolCallProgressEvent) = "response.image_generation_call.in_progress",
        ImageGenerationCallGenerating(ToolCallProgressEvent) = "response.image_generation_call.generating",
        ImageGenerationCallCompleted(ToolCallProgressEvent) = "response.image_generation_call.completed",
        /// Carries `partial_image_index`, `partial_image_b64` (in `extra`).
        ImageGenerationCallPartialImage(ToolCallProgressEvent) = "response.image_generation_call.partial_image",
        McpCallInProgress(ToolCallProgressEvent) = "response.mcp_call.in_progress",
        McpCallCompleted(ToolCallProgressEvent) = "response.mcp_call.completed",
        McpCallFailed(ToolCallProgressEvent) = "response.mcp_call.failed",
        /// Carries `delta` (in `extra`).
        McpCallArgumentsDelta(ToolCallProgressEvent) = "response.mcp_call_arguments.delta",
        /// Carries `arguments` (in `extra`).
        McpCallArgumentsDone(ToolCallProgressEvent) = "response.mcp_call_arguments.done",
        McpListToolsInProgress(ToolCallProgressEvent) = "response.mcp_list_tools.in_progress",
        McpListToolsCompleted(ToolCallProgressEvent) = "response.mcp_list_tools.completed",
        McpListToolsFailed(ToolCallProgressEvent) = "response.mcp_list_tools.failed",
        Error(ErrorEvent) = "error",
    }
    other
    /// An event type llmux does not know, kept as its JSON (forward compatible;
    /// [`ResponseStreamEvent::is_unknown`] tells it apart).
    Unknown
}

impl ResponseStreamEvent {
    /// Whether this is an event type llmux does not model.
    pub fn is_unknown(&self) -> bool {
        matches!(self, ResponseStreamEvent::Unknown(_))
    }

    /// The response of a lifecycle event (`response.created` … `response.queued`).
    pub fn response(&self) -> Option<&Response> {
        match self {
            ResponseStreamEvent::Created(e)
            | ResponseStreamEvent::InProgress(e)
            | ResponseStreamEvent::Completed(e)
            | ResponseStreamEvent::Failed(e)
            | ResponseStreamEvent::Incomplete(e)
            | ResponseStreamEvent::Queued(e) => Some(&e.response),
            _ => None,
        }
    }

    /// Whether the event ends the stream (`completed`, `failed`, `incomplete`, `error`).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ResponseStreamEvent::Completed(_)
                | ResponseStreamEvent::Failed(_)
                | ResponseStreamEvent::Incomplete(_)
                | ResponseStreamEvent::Error(_)
        )
    }
}

/// `response.created` / `in_progress` / `completed` / `failed` / `incomplete` / `queued`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseEvent {
    pub response: Response,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response.output_item.added` / `done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputItemEvent {
    pub output_index: u32,
    pub item: Item,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response.content_part.added` / `done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPartEvent {
    pub item_id: String,
    pub output_index: u32,
    pub content_index: u32,
    pub part: ContentPart,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A text delta inside a content part (`output_text`, `refusal`, `reasoning_text`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextDeltaEvent {
    pub item_id: String,
    pub output_index: u32,
    pub content_index: u32,
    pub delta: String,
    /// Token logprobs (`output_text.delta` only; `[]` unless requested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<Value>>,
    #[serde(default)]
    pub sequence_number: u64,
    /// e.g. `obfuscation` padding.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The full text of a finished content part (`output_text.done`, `reasoning_text.done`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextDoneEvent {
    pub item_id: String,
    pub output_index: u32,
    pub content_index: u32,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<Value>>,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response.output_text.annotation.added`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotationAddedEvent {
    pub item_id: String,
    pub output_index: u32,
    pub content_index: u32,
    pub annotation_index: u32,
    pub annotation: Value,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response.refusal.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalDoneEvent {
    pub item_id: String,
    pub output_index: u32,
    pub content_index: u32,
    pub refusal: String,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A delta of a whole item's payload (`function_call_arguments.delta`,
/// `custom_tool_call_input.delta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemDeltaEvent {
    pub item_id: String,
    pub output_index: u32,
    pub delta: String,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response.function_call_arguments.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallArgumentsDoneEvent {
    pub item_id: String,
    pub output_index: u32,
    /// The function's name (sent by newer API versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub arguments: String,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response.custom_tool_call_input.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCallInputDoneEvent {
    pub item_id: String,
    pub output_index: u32,
    pub input: String,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response.reasoning_summary_part.added` / `done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningSummaryPartEvent {
    pub item_id: String,
    pub output_index: u32,
    pub summary_index: u32,
    pub part: ReasoningText,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response.reasoning_summary_text.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningSummaryTextDeltaEvent {
    pub item_id: String,
    pub output_index: u32,
    pub summary_index: u32,
    pub delta: String,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `response.reasoning_summary_text.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningSummaryTextDoneEvent {
    pub item_id: String,
    pub output_index: u32,
    pub summary_index: u32,
    pub text: String,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Progress of a hosted tool call (web/file search, code interpreter, image
/// generation, MCP): the shared fields typed, event-specific ones in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallProgressEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_index: Option<u32>,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `error`: the stream failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    #[serde(default)]
    pub code: Option<String>,
    pub message: String,
    #[serde(default)]
    pub param: Option<String>,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(flatten)]
    pub extra: Extra,
}
