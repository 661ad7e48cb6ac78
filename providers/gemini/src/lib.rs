//! # llmux-gemini
//!
//! Google's Gemini models as an llmux [`Codec`] (served by [`HttpProvider`]), two ways:
//!
//! - `gemini/<model>`: the Gemini API (Google AI Studio),
//!   `POST {base}/v1beta/models/{model}:generateContent` with the key in
//!   `x-goog-api-key` (`GEMINI_API_KEY`);
//! - `vertex_ai/<model>`: Vertex AI,
//!   `POST https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
//!   (`https://aiplatform.googleapis.com/…` for `global`), with a bearer token
//!   from `gcp_auth` (see [`auth`]).
//!
//! Both speak the same `GenerateContentRequest`/`GenerateContentResponse`, so
//! one codec serves them: [`request`] (OpenAI → Gemini), [`response`] and
//! [`stream`] (Gemini → OpenAI), [`embeddings`] and [`error`]. The
//! `encode_*` methods build exact `http::Request`s without the network; for
//! Vertex the one thing they leave out is the `Authorization` header, whose
//! token is fetched (and cached) when the request is sent.

pub mod auth;
pub mod embeddings;
pub mod error;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::{HeaderMap, Method};
use llmux_anthropic::platform;
use llmux_core::codec::{first_body, json_body, upstream_request};
use llmux_core::headers::header_value;
use llmux_core::params::served_name;
use llmux_core::pass_through::{DocumentReader, UsageReader};
use llmux_core::stream::{ChunkSource, StreamDecoder};
use llmux_core::transport::{decode_json, UpstreamResponse};
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::types::models::{Model, ModelList};
use llmux_core::{Codec, Env, Error, HttpProvider, ProviderParams, Result};
use serde_json::Value;
use tokio::sync::OnceCell;

pub use auth::GoogleAuth;
pub use request::Dialect;
pub use stream::GeminiStreamDecoder;

/// Gemini API host used when neither params nor `GEMINI_API_BASE` give one.
pub const GEMINI_DEFAULT_BASE: &str = "https://generativelanguage.googleapis.com";
/// Gemini API version used when `api_version` is not set.
pub const GEMINI_DEFAULT_VERSION: &str = "v1beta";
/// Vertex AI API version used when `api_version` is not set.
pub const VERTEX_DEFAULT_VERSION: &str = "v1";
/// Vertex AI location used when neither params nor the environment give one.
pub const VERTEX_DEFAULT_LOCATION: &str = "us-central1";

/// Environment variables read for the Gemini API key, in order.
pub const GEMINI_KEY_ENV: &[&str] = &["GEMINI_API_KEY", "GOOGLE_API_KEY"];
/// Environment variables read for the Vertex project, in order.
pub const VERTEX_PROJECT_ENV: &[&str] =
    &["VERTEXAI_PROJECT", "VERTEX_PROJECT", "GOOGLE_CLOUD_PROJECT"];
/// Environment variables read for the Vertex location, in order.
pub const VERTEX_LOCATION_ENV: &[&str] = &["VERTEXAI_LOCATION", "VERTEX_LOCATION"];

/// Where requests go and how they authenticate.
#[derive(Debug, Clone)]
enum Backend {
    /// `{root}/models/{model}:{method}`, `x-goog-api-key`.
    Gemini { root: String, key: HeaderValue },
    /// `{root}/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}`, bearer token.
    Vertex(Arc<Vertex>),
}

#[derive(Debug)]
struct Vertex {
    /// Scheme, host and version, e.g. `https://us-central1-aiplatform.googleapis.com/v1`.
    root: String,
    location: String,
    /// Project from params, environment or the key file.
    project: Option<String>,
    /// Project asked of Application Default Credentials, once.
    discovered_project: OnceCell<String>,
    auth: Arc<GoogleAuth>,
}

/// Gemini API or Vertex AI over HTTP.
pub type GeminiProvider = HttpProvider<GeminiCodec>;

