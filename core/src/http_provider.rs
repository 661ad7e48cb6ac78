//! The one [`Provider`] implementation: a [`Codec`] plus the shared transport.
//!
//! Every call runs the same steps — prepare, encode, authorize, send (with the
//! deployment's timeout), classify a non-2xx answer with the codec, decode —
//! so transport, timeouts, redirects, body caps and streaming behave alike for
//! every provider.

use std::ops::Deref;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::codec::Codec;
use crate::endpoint::MessagesOptions;
use crate::error::{Error, Result};
use crate::params::{Env, ProviderParams};
use crate::pass_through::{PassThroughBody, PassThroughRequest, UsageReader};
use crate::provider::Provider;
use crate::responses::ResponseStream;
use crate::stream::{decode_stream, ChatStream};
use crate::transport::{HttpTransport, UpstreamResponse, UpstreamStream};
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

/// A provider reached over HTTP: its codec, the deployment's timeout and a
/// pooled transport. Derefs to the codec, so its URLs and `encode_*` are at
/// hand for tests and tools.
#[derive(Debug, Clone)]
pub struct HttpProvider<C> {
    codec: C,
    timeout: Option<Duration>,
    transport: HttpTransport,
}

impl<C: Codec> HttpProvider<C> {
    /// `codec` on the process-wide transport; `timeout` bounds each call
    /// (for streams: the wait for the response head).
    pub fn new(codec: C, timeout: Option<Duration>) -> Self {
        HttpProvider {
            codec,
            timeout,
            transport: HttpTransport::shared(),
        }
    }

