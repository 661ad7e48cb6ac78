//! Claude's Messages API served by a cloud platform — Bedrock's
//! InvokeModel, Vertex AI's `rawPredict` — where the URL names the model and
//! the body carries the API version the `anthropic-version` header would
//! (and, on Bedrock, the betas the `anthropic-beta` header would). The
//! platform crates own URLs and credentials; this module owns the body and
//! reads the answers, which are Anthropic's own.

use llmux_core::stream::ChunkSource;
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::{Error, Result};
use serde_json::{Map, Value};

use crate::request::{self, JsonMode};
use crate::stream::AnthropicStreamDecoder;

/// Bedrock's `anthropic_version`.
pub const BEDROCK_VERSION: &str = "bedrock-2023-05-31";
/// Vertex AI's `anthropic_version`.
pub const VERTEX_VERSION: &str = "vertex-2023-10-16";

/// Where a platform takes the betas a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Betas {
    /// In the body, as `anthropic_beta: [...]` (Bedrock).
    InBody,
    /// In the `anthropic-beta` header, left to the caller (Vertex AI).
    InHeader,
}

/// A client's Messages API body for a platform: `model` removed,
/// `anthropic_version` set to `version` unless the client set one, `betas`
/// merged into `anthropic_beta` when the platform reads them from the body,
/// and `stream` removed when the URL says whether to stream (Bedrock).
pub fn messages_body(
    mut body: Map<String, Value>,
    version: &str,
    betas: &[String],
    where_betas: Betas,
    keep_stream: bool,
) -> Map<String, Value> {
    body.remove("model");
    if !keep_stream {
        body.remove("stream");
    }
    body.entry("anthropic_version")
        .or_insert_with(|| Value::String(version.to_string()));
    if where_betas == Betas::InBody && !betas.is_empty() {
        let list = body
            .entry("anthropic_beta")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            for b in betas {
                if !list.iter().any(|v| v.as_str() == Some(b)) {
                    list.push(Value::String(b.clone()));
                }
            }
        }
    }
    body
}

/// A chat request as a platform's Messages API body, and the betas it needs
/// (already in the body when the platform reads them there).
pub fn chat_body(
    request: &ChatCompletionRequest,
    stream: bool,
    version: &str,
    where_betas: Betas,
    provider: &str,
) -> Result<(Map<String, Value>, Vec<String>)> {
    let mut encoded = request::encode(request)
        .map_err(|e| e.with_provider(provider).with_model(request.model.as_str()))?;
    encoded.body.stream = stream.then_some(true);
    let body = match serde_json::to_value(&encoded.body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(
                Error::bad_request("cannot encode the Messages API body").with_provider(provider)
            )
        }
    };
    let betas: Vec<String> = encoded.betas.iter().map(|b| (*b).to_string()).collect();
    Ok((
        messages_body(
            body,
            version,
            &betas,
            where_betas,
            where_betas == Betas::InHeader,
        ),
        betas,
    ))
}

/// The count-tokens body for `request`'s prompt (Anthropic's
/// `/v1/messages/count_tokens` body, `model` included), and its betas.
pub fn count_tokens_body(
    request: &ChatCompletionRequest,
    provider: &str,
) -> Result<(Map<String, Value>, Vec<String>)> {
    let encoded = request::encode_count_tokens(request)
        .map_err(|e| e.with_provider(provider).with_model(request.model.as_str()))?;
    let betas = encoded.betas.iter().map(|b| (*b).to_string()).collect();
    match serde_json::to_value(&encoded.body) {
        Ok(Value::Object(m)) => Ok((m, betas)),
        _ => Err(Error::bad_request("cannot encode the count_tokens body").with_provider(provider)),
    }
}

/// The `input_tokens` of a count-tokens answer.
pub fn decode_count_tokens(body: &[u8], provider: &str, model: &str) -> Result<u64> {
    let counted: crate::wire::CountTokensResponse =
        llmux_core::transport::decode_json(body, provider, model)?;
    Ok(counted.input_tokens)
}

/// A platform's whole Claude answer as a chat completion.
pub fn decode_chat(
    body: &[u8],
    provider: &str,
    request: &ChatCompletionRequest,
) -> Result<ChatCompletion> {
    crate::response::decode_chat(body, provider, &request.model, json_mode(request))
}

/// The decoder of a platform's Claude stream, once it is Anthropic's SSE.
pub fn stream_decoder(
    provider: &'static str,
    request: &ChatCompletionRequest,
) -> AnthropicStreamDecoder {
    let include_usage = request
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    AnthropicStreamDecoder::new(ChunkSource::new(provider, request.model.as_str()))
        .with_json_mode(json_mode(request))
        .with_usage(include_usage)
}

fn json_mode(request: &ChatCompletionRequest) -> Option<JsonMode> {
    request::json_mode(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn platform_bodies_move_model_version_and_betas() {
        let body = json!({"model": "claude", "max_tokens": 5, "stream": true, "messages": [], "anthropic_beta": ["a"]});
        let Value::Object(body) = body else {
            unreachable!()
        };
        let bedrock = messages_body(
            body.clone(),
            BEDROCK_VERSION,
            &["a".into(), "b".into()],
            Betas::InBody,
            false,
        );
        assert_eq!(
            Value::Object(bedrock),
            json!({"max_tokens": 5, "messages": [], "anthropic_beta": ["a", "b"], "anthropic_version": "bedrock-2023-05-31"})
        );
        let vertex = messages_body(body, VERTEX_VERSION, &["b".into()], Betas::InHeader, true);
        assert_eq!(
            Value::Object(vertex),
            json!({"max_tokens": 5, "stream": true, "messages": [], "anthropic_beta": ["a"], "anthropic_version": "vertex-2023-10-16"})
        );
    }
}
