//! # llmux-bedrock
//!
//! Amazon Bedrock as an llmux [`Codec`] (served by [`HttpProvider`]) (`bedrock/<model id>`):
//!
//! - chat through the Converse API,
//!   `POST https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse`,
//!   and streaming through `/converse-stream` (binary AWS event-stream, see
//!   [`stream`]); the model id (a foundation model, an inference profile such
//!   as `us.amazon.nova-pro-v1:0`, or an ARN) is percent-encoded into one
//!   path segment;
//! - embeddings through InvokeModel (`/model/{modelId}/invoke`) for Amazon
//!   Titan text and Cohere Embed models (see [`embeddings`]);
//! - SigV4 signing with the `aws-sigv4` crate, session tokens included (see
//!   [`sign`]), or a Bedrock API key as a bearer token; credentials from
//!   params, the environment or the shared credentials file (see
//!   [`credentials`]).
//!
//! The codec is pure: [`request`] (OpenAI → Converse), [`response`] and
//! [`stream`] (Converse → OpenAI), [`embeddings`] and [`error`].
//! [`BedrockCodec::encode_chat_at`] builds the exact signed
//! `http::Request` for a given time without the network.
//!
//! ```no_run
//! use llmux_bedrock::BedrockProvider;
//! use llmux_core::{ChatCompletionRequest, ChatMessage, ProcessEnv, Provider, ProviderParams};
//!
//! # async fn demo() -> llmux_core::Result<()> {
//! // AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION (or AWS_BEARER_TOKEN_BEDROCK) set.
//! let bedrock = BedrockProvider::from_params("bedrock", &ProviderParams::default(), &ProcessEnv)?;
//! let reply = bedrock
//!     .chat(ChatCompletionRequest::new(
//!         "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
//!         vec![ChatMessage::user("Say hello")],
//!     ))
//!     .await?;
//! println!("{}", reply.text().unwrap_or_default());
//! # Ok(())
//! # }
//! ```
//!
//! Not for: Bedrock's control plane (model listing), Agents, the legacy
//! model-specific InvokeModel chat bodies, or instance-metadata / SSO / role
//! credentials (pass temporary credentials explicitly instead).

pub mod credentials;
pub mod embeddings;
pub mod error;
pub mod invoke;
pub mod request;
pub mod response;
pub mod sign;
pub mod stream;

use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::{HeaderMap, Method};
use llmux_anthropic::platform;
use llmux_core::codec::{json_body, upstream_request};
use llmux_core::params::served_name;
use llmux_core::pass_through::UsageReader;
use llmux_core::stream::{ByteStream, StreamDecoder};
use llmux_core::transport::UpstreamResponse;
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::{Codec, Env, Error, ErrorKind, HttpProvider, ProviderParams, Result};

pub use credentials::Auth;
pub use sign::AwsCredentials;
pub use stream::{BedrockStreamDecoder, EventStreamDecoder};

/// The provider prefix this crate serves.
pub const PROVIDER: &str = "bedrock";

/// Amazon Bedrock runtime over HTTP.
pub type BedrockProvider = HttpProvider<BedrockCodec>;

