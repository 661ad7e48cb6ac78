//! # llmux-openai
//!
//! OpenAI, Azure OpenAI, and every vendor that copies OpenAI's API, as an
//! llmux [`Codec`] served by the generic [`HttpProvider`].
//!
//! - `OpenAiProvider::from_params` builds a provider for `openai`, `azure` or
//!   any row of [`presets::PRESETS`] from connection parameters and the environment.
//! - The codec's `encode_*` methods turn a request into an exact
//!   `http::Request` without touching the network, so they are unit-tested and
//!   benchmarked on their own; answers are OpenAI's own JSON, decoded by the
//!   [`Codec`] defaults.

pub mod error;
pub mod presets;
pub mod stream;
pub mod voyage;

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::{HeaderMap, Method};
use llmux_core::codec::{json_body, upstream_request};
use llmux_core::headers::header_value;
use llmux_core::multipart::{audio_content_type, MultipartForm};
use llmux_core::transport::{decode_json, UpstreamResponse};
use llmux_core::types::audio::{SpeechRequest, TranscriptionRequest};
use llmux_core::types::chat::ChatCompletionRequest;
use llmux_core::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use llmux_core::types::images::ImageGenerationRequest;
use llmux_core::types::moderations::ModerationRequest;
use llmux_core::types::rerank::{RerankRequest, RerankResponse};
use llmux_core::types::responses::CreateResponseRequest;
use llmux_core::{Codec, Env, Error, HttpProvider, ProviderParams, Result};
use serde::Serialize;

pub use presets::{Dialect, Endpoint, Preset};
pub use stream::OpenAiStreamDecoder;

/// OpenAI-shaped APIs over HTTP.
pub type OpenAiProvider = HttpProvider<OpenAiCodec>;

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
pub struct OpenAiCodec {
    name: &'static str,
    target: Target,
    auth: Auth,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Whether `model` exists only on OpenAI's Responses API (its price-table
/// `mode` is `responses`): the codex models, the `-pro` reasoning models
/// (`o1-pro`, `o3-pro`, `gpt-5-pro`, `gpt-5.2-pro`), the deep-research
/// models and `computer-use-preview`. Chat calls for them are sent to
/// `/responses` and answered in chat's format.
pub fn responses_only(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    let pro = (m.starts_with("o1-pro") || m.starts_with("o3-pro") || m.starts_with("gpt-5"))
        && (m.ends_with("-pro") || m.contains("-pro-"));
    pro || m.contains("codex") || m.contains("deep-research") || m.starts_with("computer-use")
}

fn trim_base(base: &str) -> String {
    base.trim().trim_end_matches('/').to_string()
}

impl OpenAiCodec {
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
                if endpoint == Endpoint::Responses {
                    // The Responses API names the deployment in the body, not the path.
                    return Ok(format!("{base}/openai/responses?api-version={api_version}"));
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
        let auth = match &self.auth {
            Auth::None => None,
            Auth::Bearer(v) => Some((&AUTHORIZATION, v)),
            Auth::AzureKey(v) => Some((&AZURE_API_KEY, v)),
        };
        let headers = auth
            .into_iter()
            .chain(self.headers.iter().map(|(k, v)| (k, v)));
        upstream_request(method, url, content_type, headers, body)
    }

    fn json_request<T: Serialize>(
        &self,
        endpoint: Endpoint,
        model: &str,
        body: &T,
    ) -> Result<http::Request<Bytes>> {
        let url = self.url(endpoint, model)?;
        self.request(
            Method::POST,
            &url,
            Some("application/json"),
            json_body(body)?,
        )
    }

    /// How this vendor's bodies differ from the standard ones.
    fn dialect(&self) -> Dialect {
        match &self.target {
            Target::Compatible { preset, .. } => preset.dialect,
            Target::Azure { .. } => Dialect::Standard,
        }
    }

