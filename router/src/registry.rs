//! From a model string to a ready [`Provider`]: the one place that knows every
//! provider crate. The router's deployments and the CLI both resolve through it.

use std::sync::Arc;

use llmux_core::model::ModelRef;
use llmux_core::{Env, Error, Provider, ProviderFamily, ProviderParams, Result};

/// Every provider crate in this build. Adding a provider adds one line here.
fn families() -> [ProviderFamily; 6] {
    [
        ProviderFamily::of::<llmux_openai::OpenAiCodec>(),
        ProviderFamily::of::<llmux_gemini::GeminiCodec>(),
        ProviderFamily::of::<llmux_cohere::CohereCodec>(),
        ProviderFamily::of::<llmux_ollama::OllamaCodec>(),
        ProviderFamily::of::<llmux_anthropic::AnthropicCodec>(),
        ProviderFamily::of::<llmux_bedrock::BedrockCodec>(),
    ]
}

/// Every provider prefix this build serves.
pub fn provider_names() -> Vec<&'static str> {
    families().iter().flat_map(|f| (f.names)()).collect()
}

/// Providers whose credentials (or, for key-less local servers, base URL)
/// are present in `env`: what `Router::from_env` serves.
pub fn configured_providers(env: &dyn Env) -> Vec<&'static str> {
    families()
        .iter()
        .flat_map(|f| (f.names)().into_iter().filter(|n| (f.configured)(n, env)))
        .collect()
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
    let prefixes = provider_names();
    let parsed = ModelRef::parse(model, &prefixes)?;
    let family = families()
        .into_iter()
        .find(|f| (f.names)().contains(&parsed.provider))
        .ok_or_else(|| Error::bad_request(format!("no provider named '{}'", parsed.provider)))?;
    Ok(ResolvedModel {
        provider: (family.build)(parsed.provider, params, env)?,
        model: parsed.model.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::{ErrorKind, MapEnv};

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
    fn cohere_and_cohere_chat_resolve() {
        let env = MapEnv::new([("CO_API_KEY", "c")]);
        for (model, name, upstream) in [
            ("cohere/command-a-03-2025", "cohere", "command-a-03-2025"),
            (
                "cohere_chat/command-r-plus",
                "cohere_chat",
                "command-r-plus",
            ),
            ("command-r7b-12-2024", "cohere", "command-r7b-12-2024"),
        ] {
            let r = resolve(model, &ProviderParams::default(), &env).unwrap();
            assert_eq!((r.provider.name(), r.model.as_str()), (name, upstream));
        }
        assert!(configured_providers(&env).ends_with(&["cohere", "cohere_chat"]));
        let err = resolve(
            "cohere/command-r",
            &ProviderParams::default(),
            &MapEnv::default(),
        )
        .unwrap_err();
        assert!(err.message.contains("COHERE_API_KEY"), "{}", err.message);
    }

    #[test]
    fn ollama_and_ollama_chat_resolve_without_a_key() {
        for (model, name, upstream) in [
            ("ollama/llama3.2", "ollama", "llama3.2"),
            ("ollama_chat/qwen3:8b", "ollama_chat", "qwen3:8b"),
            (
                "ollama_chat/hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M",
                "ollama_chat",
                "hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M",
            ),
        ] {
            let r = resolve(model, &ProviderParams::default(), &MapEnv::default()).unwrap();
            assert_eq!((r.provider.name(), r.model.as_str()), (name, upstream));
        }
        // Served by Router::from_env only when its address is given.
        assert!(configured_providers(&MapEnv::default()).is_empty());
        let env = MapEnv::new([("OLLAMA_API_BASE", "http://127.0.0.1:11434")]);
        assert_eq!(configured_providers(&env), vec!["ollama", "ollama_chat"]);
    }

    #[test]
    fn anthropic_resolves() {
        let env = MapEnv::new([("ANTHROPIC_API_KEY", "sk-ant")]);
        let r = resolve(
            "anthropic/claude-sonnet-4-5",
            &ProviderParams::default(),
            &env,
        )
        .unwrap();
        assert_eq!(
            (r.provider.name(), r.model.as_str()),
            ("anthropic", "claude-sonnet-4-5")
        );
        assert_eq!(configured_providers(&env), vec!["anthropic"]);
        assert!(provider_names().contains(&"anthropic"));
        let r = resolve("claude-3-5-haiku-latest", &ProviderParams::default(), &env).unwrap();
        assert_eq!(
            (r.provider.name(), r.model.as_str()),
            ("anthropic", "claude-3-5-haiku-latest")
        );
        let err = resolve(
            "anthropic/claude-sonnet-4-5",
            &ProviderParams::default(),
            &MapEnv::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Authentication);
        assert!(err.message.contains("ANTHROPIC_API_KEY"), "{}", err.message);
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
}