/// Amazon Bedrock runtime: endpoint, region, credentials and wire format.
#[derive(Debug, Clone)]
pub struct BedrockCodec {
    /// `https://bedrock-runtime.{region}.amazonaws.com`, or the override.
    endpoint: String,
    region: String,
    auth: Auth,
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue> {
    llmux_core::headers::header_value(name, value).map_err(|e| e.with_provider(PROVIDER))
}

/// Percent-encode `s` as one URL path segment (everything but RFC 3986
/// unreserved characters), as the AWS SDKs do for `{modelId}`.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl BedrockCodec {
    /// Build from `params`, falling back to `env` (see [`credentials`] for
    /// credential and region order). The endpoint is `api_base`, else
    /// `extra.aws_bedrock_runtime_endpoint`, else `AWS_BEDROCK_RUNTIME_ENDPOINT`,
    /// else `https://bedrock-runtime.{region}.amazonaws.com`.
    fn build(params: &ProviderParams, env: &dyn Env) -> Result<Self> {
        let auth = credentials::resolve_auth(params, env)?;
        let region = credentials::resolve_region(params, env)?;
        let endpoint = params
            .api_base
            .clone()
            .filter(|b| !b.trim().is_empty())
            .or_else(|| params.extra_str(&["aws_bedrock_runtime_endpoint"]))
            .or_else(|| env.var("AWS_BEDROCK_RUNTIME_ENDPOINT"))
            .map(|b| b.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("https://bedrock-runtime.{region}.amazonaws.com"));
        let uri: http::Uri = endpoint.parse().map_err(|_| {
            Error::bad_request(format!("'{endpoint}' is not a valid bedrock endpoint URL"))
                .with_provider(PROVIDER)
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https"))
            || uri.authority().is_none()
            || uri.query().is_some()
        {
            return Err(Error::bad_request(format!(
                "'{endpoint}' is not a valid bedrock endpoint URL (expected http(s)://host[:port][/path])"
            ))
            .with_provider(PROVIDER));
        }
        let mut headers = Vec::new();
        headers.extend(
            llmux_core::headers::extra_headers(&params.extra_headers)
                .map_err(|e| e.with_provider(PROVIDER))?,
        );
        if let Auth::Bearer(key) = &auth {
            header_value("the Bedrock API key", key)?;
        }
        Ok(BedrockCodec {
            endpoint,
            region,
            auth,
            headers,
        })
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The runtime endpoint (scheme, host and optional path prefix).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `{endpoint}/model/{modelId}/{action}` with the model id as one encoded segment.
    pub fn model_url(&self, model: &str, action: &str) -> Result<String> {
        let model = model.strip_prefix("converse/").unwrap_or(model);
        let model = model.strip_prefix("invoke/").unwrap_or(model);
        if model.trim().is_empty() {
            return Err(Error::bad_request("the bedrock model id is empty").with_provider(PROVIDER));
        }
        Ok(format!(
            "{}/model/{}/{action}",
            self.endpoint,
            encode_segment(model)
        ))
    }

    /// InvokeModel's action, streamed or not.
    fn invoke_action(stream: bool) -> &'static str {
        if stream {
            "invoke-with-response-stream"
        } else {
            "invoke"
        }
    }

    /// An authorized POST of `body` to `url`, signed at `time`.
    fn post(&self, url: &str, body: Bytes, time: SystemTime) -> Result<http::Request<Bytes>> {
        let headers = self.headers.iter().map(|(k, v)| (k, v));
        let mut request =
            upstream_request(Method::POST, url, Some("application/json"), headers, body)?;
        self.authorize_at(&mut request, time)?;
        Ok(request)
    }

    /// Put the credential on a finished request: the API key, or a SigV4
    /// signature at `time` over its method, URL, headers and body.
    fn authorize_at(&self, request: &mut http::Request<Bytes>, time: SystemTime) -> Result<()> {
        match &self.auth {
            Auth::Bearer(key) => {
                let value = header_value("the Bedrock API key", &format!("Bearer {key}"))?;
                request.headers_mut().insert(AUTHORIZATION, value);
            }
            Auth::SigV4(credentials) => {
                sign::sign(
                    request,
                    credentials,
                    &self.region,
                    sign::SERVICE,
                    time,
                    sign::PayloadHash::Signed,
                )
                .map_err(|e| e.with_provider(PROVIDER))?;
            }
        }
        Ok(())
    }

    /// The signed Converse (or ConverseStream) request, signed at `time`.
    pub fn encode_chat_at(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
        time: SystemTime,
    ) -> Result<http::Request<Bytes>> {
        if let Some(id) = request.model.strip_prefix("invoke/") {
            return self.encode_invoke_chat_at(request, id, stream, time);
        }
        let body = request::converse_body(request, &request.model)?;
        let url = self.model_url(
            &request.model,
            if stream {
                "converse-stream"
            } else {
                "converse"
            },
        )?;
        self.post(&url, json_body(&body)?, time)
    }

    /// A chat request for `bedrock/invoke/{id}`: Claude's Messages API body
    /// to InvokeModel (or InvokeModelWithResponseStream), signed at `time`.
    fn encode_invoke_chat_at(
        &self,
        request: &ChatCompletionRequest,
        id: &str,
        stream: bool,
        time: SystemTime,
    ) -> Result<http::Request<Bytes>> {
        if !invoke::is_claude(id) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "bedrock/invoke/… is served for Claude models (anthropic.claude…); other models use the Converse route (bedrock/<model id>)",
            )
            .with_provider(PROVIDER));
        }
        let (body, _) = platform::chat_body(
            request,
            false,
            platform::BEDROCK_VERSION,
            platform::Betas::InBody,
            PROVIDER,
        )?;
        let url = self.model_url(id, Self::invoke_action(stream))?;
        self.post(&url, json_body(&body)?, time)
    }

    /// The signed InvokeModel requests for `request` (one per text for
    /// Titan), signed at `time`.
    pub fn encode_embeddings_at(
        &self,
        request: &EmbeddingRequest,
        time: SystemTime,
    ) -> Result<Vec<http::Request<Bytes>>> {
        let family = embeddings::family(&request.model)?;
        let texts = embeddings::texts(request)?;
        let url = self.model_url(&request.model, "invoke")?;
        let bodies = match family {
            embeddings::EmbedFamily::Titan => texts
                .iter()
                .map(|t| embeddings::titan_body(request, t))
                .collect(),
            embeddings::EmbedFamily::Cohere => vec![embeddings::cohere_body(request, &texts)],
        };
        bodies
            .into_iter()
            .map(|b| self.post(&url, json_body(&b)?, time))
            .collect()
    }
}