    /// The upstream multipart request for a transcription, with `boundary`.
    pub fn transcription_request(
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

/// Azure's key header.
static AZURE_API_KEY: HeaderName = HeaderName::from_static("api-key");

impl Codec for OpenAiCodec {
    type ChatStreamDecoder = OpenAiStreamDecoder;

    /// `openai`, `azure` and every preset.
    fn provider_names() -> Vec<&'static str> {
        ["openai", "azure"]
            .into_iter()
            .chain(presets::PRESETS.iter().map(|p| p.name))
            .collect()
    }

    fn configured(name: &str, env: &dyn Env) -> bool {
        match presets::preset(name) {
            Some(p) if p.key_required => env.first(p.api_key_env).is_some(),
            Some(p) => env.first(p.api_base_env).is_some(),
            // Azure: a key or Entra token, and an endpoint.
            None => {
                name == "azure"
                    && env
                        .first(&["AZURE_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_AD_TOKEN"])
                        .is_some()
                    && env
                        .first(&["AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"])
                        .is_some()
            }
        }
    }

    /// Build the provider named `name` (`openai`, `azure`, or a preset) from
    /// `params`, falling back to `env` for the key, base URL and API version.
    fn from_params(name: &str, params: &ProviderParams, env: &dyn Env) -> Result<Self> {
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
        Ok(OpenAiCodec {
            name,
            target,
            auth,
            headers,
        })
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn decode_error(&self, r: &UpstreamResponse) -> Error {
        error::decode_error(self.name, r.status.as_u16(), &r.headers, &r.body)
    }

    /// The API root without its `/v1` (callers send it); Azure's resource endpoint.
    fn pass_through_base(&self) -> Option<String> {
        Some(match &self.target {
            Target::Compatible { base, .. } => llmux_core::pass_through::unversioned(base, "/v1"),
            Target::Azure { base, .. } => base.clone(),
        })
    }

    async fn authorize_pass_through(
        &self,
        parts: &mut http::request::Parts,
        _body: Option<&Bytes>,
    ) -> Result<()> {
        match &self.auth {
            Auth::None => {}
            Auth::Bearer(v) => {
                parts.headers.insert(AUTHORIZATION, v.clone());
            }
            Auth::AzureKey(v) => {
                parts.headers.insert(AZURE_API_KEY.clone(), v.clone());
            }
        }
        llmux_core::pass_through::set_headers(parts, &self.headers);
        Ok(())
    }

    /// `stream` sets the body's `stream`.
    fn encode_chat(
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

    fn chat_stream_decoder(
        &self,
        _request: &ChatCompletionRequest,
        _headers: &HeaderMap,
    ) -> OpenAiStreamDecoder {
        OpenAiStreamDecoder::new(self.name)
    }

    fn serves_responses(&self) -> bool {
        match &self.target {
            Target::Compatible { preset, .. } => preset.endpoints.contains(&Endpoint::Responses),
            Target::Azure { .. } => true,
        }
    }

    fn chat_via_responses(&self, model: &str) -> bool {
        responses_only(model)
    }

    fn encode_responses(
        &self,
        request: &CreateResponseRequest,
        stream: bool,
    ) -> Result<http::Request<Bytes>> {
        if stream == request.is_stream() {
            return self.json_request(Endpoint::Responses, &request.model, request);
        }
        let mut request = request.clone();
        request.stream = stream.then_some(true);
        if !stream {
            request.stream_options = None;
        }
        self.json_request(Endpoint::Responses, &request.model, &request)
    }

    fn encode_embeddings(&self, request: &EmbeddingRequest) -> Result<Vec<http::Request<Bytes>>> {
        let http = match self.dialect() {
            Dialect::Standard => self.json_request(Endpoint::Embeddings, &request.model, request),
            Dialect::Voyage => self.json_request(
                Endpoint::Embeddings,
                &request.model,
                &voyage::embeddings_body(request),
            ),
        }?;
        Ok(vec![http])
    }

    fn decode_embeddings(
        &self,
        responses: Vec<UpstreamResponse>,
        request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse> {
        let body = llmux_core::codec::first_body(responses);
        let response = decode_json(&body, self.name, &request.model)?;
        Ok(match self.dialect() {
            Dialect::Standard => response,
            Dialect::Voyage => voyage::embeddings_response(response),
        })
    }

    fn encode_list_models(&self) -> Result<http::Request<Bytes>> {
        let url = self.url(Endpoint::Models, "")?;
        self.request(Method::GET, &url, None, Bytes::new())
    }

    fn encode_image_generation(
        &self,
        request: &ImageGenerationRequest,
    ) -> Result<http::Request<Bytes>> {
        let model = request.model.clone().unwrap_or_default();
        self.json_request(Endpoint::Images, &model, request)
    }

    fn encode_transcription(&self, request: &TranscriptionRequest) -> Result<http::Request<Bytes>> {
        self.transcription_request(request, &new_boundary())
    }

    fn encode_speech(&self, request: &SpeechRequest) -> Result<http::Request<Bytes>> {
        self.json_request(Endpoint::Speech, &request.model, request)
    }

    fn encode_moderation(&self, request: &ModerationRequest) -> Result<http::Request<Bytes>> {
        let model = request.model.clone().unwrap_or_default();
        self.json_request(Endpoint::Moderations, &model, request)
    }

    /// Vendors whose preset lists [`Endpoint::Rerank`]: Cohere's request
    /// shape as is, or Voyage's.
    fn encode_rerank(&self, request: &RerankRequest) -> Result<http::Request<Bytes>> {
        match self.dialect() {
            Dialect::Standard => self.json_request(Endpoint::Rerank, &request.model, request),
            Dialect::Voyage => self.json_request(
                Endpoint::Rerank,
                &request.model,
                &voyage::rerank_body(request),
            ),
        }
    }

    fn decode_rerank(
        &self,
        response: &UpstreamResponse,
        request: &RerankRequest,
    ) -> Result<RerankResponse> {
        match self.dialect() {
            Dialect::Standard => decode_json(&response.body, self.name, &request.model),
            Dialect::Voyage => voyage::rerank_response(&response.body, &request.model),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn responses_only_models_are_recognised() {
        for m in [
            "o1-pro",
            "o3-pro-2025-06-10",
            "gpt-5-pro",
            "gpt-5.2-pro-2025-12-11",
            "gpt-5-codex",
            "codex-mini-latest",
            "o3-deep-research",
            "computer-use-preview",
        ] {
            assert!(super::responses_only(m), "{m}");
        }
        for m in [
            "gpt-4o",
            "gpt-5",
            "o3",
            "o3-mini",
            "gpt-5.2",
            "gpt-4o-mini-tts",
        ] {
            assert!(!super::responses_only(m), "{m}");
        }
    }

    use super::*;
    use llmux_core::MapEnv;

    fn azure_headers(env: &[(&str, &str)]) -> http::HeaderMap {
        let env = MapEnv::new(env.iter().map(|(k, v)| (*k, *v)));
        let p = OpenAiCodec::from_params("azure", &ProviderParams::default(), &env).unwrap();
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
