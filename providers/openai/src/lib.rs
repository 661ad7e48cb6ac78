//! # llmux-openai
//!
//! OpenAI, Azure OpenAI, and every vendor that copies OpenAI's API, behind
//! llmux's [`Provider`] trait.
//!
//! - [`OpenAiProvider::from_params`] builds a provider for `openai`, `azure` or
//!   any row of [`presets::PRESETS`] from connection parameters and the environment.
//! - The `encode_*` methods are the codec: they turn a request into an exact
//!   `http::Request` without touching the network, so they are unit-tested and
//!   benchmarked on their own. The [`Provider`] methods send them through the
//!   shared [`HttpTransport`] and decode the answer.

pub mod error;
pub mod presets;
pub mod stream;
pub mod voyage;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::Method;
use llmux_core::headers::header_value;
use llmux_core::multipart::{audio_content_type, MultipartForm};
use llmux_core::stream::decode_stream;
use llmux_core::transport::{decode_json, UpstreamResponse};
use llmux_core::types::audio::{
    SpeechRequest, SpeechResponse, Transcription, TranscriptionRequest, TranscriptionResponse,
};
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest};
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::types::images::{ImageGenerationRequest, ImagesResponse};
use llmux_core::types::models::ModelList;
use llmux_core::types::moderations::{ModerationRequest, ModerationResponse};
use llmux_core::types::rerank::{RerankRequest, RerankResponse};
use llmux_core::{ChatStream, Env, Error, HttpTransport, Provider, ProviderParams, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use presets::{Dialect, Endpoint, Preset};
pub use stream::OpenAiStreamDecoder;

/// Azure OpenAI `api-version` used when neither the params nor the environment give one.
pub const AZURE_DEFAULT_API_VERSION: &str = "2024-10-21";

/// Where requests go and how they are shaped.
#[derive(Debug, Clone)]
enum Target {
    /// `{base}/{path}`, model in the body.
    Compatible {
        preset: &'static Preset,
        base: String,
    },
    /// `{base}/openai/deployments/{deployment}/{path}?api-version={v}`,
    /// or `{base}/openai/v1/{path}` for the v1 API.
    Azure { base: String, api_version: String },
}

/// How requests authenticate.
#[derive(Debug, Clone)]
enum Auth {
    None,
    /// `Authorization: Bearer …`
    Bearer(HeaderValue),
    /// Azure's `api-key: …`
    AzureKey(HeaderValue),
}

/// OpenAI, Azure OpenAI or an OpenAI-compatible vendor.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    name: &'static str,
    target: Target,
    auth: Auth,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Option<Duration>,
    transport: HttpTransport,
}

/// Names this crate can build a provider for: `openai`, `azure`, every preset.
pub fn provider_names() -> impl Iterator<Item = &'static str> {
    ["openai", "azure"]
        .into_iter()
        .chain(presets::PRESETS.iter().map(|p| p.name))
}

fn trim_base(base: &str) -> String {
    base.trim().trim_end_matches('/').to_string()
}

