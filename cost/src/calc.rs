//! Cost of one call from its token usage.

use llmux_core::types::chat::{ChatCompletion, Usage};
use llmux_core::types::embeddings::EmbeddingUsage;
use serde_json::Value;

use crate::model::{ModelInfo, PriceField, ServiceTier};
use crate::money::{Cost, Rate};
use crate::CostError;

/// How a call was billed, beyond its usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostOptions {
    /// The service tier; `None` = standard for [`ModelInfo::cost_per_token`],
    /// the response's `service_tier` for `completion_cost`.
    pub service_tier: Option<ServiceTier>,
}

impl CostOptions {
    /// Options billing at `tier`.
    pub fn tier(tier: ServiceTier) -> CostOptions {
        CostOptions {
            service_tier: Some(tier),
        }
    }
}

/// The cost of one call, by kind of token. Every part is exact; sum with
/// [`CostBreakdown::total`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostBreakdown {
    /// Uncached text prompt tokens.
    pub input: Cost,
    /// Prompt tokens read from the provider's cache.
    pub cache_read: Cost,
    /// Prompt tokens written to the provider's cache.
    pub cache_write: Cost,
    /// Audio prompt tokens.
    pub input_audio: Cost,
    /// Image prompt tokens.
    pub input_image: Cost,
    /// Text completion tokens.
    pub output: Cost,
    /// Reasoning tokens.
    pub reasoning: Cost,
    /// Audio completion tokens.
    pub output_audio: Cost,
    /// Image completion tokens.
    pub output_image: Cost,
    /// Rerank queries (search units).
    pub queries: Cost,
}

impl CostBreakdown {
    /// Everything on the prompt side (LiteLLM's `prompt_tokens_cost_usd_dollar`).
    pub fn prompt(&self) -> Cost {
        self.input
            + self.cache_read
            + self.cache_write
            + self.input_audio
            + self.input_image
            + self.queries
    }

    /// Everything on the completion side.
    pub fn completion(&self) -> Cost {
        self.output + self.reasoning + self.output_audio + self.output_image
    }

    /// The whole call.
    pub fn total(&self) -> Cost {
        self.prompt() + self.completion()
    }
}

/// A token count from a `*_tokens_details` extra field (`image_tokens`, …).
fn extra_count(extra: &serde_json::Map<String, Value>, key: &str) -> u64 {
    extra.get(key).and_then(Value::as_u64).unwrap_or(0)
}

struct Pricer<'a> {
    info: &'a ModelInfo,
    tier: ServiceTier,
    above: u64,
}

impl Pricer<'_> {
    /// The rate for `field`, falling back through `fallbacks` (other fields),
    /// or an error naming what is missing.
    fn rate(&self, field: PriceField, fallbacks: &[PriceField]) -> Result<Rate, CostError> {
        std::iter::once(field)
            .chain(fallbacks.iter().copied())
            .find_map(|f| self.info.resolve(f, self.tier, self.above))
            .ok_or_else(|| CostError::MissingPrice {
                model: self.info.key.to_string(),
                price: field.litellm_key(),
            })
    }

    /// `tokens` at `field`'s rate; no rate is needed for zero tokens.
    fn cost(
        &self,
        tokens: u64,
        field: PriceField,
        fallbacks: &[PriceField],
    ) -> Result<Cost, CostError> {
        if tokens == 0 {
            return Ok(Cost::ZERO);
        }
        Ok(self.rate(field, fallbacks)?.times(tokens))
    }
}

