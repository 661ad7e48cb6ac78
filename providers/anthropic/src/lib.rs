//! # llmux-anthropic
//!
//! Anthropic's Claude models as an llmux [`Codec`] (served by [`HttpProvider`]): OpenAI-shaped
//! chat requests become `POST {api_base}/v1/messages` calls with `x-api-key`,
//! `anthropic-version` and (when needed) `anthropic-beta` headers, and the
//! answers, whole or streamed, come back OpenAI-shaped.
//!
//! - [`wire`]: Anthropic's Messages API as serde types, public so other parts
//!   of llmux (the gateway's `/v1/messages` inbound) can share them;
//! - [`request`] (OpenAI → Anthropic), [`response`] and [`stream`]
//!   (Anthropic → OpenAI), [`error`] (Anthropic errors → core kinds): pure
//!   codec, no network;
//! - [`AnthropicCodec`]: credentials, endpoint and headers; [`AnthropicProvider`]
//!   is it served over the shared transport.
//!   Besides chat it lists models (`GET /v1/models`) and counts tokens
//!   (`Provider::count_tokens`, `POST /v1/messages/count_tokens`).
//!
//! Not for: Claude on Bedrock or Vertex AI (their own crates and auth), the
//! Batches and Files APIs (files are referenced by id, not uploaded).
//!
//! ```no_run
//! use llmux_anthropic::AnthropicProvider;
//! use llmux_core::{ChatCompletionRequest, ChatMessage, ProcessEnv, Provider, ProviderParams};
//!
//! # async fn run() -> Result<(), llmux_core::Error> {
//! // Reads ANTHROPIC_API_KEY (and ANTHROPIC_API_BASE when set).
//! let claude = AnthropicProvider::from_params("anthropic", &ProviderParams::default(), &ProcessEnv)?;
//! let mut request = ChatCompletionRequest::new(
//!     "claude-sonnet-4-5",
//!     vec![ChatMessage::system("Be brief."), ChatMessage::user("Hi")],
//! );
//! request.reasoning_effort = Some("low".into()); // extended thinking, 1024-token budget
//! let reply = claude.chat(request.clone()).await?;
//! println!("{}", reply.text().unwrap_or_default());
//! let prompt_tokens = claude.count_tokens(request).await?;
//! # let _ = prompt_tokens;
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod inbound;
pub mod platform;
pub mod request;
pub mod response;
pub mod stream;
pub mod wire;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use llmux_core::codec::{json_body, upstream_request};
use llmux_core::params::served_name;
use llmux_core::pass_through::{anthropic_usage, DocumentReader, UsageReader};
use llmux_core::transport::{decode_json, UpstreamResponse};
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::models::{Model, ModelList};
use llmux_core::{Codec, Env, Error, HttpProvider, ProviderParams, Result};
use serde_json::Value;

pub use request::JsonMode;
pub use stream::AnthropicStreamDecoder;

/// API host used when neither params nor the environment give one.
pub const DEFAULT_API_BASE: &str = "https://api.anthropic.com";
/// Environment variable read for the API key.
pub const API_KEY_ENV: &str = "ANTHROPIC_API_KEY";
/// Environment variables read for the base URL, in order (the second is the
/// one Anthropic's own SDKs read).
pub const API_BASE_ENV: &[&str] = &["ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"];
/// The provider prefix.
const NAME: &str = "anthropic";

/// Anthropic's Messages API over HTTP.
pub type AnthropicProvider = HttpProvider<AnthropicCodec>;

/// Anthropic's Messages API: credentials, endpoint and wire format.
#[derive(Debug, Clone)]
pub struct AnthropicCodec {
    /// `{base}/v1` (or the base itself when it already ends in `/v1`).
    root: String,
    key: HeaderValue,
    version: HeaderValue,
    /// Betas from params (`anthropic_beta`, an `anthropic-beta` extra header).
    betas: Vec<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue> {
    llmux_core::headers::header_value(name, value).map_err(|e| e.with_provider(NAME))
}

fn split_betas(value: &str, out: &mut Vec<String>) {
    for beta in value.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        if !out.iter().any(|b| b == beta) {
            out.push(beta.to_string());
        }
    }
}

/// The API root for a base URL: `https://host` → `https://host/v1`;
/// `…/v1` and `…/v1/messages` are accepted as given.
fn api_root(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    let base = base.strip_suffix("/messages").unwrap_or(base);
    if base.ends_with("/v1") {
        base.to_string()
    } else {
        format!("{base}/v1")
    }
}