/// Gemini API or Vertex AI: endpoint, credentials and wire format.
#[derive(Debug, Clone)]
pub struct GeminiCodec {
    name: &'static str,
    backend: Backend,
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn trim_base(base: &str) -> String {
    base.trim().trim_end_matches('/').to_string()
}

/// `base` plus `/{version}`, unless `base` already ends in a version segment
/// (`…/v1beta`), so both `https://host` and `https://host/v1beta` work as api_base.
fn with_version(base: &str, version: &str) -> String {
    if version_suffix(base).is_some() {
        base.to_string()
    } else {
        format!("{base}/{version}")
    }
}

/// `base` without its trailing version segment (`…/v1beta` → `…`), when it has one.
fn version_suffix(base: &str) -> Option<&str> {
    let (rest, last) = base.rsplit_once('/')?;
    let is_version = last.len() > 1
        && last.starts_with('v')
        && last[1..].starts_with(|c: char| c.is_ascii_digit());
    is_version.then_some(rest)
}

/// Reject path-breaking characters in a URL path segment.
fn check_segment(what: &str, value: &str, allow_slash: bool) -> Result<()> {
    let bad = value.is_empty()
        || value.contains("..")
        || value.chars().any(|c| {
            c.is_whitespace() || matches!(c, '?' | '#' | '%' | '\\') || (c == '/' && !allow_slash)
        });
    if bad {
        Err(Error::bad_request(format!(
            "'{value}' is not a valid {what}"
        )))
    } else {
        Ok(())
    }
}

/// Service-account JSON from a `vertex_credentials` value: the JSON itself,
/// or a path to a file holding it.
fn credentials_text(value: &str) -> Result<String> {
    if value.trim_start().starts_with('{') {
        return Ok(value.to_string());
    }
    std::fs::read_to_string(value).map_err(|e| {
        Error::authentication(format!(
            "cannot read Google credentials file '{value}': {e}"
        ))
        .with_provider("vertex_ai")
    })
}

impl GeminiCodec {
    fn gemini_backend(params: &ProviderParams, env: &dyn Env) -> Result<Backend> {
        let key = params
            .key_or_env(env, GEMINI_KEY_ENV)
            .ok_or_else(|| Error::missing_api_key("gemini", "GEMINI_API_KEY"))?;
        let base = params
            .api_base
            .as_deref()
            .map(trim_base)
            .filter(|b| !b.is_empty())
            .or_else(|| env.var("GEMINI_API_BASE").map(|b| trim_base(&b)))
            .unwrap_or_else(|| GEMINI_DEFAULT_BASE.to_string());
        let version = params
            .api_version
            .clone()
            .unwrap_or_else(|| GEMINI_DEFAULT_VERSION.to_string());
        Ok(Backend::Gemini {
            root: with_version(&base, &version),
            key: header_value("api_key", &key)?,
        })
    }