    /// Build provider `name` from `params` (timeout included), falling back
    /// to the environment for credentials.
    pub fn from_params(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Self> {
        Ok(Self::new(
            C::from_params(name, params, env)?,
            params.timeout,
        ))
    }

    /// Replace the transport (e.g. one with other pool settings).
    pub fn with_transport(mut self, transport: HttpTransport) -> Self {
        self.transport = transport;
        self
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// Whether a chat call for `model` goes through the upstream's Responses API.
    fn through_responses(&self, model: &str) -> bool {
        self.codec.serves_responses() && self.codec.chat_via_responses(model)
    }

    /// Attach this provider and `model` to an error raised before sending
    /// (only on failure: the success path allocates nothing for it).
    fn context(&self, e: Error, model: &str) -> Error {
        e.with_provider(self.codec.name()).with_model(model)
    }

    /// Prepare the codec, then encode with `encode`.
    async fn encode<T>(
        &self,
        model: &str,
        encode: impl FnOnce(&C) -> Result<T> + Send,
    ) -> Result<T> {
        self.codec
            .prepare()
            .await
            .map_err(|e| self.context(e, model))?;
        encode(&self.codec).map_err(|e| self.context(e, model))
    }

    /// Authorize and send `request`, returning a 2xx response whole; any
    /// other status becomes the codec's classified error.
    pub async fn send(
        &self,
        mut request: http::Request<Bytes>,
        model: &str,
    ) -> Result<UpstreamResponse> {
        self.codec
            .authorize(&mut request)
            .await
            .map_err(|e| self.context(e, model))?;
        self.transport
            .call(request, self.timeout, self.codec.name(), model, &|r| {
                self.codec.decode_error(r)
            })
            .await
    }

    /// Like [`send`](Self::send), returning once the response head is read.
    async fn send_streaming(
        &self,
        mut request: http::Request<Bytes>,
        model: &str,
    ) -> Result<UpstreamStream> {
        self.codec
            .authorize(&mut request)
            .await
            .map_err(|e| self.context(e, model))?;
        self.transport
            .call_streaming(request, self.timeout, self.codec.name(), model, &|r| {
                self.codec.decode_error(r)
            })
            .await
    }
}

/// The `model` of a JSON request body (empty when it has none).
fn body_model(body: &serde_json::Map<String, serde_json::Value>) -> String {
    body.get("model")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl<C> Deref for HttpProvider<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.codec
    }
}

#[async_trait]
impl<C: Codec> Provider for HttpProvider<C> {
    fn name(&self) -> &str {
        self.codec.name()
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<ChatCompletion> {
        let model = request.model.as_str();
        if self.through_responses(model) {
            let name = self.codec.name();
            let req = crate::responses::request_for_chat(name, &request, false)?;
            let http = self
                .encode(model, |c| c.encode_responses(&req, false))
                .await?;
            let response = self.send(http, model).await?;
            let answer = self.codec.decode_responses(&response, &req)?;
            return crate::responses::completion_for_chat(name, &answer, model);
        }
        let http = self
            .encode(model, |c| c.encode_chat(&request, false))
            .await?;
        let response = self.send(http, model).await?;
        self.codec.decode_chat(&response, &request)
    }

    async fn chat_stream(&self, request: ChatCompletionRequest) -> Result<ChatStream> {
        let model = request.model.as_str();
        if self.through_responses(model) {
            let name = self.codec.name();
            let req = crate::responses::request_for_chat(name, &request, true)?;
            let http = self
                .encode(model, |c| c.encode_responses(&req, true))
                .await?;
            let upstream = self.send_streaming(http, model).await?;
            let events = crate::responses::decode_response_events(name, model, upstream.body);
            return Ok(crate::responses::chunks_from_events(name, events, model));
        }
        let http = self
            .encode(model, |c| c.encode_chat(&request, true))
            .await?;
        let upstream = self.send_streaming(http, model).await?;
        let decoder = self.codec.chat_stream_decoder(&request, &upstream.headers);
        Ok(decode_stream(upstream.body, decoder))
    }

    async fn embeddings(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let model = request.model.as_str();
        let calls = self
            .encode(model, |c| c.encode_embeddings(&request))
            .await?;
        let responses =
            futures::future::try_join_all(calls.into_iter().map(|http| self.send(http, model)))
                .await?;
        self.codec.decode_embeddings(responses, &request)
    }

    fn serves_messages(&self, model: &str) -> bool {
        self.codec.serves_messages(model)
    }

    fn serves_pass_through(&self) -> bool {
        self.codec.pass_through_base().is_some()
    }

    fn pass_through_signs_body(&self) -> bool {
        self.codec.pass_through_signs_body()
    }

    fn pass_through_usage(&self, headers: &http::HeaderMap) -> Box<dyn UsageReader> {
        self.codec.pass_through_usage(headers)
    }

    async fn pass_through(&self, request: PassThroughRequest) -> Result<UpstreamStream> {
        let name = self.codec.name();
        let base = self
            .codec
            .pass_through_base()
            .ok_or_else(|| Error::unsupported(name, "pass-through"))?;
        let url = crate::pass_through::join(&base, &request.path_and_query);
        let uri: http::Uri = url.parse().map_err(|e| {
            Error::bad_request(format!("invalid pass-through path: {e}")).with_provider(name)
        })?;
        let mut builder = http::Request::builder().method(request.method).uri(uri);
        if let Some(h) = builder.headers_mut() {
            *h = request.headers;
        }
        let (mut parts, ()) = builder
            .body(())
            .map_err(|e| Error::bad_request(format!("invalid pass-through request: {e}")))?
            .into_parts();
        self.codec
            .prepare()
            .await
            .map_err(|e| e.with_provider(name))?;
        self.codec
            .authorize_pass_through(&mut parts, request.body.whole())
            .await
            .map_err(|e| e.with_provider(name))?;
        let body = match request.body {
            PassThroughBody::Whole(b) => reqwest::Body::from(b),
            PassThroughBody::Streamed(b) => b,
        };
        self.transport
            .forward(http::Request::from_parts(parts, body), self.timeout)
            .await
            .map_err(|e| e.with_provider(name))
    }

    async fn messages(
        &self,
        body: serde_json::Map<String, serde_json::Value>,
        options: MessagesOptions,
    ) -> Result<Bytes> {
        let model = body_model(&body);
        let http = self
            .encode(&model, |c| c.encode_messages(&body, &options, false))
            .await?;
        Ok(self.send(http, &model).await?.body)
    }

    async fn messages_stream(
        &self,
        body: serde_json::Map<String, serde_json::Value>,
        options: MessagesOptions,
    ) -> Result<crate::sse::SseStream> {
        let model = body_model(&body);
        let http = self
            .encode(&model, |c| c.encode_messages(&body, &options, true))
            .await?;
        let upstream = self.send_streaming(http, &model).await?;
        Ok(crate::sse::raw_events(
            self.codec.name(),
            &model,
            self.codec.messages_stream_body(&model, upstream.body),
            |e| matches!(e.event.as_deref(), Some("message_stop") | Some("error")),
        ))
    }

    async fn count_tokens(&self, request: ChatCompletionRequest) -> Result<u64> {
        let model = request.model.as_str();
        let http = self
            .encode(model, |c| c.encode_count_tokens(&request))
            .await?;
        let response = self.send(http, model).await?;
        self.codec.decode_count_tokens(&response, model)
    }

    async fn responses(&self, request: CreateResponseRequest) -> Result<Response> {
        if !self.codec.serves_responses() {
            return crate::responses::via_chat(self, request).await;
        }
        let model = request.model.as_str();
        let http = self
            .encode(model, |c| c.encode_responses(&request, false))
            .await?;
        let response = self.send(http, model).await?;
        self.codec.decode_responses(&response, &request)
    }

    async fn responses_stream(&self, request: CreateResponseRequest) -> Result<ResponseStream> {
        if !self.codec.serves_responses() {
            return crate::responses::stream_via_chat(self, request).await;
        }
        let model = request.model.as_str();
        let http = self
            .encode(model, |c| c.encode_responses(&request, true))
            .await?;
        let upstream = self.send_streaming(http, model).await?;
        Ok(crate::responses::decode_response_events(
            self.codec.name(),
            model,
            upstream.body,
        ))
    }

    async fn list_models(&self) -> Result<ModelList> {
        let http = self.encode("", |c| c.encode_list_models()).await?;
        let response = self.send(http, "").await?;
        self.codec.decode_list_models(&response)
    }

    async fn image_generation(&self, request: ImageGenerationRequest) -> Result<ImagesResponse> {
        let model = request.model.as_deref().unwrap_or_default();
        let http = self
            .encode(model, |c| c.encode_image_generation(&request))
            .await?;
        let response = self.send(http, model).await?;
        self.codec.decode_image_generation(&response, &request)
    }

    async fn transcription(&self, request: TranscriptionRequest) -> Result<TranscriptionResponse> {
        let model = request.model.as_str();
        let http = self
            .encode(model, |c| c.encode_transcription(&request))
            .await?;
        let response = self.send(http, model).await?;
        self.codec.decode_transcription(&response, &request)
    }

    async fn speech(&self, request: SpeechRequest) -> Result<SpeechResponse> {
        let model = request.model.as_str();
        let http = self.encode(model, |c| c.encode_speech(&request)).await?;
        let response = self.send(http, model).await?;
        self.codec.decode_speech(&response, &request)
    }

    async fn moderation(&self, request: ModerationRequest) -> Result<ModerationResponse> {
        let model = request.model.as_deref().unwrap_or_default();
        let http = self
            .encode(model, |c| c.encode_moderation(&request))
            .await?;
        let response = self.send(http, model).await?;
        self.codec.decode_moderation(&response, &request)
    }

    async fn rerank(&self, request: RerankRequest) -> Result<RerankResponse> {
        let model = request.model.as_str();
        let http = self.encode(model, |c| c.encode_rerank(&request)).await?;
        let response = self.send(http, model).await?;
        self.codec.decode_rerank(&response, &request)
    }
}
