//! # llmux-cost
//!
//! Money for llmux: what a call cost, what a model can take, how many tokens
//! a prompt is. Depends on `llmux-core` only; the gateway (`llmux-proxy`)
//! and the CLI compose it.
//!
//! - **Price table** ([`PriceTable`]): every chat, completion, responses and
//!   embedding model of LiteLLM's `model_prices_and_context_window.json`
//!   (input/output, cache read/write, reasoning, audio, image, batch /
//!   priority / flex tiers, above-200k-style context tiers, context window,
//!   `supports_*` flags), converted by `cargo xtask prices` into llmux's own
//!   compact format and embedded in the crate. Load a LiteLLM-format file on
//!   top with [`PriceTable::load_litellm_file`]; per-deployment prices
//!   (`input_cost_per_token`, … in `litellm_params`) with [`PriceOverride`].
//! - **Exact money** ([`Cost`], [`Rate`]): integer femto-dollars, converted
//!   to the gateway's integer nano-dollars ([`Cost::nano`]) or a float for
//!   display ([`Cost::usd`]) only at the edge.
//! - **Cost** ([`cost_per_token`], [`completion_cost`], [`embedding_cost`]):
//!   cached tokens (read and write), reasoning, audio and image tokens,
//!   service tiers and context tiers. A model without a price is an error
//!   ([`CostError::NoPrice`]), never a silent 0.
//! - **Tokens** ([`token_counter`], feature `tokenizer`, on by default):
//!   tiktoken-rs with OpenAI's per-message and tool-definition overhead.
//!
//! Not here: deciding what to do with a cost (budgets, spend logs, headers
//! are the gateway's), fetching prices from the network (the table ships
//! with the crate; regenerate it with `cargo xtask prices`).
//!
//! ```
//! use llmux_core::types::chat::Usage;
//! let usage = Usage::new(1_000, 500);
//! let cost = llmux_cost::cost_per_token("openai/gpt-4o", &usage).unwrap();
//! // 1000 × $2.50/1M + 500 × $10/1M = $0.0075
//! assert_eq!(cost.total().nano(), 7_500_000);
//! assert_eq!(cost.total().to_string(), "$0.0075");
//! ```

mod calc;
mod litellm;
mod model;
mod money;
/// The generated table (`cargo xtask prices`): one line per model, sorted by key.
mod prices_data;
mod table;
#[cfg(feature = "tokenizer")]
mod tokens;

use llmux_core::types::chat::{ChatCompletion, Usage};
use llmux_core::types::embeddings::EmbeddingUsage;

pub use calc::{CostBreakdown, CostOptions};
pub use litellm::{model_info_from_litellm, parse_litellm_json, parse_price_key, PriceOverride};
pub use model::{Capability, Mode, ModelInfo, PriceCell, PriceField, RateCard, ServiceTier};
pub use money::{Cost, Rate, FEMTO_PER_NANO, FEMTO_PER_USD};
pub use table::{provider_family, PriceTable};
#[cfg(feature = "tokenizer")]
pub use tokens::{count_messages, count_tools, token_counter, tokenizer_for, Encoding, TokenInput};

/// What can go wrong pricing a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// The model is in no price table and the deployment sets no price.
    #[error("no price for {model}: it is not in llmux's price table; set input_cost_per_token/output_cost_per_token for the deployment or load a LiteLLM-format prices file")]
    NoPrice {
        /// The model string as it was looked up.
        model: String,
    },
    /// The model is known but lacks a price this call needs.
    #[error("no price for {model}: {price} is not known and this call uses it")]
    MissingPrice {
        /// Key of the price table entry the model resolved to.
        model: String,
        /// LiteLLM name of the missing price field (e.g. `output_cost_per_token`).
        price: &'static str,
    },
    /// The response carries no usage to price.
    #[error("cannot price a call to {model}: the response has no usage")]
    NoUsage {
        /// Key of the price table entry the call was priced against.
        model: String,
    },
    /// A prices file could not be read.
    #[error("cannot read prices file {path}: {message}")]
    Io {
        /// The prices file's path as given.
        path: String,
        /// The operating system's error text.
        message: String,
    },
    /// A prices file or the table is malformed.
    #[error("invalid prices in {source_name}: {message}")]
    InvalidPrices {
        /// Where the prices came from: a file path, `LiteLLM JSON` or `price table`.
        source_name: String,
        /// What is wrong, naming the entry where known.
        message: String,
    },
}

/// Cost of a call to `model` with `usage`, from the embedded table, at the
/// standard tier. See [`ModelInfo::cost_per_token`] for the rules.
pub fn cost_per_token(model: &str, usage: &Usage) -> Result<CostBreakdown, CostError> {
    PriceTable::embedded()
        .lookup(model)?
        .cost_per_token(usage, &CostOptions::default())
}

/// Cost of a chat completion from `model` (the model string the call was
/// routed to; the response's own `model` may be a dated alias), at the
/// response's `service_tier`.
pub fn completion_cost(model: &str, response: &ChatCompletion) -> Result<CostBreakdown, CostError> {
    PriceTable::embedded()
        .lookup(model)?
        .completion_cost(response, &CostOptions::default())
}

/// Cost of an embeddings call.
pub fn embedding_cost(model: &str, usage: &EmbeddingUsage) -> Result<CostBreakdown, CostError> {
    PriceTable::embedded()
        .lookup(model)?
        .embedding_cost(usage, &CostOptions::default())
}

/// Prices, context window and capabilities of `model` from the embedded table.
pub fn get_model_info(model: &str) -> Result<&'static ModelInfo, CostError> {
    PriceTable::embedded().lookup(model)
}
