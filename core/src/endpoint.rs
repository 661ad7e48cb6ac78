//! Every endpoint's request and reply as one enum each, so layers that do not
//! care which endpoint a call is for (routing, caching, logging) handle all of
//! them alike. Also the traits a layer uses to read and build the request and
//! response types of whatever service it wraps.

use crate::responses::ResponseStream;
use crate::sse::SseStream;
use crate::stream::ChatStream;
use crate::types::audio::{
    SpeechRequest, SpeechResponse, TranscriptionRequest, TranscriptionResponse,
};
use crate::types::chat::{ChatCompletion, ChatCompletionRequest};
use crate::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use crate::types::images::{ImageGenerationRequest, ImagesResponse};
use crate::types::moderations::{ModerationRequest, ModerationResponse};
use crate::types::rerank::{RerankRequest, RerankResponse};
use crate::types::responses::{CreateResponseRequest, Response};

/// One endpoint call. The request's `model` is replaced by the deployment's
/// upstream model name when it is sent.
#[derive(Debug, Clone)]
pub enum Call {
    /// A chat completion answered in one piece (`POST /v1/chat/completions`).
    Chat(ChatCompletionRequest),
    /// A chat completion answered as a stream of chunks (`stream: true`).
    ChatStream(ChatCompletionRequest),
    /// An embeddings request (`POST /v1/embeddings`).
    Embeddings(EmbeddingRequest),
    /// An image generation request (`POST /v1/images/generations`).
    ImageGeneration(ImageGenerationRequest),
    /// An audio transcription request (`POST /v1/audio/transcriptions`, sent as multipart).
    Transcription(TranscriptionRequest),
    /// A text-to-speech request (`POST /v1/audio/speech`).
    Speech(SpeechRequest),
    /// A moderation request (`POST /v1/moderations`).
    Moderation(ModerationRequest),
    /// A rerank request (`POST /rerank`, Cohere-style).
    Rerank(RerankRequest),
    /// A Responses API call answered in one piece (`POST /v1/responses`).
    Responses(CreateResponseRequest),
    /// A Responses API call answered as events (`stream: true`).
    ResponsesStream(CreateResponseRequest),
    /// An Anthropic Messages API call (`POST /v1/messages`), answered whole.
    Messages(Box<MessagesCall>),
    /// An Anthropic Messages API call answered as events.
    MessagesStream(Box<MessagesCall>),
}

/// A call in Anthropic's Messages format: the client's own body for
/// deployments that speak the format (sent as it came, only `model`
/// replaced), and the same request translated to chat for every other.
#[derive(Debug, Clone)]
pub struct MessagesCall {
    /// The client's JSON body, unknown fields and blocks included.
    pub body: serde_json::Map<String, serde_json::Value>,
    /// What else the client sent that a native upstream gets too.
    pub options: MessagesOptions,
    /// The request as a chat request, for deployments that speak only chat.
    pub chat: ChatCompletionRequest,
}

/// What a Messages API client sent besides its body that a native upstream
/// gets too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagesOptions {
    /// The `anthropic-beta` values.
    pub betas: Vec<String>,
    /// The client called `/v1/messages?beta=true` (the SDKs' beta namespace).
    pub beta_query: bool,
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
            Call::Responses(_) => "responses",
            Call::ResponsesStream(_) => "responses_stream",
            Call::Messages(_) => "messages",
            Call::MessagesStream(_) => "messages_stream",
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
            Call::Messages(m) | Call::MessagesStream(m) => serde_json::to_string(&m.chat.messages)
                .map(|s| s.len())
                .unwrap_or(0),
            Call::Embeddings(r) => serde_json::to_string(&r.input)
                .map(|s| s.len())
                .unwrap_or(0),
            Call::Rerank(r) => {
                r.query.len() + r.documents.iter().map(|d| d.text().len()).sum::<usize>()
            }
            Call::Speech(r) => r.input.len(),
            Call::Responses(r) | Call::ResponsesStream(r) => {
                let input = serde_json::to_string(&r.input).map_or(0, |s| s.len());
                input + r.instructions.as_ref().map_or(0, String::len)
            }
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
            Call::Responses(r) | Call::ResponsesStream(r) => {
                r.max_output_tokens.map(u64::from).unwrap_or(0)
            }
            Call::Messages(m) | Call::MessagesStream(m) => {
                m.chat.max_output_tokens().map(u64::from).unwrap_or(0)
            }
            _ => 0,
        }
    }
}

/// A reply from one endpoint.
pub enum Reply {
    /// A whole chat completion, answering `Call::Chat`.
    Chat(ChatCompletion),
    /// The first chunk has already arrived (and is replayed first).
    ChatStream(ChatStream),
    /// Embedding vectors, answering `Call::Embeddings`.
    Embeddings(EmbeddingResponse),
    /// Generated images, answering `Call::ImageGeneration`.
    ImageGeneration(ImagesResponse),
    /// The transcript (JSON or the requested text format), answering `Call::Transcription`.
    Transcription(TranscriptionResponse),
    /// Synthesized audio bytes and their content type, answering `Call::Speech`.
    Speech(SpeechResponse),
    /// Moderation results, answering `Call::Moderation`.
    Moderation(ModerationResponse),
    /// Documents ranked by relevance, answering `Call::Rerank`.
    Rerank(RerankResponse),
    /// A whole `response` object, answering `Call::Responses` (boxed: it is
    /// three times the size of the other replies).
    Responses(Box<Response>),
    /// Responses API events; the first has already arrived.
    ResponsesStream(ResponseStream),
    /// An Anthropic Messages API answer as the upstream sent it (JSON).
    Messages(bytes::Bytes),
    /// Anthropic Messages API events as the upstream sent them; the first
    /// has already arrived.
    MessagesStream(SseStream),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::ChatStream(_) => f.write_str("Reply::ChatStream(..)"),
            Reply::ResponsesStream(_) => f.write_str("Reply::ResponsesStream(..)"),
            Reply::MessagesStream(_) => f.write_str("Reply::MessagesStream(..)"),
            Reply::Chat(c) => f.debug_tuple("Reply::Chat").field(c).finish(),
            _ => f.write_str("Reply(..)"),
        }
    }
}

/// A request that names a model group and carries one endpoint [`Call`].
pub trait CallRequest {
    /// The model (group) asked for.
    fn model_group(&self) -> &str;
    /// The call.
    fn call(&self) -> &Call;
    /// The call, to adjust before it is sent on.
    fn call_mut(&mut self) -> &mut Call;
}

/// A response that carries one endpoint [`Reply`] and can be built from a
/// stored one (a cache hit).
pub trait CallResponse: Sized {
    /// The reply.
    fn reply(&self) -> &Reply;
    /// Replace the reply (e.g. with a stream that records what passes).
    fn map_reply(self, f: impl FnOnce(Reply) -> Reply) -> Self;
    /// A response served from a cache for `model_group`.
    fn from_cache(model_group: &str, reply: Reply) -> Self;
}