    fn vertex_backend(params: &ProviderParams, env: &dyn Env) -> Result<Backend> {
        let credentials =
            match ["vertex_credentials", "vertex_ai_credentials"]
                .iter()
                .find_map(|n| params.extra.get(*n))
            {
                Some(v @ Value::Object(_)) => Some(v.to_string()),
                Some(Value::String(s)) if !s.trim().is_empty() => Some(credentials_text(s)?),
                Some(Value::Null) | Some(Value::String(_)) | None => None,
                Some(_) => return Err(Error::bad_request(
                    "vertex_credentials must be a file path, the key's JSON text or a JSON object",
                )),
            };
        let credentials = match credentials {
            Some(c) => Some(c),
            None => match env.var("VERTEXAI_CREDENTIALS") {
                Some(c) => Some(credentials_text(&c)?),
                None => match env.var("GOOGLE_APPLICATION_CREDENTIALS") {
                    Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                        Error::authentication(format!(
                            "cannot read GOOGLE_APPLICATION_CREDENTIALS file '{path}': {e}"
                        ))
                        .with_provider("vertex_ai")
                    })?),
                    None => None,
                },
            },
        };
        let (auth, key_project) = match credentials {
            Some(json) => GoogleAuth::service_account(&json)?,
            None => (GoogleAuth::application_default(), None),
        };
        let project = params
            .extra_str(&["vertex_project", "vertex_ai_project"])
            .or_else(|| env.first(VERTEX_PROJECT_ENV))
            .or(key_project);
        if let Some(p) = &project {
            check_segment("Vertex project", p, false)?;
        }
        let location = params
            .extra_str(&["vertex_location", "vertex_ai_location"])
            .or_else(|| env.first(VERTEX_LOCATION_ENV))
            .unwrap_or_else(|| VERTEX_DEFAULT_LOCATION.to_string());
        check_segment("Vertex location", &location, false)?;
        let version = params
            .api_version
            .clone()
            .unwrap_or_else(|| VERTEX_DEFAULT_VERSION.to_string());
        let base = match params
            .api_base
            .as_deref()
            .map(trim_base)
            .filter(|b| !b.is_empty())
        {
            Some(b) => b,
            None if location == "global" => "https://aiplatform.googleapis.com".to_string(),
            None => format!("https://{location}-aiplatform.googleapis.com"),
        };
        Ok(Backend::Vertex(Arc::new(Vertex {
            root: with_version(&base, &version),
            location,
            project,
            discovered_project: OnceCell::new(),
            auth,
        })))
    }

    fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Gemini { .. } => Dialect::GEMINI,
            Backend::Vertex(_) => Dialect::VERTEX,
        }
    }

    /// The URL of `method` (`generateContent`, `predict`, …) for `model`;
    /// `project` overrides the configured Vertex project.
    pub fn model_url(&self, model: &str, method: &str, project: Option<&str>) -> Result<String> {
        let model = model.trim();
        match &self.backend {
            Backend::Gemini { root, .. } => {
                check_segment("Gemini model name", model, true)?;
                let path = if model.starts_with("tunedModels/") {
                    model.to_string()
                } else {
                    format!("models/{}", model.strip_prefix("models/").unwrap_or(model))
                };
                Ok(format!("{root}/{path}:{method}"))
            }
            Backend::Vertex(v) => {
                let project = project.or(v.project.as_deref()).ok_or_else(|| {
                    Error::bad_request(
                        "no Vertex AI project: set vertex_project or VERTEXAI_PROJECT",
                    )
                    .with_provider("vertex_ai")
                })?;
                // `gemini/<endpoint id>` (LiteLLM's spelling) or a bare endpoint id
                // is a tuned model deployed to an endpoint.
                let id = model.strip_prefix("gemini/").unwrap_or(model);
                let path = if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) {
                    format!("endpoints/{id}")
                } else {
                    check_segment("Vertex model name", model, false)?;
                    let publisher = if is_claude(model) || model == CLAUDE_COUNT_TOKENS {
                        "anthropic"
                    } else {
                        "google"
                    };
                    format!("publishers/{publisher}/models/{model}")
                };
                Ok(format!(
                    "{}/projects/{project}/locations/{}/{path}:{method}",
                    v.root, v.location
                ))
            }
        }
    }

    fn http_request(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<http::Request<Bytes>> {
        let (content_type, bytes) = match body {
            Some(v) => (Some("application/json"), json_body(v)?),
            None => (None, Bytes::new()),
        };
        let key = match &self.backend {
            Backend::Gemini { key, .. } => Some((&X_GOOG_API_KEY, key)),
            Backend::Vertex(_) => None,
        };
        let headers = key
            .into_iter()
            .chain(self.headers.iter().map(|(k, v)| (k, v)));
        upstream_request(method, url, content_type, headers, bytes)
    }

    /// Whether `model` is Claude on Vertex AI (Anthropic's Messages API
    /// through `rawPredict`).
    fn vertex_claude(&self, model: &str) -> bool {
        matches!(self.backend, Backend::Vertex(_)) && is_claude(model)
    }

    /// A Messages API `body` for Claude on Vertex AI: `:rawPredict`, or
    /// `:streamRawPredict` when `stream`; betas in `anthropic-beta`.
    fn claude_request(
        &self,
        model: &str,
        body: &serde_json::Map<String, Value>,
        betas: &[String],
        stream: bool,
        project: Option<&str>,
    ) -> Result<http::Request<Bytes>> {
        let method = if stream {
            "streamRawPredict"
        } else {
            "rawPredict"
        };
        let url = self.model_url(model, method, project)?;
        let mut request =
            self.http_request(Method::POST, &url, Some(&Value::Object(body.clone())))?;
        if !betas.is_empty() {
            let value = header_value("anthropic-beta", &betas.join(","))?;
            request.headers_mut().insert("anthropic-beta", value);
        }
        Ok(request)
    }

    fn build_chat(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
        project: Option<&str>,
    ) -> Result<http::Request<Bytes>> {
        if self.vertex_claude(&request.model) {
            let (body, betas) = platform::chat_body(
                request,
                stream,
                platform::VERTEX_VERSION,
                platform::Betas::InHeader,
                self.name,
            )?;
            return self.claude_request(&request.model, &body, &betas, stream, project);
        }
        let body = request::chat_body(request, self.dialect()).map_err(|e| {
            e.with_provider(self.name)
                .with_model(request.model.as_str())
        })?;
        let url = if stream {
            format!(
                "{}?alt=sse",
                self.model_url(&request.model, "streamGenerateContent", project)?
            )
        } else {
            self.model_url(&request.model, "generateContent", project)?
        };
        self.http_request(Method::POST, &url, Some(&body))
    }

    fn build_embeddings(
        &self,
        request: &EmbeddingRequest,
        project: Option<&str>,
    ) -> Result<(http::Request<Bytes>, Option<embeddings::GeminiEmbedMethod>)> {
        let with_context = |e: Error| {
            e.with_provider(self.name)
                .with_model(request.model.as_str())
        };
        match &self.backend {
            Backend::Gemini { .. } => {
                let model = request.model.trim();
                let model = model.strip_prefix("models/").unwrap_or(model);
                let (method, body) =
                    embeddings::gemini_body(request, model).map_err(with_context)?;
                let url = self.model_url(model, method.as_str(), project)?;
                Ok((
                    self.http_request(Method::POST, &url, Some(&body))?,
                    Some(method),
                ))
            }
            Backend::Vertex(_) => {
                let body = embeddings::vertex_body(request).map_err(with_context)?;
                let url = self.model_url(&request.model, "predict", project)?;
                Ok((self.http_request(Method::POST, &url, Some(&body))?, None))
            }
        }
    }

    /// The Vertex project known so far: configured, or discovered by
    /// [`prepare`](Codec::prepare).
    fn known_project(&self) -> Option<&str> {
        match &self.backend {
            Backend::Gemini { .. } => None,
            Backend::Vertex(v) => v
                .project
                .as_deref()
                .or_else(|| v.discovered_project.get().map(String::as_str)),
        }
    }
}

