//! # llmux-cohere
//!
//! Cohere's native API v2 as an llmux [`Codec`] (served by [`HttpProvider`]):
//!
//! - chat: `POST {base}/v2/chat` (whole, or SSE stream with `"stream": true`),
//! - embeddings: `POST {base}/v2/embed`,
//! - rerank: `POST {base}/v2/rerank`,
//!
//! with `Authorization: Bearer <key>` from `api_key`, `COHERE_API_KEY` or
//! `CO_API_KEY`. It serves both prefixes LiteLLM users write, `cohere/…` and
//! `cohere_chat/…`; both speak Chat v2 (Cohere's v1 chat is deprecated).
//!
//! The codec is pure: [`request`] (OpenAI → Cohere), [`response`] and
//! [`stream`] (Cohere → OpenAI), [`embeddings`] (embed and rerank) and [`error`].
//! The `encode_*` methods build exact `http::Request`s without the network.
//! Not for: Cohere's v1 endpoints, connectors, datasets, fine-tuning or the
//! model list (v1 only).

pub mod embeddings;
pub mod error;
pub mod request;
pub mod response;
pub mod stream;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use llmux_core::codec::post_json;
use llmux_core::headers::{bearer, credential_headers};
use llmux_core::params::served_name;
use llmux_core::pass_through::{DocumentReader, UsageReader};
use llmux_core::stream::ChunkSource;
use llmux_core::transport::UpstreamResponse;
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::types::rerank::{RerankRequest, RerankResponse};
use llmux_core::{Codec, Env, Error, HttpProvider, ProviderParams, Result};
use serde::Serialize;

pub use stream::CohereStreamDecoder;

/// Cohere's API host, used when neither params nor the environment give one.
pub const COHERE_DEFAULT_BASE: &str = "https://api.cohere.com";
/// Environment variables read for the API key, in order.
pub const COHERE_KEY_ENV: &[&str] = &["COHERE_API_KEY", "CO_API_KEY"];
/// Environment variables read for the base URL, in order.
pub const COHERE_BASE_ENV: &[&str] = &["COHERE_API_BASE", "CO_API_URL"];

/// Cohere API v2 served over HTTP.
pub type CohereProvider = HttpProvider<CohereCodec>;

/// Cohere API v2: credentials, endpoint and wire format.
#[derive(Debug, Clone)]
pub struct CohereCodec {
    name: &'static str,
    /// Scheme, host and version, e.g. `https://api.cohere.com/v2`.
    root: String,
    /// `Authorization` first, then the deployment's extra headers.
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// The `…/v2` root of a base URL. Accepts a host (`https://api.cohere.com`),
/// a versioned base (`…/v2`), or a full endpoint URL (`…/v2/chat`, LiteLLM's
/// `api_base` for `cohere_chat`). llmux speaks v2 only, so a `/v1` base is
/// moved to `/v2`.
pub fn api_root(base: &str) -> String {
    let mut base = base.trim().trim_end_matches('/').to_string();
    for endpoint in ["/chat", "/embed", "/rerank"] {
        if let Some(stripped) = base.strip_suffix(endpoint) {
            if stripped.ends_with("/v1") || stripped.ends_with("/v2") {
                base = stripped.to_string();
                break;
            }
        }
    }
    if let Some(host) = base.strip_suffix("/v1") {
        format!("{host}/v2")
    } else if base.ends_with("/v2") {
        base
    } else {
        format!("{base}/v2")
    }
}

impl CohereCodec {
    /// The URL of `endpoint` (`chat`, `embed`, `rerank`).
    pub fn url(&self, endpoint: &str) -> String {
        format!("{}/{endpoint}", self.root)
    }

    fn post<T: Serialize>(&self, endpoint: &str, body: &T) -> Result<http::Request<Bytes>> {
        post_json(
            &self.url(endpoint),
            self.headers.iter().map(|(k, v)| (k, v)),
            body,
        )
    }
}

impl Codec for CohereCodec {
    type ChatStreamDecoder = CohereStreamDecoder;

    fn provider_names() -> Vec<&'static str> {
        vec!["cohere", "cohere_chat"]
    }

    fn configured(name: &str, env: &dyn Env) -> bool {
        Self::provider_names().contains(&name) && env.first(COHERE_KEY_ENV).is_some()
    }

