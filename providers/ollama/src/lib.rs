//! # llmux-ollama
//!
//! Ollama's native API behind llmux's [`Provider`] trait:
//!
//! - chat: `POST {base}/api/chat` (`"stream": false`, or NDJSON lines with
//!   `"stream": true`),
//! - embeddings: `POST {base}/api/embed`,
//! - models: `GET {base}/api/tags`.
//!
//! The base is `api_base`, else `OLLAMA_API_BASE`, else
//! `http://localhost:11434`. No key is needed; when one is given (`api_key` or
//! `OLLAMA_API_KEY`, for an Ollama behind an authenticating proxy or Ollama's
//! cloud) it is sent as `Authorization: Bearer`. It serves both prefixes
//! LiteLLM users write, `ollama/…` and `ollama_chat/…`, both through
//! `/api/chat`.
//!
//! The codec is pure: [`request`], [`response`], [`stream`], [`embed`],
//! [`error`]. Not for: `/api/generate` (raw prompts), model management
//! (pull, create, delete) or Ollama's OpenAI-compatible `/v1` (use
//! `openai/…` with `api_base` for that).

pub mod embed;
pub mod error;
pub mod request;
pub mod response;
pub mod stream;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::Method;
use llmux_core::headers::header_value;
use llmux_core::stream::decode_stream;
use llmux_core::transport::UpstreamResponse;
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::types::models::ModelList;
use llmux_core::{ChatStream, Env, Error, HttpTransport, Provider, ProviderParams, Result};
use serde_json::Value;

pub use stream::OllamaStreamDecoder;

/// Where a local Ollama listens by default.
pub const OLLAMA_DEFAULT_BASE: &str = "http://localhost:11434";
/// Environment variables read for the base URL, in order.
pub const OLLAMA_BASE_ENV: &[&str] = &["OLLAMA_API_BASE"];
/// Environment variables read for an optional key, in order.
pub const OLLAMA_KEY_ENV: &[&str] = &["OLLAMA_API_KEY"];

/// The provider prefixes this crate serves.
pub fn provider_names() -> &'static [&'static str] {
    &["ollama", "ollama_chat"]
}

/// Whether `env` points at an Ollama server (`OLLAMA_API_BASE` set): a
/// key-less local server counts as configured only when its address is given.
pub fn configured(name: &str, env: &dyn Env) -> bool {
    provider_names().contains(&name) && env.first(OLLAMA_BASE_ENV).is_some()
}

/// The server root of a base URL: accepts `http://host:11434`, `…/api`, or
/// a full endpoint URL (`…/api/chat`, `…/api/generate`, `…/api/embed`).
pub fn server_root(base: &str) -> String {
    let mut base = base.trim().trim_end_matches('/');
    for suffix in [
        "/api/chat",
        "/api/generate",
        "/api/embed",
        "/api/embeddings",
        "/api",
    ] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            base = stripped;
            break;
        }
    }
    base.to_string()
}

/// An Ollama server.
#[derive(Debug, Clone)]
pub struct OllamaProvider {
    name: &'static str,
    root: String,
    auth: Option<HeaderValue>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Option<Duration>,
    transport: HttpTransport,
}

