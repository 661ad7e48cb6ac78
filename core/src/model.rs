//! Model strings: `provider/model`.
//!
//! The part before the first `/` names the provider when it is one the caller
//! knows (`openrouter/anthropic/claude-3.5-sonnet` is provider `openrouter`,
//! model `anthropic/claude-3.5-sonnet`). A bare name is accepted only when its
//! family belongs to exactly one provider's first-party API (`gpt-4o` →
//! `openai`, `claude-…` → `anthropic`); anything else is an error that lists
//! the prefixes, so nothing is silently sent to the wrong vendor.

use crate::error::{Error, Result};

/// A model string split into provider prefix and provider-side model name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelRef<'a> {
    /// Provider prefix, e.g. `groq`.
    pub provider: &'a str,
    /// The model name the provider knows, e.g. `llama-3.3-70b-versatile`.
    pub model: &'a str,
}

/// Bare-name families that belong to one provider, as (name prefix, provider).
const BARE_NAME_RULES: &[(&str, &str)] = &[
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4-", "openai"),
    ("text-embedding-", "openai"),
    ("dall-e-", "openai"),
    ("whisper-", "openai"),
    ("tts-", "openai"),
    ("omni-moderation-", "openai"),
    ("text-moderation-", "openai"),
    ("davinci-002", "openai"),
    ("babbage-002", "openai"),
    ("claude-", "anthropic"),
    ("command-", "cohere"),
    ("mistral-", "mistral"),
    ("open-mistral-", "mistral"),
    ("codestral-", "mistral"),
    ("pixtral-", "mistral"),
    ("deepseek-chat", "deepseek"),
    ("deepseek-reasoner", "deepseek"),
    ("grok-", "xai"),
];

/// The provider a bare model name unambiguously belongs to, if any.
pub fn infer_provider(bare: &str) -> Option<&'static str> {
    if bare.contains('/') {
        return None;
    }
    BARE_NAME_RULES
        .iter()
        .find(|(prefix, _)| {
            // `o1`, `o3` must be the whole name or followed by `-`.
            if prefix.len() == 2 {
                bare == *prefix || bare.starts_with(&format!("{prefix}-"))
            } else {
                bare.starts_with(prefix)
            }
        })
        .map(|(_, provider)| *provider)
}

impl<'a> ModelRef<'a> {
    /// Split `model` using the provider prefixes in `known`.
    pub fn parse(model: &'a str, known: &[&str]) -> Result<ModelRef<'a>> {
        let model = model.trim();
        if model.is_empty() {
            return Err(Error::bad_request("model is empty").with_param("model"));
        }
        if let Some((prefix, rest)) = model.split_once('/') {
            if known.contains(&prefix) {
                if rest.is_empty() {
                    return Err(Error::bad_request(format!(
                        "model '{model}' names provider '{prefix}' but no model after the '/'"
                    ))
                    .with_param("model"));
                }
                return Ok(ModelRef {
                    provider: prefix,
                    model: rest,
                });
            }
        }
        if let Some(provider) = infer_provider(model) {
            return Ok(ModelRef { provider, model });
        }
        Err(provider_not_provided(model, known))
    }
}

/// The error for a model string whose provider cannot be told.
pub fn provider_not_provided(model: &str, known: &[&str]) -> Error {
    let mut names: Vec<&str> = known.to_vec();
    names.sort_unstable();
    Error::bad_request(format!(
        "LLM provider not provided for model '{model}'. Pass it as provider/model, \
         e.g. openai/gpt-4o or groq/llama-3.3-70b-versatile. Known providers: {}",
        names.join(", ")
    ))
    .with_param("model")
    .with_code("llm_provider_not_provided")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["openai", "groq", "openrouter", "anthropic"];

    #[test]
    fn splits_at_the_first_slash_of_a_known_prefix() {
        assert_eq!(
            ModelRef::parse("openrouter/anthropic/claude-3.5-sonnet", KNOWN).unwrap(),
            ModelRef {
                provider: "openrouter",
                model: "anthropic/claude-3.5-sonnet"
            }
        );
        assert_eq!(
            ModelRef::parse("groq/llama-3.3-70b-versatile", KNOWN).unwrap(),
            ModelRef {
                provider: "groq",
                model: "llama-3.3-70b-versatile"
            }
        );
    }

    #[test]
    fn infers_only_unambiguous_bare_names() {
        assert_eq!(ModelRef::parse("gpt-4o", KNOWN).unwrap().provider, "openai");
        assert_eq!(
            ModelRef::parse("o3-mini", KNOWN).unwrap().provider,
            "openai"
        );
        assert_eq!(ModelRef::parse("o1", KNOWN).unwrap().provider, "openai");
        assert_eq!(
            ModelRef::parse("claude-sonnet-4-5", KNOWN)
                .unwrap()
                .provider,
            "anthropic"
        );
        for ambiguous in [
            "llama-3.3-70b",
            "gemini-2.5-pro",
            "o1x",
            "meta-llama/Llama-3",
        ] {
            let err = ModelRef::parse(ambiguous, KNOWN).unwrap_err();
            assert_eq!(err.status(), 400);
            assert!(
                err.message.contains("LLM provider not provided")
                    && err.message.contains("anthropic, groq, openai, openrouter"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn empty_model_after_prefix_is_an_error() {
        let err = ModelRef::parse("groq/", KNOWN).unwrap_err();
        assert!(err.message.contains("no model after"));
        assert!(ModelRef::parse("  ", KNOWN).is_err());
    }
}
