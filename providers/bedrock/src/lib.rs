//! # llmux-bedrock
//!
//! Amazon Bedrock behind llmux's [`Provider`] trait (`bedrock/<model id>`):
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
//! [`BedrockProvider::encode_chat_at`] builds the exact signed
//! `http::Request` for a given time without the network.
//!
//! ```no_run
//! use llmux_bedrock::BedrockProvider;
//! use llmux_core::{ChatCompletionRequest, ChatMessage, ProcessEnv, Provider, ProviderParams};
//!
//! # async fn demo() -> llmux_core::Result<()> {
//! // AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION (or AWS_BEARER_TOKEN_BEDROCK) set.
//! let bedrock = BedrockProvider::from_params(&ProviderParams::default(), &ProcessEnv)?;
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
pub mod request;
pub mod response;
pub mod sign;
pub mod stream;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::Method;
use llmux_core::stream::decode_stream;
use llmux_core::transport::UpstreamResponse;
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::{
    ChatStream, Env, Error, ErrorKind, HttpTransport, Provider, ProviderParams, Result,
};

pub use credentials::Auth;
pub use sign::AwsCredentials;
pub use stream::{BedrockStreamDecoder, EventStreamDecoder};

/// The provider prefix this crate serves.
pub const PROVIDER: &str = "bedrock";

/// The provider prefixes this crate serves.
pub fn provider_names() -> &'static [&'static str] {
    &[PROVIDER]
}

/// Whether `env` holds Bedrock credentials (for `Router::from_env`).
pub fn configured(env: &dyn Env) -> bool {
    credentials::configured(env)
}

/// Amazon Bedrock runtime.
#[derive(Debug, Clone)]
pub struct BedrockProvider {
    /// `https://bedrock-runtime.{region}.amazonaws.com`, or the override.
    endpoint: String,
    region: String,
    auth: Auth,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Option<Duration>,
    transport: HttpTransport,
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

impl BedrockProvider {
    /// Build from `params`, falling back to `env` (see [`credentials`] for
    /// credential and region order). The endpoint is `api_base`, else
    /// `extra.aws_bedrock_runtime_endpoint`, else `AWS_BEDROCK_RUNTIME_ENDPOINT`,
    /// else `https://bedrock-runtime.{region}.amazonaws.com`.
    pub fn from_params(params: &ProviderParams, env: &dyn Env) -> Result<Self> {
        let auth = credentials::resolve_auth(params, env)?;
        let region = credentials::resolve_region(params, env)?;
        let endpoint = params
            .api_base
            .clone()
            .filter(|b| !b.trim().is_empty())
            .or_else(|| credentials::extra_str(params, &["aws_bedrock_runtime_endpoint"]))
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
        Ok(BedrockProvider {
            endpoint,
            region,
            auth,
            headers,
            timeout: params.timeout,
            transport: HttpTransport::shared(),
        })
    }