impl OllamaProvider {
    /// Build `ollama` or `ollama_chat` from `params`, falling back to `env`.
    pub fn from_params(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Self> {
        let name = match name {
            "ollama" => "ollama",
            "ollama_chat" => "ollama_chat",
            other => {
                return Err(Error::bad_request(format!(
                "llmux-ollama has no provider named '{other}' (it serves ollama and ollama_chat)"
            )))
            }
        };
        let base = params
            .api_base
            .clone()
            .filter(|b| !b.trim().is_empty())
            .or_else(|| env.first(OLLAMA_BASE_ENV))
            .unwrap_or_else(|| OLLAMA_DEFAULT_BASE.to_string());
        let auth = params
            .api_key
            .clone()
            .filter(|k| !k.is_empty())
            .or_else(|| env.first(OLLAMA_KEY_ENV))
            .map(|k| header_value("api_key", &format!("Bearer {k}")))
            .transpose()?;
        let mut headers = Vec::new();
        headers.extend(llmux_core::headers::extra_headers(&params.extra_headers)?);
        Ok(OllamaProvider {
            name,
            root: server_root(&base),
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

    /// The URL of `path` (`api/chat`, …).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.root)
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<http::Request<Bytes>> {
        let url = self.url(path);
        let mut builder = http::Request::builder().method(method).uri(&url);
        let bytes = match body {
            Some(b) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Bytes::from(
                    serde_json::to_vec(b)
                        .map_err(|e| Error::bad_request(format!("cannot encode request: {e}")))?,
                )
            }
            None => Bytes::new(),
        };
        if let Some(a) = &self.auth {
            builder = builder.header(AUTHORIZATION, a.clone());
        }
        for (k, v) in &self.headers {
            builder = builder.header(k.clone(), v.clone());
        }
        builder.body(bytes).map_err(|e| {
            Error::bad_request(format!("invalid upstream URL '{url}': {e}"))
                .with_provider(self.name)
        })
    }

    /// The upstream request for a chat completion.
    pub fn encode_chat(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        let body = request::chat_body(request, stream).map_err(|e| {
            e.with_provider(self.name)
                .with_model(request.model.as_str())
        })?;
        self.request(Method::POST, "api/chat", Some(&body))
    }

    /// The upstream request for embeddings.
    pub fn encode_embeddings(&self, request: &EmbeddingRequest) -> Result<http::Request<Bytes>> {
        let body = embed::embed_body(request).map_err(|e| {
            e.with_provider(self.name)
                .with_model(request.model.as_str())
        })?;
        self.request(Method::POST, "api/embed", Some(&body))
    }

    /// The upstream request for the model list.
    pub fn encode_list_models(&self) -> Result<http::Request<Bytes>> {
        self.request(Method::GET, "api/tags", None)
    }

    fn decode_error(&self, response: &UpstreamResponse) -> Error {
        error::decode_error(
            self.name,
            response.status.as_u16(),
            &response.headers,
            &response.body,
        )
    }

    async fn send(&self, request: http::Request<Bytes>, model: &str) -> Result<UpstreamResponse> {
        self.transport
            .call(request, self.timeout, self.name, model, &|r| {
                self.decode_error(r)
            })
            .await
    }
}

#[async_trait]
impl Provider for OllamaProvider {
    fn name(&self) -> &str {
        self.name
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<ChatCompletion> {
        let http = self.encode_chat(&request, false)?;
        let response = self.send(http, &request.model).await?;
        response::decode_chat(&response.body, self.name, &request.model)
    }

    async fn chat_stream(&self, request: ChatCompletionRequest) -> Result<ChatStream> {
        let http = self.encode_chat(&request, true)?;
        let upstream = self
            .transport
            .call_streaming(http, self.timeout, self.name, &request.model, &|r| {
                self.decode_error(r)
            })
            .await?;
        Ok(decode_stream(
            upstream.body,
            OllamaStreamDecoder::new(self.name, request.model.as_str()),
        ))
    }

    async fn embeddings(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let http = self.encode_embeddings(&request)?;
        let response = self.send(http, &request.model).await?;
        embed::decode_embed(&response.body, &request, self.name)
    }

    async fn list_models(&self) -> Result<ModelList> {
        let http = self.encode_list_models()?;
        let response = self.send(http, "").await?;
        embed::decode_tags(&response.body, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::{ChatMessage, ErrorKind, MapEnv};

    #[test]
    fn bases_keys_and_configuration() {
        for (base, root) in [
            ("http://localhost:11434", "http://localhost:11434"),
            ("http://localhost:11434/", "http://localhost:11434"),
            ("http://gpu-box:11434/api", "http://gpu-box:11434"),
            ("http://gpu-box:11434/api/chat", "http://gpu-box:11434"),
            (
                "https://proxy.example/ollama/api/generate",
                "https://proxy.example/ollama",
            ),
        ] {
            assert_eq!(server_root(base), root, "{base}");
        }
        let req = ChatCompletionRequest::new("llama3.2", vec![ChatMessage::user("Hi")]);
        let p =
            OllamaProvider::from_params("ollama", &ProviderParams::default(), &MapEnv::default())
                .unwrap();
        let http = p.encode_chat(&req, false).unwrap();
        assert_eq!(http.uri(), "http://localhost:11434/api/chat");
        assert!(http.headers().get("authorization").is_none());
        assert_eq!(http.headers()["content-type"], "application/json");
        let env = MapEnv::new([
            ("OLLAMA_API_BASE", "http://gpu-box:11434"),
            ("OLLAMA_API_KEY", "k"),
        ]);
        let p =
            OllamaProvider::from_params("ollama_chat", &ProviderParams::default(), &env).unwrap();
        assert_eq!(p.name(), "ollama_chat");
        let http = p.encode_list_models().unwrap();
        assert_eq!(
            (http.method(), http.uri().to_string().as_str()),
            (&Method::GET, "http://gpu-box:11434/api/tags")
        );
        assert_eq!(http.headers()["authorization"], "Bearer k");
        assert!(http.headers().get("content-type").is_none());
        assert!(configured("ollama", &env));
        assert!(configured("ollama_chat", &env));
        assert!(!configured("ollama", &MapEnv::default()));
        let err =
            OllamaProvider::from_params("llama", &ProviderParams::default(), &env).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadRequest);
    }
}
