//! The provider seam: a [`Codec`] is everything one provider knows — how its
//! credentials are read, how OpenAI-shaped requests become its HTTP requests
//! and how its answers and errors come back. It never touches the network:
//! [`HttpProvider`](crate::http_provider::HttpProvider) owns transport,
//! timeouts and streaming for every codec alike.
//!
//! A codec implements the endpoints its provider has; the others keep the
//! default `encode_*`, which fails with
//! [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) before any call.
//! Default `decode_*` read OpenAI's own JSON shapes, so an OpenAI-compatible
//! codec only encodes.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Method};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::endpoint::MessagesOptions;
use crate::error::{Error, Result};
use crate::params::{Env, ProviderParams};
use crate::pass_through::{openai_usage, DocumentReader, UsageReader};
use crate::provider::Provider;
use crate::stream::{ByteStream, StreamDecoder};
use crate::transport::{decode_json, UpstreamResponse};
use crate::types::audio::{
    SpeechRequest, SpeechResponse, TranscriptionRequest, TranscriptionResponse,
};
use crate::types::chat::{ChatCompletion, ChatCompletionRequest, FunctionDefinition};
use crate::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use crate::types::images::{ImageGenerationRequest, ImagesResponse};
use crate::types::models::ModelList;
use crate::types::moderations::{ModerationRequest, ModerationResponse};
use crate::types::rerank::{RerankRequest, RerankResponse};
use crate::types::responses::{CreateResponseRequest, Response};