impl AnthropicCodec {
    fn http_request<B: serde::Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        extra_betas: &[&str],
    ) -> Result<http::Request<Bytes>> {
        let mut betas = self.betas.clone();
        for b in extra_betas {
            split_betas(b, &mut betas);
        }
        let beta = if betas.is_empty() {
            None
        } else {
            Some(header_value("anthropic-beta", &betas.join(","))?)
        };
        let mut headers: Vec<(&HeaderName, &HeaderValue)> =
            vec![(&X_API_KEY, &self.key), (&ANTHROPIC_VERSION, &self.version)];
        if let Some(b) = &beta {
            headers.push((&ANTHROPIC_BETA, b));
        }
        headers.extend(self.headers.iter().map(|(k, v)| (k, v)));
        let (content_type, bytes) = match body {
            Some(b) => (Some("application/json"), json_body(b)?),
            None => (None, Bytes::new()),
        };
        upstream_request(
            method,
            &format!("{}{path}", self.root),
            content_type,
            headers,
            bytes,
        )
    }
}

static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
static ANTHROPIC_VERSION: HeaderName = HeaderName::from_static("anthropic-version");
static ANTHROPIC_BETA: HeaderName = HeaderName::from_static("anthropic-beta");

impl Codec for AnthropicCodec {
    type ChatStreamDecoder = AnthropicStreamDecoder;

    /// `POST /v1/messages/count_tokens` for `request`'s prompt (system,
    /// messages, tools), as Anthropic counts them.
    fn encode_count_tokens(&self, request: &ChatCompletionRequest) -> Result<http::Request<Bytes>> {
        let encoded = request::encode_count_tokens(request)
            .map_err(|e| e.with_provider(NAME).with_model(request.model.as_str()))?;
        self.http_request(
            Method::POST,
            "/messages/count_tokens",
            Some(&encoded.body),
            &encoded.betas,
        )
    }

    fn serves_messages(&self, _model: &str) -> bool {
        true
    }

    /// The client's body as it came (its `stream` flag included), with the
    /// configured credentials, version and betas plus the client's betas.
    fn encode_messages(
        &self,
        body: &serde_json::Map<String, Value>,
        options: &llmux_core::endpoint::MessagesOptions,
        _stream: bool,
    ) -> Result<http::Request<Bytes>> {
        let betas: Vec<&str> = options.betas.iter().map(String::as_str).collect();
        let path = if options.beta_query {
            "/messages?beta=true"
        } else {
            "/messages"
        };
        self.http_request(Method::POST, path, Some(body), &betas)
    }

    fn decode_count_tokens(&self, response: &UpstreamResponse, model: &str) -> Result<u64> {
        platform::decode_count_tokens(&response.body, NAME, model)
    }

