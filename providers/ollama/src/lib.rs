//! # llmux-ollama
//!
//! Ollama's native API as an llmux [`Codec`] (served by [`HttpProvider`]):
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
//! The codec is pure: [`request`], [`response`], [`stream`], [`embeddings`],
//! [`error`]. Not for: `/api/generate` (raw prompts), model management
//! (pull, create, delete) or Ollama's OpenAI-compatible `/v1` (use
//! `openai/…` with `api_base` for that).

pub mod embeddings;
pub mod error;
pub mod request;
pub mod response;
pub mod stream;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use llmux_core::codec::{post_json, upstream_request};
use llmux_core::headers::{bearer, credential_headers};
use llmux_core::params::served_name;
use llmux_core::pass_through::{DocumentReader, UsageReader};
use llmux_core::transport::UpstreamResponse;
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::types::models::ModelList;
use llmux_core::{Codec, Env, Error, HttpProvider, ProviderParams, Result};

pub use stream::OllamaStreamDecoder;

/// Where a local Ollama listens by default.
pub const OLLAMA_DEFAULT_BASE: &str = "http://localhost:11434";
/// Environment variables read for the base URL, in order.
pub const OLLAMA_BASE_ENV: &[&str] = &["OLLAMA_API_BASE"];
/// Environment variables read for an optional key, in order.
pub const OLLAMA_KEY_ENV: &[&str] = &["OLLAMA_API_KEY"];

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

/// An Ollama server reached over HTTP.
pub type OllamaProvider = HttpProvider<OllamaCodec>;

/// An Ollama server: address, optional key and wire format.
#[derive(Debug, Clone)]
pub struct OllamaCodec {
    name: &'static str,
    root: String,
    /// `Authorization` when a key is given, then the deployment's extra headers.
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl OllamaCodec {
    /// The URL of `path` (`api/chat`, …).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.root)
    }

    fn headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().map(|(k, v)| (k, v))
    }
}

impl Codec for OllamaCodec {
    type ChatStreamDecoder = OllamaStreamDecoder;

    fn provider_names() -> Vec<&'static str> {
        vec!["ollama", "ollama_chat"]
    }

    /// Configured when `OLLAMA_API_BASE` is set: a key-less local server
    /// counts as configured only when its address is given.
    fn configured(name: &str, env: &dyn Env) -> bool {
        Self::provider_names().contains(&name) && env.first(OLLAMA_BASE_ENV).is_some()
    }

    /// Build `ollama` or `ollama_chat` from `params`, falling back to `env`.
    fn from_params(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Self> {
        let name = served_name("ollama", name, &["ollama", "ollama_chat"])?;
        let base = params.base_or_env(env, OLLAMA_BASE_ENV, OLLAMA_DEFAULT_BASE);
        let credential = params
            .key_or_env(env, OLLAMA_KEY_ENV)
            .map(|key| bearer("api_key", &key))
            .transpose()?;
        let headers = credential_headers(credential, &params.extra_headers)?;
        Ok(OllamaCodec {
            name,
            root: server_root(&base),
            headers,
        })
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn decode_error(&self, r: &UpstreamResponse) -> Error {
        error::decode_error(self.name, r.status.as_u16(), &r.headers, &r.body)
    }

    /// The server's root (callers send `/api/chat`, `/api/generate`, …).
    fn pass_through_base(&self) -> Option<String> {
        Some(self.root.clone())
    }

    fn pass_through_usage(&self, headers: &HeaderMap) -> Box<dyn UsageReader> {
        Box::new(DocumentReader::new(headers, response::pass_through_usage))
    }

    async fn authorize_pass_through(
        &self,
        parts: &mut http::request::Parts,
        _body: Option<&Bytes>,
    ) -> Result<()> {
        llmux_core::pass_through::set_headers(parts, &self.headers);
        Ok(())
    }

    fn encode_chat(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        let body = request::chat_body(request, stream)?;
        post_json(&self.url("api/chat"), self.headers(), &body)
    }

    fn decode_chat(
        &self,
        response: &UpstreamResponse,
        request: &ChatCompletionRequest,
    ) -> Result<ChatCompletion> {
        response::decode_chat(&response.body, self.name, &request.model)
    }

    fn chat_stream_decoder(
        &self,
        request: &ChatCompletionRequest,
        _headers: &HeaderMap,
    ) -> OllamaStreamDecoder {
        OllamaStreamDecoder::new(self.name, request.model.as_str())
    }

    fn encode_embeddings(&self, request: &EmbeddingRequest) -> Result<Vec<http::Request<Bytes>>> {
        let body = embeddings::embed_body(request)?;
        Ok(vec![post_json(
            &self.url("api/embed"),
            self.headers(),
            &body,
        )?])
    }

    fn decode_embeddings(
        &self,
        responses: Vec<UpstreamResponse>,
        request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse> {
        let body = llmux_core::codec::first_body(responses);
        embeddings::API_EMBED.decode(&body, request, self.name)
    }

    fn encode_list_models(&self) -> Result<http::Request<Bytes>> {
        upstream_request(
            Method::GET,
            &self.url("api/tags"),
            None,
            self.headers(),
            Bytes::new(),
        )
    }

    fn decode_list_models(&self, response: &UpstreamResponse) -> Result<ModelList> {
        embeddings::decode_tags(&response.body, self.name)
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
        let p = OllamaCodec::from_params("ollama", &ProviderParams::default(), &MapEnv::default())
            .unwrap();
        let http = p.encode_chat(&req, false).unwrap();
        assert_eq!(http.uri(), "http://localhost:11434/api/chat");
        assert!(http.headers().get("authorization").is_none());
        assert_eq!(http.headers()["content-type"], "application/json");
        let env = MapEnv::new([
            ("OLLAMA_API_BASE", "http://gpu-box:11434"),
            ("OLLAMA_API_KEY", "k"),
        ]);
        let p = OllamaCodec::from_params("ollama_chat", &ProviderParams::default(), &env).unwrap();
        assert_eq!(p.name(), "ollama_chat");
        let http = p.encode_list_models().unwrap();
        assert_eq!(
            (http.method(), http.uri().to_string().as_str()),
            (&Method::GET, "http://gpu-box:11434/api/tags")
        );
        assert_eq!(http.headers()["authorization"], "Bearer k");
        assert!(http.headers().get("content-type").is_none());
        let configured = OllamaCodec::configured;
        assert!(configured("ollama", &env));
        assert!(configured("ollama_chat", &env));
        assert!(!configured("ollama", &MapEnv::default()));
        let err = OllamaCodec::from_params("llama", &ProviderParams::default(), &env).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadRequest);
    }
}
