//! Audio: transcription (`POST /v1/audio/transcriptions`, multipart) and
//! speech (`POST /v1/audio/speech`, binary response).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::chat::Extra;

/// A transcription request. On the wire it is `multipart/form-data`.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptionRequest {
    pub model: String,
    /// The audio file's bytes.
    pub file: Bytes,
    /// File name sent with the upload; providers use its extension for the format.
    pub filename: String,
    pub language: Option<String>,
    pub prompt: Option<String>,
    /// `json` (default), `text`, `srt`, `verbose_json`, `vtt`.
    pub response_format: Option<String>,
    pub temperature: Option<f64>,
    /// `word` and/or `segment` (with `verbose_json`).
    pub timestamp_granularities: Vec<String>,
    /// Other form fields, forwarded as they came.
    pub extra: Vec<(String, String)>,
}

impl TranscriptionRequest {
    /// A request transcribing `file` (named `filename`) with `model`.
    pub fn new(model: impl Into<String>, file: Bytes, filename: impl Into<String>) -> Self {
        TranscriptionRequest {
            model: model.into(),
            file,
            filename: filename.into(),
            language: None,
            prompt: None,
            response_format: None,
            temperature: None,
            timestamp_granularities: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Whether the response is JSON (`json`, `verbose_json`) rather than text.
    pub fn wants_json(&self) -> bool {
        matches!(
            self.response_format.as_deref(),
            None | Some("json") | Some("verbose_json")
        )
    }
}

/// A transcription result: JSON for `json`/`verbose_json`, text otherwise.
#[derive(Debug, Clone, PartialEq)]
pub enum TranscriptionResponse {
    Json(Transcription),
    /// `text`, `srt` or `vtt` output, as the provider sent it.
    Text(String),
}

/// The JSON transcription object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcription {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// `words`, `segments`, `usage` and anything else the provider sends.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/audio/speech` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechRequest {
    pub model: String,
    pub input: String,
    pub voice: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// `mp3` (default), `opus`, `aac`, `flac`, `wav`, `pcm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Generated audio and its content type.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechResponse {
    pub content_type: String,
    pub audio: Bytes,
}
