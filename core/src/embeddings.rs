//! What every embeddings codec does with a provider's answer: JSON number
//! lists become OpenAI vectors (base64 of little-endian f32 when the caller
//! asked for `encoding_format: "base64"`, as OpenAI encodes them), numbered
//! into one OpenAI embeddings list.

use base64::Engine;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::transport::{decode_failure, decode_json};

use crate::types::embeddings::{
    Embedding, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage, EmbeddingVector,
};

/// Why a JSON value is not an embedding vector; the text is the detail
/// codecs put in their `BadGateway` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAVector {
    /// The value is not a JSON array.
    #[error("an embedding is not a list")]
    NotAList,
    /// An element of the array is not a number.
    #[error("non-numeric value")]
    NonNumeric,
}

/// Whether the caller asked for base64 vectors instead of floats.
pub fn wants_base64(request: &EmbeddingRequest) -> bool {
    request.encoding_format.as_deref() == Some("base64")
}

/// The texts of `request`'s input, or `None` for token-id input (which no
/// provider but OpenAI takes).
pub fn input_texts(request: &EmbeddingRequest) -> Option<Vec<&str>> {
    match &request.input {
        EmbeddingInput::Text(t) => Some(vec![t.as_str()]),
        EmbeddingInput::Texts(ts) => Some(ts.iter().map(String::as_str).collect()),
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => None,
    }
}

/// The OpenAI vector for `values`, a JSON list of numbers: the floats, or
/// with `base64` the base64 of their little-endian f32 bytes.
pub fn vector(values: &Value, base64: bool) -> Result<EmbeddingVector, NotAVector> {
    let floats: Vec<f64> = values
        .as_array()
        .ok_or(NotAVector::NotAList)?
        .iter()
        .map(|x| x.as_f64().ok_or(NotAVector::NonNumeric))
        .collect::<Result<_, _>>()?;
    Ok(if base64 {
        // OpenAI's base64 embeddings are little-endian f32.
        #[allow(clippy::cast_possible_truncation)]
        let bytes: Vec<u8> = floats
            .iter()
            .flat_map(|f| (*f as f32).to_le_bytes())
            .collect();
        EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
    } else {
        EmbeddingVector::Float(floats)
    })
}

/// The OpenAI embeddings list of `data` (indexed in order) for `model`;
/// `prompt_tokens` is also the total.
pub fn embedding_response(
    data: Vec<EmbeddingVector>,
    model: &str,
    prompt_tokens: u64,
) -> EmbeddingResponse {
    EmbeddingResponse {
        object: "list".into(),
        data: data
            .into_iter()
            .enumerate()
            .map(|(i, embedding)| Embedding {
                object: "embedding".into(),
                index: u32::try_from(i).unwrap_or(u32::MAX),
                embedding,
            })
            .collect(),
        model: model.to_string(),
        usage: EmbeddingUsage {
            prompt_tokens,
            total_tokens: prompt_tokens,
        },
        extra: Map::new(),
    }
}

/// Where a provider's embeddings answer keeps its vectors (JSON number
/// lists) and its usage: all a codec states to have its answers decoded.
#[derive(Debug, Clone, Copy)]
pub struct VectorLists {
    /// What the `BadGateway` names when `lists` finds nothing.
    pub missing: &'static str,
    /// The vectors in the parsed answer.
    pub lists: fn(&Value) -> Option<&Vec<Value>>,
    /// The prompt tokens in the parsed answer.
    pub prompt_tokens: fn(&Value) -> u64,
}

impl VectorLists {
    /// Decode `body`, an answer to `request`; every failure is a
    /// `BadGateway` naming `provider` and the model.
    pub fn decode(
        &self,
        body: &[u8],
        request: &EmbeddingRequest,
        provider: &str,
    ) -> Result<EmbeddingResponse> {
        let model = request.model.as_str();
        let v: Value = decode_json(body, provider, model)?;
        let lists = (self.lists)(&v)
            .ok_or_else(|| decode_failure(provider, model, "response", self.missing))?;
        let base64 = wants_base64(request);
        let data = lists
            .iter()
            .map(|values| {
                vector(values, base64).map_err(|e| decode_failure(provider, model, "response", e))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(embedding_response(data, model, (self.prompt_tokens)(&v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_base64_and_bad_values() {
        assert_eq!(
            vector(&json!([0.5, -1.0]), false),
            Ok(EmbeddingVector::Float(vec![0.5, -1.0]))
        );
        // 0.5f32 = 00 00 00 3f, -1.0f32 = 00 00 80 bf
        assert_eq!(
            vector(&json!([0.5, -1.0]), true),
            Ok(EmbeddingVector::Base64("AAAAPwAAgL8=".into()))
        );
        assert_eq!(vector(&json!({}), false), Err(NotAVector::NotAList));
        assert_eq!(vector(&json!([1, "x"]), false), Err(NotAVector::NonNumeric));
    }
}