    fn provider_names() -> Vec<&'static str> {
        vec![NAME]
    }

    fn configured(name: &str, env: &dyn Env) -> bool {
        name == NAME && env.var(API_KEY_ENV).is_some()
    }

    /// Build from `params`, falling back to `env`:
    /// `api_key` or `ANTHROPIC_API_KEY`; `api_base` or `ANTHROPIC_API_BASE` /
    /// `ANTHROPIC_BASE_URL` (default `https://api.anthropic.com`);
    /// `api_version` → `anthropic-version` (default `2023-06-01`);
    /// `extra.anthropic_beta` (a string, comma-separated, or a list) and any
    /// `anthropic-beta` in `extra_headers` → one `anthropic-beta` header.
    fn from_params(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Self> {
        served_name(NAME, name, &[NAME])?;
        let key = params
            .key_or_env(env, &[API_KEY_ENV])
            .ok_or_else(|| Error::missing_api_key(NAME, API_KEY_ENV))?;
        let base = params.base_or_env(env, API_BASE_ENV, DEFAULT_API_BASE);
        let mut version = params
            .api_version
            .clone()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| wire::DEFAULT_VERSION.to_string());
        let mut betas = Vec::new();
        match params.extra.get("anthropic_beta") {
            Some(Value::String(s)) => split_betas(s, &mut betas),
            Some(Value::Array(items)) => {
                for item in items.iter().filter_map(Value::as_str) {
                    split_betas(item, &mut betas);
                }
            }
            _ => {}
        }
        let mut headers = Vec::new();
        for (k, v) in &params.extra_headers {
            if k.eq_ignore_ascii_case("anthropic-beta") {
                split_betas(v, &mut betas);
                continue;
            }
            if k.eq_ignore_ascii_case("anthropic-version") {
                version.clone_from(v);
                continue;
            }
            headers.push(llmux_core::headers::extra_header(k, v)?);
        }
        Ok(AnthropicCodec {
            root: api_root(&base),
            key: header_value("api_key", &key)?,
            version: header_value("api_version", &version)?,
            betas,
            headers,
        })
    }

    fn name(&self) -> &'static str {
        NAME
    }

    fn decode_error(&self, r: &UpstreamResponse) -> Error {
        error::decode_error(NAME, r.status.as_u16(), &r.headers, &r.body)
    }

    /// The host without `/v1` (callers send `/v1/messages`).
    fn pass_through_base(&self) -> Option<String> {
        Some(llmux_core::pass_through::unversioned(&self.root, "/v1"))
    }

    fn pass_through_usage(&self, headers: &HeaderMap) -> Box<dyn UsageReader> {
        Box::new(DocumentReader::new(headers, anthropic_usage))
    }

    /// `x-api-key`, and `anthropic-version` when the caller sent none.
    async fn authorize_pass_through(
        &self,
        parts: &mut http::request::Parts,
        _body: Option<&Bytes>,
    ) -> Result<()> {
        parts.headers.insert(X_API_KEY.clone(), self.key.clone());
        if !parts.headers.contains_key(&ANTHROPIC_VERSION) {
            parts
                .headers
                .insert(ANTHROPIC_VERSION.clone(), self.version.clone());
        }
        llmux_core::pass_through::set_headers(parts, &self.headers);
        Ok(())
    }

    /// `stream` adds `"stream": true`.
    fn encode_chat(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        let mut encoded = request::encode(request)
            .map_err(|e| e.with_provider(NAME).with_model(request.model.as_str()))?;
        encoded.body.stream = stream.then_some(true);
        self.http_request(
            Method::POST,
            "/messages",
            Some(&encoded.body),
            &encoded.betas,
        )
    }

    fn decode_chat(
        &self,
        response: &UpstreamResponse,
        request: &ChatCompletionRequest,
    ) -> Result<ChatCompletion> {
        platform::decode_chat(&response.body, NAME, request)
    }

    fn chat_stream_decoder(
        &self,
        request: &ChatCompletionRequest,
        _headers: &HeaderMap,
    ) -> AnthropicStreamDecoder {
        platform::stream_decoder(NAME, request)
    }

    fn encode_list_models(&self) -> Result<http::Request<Bytes>> {
        self.http_request(
            Method::GET,
            "/models?limit=1000",
            None::<&wire::MessagesRequest>,
            &[],
        )
    }

    fn decode_list_models(&self, response: &UpstreamResponse) -> Result<ModelList> {
        let page: wire::ModelsPage = decode_json(&response.body, NAME, "")?;
        Ok(ModelList {
            object: "list".into(),
            data: page
                .data
                .into_iter()
                .map(|m| Model {
                    created: m.created_at.as_deref().map_or(0, unix_seconds),
                    id: m.id,
                    object: "model".into(),
                    owned_by: NAME.into(),
                    extra: Default::default(),
                })
                .collect(),
        })
    }
}