/// One provider's wire format and credentials, without the network.
///
/// `decode_*` receive the request that was encoded, so a codec recomputes
/// what it decided while encoding (a JSON mode, an embedding method) instead
/// of carrying per-call state.
///
/// The two async hooks are plain `impl Future` methods, not boxed: the
/// generic provider is monomorphised per codec, so a codec without I/O pays
/// nothing for them on the request path.
pub trait Codec: Sized + Send + Sync + 'static {
    /// Turns the provider's streamed chat body into chunks.
    type ChatStreamDecoder: StreamDecoder;

    /// The provider prefixes this codec serves (`cohere`, `cohere_chat`).
    fn provider_names() -> Vec<&'static str>;

    /// Whether `env` alone holds what provider `name` needs (a key, or the
    /// address of a key-less local server): what `Router::from_env` serves.
    fn configured(name: &str, env: &dyn Env) -> bool;

    /// Build provider `name` from explicit `params`, falling back to the
    /// environment variables LiteLLM reads for it.
    fn from_params(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Self>;

    /// The provider prefix this value was built for.
    fn name(&self) -> &'static str;

    /// Classify a non-2xx response: kind, the provider's message, retry-after.
    fn decode_error(&self, response: &UpstreamResponse) -> Error;

    /// Resolve, once per call and before encoding, what takes I/O to learn
    /// (a cloud project named only by the credentials).
    fn prepare(&self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// Add credentials that take I/O to obtain (an OAuth access token) to an
    /// encoded request, right before it is sent.
    fn authorize(
        &self,
        request: &mut http::Request<Bytes>,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = request;
        async { Ok(()) }
    }

    /// The base URL of this provider's own API for pass-through calls, to
    /// which the caller's path is appended (no version: callers send it);
    /// `None` when the provider has no pass-through route.
    fn pass_through_base(&self) -> Option<String> {
        None
    }

    /// Whether [`authorize_pass_through`](Self::authorize_pass_through)
    /// needs the whole body (a signature covers it), so the gateway reads it
    /// before forwarding.
    fn pass_through_signs_body(&self) -> bool {
        false
    }

    /// Put this provider's credential on a pass-through request (its URL
    /// final, the caller's credentials already removed). `body` is the
    /// whole body when it was read.
    fn authorize_pass_through(
        &self,
        parts: &mut http::request::Parts,
        body: Option<&Bytes>,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (parts, body);
        async { Err(Error::unsupported(self.name(), "pass-through")) }
    }

    /// What reads the usage of a pass-through answer with `headers` (by
    /// default OpenAI's shapes, in whole, SSE or NDJSON bodies).
    fn pass_through_usage(&self, headers: &HeaderMap) -> Box<dyn UsageReader> {
        Box::new(DocumentReader::new(headers, openai_usage))
    }

    /// The upstream request for a chat completion; `stream` asks for a stream.
    fn encode_chat(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
    ) -> Result<http::Request<Bytes>>;

    /// A whole chat answer.
    fn decode_chat(
        &self,
        response: &UpstreamResponse,
        request: &ChatCompletionRequest,
    ) -> Result<ChatCompletion> {
        decode_json(&response.body, self.name(), &request.model)
    }

    /// The decoder for a streamed chat answer whose head carried `headers`.
    fn chat_stream_decoder(
        &self,
        request: &ChatCompletionRequest,
        headers: &HeaderMap,
    ) -> Self::ChatStreamDecoder;

    /// The upstream requests for embeddings: usually one, several where the
    /// provider embeds one text per call (Bedrock's Titan models).
    fn encode_embeddings(&self, request: &EmbeddingRequest) -> Result<Vec<http::Request<Bytes>>> {
        let _ = request;
        Err(Error::unsupported(self.name(), "embeddings"))
    }

    /// The embeddings from the responses, in the order of the requests.
    fn decode_embeddings(
        &self,
        responses: Vec<UpstreamResponse>,
        request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse> {
        decode_json(&first_body(responses), self.name(), &request.model)
    }

    /// Whether the upstream speaks Anthropic's Messages API itself for
    /// `model` (Anthropic; Claude on Bedrock's InvokeModel or Vertex AI).
    fn serves_messages(&self, model: &str) -> bool {
        let _ = model;
        false
    }

    /// The body of a streamed Messages API answer for `model` as Anthropic's
    /// SSE: as it came, or re-framed (Bedrock's event stream of Claude
    /// events).
    fn messages_stream_body(&self, model: &str, body: ByteStream) -> ByteStream {
        let _ = model;
        body
    }

    /// The upstream request for a client's Messages API `body` (only asked
    /// when [`serves_messages`](Self::serves_messages)); `stream` asks for events.
    fn encode_messages(
        &self,
        body: &serde_json::Map<String, serde_json::Value>,
        options: &MessagesOptions,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        let _ = (body, options, stream);
        Err(Error::unsupported(self.name(), "messages"))
    }

    /// The upstream request counting `request`'s input tokens, where the
    /// provider has such an endpoint.
    fn encode_count_tokens(&self, request: &ChatCompletionRequest) -> Result<http::Request<Bytes>> {
        let _ = request;
        Err(Error::unsupported(self.name(), "count_tokens"))
    }

    /// The count from the upstream's answer.
    fn decode_count_tokens(&self, response: &UpstreamResponse, model: &str) -> Result<u64> {
        let _ = (response, model);
        Err(Error::unsupported(self.name(), "count_tokens"))
    }

    /// Whether the upstream serves OpenAI's Responses API itself; if not
    /// (the default), Responses calls are served through chat completions.
    fn serves_responses(&self) -> bool {
        false
    }

    /// Whether chat calls for `model` must go through the upstream's
    /// Responses API (models that exist only there, e.g. `o3-pro`,
    /// `gpt-5-codex`); only asked when [`serves_responses`](Self::serves_responses).
    fn chat_via_responses(&self, model: &str) -> bool {
        let _ = model;
        false
    }

    /// The upstream request for a Responses API call (only asked when
    /// [`serves_responses`](Self::serves_responses)); `stream` asks for events.
    fn encode_responses(
        &self,
        request: &CreateResponseRequest,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        let _ = (request, stream);
        Err(Error::unsupported(self.name(), "responses"))
    }

    /// A whole `response` object.
    fn decode_responses(
        &self,
        response: &UpstreamResponse,
        request: &CreateResponseRequest,
    ) -> Result<Response> {
        decode_json(&response.body, self.name(), &request.model)
    }

    /// The upstream request for the model list.
    fn encode_list_models(&self) -> Result<http::Request<Bytes>> {
        Err(Error::unsupported(self.name(), "models"))
    }

    /// The model list.
    fn decode_list_models(&self, response: &UpstreamResponse) -> Result<ModelList> {
        decode_json(&response.body, self.name(), "")
    }

    /// The upstream request for image generation.
    fn encode_image_generation(
        &self,
        request: &ImageGenerationRequest,
    ) -> Result<http::Request<Bytes>> {
        let _ = request;
        Err(Error::unsupported(self.name(), "image generation"))
    }

    /// The generated images.
    fn decode_image_generation(
        &self,
        response: &UpstreamResponse,
        request: &ImageGenerationRequest,
    ) -> Result<ImagesResponse> {
        decode_json(
            &response.body,
            self.name(),
            request.model.as_deref().unwrap_or_default(),
        )
    }

    /// The upstream (multipart) request for a transcription.
    fn encode_transcription(&self, request: &TranscriptionRequest) -> Result<http::Request<Bytes>> {
        let _ = request;
        Err(Error::unsupported(self.name(), "audio transcription"))
    }

    /// The transcription: JSON for `json`/`verbose_json`, the text otherwise.
    fn decode_transcription(
        &self,
        response: &UpstreamResponse,
        request: &TranscriptionRequest,
    ) -> Result<TranscriptionResponse> {
        if request.wants_json() {
            decode_json(&response.body, self.name(), &request.model)
                .map(TranscriptionResponse::Json)
        } else {
            Ok(TranscriptionResponse::Text(
                String::from_utf8_lossy(&response.body).into_owned(),
            ))
        }
    }

    /// The upstream request for speech.
    fn encode_speech(&self, request: &SpeechRequest) -> Result<http::Request<Bytes>> {
        let _ = request;
        Err(Error::unsupported(self.name(), "audio speech"))
    }

    /// The audio, with the content type the upstream gave it.
    fn decode_speech(
        &self,
        response: &UpstreamResponse,
        request: &SpeechRequest,
    ) -> Result<SpeechResponse> {
        let _ = request;
        let content_type = response
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        Ok(SpeechResponse {
            content_type,
            audio: response.body.clone(),
        })
    }

    /// The upstream request for a moderation.
    fn encode_moderation(&self, request: &ModerationRequest) -> Result<http::Request<Bytes>> {
        let _ = request;
        Err(Error::unsupported(self.name(), "moderations"))
    }

    /// The moderation result.
    fn decode_moderation(
        &self,
        response: &UpstreamResponse,
        request: &ModerationRequest,
    ) -> Result<ModerationResponse> {
        decode_json(
            &response.body,
            self.name(),
            request.model.as_deref().unwrap_or_default(),
        )
    }

    /// The upstream request for a rerank.
    fn encode_rerank(&self, request: &RerankRequest) -> Result<http::Request<Bytes>> {
        let _ = request;
        Err(Error::unsupported(self.name(), "rerank"))
    }

    /// The reranked documents.
    fn decode_rerank(
        &self,
        response: &UpstreamResponse,
        request: &RerankRequest,
    ) -> Result<RerankResponse> {
        decode_json(&response.body, self.name(), &request.model)
    }
}

/// Builds provider `name` from params and environment.
pub type BuildProvider =
    fn(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Arc<dyn Provider>>;

/// What the router's registry knows of one provider crate: the prefixes it
/// serves, whether the environment configures it, and how to build it.
#[derive(Clone, Copy)]
pub struct ProviderFamily {
    /// The provider prefixes served.
    pub names: fn() -> Vec<&'static str>,
    /// Whether the environment alone configures provider `name`.
    pub configured: fn(name: &str, env: &dyn Env) -> bool,
    /// Build provider `name` from params and environment.
    pub build: BuildProvider,
}

impl ProviderFamily {
    /// The family of codec `C`, served through the generic HTTP provider.
    pub fn of<C: Codec>() -> Self {
        ProviderFamily {
            names: C::provider_names,
            configured: C::configured,
            build: |name, params, env| {
                Ok(Arc::new(
                    crate::http_provider::HttpProvider::<C>::from_params(name, params, env)?,
                ))
            },
        }
    }
}

impl std::fmt::Debug for ProviderFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderFamily")
            .field("names", &(self.names)())
            .finish()
    }
}

/// The body of the first of `responses` (an endpoint that made one call).
pub fn first_body(responses: Vec<UpstreamResponse>) -> Bytes {
    responses
        .into_iter()
        .next()
        .map(|r| r.body)
        .unwrap_or_default()
}

/// A JSON request body, or `BadRequest` when the value cannot be encoded.
pub fn json_body<T: Serialize + ?Sized>(value: &T) -> Result<Bytes> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Error::bad_request(format!("cannot encode request: {e}")))
}

