//! The OpenAI-compatible vendors: one row each.
//!
//! Every vendor here speaks OpenAI's wire format at `{base_url}/chat/completions`
//! (and the other paths it lists). Adding a vendor is adding a row; base URLs and
//! environment variables follow each vendor's public API reference and the names
//! LiteLLM reads, so a LiteLLM user's environment works unchanged. Environment
//! variables are listed in LiteLLM's order of precedence, llmux-only aliases
//! after them. Where a default base URL differs from LiteLLM's, the row says why;
//! `docs/providers/openai-compatible.md` lists the source checked for each row.

/// An endpoint family a vendor may offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Chat completions (`POST chat/completions`).
    Chat,
    /// Embeddings (`POST embeddings`).
    Embeddings,
    /// Model listing (`GET models`).
    Models,
    /// Image generation (`POST images/generations`).
    Images,
    /// Audio transcription (`POST audio/transcriptions`, multipart).
    Transcription,
    /// Text to speech (`POST audio/speech`).
    Speech,
    /// Moderations (`POST moderations`).
    Moderations,
    /// Cohere-format rerank (`query`, `documents`, `top_n` → `results`).
    Rerank,
    /// OpenAI's Responses API (`POST responses`).
    Responses,
}

impl Endpoint {
    /// Path under the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat/completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
            Endpoint::Images => "images/generations",
            Endpoint::Transcription => "audio/transcriptions",
            Endpoint::Speech => "audio/speech",
            Endpoint::Moderations => "moderations",
            Endpoint::Rerank => "rerank",
            Endpoint::Responses => "responses",
        }
    }

    /// Name used in "does not support" errors.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
            Endpoint::Images => "image generation",
            Endpoint::Transcription => "audio transcription",
            Endpoint::Speech => "audio speech",
            Endpoint::Moderations => "moderations",
            Endpoint::Rerank => "rerank",
            Endpoint::Responses => "responses",
        }
    }
}

/// One OpenAI-compatible vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Provider prefix as LiteLLM users write it (`groq/…`).
    pub name: &'static str,
    /// Default base URL; empty when the user must give one (self-hosted servers).
    pub base_url: &'static str,
    /// Environment variables holding the API key, first match wins.
    pub api_key_env: &'static [&'static str],
    /// Environment variables overriding the base URL, first match wins.
    pub api_base_env: &'static [&'static str],
    /// Whether calls need a key (local servers do not).
    pub key_required: bool,
    /// What the vendor serves in OpenAI's format.
    pub endpoints: &'static [Endpoint],
    /// Where its bodies differ from OpenAI's (Cohere's, for rerank).
    pub dialect: Dialect,
}

/// Where a vendor's request and response bodies differ from the standard
/// ones: OpenAI's, and Cohere's for rerank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The standard bodies, sent and kept as they are.
    Standard,
    /// Voyage AI (see `crate::voyage`): embeddings take `output_dimension`
    /// for `dimensions`; rerank takes `top_k` for `top_n` and answers `data`
    /// with documents as strings.
    Voyage,
}

use Endpoint::*;

const CHAT: &[Endpoint] = &[Chat, Models];
const CHAT_EMBED: &[Endpoint] = &[Chat, Embeddings, Models];
const ALL: &[Endpoint] = &[
    Chat,
    Embeddings,
    Models,
    Images,
    Transcription,
    Speech,
    Moderations,
    Responses,
];

/// OpenAI itself. A custom endpoint (`openai/<model>` with `api_base`) uses this
/// row with its own base URL, and then needs no key.
pub const OPENAI: Preset = Preset {
    name: "openai",
    base_url: "https://api.openai.com/v1",
    api_key_env: &["OPENAI_API_KEY"],
    api_base_env: &["OPENAI_BASE_URL", "OPENAI_API_BASE"],
    key_required: true,
    endpoints: ALL,
    dialect: Dialect::Standard,
};