/// Seconds since the epoch of an RFC 3339 UTC time (`2025-02-19T00:00:00Z`);
/// 0 when it cannot be read.
fn unix_seconds(rfc3339: &str) -> u64 {
    let parse = || -> Option<u64> {
        let (date, time) = rfc3339.split_once('T')?;
        let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
        let (y, m, day) = (d.next()??, d.next()??, d.next()??);
        let mut t = time.get(..8)?.splitn(3, ':').map(|p| p.parse::<i64>().ok());
        let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
        let days = llmux_core::calendar::days_from_civil(y, m, day);
        u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
    };
    parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::{ChatMessage, ErrorKind, MapEnv};
    use serde_json::json;

    fn provider(env: &[(&str, &str)], params: ProviderParams) -> Result<AnthropicCodec> {
        AnthropicCodec::from_params(NAME, &params, &MapEnv::new(env.iter().copied()))
    }

    fn hi() -> ChatCompletionRequest {
        ChatCompletionRequest::new("claude-sonnet-4-5", vec![ChatMessage::user("Hi")])
    }

    #[test]
    fn url_headers_and_env() {
        let p = provider(
            &[("ANTHROPIC_API_KEY", "sk-ant-env")],
            ProviderParams::default(),
        )
        .unwrap();
        let http = p.encode_chat(&hi(), false).unwrap();
        assert_eq!(http.method(), Method::POST);
        assert_eq!(http.uri(), "https://api.anthropic.com/v1/messages");
        assert_eq!(http.headers()["x-api-key"], "sk-ant-env");
        assert_eq!(http.headers()["anthropic-version"], "2023-06-01");
        assert_eq!(http.headers()["content-type"], "application/json");
        assert!(http.headers().get("anthropic-beta").is_none());
        assert!(http.headers().get("authorization").is_none());
        let body: Value = serde_json::from_slice(http.body()).unwrap();
        assert_eq!(body.get("stream"), None);
        let body: Value =
            serde_json::from_slice(p.encode_chat(&hi(), true).unwrap().body()).unwrap();
        assert_eq!(body["stream"], json!(true));

        for (base, url) in [
            (
                "https://proxy.example/",
                "https://proxy.example/v1/messages",
            ),
            (
                "https://proxy.example/v1",
                "https://proxy.example/v1/messages",
            ),
            (
                "https://proxy.example/v1/messages",
                "https://proxy.example/v1/messages",
            ),
            (
                "https://gw.example/anthropic",
                "https://gw.example/anthropic/v1/messages",
            ),
        ] {
            let p = provider(
                &[("ANTHROPIC_API_KEY", "k"), ("ANTHROPIC_API_BASE", base)],
                ProviderParams::default(),
            )
            .unwrap();
            assert_eq!(p.encode_chat(&hi(), false).unwrap().uri(), url, "{base}");
        }
        let p = provider(
            &[
                ("ANTHROPIC_API_KEY", "k"),
                ("ANTHROPIC_BASE_URL", "https://sdk.example"),
            ],
            ProviderParams::default(),
        )
        .unwrap();
        assert_eq!(
            p.encode_count_tokens(&hi()).unwrap().uri(),
            "https://sdk.example/v1/messages/count_tokens"
        );
    }

    #[test]
    fn explicit_params_betas_and_headers() {
        let mut params = ProviderParams {
            api_key: Some("sk-param".into()),
            api_base: Some("https://p.example".into()),
            api_version: Some("2023-01-01".into()),
            extra_headers: vec![
                ("anthropic-beta".into(), "output-128k-2025-02-19".into()),
                ("X-Team".into(), "blue".into()),
            ],
            ..Default::default()
        };
        params.extra.insert(
            "anthropic_beta".into(),
            json!(["token-efficient-tools-2025-02-19", "output-128k-2025-02-19"]),
        );
        let p = provider(&[("ANTHROPIC_API_KEY", "env")], params).unwrap();
        let mut req = hi();
        req.messages = vec![ChatMessage::User(llmux_core::types::chat::UserMessage {
            content: llmux_core::MessageContent::Parts(vec![
                llmux_core::types::chat::ContentPart::File(llmux_core::types::chat::FilePart {
                    file: llmux_core::types::chat::FileRef {
                        file_id: Some("file_1".into()),
                        file_data: None,
                        filename: None,
                        format: None,
                    },
                    extra: Default::default(),
                }),
            ]),
            name: None,
            extra: Default::default(),
        })];
        let http = p.encode_chat(&req, false).unwrap();
        assert_eq!(http.uri(), "https://p.example/v1/messages");
        assert_eq!(http.headers()["x-api-key"], "sk-param");
        assert_eq!(http.headers()["anthropic-version"], "2023-01-01");
        assert_eq!(
            http.headers()["anthropic-beta"],
            "token-efficient-tools-2025-02-19,output-128k-2025-02-19,files-api-2025-04-14"
        );
        assert_eq!(http.headers()["x-team"], "blue");
        assert_eq!(http.headers().get_all("anthropic-beta").iter().count(), 1);
    }

    #[test]
    fn missing_key_names_the_variable() {
        let err = provider(&[], ProviderParams::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Authentication);
        assert_eq!(
            err.message,
            "no API key for anthropic: set the ANTHROPIC_API_KEY environment variable or pass api_key"
        );
        let configured = |env: &MapEnv| AnthropicCodec::configured(NAME, env);
        assert!(!configured(&MapEnv::default()));
        assert!(configured(&MapEnv::new([("ANTHROPIC_API_KEY", "k")])));
        assert_eq!(AnthropicCodec::provider_names(), ["anthropic"]);
    }

    #[test]
    fn encoding_errors_name_provider_and_model() {
        let p = provider(&[("ANTHROPIC_API_KEY", "k")], ProviderParams::default()).unwrap();
        let mut req = hi();
        req.seed = Some(3);
        let err = p.encode_chat(&req, false).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadRequest);
        assert_eq!(err.provider.as_deref(), Some("anthropic"));
        assert_eq!(err.model.as_deref(), Some("claude-sonnet-4-5"));
    }

    #[test]
    fn rfc3339_to_unix() {
        assert_eq!(unix_seconds("2025-02-19T00:00:00Z"), 1_739_923_200);
        assert_eq!(unix_seconds("1970-01-01T00:00:10Z"), 10);
        assert_eq!(unix_seconds("2024-02-29T12:30:15.5Z"), 1_709_209_815);
        assert_eq!(unix_seconds("soon"), 0);
    }
}