    /// Replace the transport (e.g. one with other pool settings).
    pub fn with_transport(mut self, transport: HttpTransport) -> Self {
        self.transport = transport;
        self
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
        if model.trim().is_empty() {
            return Err(Error::bad_request("the bedrock model id is empty").with_provider(PROVIDER));
        }
        if model.starts_with("invoke/") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "bedrock/invoke/… (model-specific InvokeModel chat bodies) is not supported; use the Converse route (bedrock/<model id>)",
            )
            .with_provider(PROVIDER));
        }
        Ok(format!(
            "{}/model/{}/{action}",
            self.endpoint,
            encode_segment(model)
        ))
    }

    /// An authorized POST of `body` to `url`, signed at `time`.
    fn post(&self, url: &str, body: Vec<u8>, time: SystemTime) -> Result<http::Request<Bytes>> {
        let mut builder = http::Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(CONTENT_TYPE, "application/json");
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        let mut request = builder.body(Bytes::from(body)).map_err(|e| {
            Error::bad_request(format!("cannot build the bedrock request: {e}"))
                .with_provider(PROVIDER)
        })?;
        match &self.auth {
            Auth::Bearer(key) => {
                let value = header_value("the Bedrock API key", &format!("Bearer {key}"))?;
                request.headers_mut().insert(AUTHORIZATION, value);
            }
            Auth::SigV4(credentials) => {
                sign::sign(
                    &mut request,
                    credentials,
                    &self.region,
                    sign::SERVICE,
                    time,
                    sign::PayloadHash::Signed,
                )
                .map_err(|e| e.with_provider(PROVIDER))?;
            }
        }
        Ok(request)
    }

    /// The signed Converse (or ConverseStream) request for `request`, now.
    pub fn encode_chat(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        self.encode_chat_at(request, stream, SystemTime::now())
    }

    /// The signed Converse (or ConverseStream) request, signed at `time`.
    pub fn encode_chat_at(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
        time: SystemTime,
    ) -> Result<http::Request<Bytes>> {
        let body = request::converse_body(request, &request.model)?;
        let url = self.model_url(
            &request.model,
            if stream {
                "converse-stream"
            } else {
                "converse"
            },
        )?;
        let bytes = serde_json::to_vec(&body).map_err(|e| Error::bad_request(e.to_string()))?;
        self.post(&url, bytes, time)
    }

    /// The signed InvokeModel requests for `request` (one per text for Titan).
    pub fn encode_embeddings(
        &self,
        request: &EmbeddingRequest,
    ) -> Result<Vec<http::Request<Bytes>>> {
        let family = embeddings::family(&request.model)?;
        let texts = embeddings::texts(request)?;
        let url = self.model_url(&request.model, "invoke")?;
        let now = SystemTime::now();
        let bodies = match family {
            embeddings::EmbedFamily::Titan => texts
                .iter()
                .map(|t| embeddings::titan_body(request, t))
                .collect(),
            embeddings::EmbedFamily::Cohere => vec![embeddings::cohere_body(request, &texts)],
        };
        bodies
            .into_iter()
            .map(|b| {
                let bytes =
                    serde_json::to_vec(&b).map_err(|e| Error::bad_request(e.to_string()))?;
                self.post(&url, bytes, now)
            })
            .collect()
    }

    fn decode_error(&self, response: &UpstreamResponse) -> Error {
        error::decode_error(
            PROVIDER,
            response.status.as_u16(),
            &response.headers,
            &response.body,
        )
    }

    async fn send(&self, request: http::Request<Bytes>, model: &str) -> Result<UpstreamResponse> {
        self.transport
            .call(request, self.timeout, PROVIDER, model, &|r| {
                self.decode_error(r)
            })
            .await
    }
}

fn request_id(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
}

#[async_trait]
impl Provider for BedrockProvider {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<ChatCompletion> {
        let http = self.encode_chat(&request, false)?;
        let response = self.send(http, &request.model).await?;
        response::decode_chat(
            &response.body,
            request_id(&response.headers),
            PROVIDER,
            &request.model,
        )
    }

    async fn chat_stream(&self, request: ChatCompletionRequest) -> Result<ChatStream> {
        let http = self.encode_chat(&request, true)?;
        let upstream = self
            .transport
            .call_streaming(http, self.timeout, PROVIDER, &request.model, &|r| {
                self.decode_error(r)
            })
            .await?;
        let decoder = BedrockStreamDecoder::new(
            PROVIDER,
            request.model.as_str(),
            request_id(&upstream.headers),
        );
        Ok(decode_stream(upstream.body, decoder))
    }

    async fn embeddings(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let requests = self.encode_embeddings(&request)?;
        let model = request.model.as_str();
        match embeddings::family(model)? {
            embeddings::EmbedFamily::Titan => {
                let calls = requests.into_iter().map(|r| self.send(r, model));
                let responses = futures::future::try_join_all(calls).await?;
                let bodies: Vec<Bytes> = responses.into_iter().map(|r| r.body).collect();
                embeddings::decode_titan(&bodies, &request, PROVIDER)
            }
            embeddings::EmbedFamily::Cohere => {
                let mut responses = Vec::with_capacity(1);
                for r in requests {
                    responses.push(self.send(r, model).await?);
                }
                let response = responses.pop().ok_or_else(|| {
                    Error::bad_request("nothing to embed").with_provider(PROVIDER)
                })?;
                let tokens = response
                    .headers
                    .get("x-amzn-bedrock-input-token-count")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                embeddings::decode_cohere(&response.body, tokens, &request, PROVIDER)
            }
        }
    }
}
