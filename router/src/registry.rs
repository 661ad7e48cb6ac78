//! From a model string to a ready [`Provider`]: the one place that knows every
//! provider crate. The router's deployments and the CLI both resolve through it.

use std::sync::Arc;

use llmux_core::model::ModelRef;
use llmux_core::{Env, Error, ErrorKind, Provider, ProviderParams, Result};
use llmux_openai::OpenAiProvider;

/// Provider prefixes LiteLLM users write that this build cannot serve yet.
/// They are recognised so the error says so plainly instead of "unknown provider".
const NOT_YET_BUILT: &[&str] = &[
    "anthropic",
    "cohere",
    "cohere_chat",
    "ollama",
    "ollama_chat",
];

/// Every provider prefix this build serves.
pub fn provider_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = llmux_openai::provider_names().collect();
    names.extend_from_slice(llmux_gemini::provider_names());
    names.extend_from_slice(llmux_bedrock::provider_names());
    names
}

/// Every prefix recognised in model strings (served or not).
fn recognised_prefixes() -> Vec<&'static str> {
    let mut all = provider_names();
    all.extend_from_slice(NOT_YET_BUILT);
    all
}

/// Providers whose credentials (or, for key-less local servers, base URL)
/// are present in `env`: what `Router::from_env` serves.
pub fn configured_providers(env: &dyn Env) -> Vec<&'static str> {
    let mut out = Vec::new();
    for name in llmux_openai::provider_names() {
        let configured = match llmux_openai::presets::preset(name) {
            Some(p) if p.key_required => env.first(p.api_key_env).is_some(),
            Some(p) => env.first(p.api_base_env).is_some(),
            // Azure: a key or Entra token, and an endpoint.
            None => {
                env.first(&["AZURE_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_AD_TOKEN"])
                    .is_some()
                    && env
                        .first(&["AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"])
                        .is_some()
            }
        };
        if configured {
            out.push(name);
        }
    }
    for name in llmux_gemini::provider_names() {
        if llmux_gemini::configured(name, env) {
            out.push(name);
        }
    }
    if llmux_bedrock::configured(env) {
        out.extend_from_slice(llmux_bedrock::provider_names());
    }
    out
}

/// A model string resolved to a provider and the provider-side model name.
#[derive(Clone)]
pub struct ResolvedModel {
    /// The provider, configured with credentials and endpoint.
    pub provider: Arc<dyn Provider>,
    /// The model name to send upstream (prefix removed).
    pub model: String,
}

impl std::fmt::Debug for ResolvedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedModel")
            .field("provider", &self.provider.name())
            .field("model", &self.model)
            .finish()
    }
}

/// Resolve `model` (`provider/model`, or an unambiguous bare name) with
/// connection `params`, reading missing credentials from `env`.
pub fn resolve(model: &str, params: &ProviderParams, env: &dyn Env) -> Result<ResolvedModel> {
    let prefixes = recognised_prefixes();
    let parsed = ModelRef::parse(model, &prefixes)?;
    if NOT_YET_BUILT.contains(&parsed.provider) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "provider '{}' is not available in this build of llmux yet; available: {}",
                parsed.provider,
                provider_names().join(", ")
            ),
        )
        .with_provider(parsed.provider));
    }
    let provider: Arc<dyn Provider> = match parsed.provider {
        p if llmux_gemini::provider_names().contains(&p) => {
            Arc::new(llmux_gemini::GeminiProvider::from_params(p, params, env)?)
        }
        llmux_bedrock::PROVIDER => {
            Arc::new(llmux_bedrock::BedrockProvider::from_params(params, env)?)
        }
        p => Arc::new(OpenAiProvider::from_params(p, params, env)?),
    };
    Ok(ResolvedModel {
        provider,
        model: parsed.model.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::MapEnv;

    #[test]
    fn resolves_presets_and_bare_names() {
        let env = MapEnv::new([("GROQ_API_KEY", "gk"), ("OPENAI_API_KEY", "ok")]);
        let r = resolve(
            "groq/llama-3.3-70b-versatile",
            &ProviderParams::default(),
            &env,
        )
        .unwrap();
        assert_eq!(
            (r.provider.name(), r.model.as_str()),
            ("groq", "llama-3.3-70b-versatile")
        );
        let r = resolve("gpt-4o", &ProviderParams::default(), &env).unwrap();
        assert_eq!((r.provider.name(), r.model.as_str()), ("openai", "gpt-4o"));
    }

    #[test]
    fn missing_key_names_the_env_var() {
        let err = resolve(
            "mistral/mistral-large-latest",
            &ProviderParams::default(),
            &MapEnv::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Authentication);
        assert!(err.message.contains("MISTRAL_API_KEY"), "{}", err.message);
    }

    #[test]
    fn configured_providers_follow_the_environment() {
        let env = MapEnv::new([
            ("OPENAI_API_KEY", "k"),
            ("GROQ_API_KEY", "k"),
            ("LM_STUDIO_API_KEY", "k"),
            ("HOSTED_VLLM_API_BASE", "http://127.0.0.1:8000/v1"),
            ("AZURE_API_KEY", "k"),
        ]);
        // lm_studio needs its base URL to count; azure needs AZURE_API_BASE too.
        assert_eq!(
            configured_providers(&env),
            vec!["openai", "groq", "hosted_vllm"]
        );
    }

    #[test]
    fn gemini_and_vertex_resolve() {
        let env = MapEnv::new([("GEMINI_API_KEY", "g"), ("VERTEXAI_PROJECT", "p")]);
        let r = resolve("gemini/gemini-2.5-pro", &ProviderParams::default(), &env).unwrap();
        assert_eq!(
            (r.provider.name(), r.model.as_str()),
            ("gemini", "gemini-2.5-pro")
        );
        assert!(configured_providers(&env).ends_with(&["gemini", "vertex_ai"]));
    }

    #[test]
    fn bedrock_resolves_with_its_full_model_id() {
        let env = MapEnv::new([
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]);
        let r = resolve(
            "bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0",
            &ProviderParams::default(),
            &env,
        )
        .unwrap();
        assert_eq!(
            (r.provider.name(), r.model.as_str()),
            ("bedrock", "us.anthropic.claude-3-5-sonnet-20240620-v1:0")
        );
        assert!(configured_providers(&env).contains(&"bedrock"));
        let bearer = MapEnv::new([("AWS_BEARER_TOKEN_BEDROCK", "k")]);
        assert_eq!(configured_providers(&bearer), vec!["bedrock"]);
        assert!(!configured_providers(&MapEnv::default()).contains(&"bedrock"));
    }

    #[test]
    fn planned_providers_say_so() {
        let err = resolve(
            "anthropic/claude-sonnet-4-5",
            &ProviderParams::default(),
            &MapEnv::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported);
        assert!(
            err.message.contains("not available in this build"),
            "{}",
            err.message
        );
    }
}