/// An upstream request: `method url`, `content_type` when there is a body,
/// then `headers` in order (credentials first, then the deployment's extra
/// headers). A URL `http` refuses is a `BadRequest` naming it.
pub fn upstream_request<'a>(
    method: Method,
    url: &str,
    content_type: Option<&str>,
    headers: impl IntoIterator<Item = (&'a HeaderName, &'a HeaderValue)>,
    body: Bytes,
) -> Result<http::Request<Bytes>> {
    let mut builder = http::Request::builder().method(method).uri(url);
    if let Some(ct) = content_type {
        builder = builder.header(CONTENT_TYPE, ct);
    }
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder
        .body(body)
        .map_err(|e| Error::bad_request(format!("invalid upstream URL '{url}': {e}")))
}

/// A `POST url` with a JSON `body` and `headers`.
pub fn post_json<'a, T: Serialize + ?Sized>(
    url: &str,
    headers: impl IntoIterator<Item = (&'a HeaderName, &'a HeaderValue)>,
    body: &T,
) -> Result<http::Request<Bytes>> {
    upstream_request(
        Method::POST,
        url,
        Some("application/json"),
        headers,
        json_body(body)?,
    )
}

/// The start of a Cohere-style rerank body: `model`, `query`, the documents
/// as strings (an object document as its text), and `top_n` under the name
/// the provider uses for it (`top_n`, Voyage's `top_k`).
pub fn rerank_body_base(request: &RerankRequest, top_n_key: &str) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("query".into(), json!(request.query));
    let documents: Vec<String> = request.documents.iter().map(|d| d.text()).collect();
    body.insert("documents".into(), json!(documents));
    if let Some(n) = request.top_n {
        body.insert(top_n_key.into(), json!(n));
    }
    body
}