/// Whether `model` is one of Anthropic's Claude models (on Vertex AI's
/// `anthropic` publisher).
fn is_claude(model: &str) -> bool {
    model.starts_with("claude")
}

/// The `anthropic` publisher's token-counting model on Vertex AI.
const CLAUDE_COUNT_TOKENS: &str = "count-tokens";

/// The Gemini API's key header.
static X_GOOG_API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");

impl Codec for GeminiCodec {
    /// Gemini's decoder, or Anthropic's for Claude on Vertex AI.
    type ChatStreamDecoder = Box<dyn StreamDecoder>;

    fn provider_names() -> Vec<&'static str> {
        vec!["gemini", "vertex_ai"]
    }

    fn configured(name: &str, env: &dyn Env) -> bool {
        match name {
            "gemini" => env.first(GEMINI_KEY_ENV).is_some(),
            "vertex_ai" => {
                env.first(VERTEX_PROJECT_ENV).is_some()
                    || env
                        .first(&["VERTEXAI_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"])
                        .is_some()
            }
            _ => false,
        }
    }

    /// Build `gemini` or `vertex_ai` from `params`, falling back to `env`.
    ///
    /// - `gemini`: `api_key` or `GEMINI_API_KEY` / `GOOGLE_API_KEY`;
    ///   `api_base` or `GEMINI_API_BASE`; `api_version` (default `v1beta`).
    /// - `vertex_ai`: `extra.vertex_project` or `VERTEXAI_PROJECT` /
    ///   `VERTEX_PROJECT` / `GOOGLE_CLOUD_PROJECT` (or the key's `project_id`);
    ///   `extra.vertex_location` or `VERTEXAI_LOCATION` / `VERTEX_LOCATION`
    ///   (default `us-central1`); `extra.vertex_credentials` (a path, the JSON
    ///   text or a JSON object) or `VERTEXAI_CREDENTIALS` or
    ///   `GOOGLE_APPLICATION_CREDENTIALS`, else Application Default Credentials
    ///   found on the first call; `api_base` replaces the regional host (for
    ///   proxies and tests); `api_version` (default `v1`).
    ///
    /// Stays synchronous: a service-account key is loaded here, the ADC search
    /// (asynchronous in gcp_auth) is deferred to the first request.
    fn from_params(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Self> {
        let name = served_name("gemini", name, &["gemini", "vertex_ai"])?;
        let backend = if name == "gemini" {
            Self::gemini_backend(params, env)?
        } else {
            Self::vertex_backend(params, env)?
        };
        let headers = llmux_core::headers::extra_headers(&params.extra_headers)?;
        Ok(GeminiCodec {
            name,
            backend,
            headers,
        })
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn decode_error(&self, r: &UpstreamResponse) -> Error {
        error::decode_error(self.name, r.status.as_u16(), &r.headers, &r.body)
    }

    /// The API host without its version (callers send `/v1beta/…`, `/v1/projects/…`).
    fn pass_through_base(&self) -> Option<String> {
        let root = match &self.backend {
            Backend::Gemini { root, .. } => root,
            Backend::Vertex(v) => &v.root,
        };
        Some(version_suffix(root).unwrap_or(root).to_string())
    }

    /// Gemini's `usageMetadata`; Claude on Vertex AI answers in Anthropic's shape.
    fn pass_through_usage(&self, headers: &HeaderMap) -> Box<dyn UsageReader> {
        Box::new(DocumentReader::new(headers, response::pass_through_usage))
    }

    /// The Gemini API key as `x-goog-api-key`; Vertex's OAuth access token.
    async fn authorize_pass_through(
        &self,
        parts: &mut http::request::Parts,
        _body: Option<&Bytes>,
    ) -> Result<()> {
        match &self.backend {
            Backend::Gemini { key, .. } => {
                parts.headers.insert(X_GOOG_API_KEY.clone(), key.clone());
            }
            Backend::Vertex(v) => {
                let token = v.auth.token().await?;
                let value = header_value("access token", &format!("Bearer {}", token.as_str()))?;
                parts.headers.insert(AUTHORIZATION, value);
            }
        }
        llmux_core::pass_through::set_headers(parts, &self.headers);
        Ok(())
    }

    /// A Vertex project the configuration does not name is asked of the
    /// credentials, once.
    async fn prepare(&self) -> Result<()> {
        let Backend::Vertex(v) = &self.backend else {
            return Ok(());
        };
        if v.project.is_some() {
            return Ok(());
        }
        v.discovered_project
            .get_or_try_init(|| async {
                let found = v.auth.project_id().await?.ok_or_else(|| {
                    Error::bad_request(
                        "no Vertex AI project: set vertex_project or VERTEXAI_PROJECT \
                         (the credentials name none)",
                    )
                    .with_provider("vertex_ai")
                })?;
                check_segment("Vertex project", &found, false)?;
                Ok::<String, Error>(found)
            })
            .await?;
        Ok(())
    }

    /// Vertex requests carry a bearer token, refreshed as it expires.
    async fn authorize(&self, request: &mut http::Request<Bytes>) -> Result<()> {
        if let Backend::Vertex(v) = &self.backend {
            let token = v.auth.token().await?;
            let value = header_value("access token", &format!("Bearer {}", token.as_str()))?;
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        Ok(())
    }

    /// `stream` picks `:streamGenerateContent?alt=sse`. Vertex requests lack
    /// `Authorization` until [`authorize`](Codec::authorize).
    fn encode_chat(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        self.build_chat(request, stream, self.known_project())
    }

    fn decode_chat(
        &self,
        response: &UpstreamResponse,
        request: &ChatCompletionRequest,
    ) -> Result<ChatCompletion> {
        if self.vertex_claude(&request.model) {
            return platform::decode_chat(&response.body, self.name, request);
        }
        response::decode_chat(&response.body, self.name, &request.model)
    }

    fn chat_stream_decoder(
        &self,
        request: &ChatCompletionRequest,
        _headers: &HeaderMap,
    ) -> Box<dyn StreamDecoder> {
        if self.vertex_claude(&request.model) {
            return Box::new(platform::stream_decoder(self.name, request));
        }
        Box::new(GeminiStreamDecoder::new(ChunkSource::new(
            self.name,
            request.model.as_str(),
        )))
    }

    /// Claude on Vertex AI: the `count-tokens` model's `rawPredict`.
    fn encode_count_tokens(&self, request: &ChatCompletionRequest) -> Result<http::Request<Bytes>> {
        if !self.vertex_claude(&request.model) {
            return Err(Error::unsupported(self.name, "count_tokens"));
        }
        let (body, betas) = platform::count_tokens_body(request, self.name)?;
        let url = self.model_url(CLAUDE_COUNT_TOKENS, "rawPredict", self.known_project())?;
        let mut http = self.http_request(Method::POST, &url, Some(&Value::Object(body)))?;
        if !betas.is_empty() {
            let value = header_value("anthropic-beta", &betas.join(","))?;
            http.headers_mut().insert("anthropic-beta", value);
        }
        Ok(http)
    }

    fn decode_count_tokens(&self, response: &UpstreamResponse, model: &str) -> Result<u64> {
        platform::decode_count_tokens(&response.body, self.name, model)
    }

    /// Claude on Vertex AI.
    fn serves_messages(&self, model: &str) -> bool {
        self.vertex_claude(model)
    }

    /// The client's Messages API body to `:rawPredict` / `:streamRawPredict`,
    /// `anthropic_version: vertex-2023-10-16`, betas in `anthropic-beta`.
    fn encode_messages(
        &self,
        body: &serde_json::Map<String, Value>,
        options: &llmux_core::endpoint::MessagesOptions,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let body = platform::messages_body(
            body.clone(),
            platform::VERTEX_VERSION,
            &options.betas,
            platform::Betas::InHeader,
            true,
        );
        self.claude_request(&model, &body, &options.betas, stream, self.known_project())
    }

    /// `embedContent` for one text, `batchEmbedContents` for several;
    /// Vertex `predict`.
    fn encode_embeddings(&self, request: &EmbeddingRequest) -> Result<Vec<http::Request<Bytes>>> {
        let (http, _) = self.build_embeddings(request, self.known_project())?;
        Ok(vec![http])
    }

    fn decode_embeddings(
        &self,
        responses: Vec<UpstreamResponse>,
        request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse> {
        let body = first_body(responses);
        match &self.backend {
            Backend::Gemini { .. } => embeddings::decode_gemini(
                &body,
                embeddings::gemini_method(request),
                request,
                self.name,
            ),
            Backend::Vertex(_) => embeddings::decode_vertex(&body, request, self.name),
        }
    }

    /// The Gemini API's model list (Vertex has none to list).
    fn encode_list_models(&self) -> Result<http::Request<Bytes>> {
        let Backend::Gemini { root, .. } = &self.backend else {
            return Err(Error::unsupported(self.name, "models"));
        };
        self.http_request(Method::GET, &format!("{root}/models?pageSize=1000"), None)
    }

    fn decode_list_models(&self, response: &UpstreamResponse) -> Result<ModelList> {
        let listing: Value = decode_json(&response.body, self.name, "")?;
        let data = listing
            .get("models")
            .and_then(Value::as_array)
            .map(|models| {
                models
                    .iter()
                    .filter_map(|m| m.get("name").and_then(Value::as_str))
                    .map(|name| Model {
                        id: name.strip_prefix("models/").unwrap_or(name).to_string(),
                        object: "model".into(),
                        created: 0,
                        owned_by: "google".into(),
                        extra: Default::default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(ModelList {
            object: "list".into(),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::{ChatMessage, ErrorKind, MapEnv};
    use serde_json::json;

    fn gemini(env: &[(&str, &str)], params: ProviderParams) -> Result<GeminiProvider> {
        GeminiProvider::from_params("gemini", &params, &MapEnv::new(env.iter().copied()))
    }

    fn sa_json(project: Option<&str>) -> String {
        let mut v = json!({
            "type": "service_account",
            "client_email": "llmux-test@example.iam.gserviceaccount.com",
            "private_key_id": "unit-test",
            "private_key": include_str!("../tests/fixtures/test-service-account-key.pem"),
            "token_uri": "http://127.0.0.1:9/token"
        });
        if let Some(p) = project {
            v["project_id"] = json!(p);
        }
        v.to_string()
    }

    #[test]
    fn gemini_urls_headers_and_env() {
        let p = gemini(&[("GEMINI_API_KEY", "k-env")], ProviderParams::default()).unwrap();
        let req = ChatCompletionRequest::new("gemini-2.0-flash", vec![ChatMessage::user("Hi")]);
        let http = p.encode_chat(&req, false).unwrap();
        assert_eq!(
            http.uri(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"
        );
        assert_eq!(http.headers()["x-goog-api-key"], "k-env");
        assert_eq!(http.headers()["content-type"], "application/json");
        let http = p.encode_chat(&req, true).unwrap();
        assert_eq!(
            http.uri(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
        );
        // GOOGLE_API_KEY is the fallback; an explicit key and base win.
        let p = gemini(&[("GOOGLE_API_KEY", "g")], ProviderParams::default()).unwrap();
        assert_eq!(
            p.encode_chat(&req, false).unwrap().headers()["x-goog-api-key"],
            "g"
        );
        let p = gemini(
            &[
                ("GEMINI_API_KEY", "k-env"),
                ("GEMINI_API_BASE", "https://env.example"),
            ],
            ProviderParams {
                api_key: Some("k".into()),
                api_base: Some("https://proxy.example/v1alpha/".into()),
                extra_headers: vec![("X-Team".into(), "blue".into())],
                ..Default::default()
            },
        )
        .unwrap();
        let http = p.encode_chat(&req, false).unwrap();
        assert_eq!(
            http.uri(),
            "https://proxy.example/v1alpha/models/gemini-2.0-flash:generateContent"
        );
        assert_eq!(http.headers()["x-goog-api-key"], "k");
        assert_eq!(http.headers()["x-team"], "blue");
        assert_eq!(
            p.model_url("tunedModels/my-tune", "generateContent", None)
                .unwrap(),
            "https://proxy.example/v1alpha/tunedModels/my-tune:generateContent"
        );
        assert_eq!(
            p.model_url("models/gemini-pro", "generateContent", None)
                .unwrap(),
            "https://proxy.example/v1alpha/models/gemini-pro:generateContent"
        );
        assert!(p.model_url("x?key=1", "generateContent", None).is_err());
        assert!(p.model_url("../../x", "generateContent", None).is_err());
    }

    #[test]
    fn gemini_without_key_fails_naming_the_variable() {
        let err = gemini(&[], ProviderParams::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Authentication);
        assert_eq!(
            err.message,
            "no API key for gemini: set the GEMINI_API_KEY environment variable or pass api_key"
        );
        let err =
            GeminiProvider::from_params("palm", &ProviderParams::default(), &MapEnv::default())
                .unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadRequest);
    }

    #[test]
    fn vertex_urls_from_params_env_and_key() {
        let mut params = ProviderParams::default();
        params.extra.insert(
            "vertex_credentials".into(),
            json!(sa_json(Some("key-project"))),
        );
        let env = MapEnv::default();
        let p = GeminiProvider::from_params("vertex_ai", &params, &env).unwrap();
        assert_eq!(
            p.model_url("gemini-2.5-pro", "generateContent", None).unwrap(),
            "https://us-central1-aiplatform.googleapis.com/v1/projects/key-project/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"
        );
        let env = MapEnv::new([
            ("VERTEXAI_PROJECT", "env-project"),
            ("VERTEX_LOCATION", "europe-west4"),
        ]);
        let p = GeminiProvider::from_params("vertex_ai", &params, &env).unwrap();
        let req = ChatCompletionRequest::new("gemini-2.0-flash", vec![ChatMessage::user("Hi")]);
        let http = p.encode_chat(&req, true).unwrap();
        assert_eq!(
            http.uri(),
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/env-project/locations/europe-west4/publishers/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
        );
        assert!(http.headers().get("authorization").is_none());
        assert!(http.headers().get("x-goog-api-key").is_none());
        params
            .extra
            .insert("vertex_project".into(), json!("param-project"));
        params
            .extra
            .insert("vertex_location".into(), json!("global"));
        params.api_version = Some("v1beta1".into());
        let p = GeminiProvider::from_params("vertex_ai", &params, &env).unwrap();
        assert_eq!(
            p.model_url("gemini-2.0-flash", "generateContent", None).unwrap(),
            "https://aiplatform.googleapis.com/v1beta1/projects/param-project/locations/global/publishers/google/models/gemini-2.0-flash:generateContent"
        );
        assert_eq!(
            p.model_url("gemini/4965075652664360960", "generateContent", None).unwrap(),
            "https://aiplatform.googleapis.com/v1beta1/projects/param-project/locations/global/endpoints/4965075652664360960:generateContent"
        );
        assert!(p
            .model_url("publishers/x/models/y", "generateContent", None)
            .is_err());
        let emb = p
            .encode_embeddings(&EmbeddingRequest::new(
                "text-embedding-005",
                llmux_core::types::embeddings::EmbeddingInput::Text("x".into()),
            ))
            .unwrap();
        assert_eq!(emb.len(), 1);
        assert!(emb[0]
            .uri()
            .to_string()
            .ends_with("/publishers/google/models/text-embedding-005:predict"));
    }

    #[test]
    fn vertex_credentials_forms_and_errors() {
        // A JSON object, a path, and the environment all load the same key.
        let dir = std::env::temp_dir().join(format!("llmux-gemini-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sa.json");
        std::fs::write(&path, sa_json(Some("file-project"))).unwrap();
        let path = path.to_string_lossy().to_string();
        let mut params = ProviderParams::default();
        params.extra.insert(
            "vertex_credentials".into(),
            serde_json::from_str(&sa_json(Some("obj-project"))).unwrap(),
        );
        let p = GeminiProvider::from_params("vertex_ai", &params, &MapEnv::default()).unwrap();
        assert!(p
            .model_url("m", "x", None)
            .unwrap()
            .contains("/projects/obj-project/"));
        params
            .extra
            .insert("vertex_credentials".into(), json!(path.clone()));
        let p = GeminiProvider::from_params("vertex_ai", &params, &MapEnv::default()).unwrap();
        assert!(p
            .model_url("m", "x", None)
            .unwrap()
            .contains("/projects/file-project/"));
        let env = MapEnv::new([("GOOGLE_APPLICATION_CREDENTIALS", path.as_str())]);
        let p = GeminiProvider::from_params("vertex_ai", &ProviderParams::default(), &env).unwrap();
        assert!(p
            .model_url("m", "x", None)
            .unwrap()
            .contains("/projects/file-project/"));

        let missing = MapEnv::new([("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json")]);
        let err = GeminiProvider::from_params("vertex_ai", &ProviderParams::default(), &missing)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Authentication);
        assert!(
            err.message.starts_with(
                "cannot read GOOGLE_APPLICATION_CREDENTIALS file '/nonexistent/sa.json'"
            ),
            "{}",
            err.message
        );

        let mut params = ProviderParams::default();
        params.extra.insert(
            "vertex_credentials".into(),
            json!({"type": "authorized_user", "client_id": "x", "client_secret": "y", "refresh_token": "z"}),
        );
        let err =
            GeminiProvider::from_params("vertex_ai", &params, &MapEnv::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Authentication);
        assert!(
            err.message.contains("type 'authorized_user'"),
            "{}",
            err.message
        );

        params.extra.insert("vertex_credentials".into(), json!({"type": "service_account", "private_key": "nope", "client_email": "a", "token_uri": "b"}));
        let err =
            GeminiProvider::from_params("vertex_ai", &params, &MapEnv::default()).unwrap_err();
        assert!(
            err.message
                .starts_with("cannot load the Google service-account key"),
            "{}",
            err.message
        );

        // Without a project anywhere, encoding says what to set.
        let p = GeminiProvider::from_params(
            "vertex_ai",
            &ProviderParams::default(),
            &MapEnv::default(),
        )
        .unwrap();
        let err = p.model_url("m", "generateContent", None).unwrap_err();
        assert_eq!(
            err.message,
            "no Vertex AI project: set vertex_project or VERTEXAI_PROJECT"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn same_key_shares_one_token_source() {
        let mut params = ProviderParams::default();
        params
            .extra
            .insert("vertex_credentials".into(), json!(sa_json(Some("p"))));
        let a = GeminiProvider::from_params("vertex_ai", &params, &MapEnv::default()).unwrap();
        let b = GeminiProvider::from_params("vertex_ai", &params, &MapEnv::default()).unwrap();
        let (Backend::Vertex(va), Backend::Vertex(vb)) = (&a.backend, &b.backend) else {
            panic!("expected vertex backends");
        };
        assert!(Arc::ptr_eq(&va.auth, &vb.auth));
    }

    #[test]
    fn configured_reads_the_environment() {
        let configured = GeminiCodec::configured;
        assert!(configured(
            "gemini",
            &MapEnv::new([("GEMINI_API_KEY", "k")])
        ));
        assert!(!configured("gemini", &MapEnv::default()));
        assert!(configured(
            "vertex_ai",
            &MapEnv::new([("VERTEXAI_PROJECT", "p")])
        ));
        assert!(configured(
            "vertex_ai",
            &MapEnv::new([("GOOGLE_APPLICATION_CREDENTIALS", "/x")])
        ));
        assert!(!configured("vertex_ai", &MapEnv::default()));
        assert_eq!(GeminiCodec::provider_names(), ["gemini", "vertex_ai"]);
    }
}