impl OpenAiProvider {
    /// Build the provider named `name` (`openai`, `azure`, or a preset) from
    /// `params`, falling back to `env` for the key, base URL and API version.
    pub fn from_params(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Self> {
        let (name, target, auth) = if name == "azure" {
            Self::azure_target(params, env)?
        } else {
            let preset = presets::preset(name).ok_or_else(|| {
                Error::bad_request(format!("llmux-openai has no provider named '{name}'"))
            })?;
            let explicit_base = params.api_base.as_deref().map(trim_base);
            let base = explicit_base
                .clone()
                .or_else(|| env.first(preset.api_base_env).map(|b| trim_base(&b)))
                .unwrap_or_else(|| preset.base_url.to_string());
            if base.is_empty() {
                return Err(Error::bad_request(format!(
                    "{name} has no default endpoint: set api_base or the {} environment variable",
                    preset.api_base_env.join(" / ")
                ))
                .with_provider(preset.name));
            }
            let key = params
                .api_key
                .clone()
                .or_else(|| env.first(preset.api_key_env));
            // A custom endpoint (`openai/<model>` + api_base) may need no key.
            let key_required = preset.key_required && explicit_base.is_none();
            let auth = match key {
                Some(k) => Auth::Bearer(header_value("api_key", &format!("Bearer {k}"))?),
                None if key_required => {
                    return Err(Error::missing_api_key(preset.name, preset.api_key_env[0]))
                }
                None => Auth::None,
            };
            (preset.name, Target::Compatible { preset, base }, auth)
        };
        let mut headers = Vec::new();
        let organization = params.organization.clone().or_else(|| {
            (name == "openai")
                .then(|| env.var("OPENAI_ORGANIZATION"))
                .flatten()
        });
        if let Some(org) = organization {
            headers.push((
                HeaderName::from_static("openai-organization"),
                header_value("organization", &org)?,
            ));
        }
        headers.extend(llmux_core::headers::extra_headers(&params.extra_headers)?);
        Ok(OpenAiProvider {
            name,
            target,
            auth,
            headers,
            timeout: params.timeout,
            transport: HttpTransport::shared(),
        })
    }

    fn azure_target(
        params: &ProviderParams,
        env: &dyn Env,
    ) -> Result<(&'static str, Target, Auth)> {
        let base = params
            .api_base
            .clone()
            .or_else(|| env.first(&["AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"]))
            .map(|b| trim_base(&b))
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                Error::bad_request(
                    "azure needs an endpoint: set api_base or the AZURE_API_BASE environment variable \
                     (https://<resource>.openai.azure.com)",
                )
                .with_provider("azure")
            })?;
        let api_version = params
            .api_version
            .clone()
            .or_else(|| env.first(&["AZURE_API_VERSION", "OPENAI_API_VERSION"]))
            .unwrap_or_else(|| AZURE_DEFAULT_API_VERSION.to_string());
        let ad_token = params
            .extra
            .get("azure_ad_token")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or_else(|| env.var("AZURE_AD_TOKEN"));
        let key = params
            .api_key
            .clone()
            // LiteLLM's order: AZURE_OPENAI_API_KEY wins over AZURE_API_KEY.
            .or_else(|| env.first(&["AZURE_OPENAI_API_KEY", "AZURE_API_KEY"]));
        let auth = match (key, ad_token) {
            (Some(k), _) => Auth::AzureKey(header_value("api_key", &k)?),
            (None, Some(t)) => {
                Auth::Bearer(header_value("azure_ad_token", &format!("Bearer {t}"))?)
            }
            (None, None) => return Err(Error::missing_api_key("azure", "AZURE_API_KEY")),
        };
        Ok(("azure", Target::Azure { base, api_version }, auth))
    }

    /// Replace the transport (e.g. one with other pool settings).
    pub fn with_transport(mut self, transport: HttpTransport) -> Self {
        self.transport = transport;
        self
    }

    /// The URL for `endpoint` and `model` (the deployment, on Azure).
    pub fn url(&self, endpoint: Endpoint, model: &str) -> Result<String> {
        match &self.target {
            Target::Compatible { preset, base } => {
                if !preset.endpoints.contains(&endpoint) {
                    return Err(Error::unsupported(self.name, endpoint.label()));
                }
                Ok(format!("{base}/{}", endpoint.path()))
            }
            Target::Azure { base, api_version } => {
                if matches!(endpoint, Endpoint::Moderations | Endpoint::Rerank) {
                    return Err(Error::unsupported(self.name, endpoint.label()));
                }
                if api_version == "v1" || api_version == "latest" || api_version == "preview" {
                    let query = if api_version == "preview" {
                        "?api-version=preview"
                    } else {
                        ""
                    };
                    return Ok(format!("{base}/openai/v1/{}{query}", endpoint.path()));
                }
                if endpoint == Endpoint::Models {
                    return Ok(format!("{base}/openai/models?api-version={api_version}"));
                }
                if model.is_empty() || model.contains(['/', '?', '#']) {
                    return Err(Error::bad_request(format!(
                        "'{model}' is not a valid Azure deployment name"
                    ))
                    .with_provider("azure"));
                }
                Ok(format!(
                    "{base}/openai/deployments/{model}/{}?api-version={api_version}",
                    endpoint.path()
                ))
            }
        }
    }

    fn request(
        &self,
        method: Method,
        url: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<http::Request<Bytes>> {
        let mut builder = http::Request::builder().method(method).uri(url);
        if let Some(ct) = content_type {
            builder = builder.header(CONTENT_TYPE, ct);
        }
        match &self.auth {
            Auth::None => {}
            Auth::Bearer(v) => builder = builder.header(AUTHORIZATION, v.clone()),
            Auth::AzureKey(v) => builder = builder.header("api-key", v.clone()),
        }
        for (k, v) in &self.headers {
            builder = builder.header(k.clone(), v.clone());
        }
        builder.body(body).map_err(|e| {
            Error::bad_request(format!("invalid upstream URL '{url}': {e}"))
                .with_provider(self.name)
        })
    }

    fn json_request<T: Serialize>(
        &self,
        endpoint: Endpoint,
        model: &str,
        body: &T,
    ) -> Result<http::Request<Bytes>> {
        let url = self.url(endpoint, model)?;
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::bad_request(format!("cannot encode request: {e}")))?;
        self.request(
            Method::POST,
            &url,
            Some("application/json"),
            Bytes::from(body),
        )
    }

    /// The upstream request for a chat completion (`stream` sets the body's `stream`).
    pub fn encode_chat(
        &self,
        request: &ChatCompletionRequest,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        if stream == request.is_stream() {
            return self.json_request(Endpoint::Chat, &request.model, request);
        }
        let mut request = request.clone();
        if stream {
            request.stream = Some(true);
        } else {
            request.stream = None;
            request.stream_options = None;
        }
        self.json_request(Endpoint::Chat, &request.model, &request)
    }

    /// The upstream request for embeddings.
    pub fn encode_embeddings(&self, request: &EmbeddingRequest) -> Result<http::Request<Bytes>> {
        match self.dialect() {
            Dialect::Standard => self.json_request(Endpoint::Embeddings, &request.model, request),
            Dialect::Voyage => self.json_request(
                Endpoint::Embeddings,
                &request.model,
                &voyage::embeddings_body(request),
            ),
        }
    }

    /// The upstream request for image generation.
    pub fn encode_image_generation(
        &self,
        request: &ImageGenerationRequest,
    ) -> Result<http::Request<Bytes>> {
        let model = request.model.clone().unwrap_or_default();
        self.json_request(Endpoint::Images, &model, request)
    }

    /// The upstream request for speech.
    pub fn encode_speech(&self, request: &SpeechRequest) -> Result<http::Request<Bytes>> {
        self.json_request(Endpoint::Speech, &request.model, request)
    }

    /// The upstream request for moderation.
    pub fn encode_moderation(&self, request: &ModerationRequest) -> Result<http::Request<Bytes>> {
        let model = request.model.clone().unwrap_or_default();
        self.json_request(Endpoint::Moderations, &model, request)
    }

    /// The upstream request for a rerank (vendors whose preset lists
    /// [`Endpoint::Rerank`]; Cohere's request shape as is, or Voyage's).
    pub fn encode_rerank(&self, request: &RerankRequest) -> Result<http::Request<Bytes>> {
        match self.dialect() {
            Dialect::Standard => self.json_request(Endpoint::Rerank, &request.model, request),
            Dialect::Voyage => self.json_request(
                Endpoint::Rerank,
                &request.model,
                &voyage::rerank_body(request),
            ),
        }
    }

    /// How this vendor's bodies differ from the standard ones.
    fn dialect(&self) -> Dialect {
        match &self.target {
            Target::Compatible { preset, .. } => preset.dialect,
            Target::Azure { .. } => Dialect::Standard,
        }
    }

    /// The upstream request for the model list.
    pub fn encode_list_models(&self) -> Result<http::Request<Bytes>> {
        let url = self.url(Endpoint::Models, "")?;
        self.request(Method::GET, &url, None, Bytes::new())
    }

    /// The upstream multipart request for a transcription, with `boundary`.
    pub fn encode_transcription(
        &self,
        request: &TranscriptionRequest,
        boundary: &str,
    ) -> Result<http::Request<Bytes>> {
        let url = self.url(Endpoint::Transcription, &request.model)?;
        let mut form = MultipartForm::new(boundary).file(
            "file",
            &request.filename,
            audio_content_type(&request.filename),
            &request.file,
        );
        form = form.text("model", &request.model);
        let optional = [
            ("language", request.language.clone()),
            ("prompt", request.prompt.clone()),
            ("response_format", request.response_format.clone()),
            ("temperature", request.temperature.map(|t| t.to_string())),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                form = form.text(name, &v);
            }
        }
        for g in &request.timestamp_granularities {
            form = form.text("timestamp_granularities[]", g);
        }
        for (k, v) in &request.extra {
            form = form.text(k, v);
        }
        let content_type = form.content_type();
        self.request(Method::POST, &url, Some(&content_type), form.finish())
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

    async fn call_json<T: DeserializeOwned>(
        &self,
        request: http::Request<Bytes>,
        model: &str,
    ) -> Result<T> {
        let response = self.send(request, model).await?;
        decode_json(&response.body, self.name, model)
    }
}