impl ModelInfo {
    /// The cost of a call with `usage`, following OpenAI's usage conventions:
    ///
    /// - `prompt_tokens` counts every prompt token, including
    ///   `prompt_tokens_details.cached_tokens` (cache reads),
    ///   `cache_creation_tokens` (cache writes) and `audio_tokens`; what is
    ///   left is billed at the input price.
    /// - `completion_tokens` counts reasoning and audio tokens too; when a
    ///   breakdown is present the text remainder is billed at the output price.
    /// - Cache reads use `cache_read_input_token_cost`, cache writes
    ///   `cache_creation_input_token_cost` (the one-hour price for the part
    ///   `cache_creation_token_details.ephemeral_1h_input_tokens` names);
    ///   a missing special price falls back to the plain input/output price,
    ///   never to zero.
    /// - Above a context threshold (`*_above_200k_tokens`) every price of the
    ///   call switches to the higher tier, as the providers bill.
    pub fn cost_per_token(
        &self,
        usage: &Usage,
        opts: &CostOptions,
    ) -> Result<CostBreakdown, CostError> {
        use PriceField::*;
        let inclusive = self.provider == "xai";
        let p = Pricer {
            info: self,
            tier: opts.service_tier.unwrap_or_default(),
            above: self.context_tier(usage.prompt_tokens, inclusive),
        };

        let (cached, created, audio_in, image_in, created_1h) = match &usage.prompt_tokens_details {
            Some(d) => (
                d.cached_tokens.unwrap_or(0),
                d.cache_creation_tokens.unwrap_or(0),
                d.audio_tokens.unwrap_or(0),
                extra_count(&d.extra, "image_tokens"),
                d.extra
                    .get("cache_creation_token_details")
                    .and_then(|v| v.get("ephemeral_1h_input_tokens"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
            ),
            None => (0, 0, 0, 0, 0),
        };
        let created_1h = created_1h.min(created);
        let text_in = usage
            .prompt_tokens
            .saturating_sub(cached)
            .saturating_sub(created)
            .saturating_sub(audio_in)
            .saturating_sub(image_in);

        let mut out = CostBreakdown {
            input: p.cost(text_in, Input, &[])?,
            cache_read: p.cost(cached, CacheRead, &[Input])?,
            cache_write: p.cost(created - created_1h, CacheWrite, &[Input])?
                + p.cost(created_1h, CacheWrite1h, &[CacheWrite, Input])?,
            input_audio: p.cost(audio_in, InputAudio, &[Input])?,
            input_image: p.cost(image_in, InputImageToken, &[Input])?,
            ..Default::default()
        };

        let (reasoning, audio_out, image_out) = match &usage.completion_tokens_details {
            Some(d) => (
                d.reasoning_tokens.unwrap_or(0),
                d.audio_tokens.unwrap_or(0),
                extra_count(&d.extra, "image_tokens"),
            ),
            None => (0, 0, 0),
        };
        let text_out = usage
            .completion_tokens
            .saturating_sub(reasoning)
            .saturating_sub(audio_out)
            .saturating_sub(image_out);
        out.output = p.cost(text_out, Output, &[])?;
        out.reasoning = p.cost(reasoning, Reasoning, &[Output])?;
        out.output_audio = p.cost(audio_out, OutputAudio, &[Output])?;
        out.output_image = p.cost(image_out, OutputImageToken, &[Output])?;
        Ok(out)
    }

    /// The cost of a chat completion from its `usage`, at the response's
    /// `service_tier` unless `opts` names one. No usage is an error, not 0.
    pub fn completion_cost(
        &self,
        response: &ChatCompletion,
        opts: &CostOptions,
    ) -> Result<CostBreakdown, CostError> {
        let usage = response.usage.as_ref().ok_or_else(|| CostError::NoUsage {
            model: self.key.to_string(),
        })?;
        let opts = CostOptions {
            service_tier: opts.service_tier.or(Some(ServiceTier::from_response(
                response.service_tier.as_deref(),
            ))),
        };
        self.cost_per_token(usage, &opts)
    }

    /// The cost of a rerank call: its queries (Cohere's search units) at
    /// `input_cost_per_query` and its tokens at `input_cost_per_token`, as
    /// LiteLLM bills them. A model priced by neither is an error, not 0.
    pub fn rerank_cost(
        &self,
        queries: u64,
        tokens: u64,
        opts: &CostOptions,
    ) -> Result<CostBreakdown, CostError> {
        let p = Pricer {
            info: self,
            tier: opts.service_tier.unwrap_or_default(),
            above: 0,
        };
        let priced_per_query = p.rate(PriceField::InputQuery, &[]).is_ok();
        let out = CostBreakdown {
            queries: if priced_per_query {
                p.cost(queries, PriceField::InputQuery, &[])?
            } else {
                Cost::ZERO
            },
            input: if priced_per_query {
                // Token prices of per-query models are 0 in LiteLLM's data;
                // a missing one is no error for them.
                p.rate(PriceField::Input, &[])
                    .map_or(Cost::ZERO, |r| r.times(tokens))
            } else {
                p.rate(PriceField::Input, &[])?.times(tokens)
            },
            ..Default::default()
        };
        Ok(out)
    }

    /// The cost of an embeddings call (prompt tokens at the input price).
    pub fn embedding_cost(
        &self,
        usage: &EmbeddingUsage,
        opts: &CostOptions,
    ) -> Result<CostBreakdown, CostError> {
        self.cost_per_token(&Usage::new(usage.prompt_tokens, 0), opts)
    }
}