/// The OpenAI-compatible vendors, sorted by name.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "cerebras",
        base_url: "https://api.cerebras.ai/v1",
        api_key_env: &["CEREBRAS_API_KEY"],
        api_base_env: &["CEREBRAS_API_BASE"],
        key_required: true,
        endpoints: CHAT,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "dashscope",
        // LiteLLM's default (Beijing region). International (Singapore) keys
        // need DASHSCOPE_API_BASE=https://dashscope-intl.aliyuncs.com/compatible-mode/v1.
        base_url: "https://dashscope.aliyuncs.com/compatible-mode/v1",
        api_key_env: &["DASHSCOPE_API_KEY"],
        api_base_env: &["DASHSCOPE_API_BASE"],
        key_required: true,
        endpoints: CHAT_EMBED,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "deepinfra",
        base_url: "https://api.deepinfra.com/v1/openai",
        api_key_env: &["DEEPINFRA_API_KEY"],
        api_base_env: &["DEEPINFRA_API_BASE"],
        key_required: true,
        endpoints: CHAT_EMBED,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "deepseek",
        // DeepSeek documents https://api.deepseek.com (with `/v1` accepted as
        // an OpenAI-compatible alias); LiteLLM defaults to `/beta`.
        base_url: "https://api.deepseek.com/v1",
        api_key_env: &["DEEPSEEK_API_KEY"],
        api_base_env: &["DEEPSEEK_API_BASE"],
        key_required: true,
        endpoints: CHAT,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "featherless_ai",
        base_url: "https://api.featherless.ai/v1",
        api_key_env: &["FEATHERLESS_API_KEY", "FEATHERLESS_AI_API_KEY"],
        api_base_env: &["FEATHERLESS_API_BASE", "FEATHERLESS_AI_API_BASE"],
        key_required: true,
        endpoints: CHAT,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "fireworks_ai",
        base_url: "https://api.fireworks.ai/inference/v1",
        api_key_env: &[
            "FIREWORKS_API_KEY",
            "FIREWORKS_AI_API_KEY",
            "FIREWORKSAI_API_KEY",
            "FIREWORKS_AI_TOKEN",
        ],
        api_base_env: &["FIREWORKS_API_BASE", "FIREWORKS_AI_API_BASE"],
        key_required: true,
        endpoints: CHAT_EMBED,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "github",
        // GitHub's current endpoint; LiteLLM still defaults to the older
        // https://models.inference.ai.azure.com. GITHUB_TOKEN is GitHub's own name.
        base_url: "https://models.github.ai/inference",
        api_key_env: &["GITHUB_API_KEY", "GITHUB_TOKEN"],
        api_base_env: &["GITHUB_API_BASE"],
        key_required: true,
        endpoints: CHAT_EMBED,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "groq",
        base_url: "https://api.groq.com/openai/v1",
        api_key_env: &["GROQ_API_KEY"],
        api_base_env: &["GROQ_API_BASE"],
        key_required: true,
        endpoints: &[Chat, Models, Transcription, Speech],
        dialect: Dialect::Standard,
    },
    Preset {
        name: "hosted_vllm",
        base_url: "",
        api_key_env: &["HOSTED_VLLM_API_KEY"],
        api_base_env: &["HOSTED_VLLM_API_BASE"],
        key_required: false,
        endpoints: &[Chat, Embeddings, Models, Transcription],
        dialect: Dialect::Standard,
    },
    Preset {
        name: "huggingface",
        base_url: "https://router.huggingface.co/v1",
        api_key_env: &["HF_TOKEN", "HUGGINGFACE_API_KEY"],
        api_base_env: &["HF_API_BASE", "HUGGINGFACE_API_BASE"],
        key_required: true,
        endpoints: CHAT,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "hyperbolic",
        base_url: "https://api.hyperbolic.xyz/v1",
        api_key_env: &["HYPERBOLIC_API_KEY"],
        api_base_env: &["HYPERBOLIC_API_BASE"],
        key_required: true,
        endpoints: CHAT,
        dialect: Dialect::Standard,
    },
    // Jina AI: OpenAI-format embeddings and Cohere-format rerank, no chat.
    Preset {
        name: "jina_ai",
        base_url: "https://api.jina.ai/v1",
        api_key_env: &["JINA_AI_API_KEY"],
        api_base_env: &["JINA_AI_API_BASE"],
        key_required: true,
        endpoints: &[Embeddings, Rerank],
        dialect: Dialect::Standard,
    },
    Preset {
        name: "llamafile",
        base_url: "http://127.0.0.1:8080/v1",
        api_key_env: &["LLAMAFILE_API_KEY"],
        api_base_env: &["LLAMAFILE_API_BASE"],
        key_required: false,
        endpoints: CHAT_EMBED,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "lm_studio",
        base_url: "http://localhost:1234/v1",
        api_key_env: &["LM_STUDIO_API_KEY"],
        api_base_env: &["LM_STUDIO_API_BASE"],
        key_required: false,
        endpoints: CHAT_EMBED,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "mistral",
        base_url: "https://api.mistral.ai/v1",
        api_key_env: &["MISTRAL_API_KEY", "MISTRAL_AZURE_API_KEY"],
        api_base_env: &["MISTRAL_API_BASE", "MISTRAL_AZURE_API_BASE"],
        key_required: true,
        endpoints: CHAT_EMBED,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "moonshot",
        base_url: "https://api.moonshot.ai/v1",
        api_key_env: &["MOONSHOT_API_KEY"],
        api_base_env: &["MOONSHOT_API_BASE"],
        key_required: true,
        endpoints: CHAT,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "nebius",
        // Nebius AI Studio is now "Token Factory"; LiteLLM still defaults to
        // the older https://api.studio.nebius.ai/v1.
        base_url: "https://api.tokenfactory.nebius.com/v1",
        api_key_env: &["NEBIUS_API_KEY"],
        api_base_env: &["NEBIUS_API_BASE"],
        key_required: true,
        endpoints: CHAT_EMBED,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "novita",
        base_url: "https://api.novita.ai/v3/openai",
        api_key_env: &["NOVITA_API_KEY"],
        api_base_env: &["NOVITA_API_BASE"],
        key_required: true,
        endpoints: CHAT,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "nvidia_nim",
        base_url: "https://integrate.api.nvidia.com/v1",
        api_key_env: &["NVIDIA_NIM_API_KEY"],
        api_base_env: &["NVIDIA_NIM_API_BASE"],
        key_required: true,
        endpoints: CHAT_EMBED,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "openrouter",
        base_url: "https://openrouter.ai/api/v1",
        api_key_env: &["OPENROUTER_API_KEY", "OR_API_KEY"],
        api_base_env: &["OPENROUTER_API_BASE"],
        key_required: true,
        endpoints: CHAT,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "perplexity",
        base_url: "https://api.perplexity.ai",
        api_key_env: &["PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"],
        api_base_env: &["PERPLEXITY_API_BASE"],
        key_required: true,
        endpoints: &[Chat],
        dialect: Dialect::Standard,
    },
    Preset {
        name: "sambanova",
        base_url: "https://api.sambanova.ai/v1",
        api_key_env: &["SAMBANOVA_API_KEY"],
        api_base_env: &["SAMBANOVA_API_BASE"],
        key_required: true,
        endpoints: CHAT_EMBED,
        dialect: Dialect::Standard,
    },
    Preset {
        name: "together_ai",
        // Together's docs now use the api.together.ai host; LiteLLM still
        // defaults to https://api.together.xyz/v1.
        base_url: "https://api.together.ai/v1",
        api_key_env: &[
            "TOGETHER_API_KEY",
            "TOGETHER_AI_API_KEY",
            "TOGETHERAI_API_KEY",
            "TOGETHER_AI_TOKEN",
        ],
        api_base_env: &["TOGETHER_AI_API_BASE", "TOGETHERAI_API_BASE"],
        key_required: true,
        endpoints: &[Chat, Embeddings, Models, Images],
        dialect: Dialect::Standard,
    },
    // Voyage AI: embeddings and rerank only, in its own dialect.
    Preset {
        name: "voyage",
        base_url: "https://api.voyageai.com/v1",
        api_key_env: &["VOYAGE_API_KEY", "VOYAGE_AI_API_KEY", "VOYAGE_AI_TOKEN"],
        api_base_env: &["VOYAGE_API_BASE"],
        key_required: true,
        endpoints: &[Embeddings, Rerank],
        dialect: Dialect::Voyage,
    },
    Preset {
        name: "xai",
        base_url: "https://api.x.ai/v1",
        api_key_env: &["XAI_API_KEY"],
        api_base_env: &["XAI_API_BASE"],
        key_required: true,
        endpoints: &[Chat, Models, Images],
        dialect: Dialect::Standard,
    },
];