/// A multipart boundary unlikely to occur in any upload.
fn new_boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("llmux-{t:x}-{n:x}")
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        self.name
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<ChatCompletion> {
        let http = self.encode_chat(&request, false)?;
        self.call_json(http, &request.model).await
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
            OpenAiStreamDecoder::new(self.name),
        ))
    }

    async fn embeddings(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse> {
        let http = self.encode_embeddings(&request)?;
        let response = self.call_json(http, &request.model).await?;
        Ok(match self.dialect() {
            Dialect::Standard => response,
            Dialect::Voyage => voyage::embeddings_response(response),
        })
    }

    async fn list_models(&self) -> Result<ModelList> {
        let http = self.encode_list_models()?;
        self.call_json(http, "").await
    }

    async fn image_generation(&self, request: ImageGenerationRequest) -> Result<ImagesResponse> {
        let http = self.encode_image_generation(&request)?;
        self.call_json(http, request.model.as_deref().unwrap_or_default())
            .await
    }

    async fn transcription(&self, request: TranscriptionRequest) -> Result<TranscriptionResponse> {
        let http = self.encode_transcription(&request, &new_boundary())?;
        let response = self.send(http, &request.model).await?;
        if request.wants_json() {
            let t: Transcription = decode_json(&response.body, self.name, &request.model)?;
            Ok(TranscriptionResponse::Json(t))
        } else {
            Ok(TranscriptionResponse::Text(
                String::from_utf8_lossy(&response.body).into_owned(),
            ))
        }
    }

    async fn speech(&self, request: SpeechRequest) -> Result<SpeechResponse> {
        let http = self.encode_speech(&request)?;
        let response = self.send(http, &request.model).await?;
        let content_type = response
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        Ok(SpeechResponse {
            content_type,
            audio: response.body,
        })
    }

    async fn moderation(&self, request: ModerationRequest) -> Result<ModerationResponse> {
        let http = self.encode_moderation(&request)?;
        self.call_json(http, request.model.as_deref().unwrap_or_default())
            .await
    }

    async fn rerank(&self, request: RerankRequest) -> Result<RerankResponse> {
        let http = self.encode_rerank(&request)?;
        match self.dialect() {
            Dialect::Standard => self.call_json(http, &request.model).await,
            Dialect::Voyage => {
                let response = self.send(http, &request.model).await?;
                voyage::rerank_response(&response.body, &request.model)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::MapEnv;

    fn azure_headers(env: &[(&str, &str)]) -> http::HeaderMap {
        let env = MapEnv::new(env.iter().map(|(k, v)| (*k, *v)));
        let p = OpenAiProvider::from_params("azure", &ProviderParams::default(), &env).unwrap();
        let url = p.url(Endpoint::Chat, "dep").unwrap();
        assert_eq!(
            url,
            format!("https://r.openai.azure.com/openai/deployments/dep/chat/completions?api-version={AZURE_DEFAULT_API_VERSION}")
        );
        p.request(Method::POST, &url, None, Bytes::new())
            .unwrap()
            .headers()
            .clone()
    }

    /// Regression: with both variables set, AZURE_API_KEY won; LiteLLM (whose
    /// environment llmux reads unchanged) prefers AZURE_OPENAI_API_KEY.
    #[test]
    fn azure_key_precedence_follows_litellm() {
        let base = ("AZURE_API_BASE", "https://r.openai.azure.com");
        let h = azure_headers(&[
            base,
            ("AZURE_API_KEY", "generic"),
            ("AZURE_OPENAI_API_KEY", "specific"),
        ]);
        assert_eq!(h["api-key"], "specific");
        let h = azure_headers(&[base, ("AZURE_API_KEY", "generic")]);
        assert_eq!(h["api-key"], "generic");
        // An Entra ID token is sent as a bearer token, and only without a key.
        let h = azure_headers(&[base, ("AZURE_AD_TOKEN", "eyJ0")]);
        assert_eq!(h["authorization"], "Bearer eyJ0");
        assert!(!h.contains_key("api-key"));
    }
}
