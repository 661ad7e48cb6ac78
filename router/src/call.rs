//! What flows through the router's tower stack: a [`RouterRequest`] (model
//! group + endpoint call) in, a [`RouterResponse`] (endpoint reply + how it
//! was routed) out.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmux_core::types::audio::{
    SpeechRequest, SpeechResponse, TranscriptionRequest, TranscriptionResponse,
};
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::types::images::{ImageGenerationRequest, ImagesResponse};
use llmux_core::types::moderations::{ModerationRequest, ModerationResponse};
use llmux_core::types::rerank::{RerankRequest, RerankResponse};
use llmux_core::ChatStream;

/// One endpoint call. The request's `model` is replaced by the deployment's
/// upstream model name when it is sent.
#[derive(Debug, Clone)]
pub enum Call {
    Chat(ChatCompletionRequest),
    ChatStream(ChatCompletionRequest),
    Embeddings(EmbeddingRequest),
    ImageGeneration(ImageGenerationRequest),
    Transcription(TranscriptionRequest),
    Speech(SpeechRequest),
    Moderation(ModerationRequest),
    Rerank(RerankRequest),
}

impl Call {
    /// Endpoint name for messages and metrics.
    pub fn endpoint(&self) -> &'static str {
        match self {
            Call::Chat(_) => "chat",
            Call::ChatStream(_) => "chat_stream",
            Call::Embeddings(_) => "embeddings",
            Call::ImageGeneration(_) => "image_generation",
            Call::Transcription(_) => "transcription",
            Call::Speech(_) => "speech",
            Call::Moderation(_) => "moderation",
            Call::Rerank(_) => "rerank",
        }
    }

    /// A rough prompt size in tokens (4 characters a token) for pre-call
    /// context-window checks and tpm admission. Exact counts belong to
    /// `llmux-cost`; this only has to be cheap and not undercount badly.
    pub fn estimated_prompt_tokens(&self) -> u64 {
        let chars = match self {
            Call::Chat(r) | Call::ChatStream(r) => serde_json::to_string(&r.messages)
                .map(|s| s.len())
                .unwrap_or(0),
            Call::Embeddings(r) => serde_json::to_string(&r.input)
                .map(|s| s.len())
                .unwrap_or(0),
            Call::Rerank(r) => {
                r.query.len() + r.documents.iter().map(|d| d.text().len()).sum::<usize>()
            }
            Call::Speech(r) => r.input.len(),
            _ => 0,
        };
        (chars as u64).div_ceil(4)
    }

    /// Output tokens the caller allows (chat only).
    pub fn max_output_tokens(&self) -> u64 {
        match self {
            Call::Chat(r) | Call::ChatStream(r) => {
                r.max_output_tokens().map(u64::from).unwrap_or(0)
            }
            _ => 0,
        }
    }
}

/// A reply from one endpoint.
pub enum Reply {
    Chat(ChatCompletion),
    /// The first chunk has already arrived (and is replayed first).
    ChatStream(ChatStream),
    Embeddings(EmbeddingResponse),
    ImageGeneration(ImagesResponse),
    Transcription(TranscriptionResponse),
    Speech(SpeechResponse),
    Moderation(ModerationResponse),
    Rerank(RerankResponse),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::ChatStream(_) => f.write_str("Reply::ChatStream(..)"),
            Reply::Chat(c) => f.debug_tuple("Reply::Chat").field(c).finish(),
            _ => f.write_str("Reply(..)"),
        }
    }
}

/// Per-call bookkeeping shared by every attempt (retries, hedges, fallbacks).
#[derive(Debug, Default)]
pub struct CallContext {
    attempts: AtomicU32,
    tried: Mutex<Vec<String>>,
}

impl CallContext {
    pub(crate) fn record_attempt(&self, deployment_id: &str) -> u32 {
        if let Ok(mut t) = self.tried.lock() {
            t.push(deployment_id.to_string());
        }
        self.attempts.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }

    pub(crate) fn tried(&self, deployment_id: &str) -> bool {
        self.tried
            .lock()
            .map(|t| t.iter().any(|d| d == deployment_id))
            .unwrap_or(false)
    }
}

/// A call for a model group.
#[derive(Debug, Clone)]
pub struct RouterRequest {
    /// The model (group, alias or `provider/model` for wildcard groups) asked for.
    pub group: String,
    pub call: Call,
    pub context: Arc<CallContext>,
}

impl RouterRequest {
    /// A request for `group`.
    pub fn new(group: impl Into<String>, call: Call) -> Self {
        RouterRequest {
            group: group.into(),
            call,
            context: Arc::new(CallContext::default()),
        }
    }
}

/// How a call was served.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteInfo {
    /// The model group that answered (differs from the requested one after a fallback).
    pub model_group: String,
    /// Deployment id (`model_info.id`, or generated).
    pub deployment_id: String,
    /// Provider prefix of the deployment.
    pub provider: String,
    /// Upstream model name sent to the provider.
    pub upstream_model: String,
    /// Attempts made in all, including retries, hedges and fallbacks.
    pub attempts: u32,
    /// The group originally asked for, when a fallback served the call.
    pub fallback_from: Option<String>,
    /// Time from routing to the reply (for streams: to the first chunk).
    pub latency: Duration,
}

/// A reply and how it was routed.
#[derive(Debug)]
pub struct RouterResponse {
    pub reply: Reply,
    pub route: RouteInfo,
}

/// A typed reply and how it was routed.
#[derive(Debug)]
pub struct Routed<T> {
    pub response: T,
    pub route: RouteInfo,
}
