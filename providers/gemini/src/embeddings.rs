//! Embeddings (pure): Gemini API `embedContent` / `batchEmbedContents`, and
//! Vertex AI `predict` for text-embedding models. `dimensions` becomes
//! `outputDimensionality`; `task_type` and `title` (extra request fields) are
//! passed on; `encoding_format: "base64"` is honoured by encoding the floats
//! as little-endian f32, as OpenAI does.

use llmux_core::embeddings::{embedding_response, input_texts, vector, wants_base64};
use llmux_core::transport::decode_failure;
use llmux_core::types::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingResponse};
use llmux_core::{Error, Result};
use serde_json::{json, Map, Value};

/// Which Gemini API method a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeminiEmbedMethod {
    /// One text: `:embedContent`.
    Single,
    /// A list of texts: `:batchEmbedContents`.
    Batch,
}

impl GeminiEmbedMethod {
    /// The URL method name.
    pub fn as_str(self) -> &'static str {
        match self {
            GeminiEmbedMethod::Single => "embedContent",
            GeminiEmbedMethod::Batch => "batchEmbedContents",
        }
    }
}

fn texts(request: &EmbeddingRequest) -> Result<Vec<&str>> {
    input_texts(request)
        .ok_or_else(|| Error::bad_request("Google embedding models take text, not token ids"))
}

fn extra_str<'a>(request: &'a EmbeddingRequest, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| request.extra.get(*n))
}

/// The Gemini API method for `request`: `embedContent` for one text,
/// `batchEmbedContents` for a list.
pub fn gemini_method(request: &EmbeddingRequest) -> GeminiEmbedMethod {
    match &request.input {
        EmbeddingInput::Text(_) => GeminiEmbedMethod::Single,
        _ => GeminiEmbedMethod::Batch,
    }
}

/// The Gemini API method and body for `request` (`model` without `models/`).
pub fn gemini_body(request: &EmbeddingRequest, model: &str) -> Result<(GeminiEmbedMethod, Value)> {
    let texts = texts(request)?;
    let one = |text: &str, with_model: bool| {
        let mut r = Map::new();
        if with_model {
            r.insert("model".into(), Value::String(format!("models/{model}")));
        }
        r.insert("content".into(), json!({"parts": [{"text": text}]}));
        if let Some(t) = extra_str(request, &["task_type", "taskType"]) {
            r.insert("taskType".into(), t.clone());
        }
        if let Some(t) = extra_str(request, &["title"]) {
            r.insert("title".into(), t.clone());
        }
        if let Some(d) = request.dimensions {
            r.insert("outputDimensionality".into(), json!(d));
        }
        Value::Object(r)
    };
    Ok(match &request.input {
        EmbeddingInput::Text(t) => (gemini_method(request), one(t, false)),
        _ => {
            let requests: Vec<Value> = texts.iter().map(|t| one(t, true)).collect();
            (GeminiEmbedMethod::Batch, json!({ "requests": requests }))
        }
    })
}

/// The Vertex `predict` body for `request`.
pub fn vertex_body(request: &EmbeddingRequest) -> Result<Value> {
    let instances: Vec<Value> = texts(request)?
        .into_iter()
        .map(|text| {
            let mut i = Map::new();
            i.insert("content".into(), Value::String(text.to_string()));
            if let Some(t) = extra_str(request, &["task_type", "taskType"]) {
                i.insert("task_type".into(), t.clone());
            }
            if let Some(t) = extra_str(request, &["title"]) {
                i.insert("title".into(), t.clone());
            }
            Value::Object(i)
        })
        .collect();
    let mut body = Map::new();
    body.insert("instances".into(), Value::Array(instances));
    let mut parameters = Map::new();
    if let Some(d) = request.dimensions {
        parameters.insert("outputDimensionality".into(), json!(d));
    }
    if let Some(a) = extra_str(request, &["auto_truncate", "autoTruncate"]) {
        parameters.insert("autoTruncate".into(), a.clone());
    }
    if !parameters.is_empty() {
        body.insert("parameters".into(), Value::Object(parameters));
    }
    Ok(Value::Object(body))
}

fn bad_gateway(provider: &str, model: &str, what: &str) -> Error {
    decode_failure(provider, model, "embeddings response", what)
}

fn parse(body: &[u8], provider: &str, model: &str) -> Result<Value> {
    serde_json::from_slice(body).map_err(|e| bad_gateway(provider, model, &e.to_string()))
}