/// The preset named `name` (`openai` included).
pub fn preset(name: &str) -> Option<&'static Preset> {
    if name == OPENAI.name {
        return Some(&OPENAI);
    }
    PRESETS.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_well_formed() {
        let names: Vec<_> = PRESETS.iter().map(|p| p.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            names, sorted,
            "presets must be sorted by name, no duplicates"
        );
        for p in PRESETS {
            assert!(!p.api_key_env.is_empty(), "{}", p.name);
            // Chat, or a vendor of embeddings / rerank only (jina_ai).
            assert!(
                p.endpoints.contains(&Endpoint::Chat) || p.endpoints.contains(&Endpoint::Rerank),
                "{}",
                p.name
            );
            assert!(!p.base_url.ends_with('/'), "{}", p.name);
            assert!(p.key_required || !p.name.is_empty());
            if !p.base_url.is_empty() {
                assert!(p.base_url.starts_with("http"), "{}", p.name);
            }
        }
    }

    /// The table as checked against each vendor's reference and LiteLLM's
    /// provider code (sources in docs/providers/openai-compatible.md). A change
    /// to a row must change this list, on purpose.
    #[test]
    fn table_matches_the_checked_sources() {
        type Row = (
            &'static str,
            &'static str,
            &'static [&'static str],
            &'static [&'static str],
        );
        let want: &[Row] = &[
            (
                "cerebras",
                "https://api.cerebras.ai/v1",
                &["CEREBRAS_API_KEY"],
                &["CEREBRAS_API_BASE"],
            ),
            (
                "dashscope",
                "https://dashscope.aliyuncs.com/compatible-mode/v1",
                &["DASHSCOPE_API_KEY"],
                &["DASHSCOPE_API_BASE"],
            ),
            (
                "deepinfra",
                "https://api.deepinfra.com/v1/openai",
                &["DEEPINFRA_API_KEY"],
                &["DEEPINFRA_API_BASE"],
            ),
            (
                "deepseek",
                "https://api.deepseek.com/v1",
                &["DEEPSEEK_API_KEY"],
                &["DEEPSEEK_API_BASE"],
            ),
            (
                "featherless_ai",
                "https://api.featherless.ai/v1",
                &["FEATHERLESS_API_KEY", "FEATHERLESS_AI_API_KEY"],
                &["FEATHERLESS_API_BASE", "FEATHERLESS_AI_API_BASE"],
            ),
            (
                "fireworks_ai",
                "https://api.fireworks.ai/inference/v1",
                &[
                    "FIREWORKS_API_KEY",
                    "FIREWORKS_AI_API_KEY",
                    "FIREWORKSAI_API_KEY",
                    "FIREWORKS_AI_TOKEN",
                ],
                &["FIREWORKS_API_BASE", "FIREWORKS_AI_API_BASE"],
            ),
            (
                "github",
                "https://models.github.ai/inference",
                &["GITHUB_API_KEY", "GITHUB_TOKEN"],
                &["GITHUB_API_BASE"],
            ),
            (
                "groq",
                "https://api.groq.com/openai/v1",
                &["GROQ_API_KEY"],
                &["GROQ_API_BASE"],
            ),
            (
                "hosted_vllm",
                "",
                &["HOSTED_VLLM_API_KEY"],
                &["HOSTED_VLLM_API_BASE"],
            ),
            (
                "huggingface",
                "https://router.huggingface.co/v1",
                &["HF_TOKEN", "HUGGINGFACE_API_KEY"],
                &["HF_API_BASE", "HUGGINGFACE_API_BASE"],
            ),
            (
                "hyperbolic",
                "https://api.hyperbolic.xyz/v1",
                &["HYPERBOLIC_API_KEY"],
                &["HYPERBOLIC_API_BASE"],
            ),
            (
                "jina_ai",
                "https://api.jina.ai/v1",
                &["JINA_AI_API_KEY"],
                &["JINA_AI_API_BASE"],
            ),
            (
                "llamafile",
                "http://127.0.0.1:8080/v1",
                &["LLAMAFILE_API_KEY"],
                &["LLAMAFILE_API_BASE"],
            ),
            (
                "lm_studio",
                "http://localhost:1234/v1",
                &["LM_STUDIO_API_KEY"],
                &["LM_STUDIO_API_BASE"],
            ),
            (
                "mistral",
                "https://api.mistral.ai/v1",
                &["MISTRAL_API_KEY", "MISTRAL_AZURE_API_KEY"],
                &["MISTRAL_API_BASE", "MISTRAL_AZURE_API_BASE"],
            ),
            (
                "moonshot",
                "https://api.moonshot.ai/v1",
                &["MOONSHOT_API_KEY"],
                &["MOONSHOT_API_BASE"],
            ),
            (
                "nebius",
                "https://api.tokenfactory.nebius.com/v1",
                &["NEBIUS_API_KEY"],
                &["NEBIUS_API_BASE"],
            ),
            (
                "novita",
                "https://api.novita.ai/v3/openai",
                &["NOVITA_API_KEY"],
                &["NOVITA_API_BASE"],
            ),
            (
                "nvidia_nim",
                "https://integrate.api.nvidia.com/v1",
                &["NVIDIA_NIM_API_KEY"],
                &["NVIDIA_NIM_API_BASE"],
            ),
            (
                "openrouter",
                "https://openrouter.ai/api/v1",
                &["OPENROUTER_API_KEY", "OR_API_KEY"],
                &["OPENROUTER_API_BASE"],
            ),
            (
                "perplexity",
                "https://api.perplexity.ai",
                &["PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"],
                &["PERPLEXITY_API_BASE"],
            ),
            (
                "sambanova",
                "https://api.sambanova.ai/v1",
                &["SAMBANOVA_API_KEY"],
                &["SAMBANOVA_API_BASE"],
            ),
            (
                "together_ai",
                "https://api.together.ai/v1",
                &[
                    "TOGETHER_API_KEY",
                    "TOGETHER_AI_API_KEY",
                    "TOGETHERAI_API_KEY",
                    "TOGETHER_AI_TOKEN",
                ],
                &["TOGETHER_AI_API_BASE", "TOGETHERAI_API_BASE"],
            ),
            (
                "voyage",
                "https://api.voyageai.com/v1",
                &["VOYAGE_API_KEY", "VOYAGE_AI_API_KEY", "VOYAGE_AI_TOKEN"],
                &["VOYAGE_API_BASE"],
            ),
            (
                "xai",
                "https://api.x.ai/v1",
                &["XAI_API_KEY"],
                &["XAI_API_BASE"],
            ),
        ];
        let got: Vec<Row> = PRESETS
            .iter()
            .map(|p| (p.name, p.base_url, p.api_key_env, p.api_base_env))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            (OPENAI.base_url, OPENAI.api_key_env, OPENAI.api_base_env),
            (
                "https://api.openai.com/v1",
                &["OPENAI_API_KEY"][..],
                &["OPENAI_BASE_URL", "OPENAI_API_BASE"][..]
            )
        );
    }

    /// Regression: together_ai read its base URL from TOGETHERAI_API_BASE and
    /// fireworks_ai from FIREWORKS_AI_API_BASE, names LiteLLM does not use
    /// (it reads TOGETHER_AI_API_BASE and FIREWORKS_API_BASE), so a LiteLLM
    /// user's override was silently ignored.
    #[test]
    fn litellm_base_and_key_env_names_are_honoured() {
        use crate::OpenAiProvider;
        use llmux_core::{MapEnv, ProviderParams};
        let cases = [
            ("together_ai", "TOGETHER_AI_API_BASE", "TOGETHER_AI_TOKEN"),
            ("fireworks_ai", "FIREWORKS_API_BASE", "FIREWORKS_AI_TOKEN"),
            (
                "featherless_ai",
                "FEATHERLESS_API_BASE",
                "FEATHERLESS_API_KEY",
            ),
            ("mistral", "MISTRAL_AZURE_API_BASE", "MISTRAL_AZURE_API_KEY"),
        ];
        for (name, base_var, key_var) in cases {
            let env = MapEnv::new([
                (base_var, "http://127.0.0.1:9/custom/v1".to_string()),
                (key_var, "k".to_string()),
            ]);
            let provider =
                OpenAiProvider::from_params(name, &ProviderParams::default(), &env).unwrap();
            assert_eq!(
                provider.url(Endpoint::Chat, "m").unwrap(),
                "http://127.0.0.1:9/custom/v1/chat/completions",
                "{name}"
            );
        }
        // The missing-key error names the variable LiteLLM reads first.
        let err = OpenAiProvider::from_params(
            "together_ai",
            &ProviderParams::default(),
            &MapEnv::default(),
        )
        .unwrap_err();
        assert!(err.message.contains("TOGETHER_API_KEY"), "{}", err.message);
    }
}