fn request_id(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
}

impl Codec for BedrockCodec {
    /// Converse's decoder, or Anthropic's for Claude through InvokeModel.
    type ChatStreamDecoder = Box<dyn StreamDecoder>;

    fn provider_names() -> Vec<&'static str> {
        vec![PROVIDER]
    }

    fn configured(name: &str, env: &dyn Env) -> bool {
        name == PROVIDER && credentials::configured(env)
    }

    fn from_params(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Self> {
        served_name(PROVIDER, name, &[PROVIDER])?;
        Self::build(params, env)
    }

    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn decode_error(&self, r: &UpstreamResponse) -> Error {
        error::decode_error(PROVIDER, r.status.as_u16(), &r.headers, &r.body)
    }

    /// The runtime endpoint (callers send `/model/{id}/converse`, …).
    fn pass_through_base(&self) -> Option<String> {
        Some(self.endpoint.clone())
    }

    /// InvokeModel's token-count headers, Converse's `usage`, ConverseStream's
    /// `metadata` event, or the invocation metrics of a streamed InvokeModel.
    fn pass_through_usage(&self, headers: &HeaderMap) -> Box<dyn UsageReader> {
        Box::new(stream::PassThroughUsage::new(headers))
    }

    /// SigV4 covers the body.
    fn pass_through_signs_body(&self) -> bool {
        true
    }

    /// Signed anew with the gateway's credentials (or its Bedrock API key).
    async fn authorize_pass_through(
        &self,
        parts: &mut http::request::Parts,
        body: Option<&Bytes>,
    ) -> Result<()> {
        llmux_core::pass_through::set_headers(parts, &self.headers);
        let mut request = http::Request::builder()
            .method(parts.method.clone())
            .uri(parts.uri.clone())
            .body(body.cloned().unwrap_or_default())
            .map_err(|e| Error::bad_request(format!("cannot sign the request: {e}")))?;
        *request.headers_mut() = std::mem::take(&mut parts.headers);
        self.authorize_at(&mut request, SystemTime::now())?;
        parts.headers = std::mem::take(request.headers_mut());
        Ok(())
    }

    /// The Converse (or ConverseStream) request, signed now.
    fn encode_chat(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        self.encode_chat_at(request, stream, SystemTime::now())
    }

    fn decode_chat(
        &self,
        response: &UpstreamResponse,
        request: &ChatCompletionRequest,
    ) -> Result<ChatCompletion> {
        if request.model.starts_with("invoke/") {
            return platform::decode_chat(&response.body, PROVIDER, request);
        }
        response::decode_chat(
            &response.body,
            request_id(&response.headers),
            PROVIDER,
            &request.model,
            request::json_mode(request),
        )
    }

    fn chat_stream_decoder(
        &self,
        request: &ChatCompletionRequest,
        headers: &HeaderMap,
    ) -> Box<dyn StreamDecoder> {
        if request.model.starts_with("invoke/") {
            return Box::new(invoke::InvokeStreamDecoder::new(platform::stream_decoder(
                PROVIDER, request,
            )));
        }
        Box::new(
            BedrockStreamDecoder::new(PROVIDER, request.model.as_str(), request_id(headers))
                .with_json_mode(request::json_mode(request)),
        )
    }

    /// Bedrock's CountTokens for Claude: the InvokeModel body it would
    /// send, as a string in `input.invokeModel.body`.
    fn encode_count_tokens(&self, request: &ChatCompletionRequest) -> Result<http::Request<Bytes>> {
        if !invoke::is_claude(&request.model) {
            return Err(Error::unsupported(PROVIDER, "count_tokens"));
        }
        let (body, betas) = platform::count_tokens_body(request, PROVIDER)?;
        let mut body = platform::messages_body(
            body,
            platform::BEDROCK_VERSION,
            &betas,
            platform::Betas::InBody,
            false,
        );
        body.insert("max_tokens".into(), serde_json::json!(1));
        let inner = serde_json::Value::Object(body).to_string();
        let wrapped = serde_json::json!({"input": {"invokeModel": {"body": inner}}});
        let url = self.model_url(&request.model, "count-tokens")?;
        self.post(&url, json_body(&wrapped)?, SystemTime::now())
    }

    fn decode_count_tokens(&self, response: &UpstreamResponse, model: &str) -> Result<u64> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Counted {
            input_tokens: u64,
        }
        let counted: Counted = llmux_core::transport::decode_json(&response.body, PROVIDER, model)?;
        Ok(counted.input_tokens)
    }

    /// Claude models, through InvokeModel (unless named `converse/…`).
    fn serves_messages(&self, model: &str) -> bool {
        !model.starts_with("converse/") && invoke::is_claude(model)
    }

    /// The client's Messages API body to InvokeModel (or
    /// InvokeModelWithResponseStream), version and betas in the body, signed.
    fn encode_messages(
        &self,
        body: &serde_json::Map<String, serde_json::Value>,
        options: &llmux_core::endpoint::MessagesOptions,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        let model = body
            .get("model")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let url = self.model_url(model, Self::invoke_action(stream))?;
        let body = platform::messages_body(
            body.clone(),
            platform::BEDROCK_VERSION,
            &options.betas,
            platform::Betas::InBody,
            false,
        );
        self.post(&url, json_body(&body)?, SystemTime::now())
    }

    fn messages_stream_body(&self, _model: &str, body: ByteStream) -> ByteStream {
        invoke::as_sse(body)
    }

    /// The InvokeModel requests, signed now: one per text for Titan.
    fn encode_embeddings(&self, request: &EmbeddingRequest) -> Result<Vec<http::Request<Bytes>>> {
        self.encode_embeddings_at(request, SystemTime::now())
    }

    fn decode_embeddings(
        &self,
        responses: Vec<UpstreamResponse>,
        request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse> {
        match embeddings::family(&request.model)? {
            embeddings::EmbedFamily::Titan => {
                let bodies: Vec<Bytes> = responses.into_iter().map(|r| r.body).collect();
                embeddings::decode_titan(&bodies, request, PROVIDER)
            }
            embeddings::EmbedFamily::Cohere => {
                let response = responses.into_iter().next().ok_or_else(|| {
                    Error::bad_request("nothing to embed").with_provider(PROVIDER)
                })?;
                let tokens = response
                    .headers
                    .get("x-amzn-bedrock-input-token-count")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                embeddings::decode_cohere(&response.body, tokens, request, PROVIDER)
            }
        }
    }
}