/// Decode an `embedContent` / `batchEmbedContents` body.
pub fn decode_gemini(
    body: &[u8],
    method: GeminiEmbedMethod,
    request: &EmbeddingRequest,
    provider: &str,
) -> Result<EmbeddingResponse> {
    let model = request.model.as_str();
    let v = parse(body, provider, model)?;
    let embeddings: Vec<&Value> = match method {
        GeminiEmbedMethod::Single => vec![v
            .get("embedding")
            .ok_or_else(|| bad_gateway(provider, model, "no embedding"))?],
        GeminiEmbedMethod::Batch => v
            .get("embeddings")
            .and_then(Value::as_array)
            .ok_or_else(|| bad_gateway(provider, model, "no embeddings"))?
            .iter()
            .collect(),
    };
    let base64 = wants_base64(request);
    let data = embeddings
        .into_iter()
        .map(|e| {
            e.get("values")
                .and_then(|values| vector(values, base64).ok())
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad_gateway(provider, model, "embedding values are not numbers"))?;
    let prompt_tokens = v
        .pointer("/usageMetadata/promptTokenCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok(embedding_response(data, model, prompt_tokens))
}

/// Decode a Vertex `predict` body for a text-embedding model.
pub fn decode_vertex(
    body: &[u8],
    request: &EmbeddingRequest,
    provider: &str,
) -> Result<EmbeddingResponse> {
    let model = request.model.as_str();
    let v = parse(body, provider, model)?;
    let predictions = v
        .get("predictions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_gateway(provider, model, "no predictions"))?;
    let base64 = wants_base64(request);
    let mut data = Vec::with_capacity(predictions.len());
    let mut tokens = 0u64;
    for p in predictions {
        let e = p
            .get("embeddings")
            .ok_or_else(|| bad_gateway(provider, model, "prediction without embeddings"))?;
        data.push(
            e.get("values")
                .and_then(|values| vector(values, base64).ok())
                .ok_or_else(|| bad_gateway(provider, model, "embedding values are not numbers"))?,
        );
        // `token_count` is a JSON number that may be written as 6.0.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let count = e
            .pointer("/statistics/token_count")
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite() && *c >= 0.0)
            .map(|c| c as u64)
            .unwrap_or(0);
        tokens += count;
    }
    Ok(embedding_response(data, model, tokens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::types::embeddings::EmbeddingVector;

    fn req(input: EmbeddingInput) -> EmbeddingRequest {
        EmbeddingRequest::new("text-embedding-004", input)
    }

    #[test]
    fn gemini_single_and_batch_bodies() {
        let mut r = req(EmbeddingInput::Text("hello".into()));
        r.dimensions = Some(256);
        r.extra.insert("task_type".into(), json!("RETRIEVAL_QUERY"));
        let (m, body) = gemini_body(&r, "text-embedding-004").unwrap();
        assert_eq!(m, GeminiEmbedMethod::Single);
        assert_eq!(
            body,
            json!({"content": {"parts": [{"text": "hello"}]}, "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 256})
        );
        let r = req(EmbeddingInput::Texts(vec!["a".into(), "b".into()]));
        let (m, body) = gemini_body(&r, "text-embedding-004").unwrap();
        assert_eq!(m.as_str(), "batchEmbedContents");
        assert_eq!(
            body,
            json!({"requests": [
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}},
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}}
            ]})
        );
        let err = gemini_body(&req(EmbeddingInput::Tokens(vec![1, 2])), "m").unwrap_err();
        assert_eq!(
            err.message,
            "Google embedding models take text, not token ids"
        );
    }

    #[test]
    fn vertex_body_and_decoding() {
        let mut r = req(EmbeddingInput::Texts(vec!["a".into(), "b".into()]));
        r.dimensions = Some(2);
        r.extra.insert("title".into(), json!("Doc"));
        assert_eq!(
            vertex_body(&r).unwrap(),
            json!({"instances": [{"content": "a", "title": "Doc"}, {"content": "b", "title": "Doc"}], "parameters": {"outputDimensionality": 2}})
        );
        let body = json!({"predictions": [
            {"embeddings": {"statistics": {"truncated": false, "token_count": 6}, "values": [0.5, -1.0]}},
            {"embeddings": {"statistics": {"truncated": false, "token_count": 4.0}, "values": [0.25, 0.0]}}
        ], "metadata": {"billableCharacterCount": 2}});
        let resp = decode_vertex(body.to_string().as_bytes(), &r, "vertex_ai").unwrap();
        assert_eq!(
            serde_json::to_value(&resp).unwrap(),
            json!({"object": "list", "model": "text-embedding-004",
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]}, {"object": "embedding", "index": 1, "embedding": [0.25, 0.0]}],
                   "usage": {"prompt_tokens": 10, "total_tokens": 10}})
        );
    }

    #[test]
    fn base64_encoding_is_little_endian_f32() {
        let mut r = req(EmbeddingInput::Text("x".into()));
        r.encoding_format = Some("base64".into());
        let body = json!({"embedding": {"values": [0.5, -1.0]}});
        let resp = decode_gemini(
            body.to_string().as_bytes(),
            GeminiEmbedMethod::Single,
            &r,
            "gemini",
        )
        .unwrap();
        assert_eq!(
            resp.data[0].embedding,
            EmbeddingVector::Base64("AAAAPwAAgL8=".into())
        );
        let err = decode_gemini(b"{}", GeminiEmbedMethod::Batch, &r, "gemini").unwrap_err();
        assert_eq!(err.kind, llmux_core::ErrorKind::BadGateway);
    }
}
