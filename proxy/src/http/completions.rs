//! Legacy text completions (`POST /completions`), served by translating the
//! prompt onto a chat call (one user message) and the answer back into
//! OpenAI's `text_completion` shape, streamed or whole. No llmux provider
//! exposes a separate text endpoint, so models that only speak the legacy
//! API (`gpt-3.5-turbo-instruct`, `davinci-002`) are not reachable this way.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use llmux_core::endpoint::{Call, Reply};
use llmux_core::types::chat::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Extra, FinishReason, Usage,
};
use llmux_core::types::OneOrMany;
use llmux_core::{ChatMessage, Error};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::body::parse_json;
use crate::error::internal;
use crate::error::ApiError;
use crate::gateway::Ctx;
use crate::gateway::Gateway;
use crate::http::chat::fill_usage;
use crate::http::chat::force_stream_usage;
use crate::http::chat::ClientStream;
use crate::pricing::PromptSize;

use crate::http::{prefixed, Routes};
use axum::routing::post;

/// The routes of this module.
pub(crate) fn routes() -> Routes {
    prefixed([("/completions", post(text_completions))])
}

/// `POST /completions` request body.
#[derive(Debug, Deserialize)]
pub(crate) struct TextCompletionRequest {
    pub model: String,
    pub prompt: OneOrMany<String>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<llmux_core::types::chat::StreamOptions>,
    #[serde(default)]
    pub stop: Option<OneOrMany<String>>,
    #[serde(default)]
    pub presence_penalty: Option<f64>,
    #[serde(default)]
    pub frequency_penalty: Option<f64>,
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub logit_bias: Option<serde_json::Map<String, Value>>,
    /// Parameters only the legacy endpoint has; refused, not ignored.
    #[serde(default)]
    pub suffix: Option<String>,
    #[serde(default)]
    pub echo: Option<bool>,
    #[serde(default)]
    pub logprobs: Option<u32>,
    #[serde(default)]
    pub best_of: Option<u32>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Serialize)]
struct TextChoice<'a> {
    text: &'a str,
    index: u32,
    logprobs: Option<Value>,
    finish_reason: Option<&'a str>,
}

impl<'a> TextChoice<'a> {
    /// A choice from a chat choice's (or delta's) text, index and finish reason.
    fn new(text: &'a Option<String>, index: u32, finish: &'a Option<FinishReason>) -> Self {
        TextChoice {
            text: text.as_deref().unwrap_or(""),
            index,
            logprobs: None,
            finish_reason: finish.as_ref().map(|f| f.as_str()),
        }
    }
}

pub(crate) fn into_chat(r: TextCompletionRequest) -> Result<ChatCompletionRequest, Error> {
    let prompt = match r.prompt {
        OneOrMany::One(p) => p,
        OneOrMany::Many(mut v) if v.len() == 1 => v.remove(0),
        OneOrMany::Many(v) => {
            return Err(Error::bad_request(format!(
                "llmux serves one prompt per /completions request, got {}",
                v.len()
            ))
            .with_param("prompt"))
        }
    };
    for (name, set) in [
        ("suffix", r.suffix.is_some()),
        ("echo", r.echo == Some(true)),
        ("logprobs", r.logprobs.is_some()),
        ("best_of", r.best_of.is_some_and(|b| b > 1)),
    ] {
        if set {
            return Err(Error::bad_request(format!(
                "'{name}' has no equivalent when /completions is served by a chat model"
            ))
            .with_param(name));
        }
    }
    Ok(ChatCompletionRequest {
        model: r.model,
        messages: vec![ChatMessage::user(prompt)],
        max_tokens: r.max_tokens,
        temperature: r.temperature,
        top_p: r.top_p,
        n: r.n,
        stream: r.stream,
        stream_options: r.stream_options,
        stop: r.stop,
        presence_penalty: r.presence_penalty,
        frequency_penalty: r.frequency_penalty,
        seed: r.seed,
        user: r.user,
        logit_bias: r.logit_bias,
        extra: r.extra,
        ..ChatCompletionRequest::default()
    })
}

pub(crate) fn text_id(id: &str) -> String {
    match id.strip_prefix("chatcmpl-") {
        Some(rest) => format!("cmpl-{rest}"),
        None => id.to_string(),
    }
}

/// A chat completion as a `text_completion` object.
pub(crate) fn to_text_completion(c: &ChatCompletion) -> Value {
    let choices = c
        .choices
        .iter()
        .map(|ch| TextChoice::new(&ch.message.content, ch.index, &ch.finish_reason));
    let mut out = text_object(&c.id, c.created, &c.model, choices, c.usage.as_ref());
    if let Some(fp) = &c.system_fingerprint {
        out["system_fingerprint"] = json!(fp);
    }
    out
}

/// A chat chunk as a `text_completion` stream chunk.
pub(crate) fn encode_text_chunk(c: &ChatCompletionChunk) -> serde_json::Result<Vec<u8>> {
    let choices = c
        .choices
        .iter()
        .map(|ch| TextChoice::new(&ch.delta.content, ch.index, &ch.finish_reason));
    serde_json::to_vec(&text_object(
        &c.id,
        c.created,
        &c.model,
        choices,
        c.usage.as_ref(),
    ))
}

/// The `text_completion` fields a whole answer and a stream chunk share.
fn text_object<'a>(
    id: &str,
    created: u64,
    model: &str,
    choices: impl Iterator<Item = TextChoice<'a>>,
    usage: Option<&Usage>,
) -> Value {
    let choices: Vec<Value> = choices.map(|c| json!(c)).collect();
    let mut out = json!({
        "id": text_id(id),
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": choices,
    });
    if let Some(u) = usage {
        out["usage"] = json!(u);
    }
    out
}

/// `POST /completions`.
pub(crate) async fn text_completions(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new("completions", &headers);
    let req: TextCompletionRequest = parse_json(&body)?;
    let mut chat = into_chat(req)?;
    crate::http::chat::validate_chat(&chat)?;
    let group = chat.model.clone();
    let prompt = PromptSize::of(&chat);
    if chat.is_stream() {
        let client_wants_usage = force_stream_usage(&mut chat);
        let r = gw
            .dispatch(&ctx, &headers, group, Call::ChatStream(chat))
            .await?;
        let Reply::ChatStream(stream) = r.reply else {
            return Err(internal(
                "router returned a non-stream reply to a stream call",
            ));
        };
        let client = ClientStream {
            encode: encode_text_chunk,
            wants_usage: client_wants_usage,
            prompt,
        };
        return Ok(gw.sse_response(&ctx, &r.route, stream, client, r.admission));
    }
    let r = gw.dispatch(&ctx, &headers, group, Call::Chat(chat)).await?;
    let Reply::Chat(mut completion) = r.reply else {
        return Err(internal("router returned a non-chat reply to a chat call"));
    };
    fill_usage(&mut completion, &r.route, prompt);
    let body = bytes::Bytes::from(
        serde_json::to_vec(&to_text_completion(&completion))
            .map_err(|e| internal(&e.to_string()))?,
    );
    Ok(crate::http::chat::answer_whole(
        &gw,
        &ctx,
        &r.route,
        r.admission,
        &completion,
        body,
    ))
}