    /// Build `cohere` or `cohere_chat` from `params`, falling back to `env`:
    /// `api_key` or `COHERE_API_KEY` / `CO_API_KEY`; `api_base` or
    /// `COHERE_API_BASE` / `CO_API_URL` (default `https://api.cohere.com`).
    fn from_params(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Self> {
        let name = served_name("cohere", name, &["cohere", "cohere_chat"])?;
        let key = params
            .key_or_env(env, COHERE_KEY_ENV)
            .ok_or_else(|| Error::missing_api_key(name, "COHERE_API_KEY"))?;
        let base = params.base_or_env(env, COHERE_BASE_ENV, COHERE_DEFAULT_BASE);
        let headers = credential_headers(Some(bearer("api_key", &key)?), &params.extra_headers)?;
        Ok(CohereCodec {
            name,
            root: api_root(&base),
            headers,
        })
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn decode_error(&self, r: &UpstreamResponse) -> Error {
        error::decode_error(self.name, r.status.as_u16(), &r.headers, &r.body)
    }

    /// The host without `/v2` (callers send `/v2/chat`, `/v1/embed`, …).
    fn pass_through_base(&self) -> Option<String> {
        Some(llmux_core::pass_through::unversioned(&self.root, "/v2"))
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
        self.post("chat", &request::chat_body(request, stream)?)
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
    ) -> CohereStreamDecoder {
        CohereStreamDecoder::new(ChunkSource::new(self.name, request.model.as_str()))
    }

    fn encode_embeddings(&self, request: &EmbeddingRequest) -> Result<Vec<http::Request<Bytes>>> {
        Ok(vec![self.post("embed", &embeddings::embed_body(request)?)?])
    }

    fn decode_embeddings(
        &self,
        responses: Vec<UpstreamResponse>,
        request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse> {
        let body = llmux_core::codec::first_body(responses);
        embeddings::EMBED_V2.decode(&body, request, self.name)
    }

    fn encode_rerank(&self, request: &RerankRequest) -> Result<http::Request<Bytes>> {
        self.post("rerank", &embeddings::rerank_body(request))
    }

    fn decode_rerank(
        &self,
        response: &UpstreamResponse,
        request: &RerankRequest,
    ) -> Result<RerankResponse> {
        embeddings::decode_rerank(&response.body, request, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::{ChatMessage, ErrorKind, MapEnv};

    fn configured(name: &str, env: &dyn Env) -> bool {
        CohereCodec::configured(name, env)
    }

    fn provider(name: &str, env: &[(&str, &str)], params: ProviderParams) -> Result<CohereCodec> {
        CohereCodec::from_params(name, &params, &MapEnv::new(env.iter().copied()))
    }

    #[test]
    fn base_urls_in_every_form() {
        for (base, root) in [
            ("https://api.cohere.com", "https://api.cohere.com/v2"),
            ("https://api.cohere.com/", "https://api.cohere.com/v2"),
            ("https://api.cohere.com/v2", "https://api.cohere.com/v2"),
            (
                "https://api.cohere.com/v2/chat",
                "https://api.cohere.com/v2",
            ),
            ("https://api.cohere.ai/v1/chat", "https://api.cohere.ai/v2"),
            (
                "https://proxy.example/cohere/v2/rerank/",
                "https://proxy.example/cohere/v2",
            ),
            ("http://127.0.0.1:9/chat", "http://127.0.0.1:9/chat/v2"),
        ] {
            assert_eq!(api_root(base), root, "{base}");
        }
    }

    #[test]
    fn keys_bases_and_headers() {
        let req = ChatCompletionRequest::new("command-r", vec![ChatMessage::user("Hi")]);
        let p = provider("cohere", &[("CO_API_KEY", "co")], ProviderParams::default()).unwrap();
        let http = p.encode_chat(&req, false).unwrap();
        assert_eq!(http.uri(), "https://api.cohere.com/v2/chat");
        assert_eq!(http.headers()["authorization"], "Bearer co");
        assert_eq!(http.headers()["content-type"], "application/json");
        let p = provider(
            "cohere_chat",
            &[
                ("COHERE_API_KEY", "k1"),
                ("CO_API_KEY", "k2"),
                ("COHERE_API_BASE", "https://env.example"),
            ],
            ProviderParams::default(),
        )
        .unwrap();
        assert_eq!(p.name(), "cohere_chat");
        assert_eq!(p.url("embed"), "https://env.example/v2/embed");
        assert_eq!(
            p.encode_chat(&req, true).unwrap().headers()["authorization"],
            "Bearer k1"
        );
        let p = provider(
            "cohere_chat",
            &[("COHERE_API_KEY", "env")],
            ProviderParams {
                api_key: Some("explicit".into()),
                api_base: Some("https://api.cohere.ai/v1/chat".into()),
                extra_headers: vec![("X-Client-Name".into(), "llmux-test".into())],
                ..Default::default()
            },
        )
        .unwrap();
        let http = p.encode_chat(&req, false).unwrap();
        assert_eq!(http.uri(), "https://api.cohere.ai/v2/chat");
        assert_eq!(http.headers()["authorization"], "Bearer explicit");
        assert_eq!(http.headers()["x-client-name"], "llmux-test");
    }

    #[test]
    fn missing_key_and_unknown_name() {
        let err = provider("cohere", &[], ProviderParams::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Authentication);
        assert_eq!(
            err.message,
            "no API key for cohere: set the COHERE_API_KEY environment variable or pass api_key"
        );
        assert_eq!(
            provider("co", &[("CO_API_KEY", "k")], ProviderParams::default())
                .unwrap_err()
                .kind,
            ErrorKind::BadRequest
        );
        assert!(configured("cohere", &MapEnv::new([("CO_API_KEY", "k")])));
        assert!(configured(
            "cohere_chat",
            &MapEnv::new([("COHERE_API_KEY", "k")])
        ));
        assert!(!configured("cohere", &MapEnv::default()));
        assert!(!configured("ollama", &MapEnv::new([("CO_API_KEY", "k")])));
    }
}