/// Refuse the OpenAI chat fields a one-choice `vendor` (`Cohere`) cannot
/// honour: `n > 1`, `logit_bias`, `audio` and `prediction`, each a
/// `BadRequest` naming the field.
pub fn refuse_unsupported_chat_fields(vendor: &str, request: &ChatCompletionRequest) -> Result<()> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(Error::bad_request(format!(
            "{vendor} returns one choice per call; n > 1 is not supported"
        ))
        .with_param("n"));
    }
    for (field, set) in [
        ("logit_bias", request.logit_bias.is_some()),
        ("audio", request.audio.is_some()),
        ("prediction", request.prediction.is_some()),
    ] {
        if set {
            return Err(
                Error::bad_request(format!("{vendor} does not support {field}")).with_param(field),
            );
        }
    }
    Ok(())
}

/// Tool-call arguments (OpenAI sends a JSON string) as the JSON object the
/// provider wants: empty text is `{}`; anything else that is not an object
/// is refused with the reason.
pub fn tool_arguments_object(arguments: &str) -> std::result::Result<Value, String> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("must encode a JSON object".into()),
        Err(e) => Err(format!("not valid JSON ({e})")),
    }
}

/// Why a `data:` URL cannot be sent as inline base64 data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DataUrlError {
    /// No `,` between the header and the data.
    #[error("malformed data: URL")]
    Malformed,
    /// The header does not end in `;base64`.
    #[error("only base64 data: URLs are supported")]
    NotBase64,
}

/// `(media type, base64 data)` of a base64 `data:` URL; `None` for other URLs.
pub fn base64_data_url(url: &str) -> std::result::Result<Option<(&str, &str)>, DataUrlError> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(None);
    };
    let (meta, data) = rest.split_once(',').ok_or(DataUrlError::Malformed)?;
    let media_type = meta
        .strip_suffix(";base64")
        .ok_or(DataUrlError::NotBase64)?;
    Ok(Some((media_type, data)))
}

/// A function tool in OpenAI's own shape (`{"type": "function", "function":
/// {name, description, parameters}}`), as providers that take OpenAI tools
/// want it: `parameters` default to an empty object schema.
pub fn function_tool(f: &FunctionDefinition) -> Value {
    let mut function = Map::new();
    function.insert("name".into(), json!(f.name));
    if let Some(d) = &f.description {
        function.insert("description".into(), json!(d));
    }
    function.insert(
        "parameters".into(),
        f.parameters
            .clone()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    );
    json!({"type": "function", "function": function})
}

/// Copy the caller's `extra` request fields named `keys` (those it sent)
/// into `body` unchanged: provider fields OpenAI's request has no place for.
pub fn pass_through(body: &mut Map<String, Value>, extra: &Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(v) = extra.get(*key) {
            body.insert((*key).to_string(), v.clone());
        }
    }
}
