//! The `Provider` trait: one async method per endpoint.
//!
//! A `Provider` value is one configured upstream (credentials, base URL). The
//! `model` in each request is the provider-side name, prefix already removed.
//! Endpoints a backend lacks keep the default body, which returns
//! [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) naming provider and endpoint.

use async_trait::async_trait;

use crate::endpoint::MessagesOptions;
use crate::error::{Error, Result};
use crate::pass_through::{openai_usage, DocumentReader, PassThroughRequest, UsageReader};
use crate::responses::{self, ResponseStream};
use crate::sse::SseStream;
use crate::stream::ChatStream;
use crate::transport::UpstreamStream;
use crate::types::audio::{
    SpeechRequest, SpeechResponse, TranscriptionRequest, TranscriptionResponse,
};
use crate::types::chat::{ChatCompletion, ChatCompletionRequest};
use crate::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use crate::types::images::{ImageGenerationRequest, ImagesResponse};
use crate::types::models::ModelList;
use crate::types::moderations::{ModerationRequest, ModerationResponse};
use crate::types::rerank::{RerankRequest, RerankResponse};
use crate::types::responses::{CreateResponseRequest, Response};
use bytes::Bytes;
use serde_json::{Map, Value};

/// An LLM backend reachable through llmux.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider prefix (`openai`, `groq`, `azure`, …).
    fn name(&self) -> &str;

    /// `POST /chat/completions`, whole response.
    async fn chat(&self, request: ChatCompletionRequest) -> Result<ChatCompletion> {
        let _ = request;
        Err(Error::unsupported(self.name(), "chat completions"))
    }

    /// `POST /chat/completions` with `stream: true`.
    ///
    /// Resolves once the upstream has accepted the call (status and headers
    /// read); errors before that are returned here, later ones end the stream.
    async fn chat_stream(&self, request: ChatCompletionRequest) -> Result<ChatStream> {
        let _ = request;
        Err(Error::unsupported(
            self.name(),
            "streaming chat completions",
        ))
    }

    /// `POST /embeddings`.
    async fn embeddings(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let _ = request;
        Err(Error::unsupported(self.name(), "embeddings"))
    }

    /// `GET /models`.
    async fn list_models(&self) -> Result<ModelList> {
        Err(Error::unsupported(self.name(), "models"))
    }

    /// `POST /images/generations`.
    async fn image_generation(&self, request: ImageGenerationRequest) -> Result<ImagesResponse> {
        let _ = request;
        Err(Error::unsupported(self.name(), "image generation"))
    }

    /// `POST /audio/transcriptions`.
    async fn transcription(&self, request: TranscriptionRequest) -> Result<TranscriptionResponse> {
        let _ = request;
        Err(Error::unsupported(self.name(), "audio transcription"))
    }

    /// `POST /audio/speech`.
    async fn speech(&self, request: SpeechRequest) -> Result<SpeechResponse> {
        let _ = request;
        Err(Error::unsupported(self.name(), "audio speech"))
    }

    /// `POST /moderations`.
    async fn moderation(&self, request: ModerationRequest) -> Result<ModerationResponse> {
        let _ = request;
        Err(Error::unsupported(self.name(), "moderations"))
    }

    /// `POST /rerank`.
    async fn rerank(&self, request: RerankRequest) -> Result<RerankResponse> {
        let _ = request;
        Err(Error::unsupported(self.name(), "rerank"))
    }

    /// How many input tokens the upstream counts for `request`'s prompt
    /// (Anthropic's `count_tokens`); unsupported where the provider has no
    /// such endpoint (callers estimate with a tokenizer then).
    async fn count_tokens(&self, request: ChatCompletionRequest) -> Result<u64> {
        let _ = request;
        Err(Error::unsupported(self.name(), "count_tokens"))
    }

    /// Whether this provider speaks Anthropic's Messages API itself (then
    /// `/v1/messages` is forwarded as it came).
    fn serves_messages(&self, model: &str) -> bool {
        let _ = model;
        false
    }

    /// `POST /v1/messages` with the client's `body` (model already
    /// replaced) and its `options`: the upstream's JSON answer as it came.
    async fn messages(&self, body: Map<String, Value>, options: MessagesOptions) -> Result<Bytes> {
        let _ = (body, options);
        Err(Error::unsupported(self.name(), "messages"))
    }

    /// [`messages`](Self::messages) streamed: the upstream's events as they came.
    async fn messages_stream(
        &self,
        body: Map<String, Value>,
        options: MessagesOptions,
    ) -> Result<SseStream> {
        let _ = (body, options);
        Err(Error::unsupported(self.name(), "messages"))
    }

    /// Whether this provider has a pass-through route (see [`crate::pass_through`]).
    fn serves_pass_through(&self) -> bool {
        false
    }

    /// Whether a pass-through request's credential covers its body (SigV4),
    /// so the gateway reads the body before forwarding.
    fn pass_through_signs_body(&self) -> bool {
        false
    }

    /// What reads the usage of a pass-through answer with `headers`.
    fn pass_through_usage(&self, headers: &http::HeaderMap) -> Box<dyn UsageReader> {
        Box::new(DocumentReader::new(headers, openai_usage))
    }

    /// Send a request to this provider's own API as the caller wrote it,
    /// with this provider's credential: the upstream's answer whatever its
    /// status, its body still arriving.
    async fn pass_through(&self, request: PassThroughRequest) -> Result<UpstreamStream> {
        let _ = request;
        Err(Error::unsupported(self.name(), "pass-through"))
    }

    /// `POST /v1/responses`. By default served through [`chat`](Self::chat)
    /// (the Responses → chat translation); upstreams that speak the API
    /// themselves override it.
    async fn responses(&self, request: CreateResponseRequest) -> Result<Response> {
        responses::via_chat(self, request).await
    }

    /// `POST /v1/responses` with `stream: true`; by default the chat stream
    /// translated into Responses events.
    async fn responses_stream(&self, request: CreateResponseRequest) -> Result<ResponseStream> {
        responses::stream_via_chat(self, request).await
    }
}
