//! What a call costs, in integer nano-dollars: the real cost of an answered
//! call (from its usage), and the worst case of a call about to be sent (for
//! budget reservations).
//!
//! Prices come from the deployment's own `input_cost_per_token` /
//! `output_cost_per_token` (litellm_params or model_info) when set.

use std::collections::HashMap;

use llmux_core::endpoint::Call;
use llmux_core::types::chat::{ChatCompletionRequest, Usage};
use llmux_router::{RouteInfo, Router};

/// Output tokens assumed for the worst case when a request sets no
/// `max_tokens` and the model's limit is unknown.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4096;

/// Per-token prices of one deployment, USD.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Prices {
    input: f64,
    output: f64,
}

impl Prices {
    fn cost_nano(&self, prompt: u64, completion: u64) -> i64 {
        let usd = prompt as f64 * self.input + completion as f64 * self.output;
        (usd * 1e9).round() as i64
    }
}

/// Prices of every deployment, by deployment id and by model group.
#[derive(Debug, Default)]
pub struct Pricing {
    by_deployment: HashMap<String, Prices>,
    by_group: HashMap<String, Vec<Prices>>,
}

impl Pricing {
    /// The prices the router's deployments carry.
    pub fn from_router(router: &Router) -> Pricing {
        let mut p = Pricing::default();
        for d in router.deployments() {
            let (Some(input), Some(output)) =
                (d.spec.input_cost_per_token, d.spec.output_cost_per_token)
            else {
                continue;
            };
            let prices = Prices { input, output };
            p.by_deployment.insert(d.spec.id.clone(), prices);
            p.by_group
                .entry(d.spec.group.clone())
                .or_default()
                .push(prices);
        }
        p
    }

    /// Cost of an answered call; `None` when its deployment has no price.
    /// Cache hits cost nothing.
    pub fn cost(&self, route: &RouteInfo, usage: &Usage) -> Option<i64> {
        if route.cache_hit {
            return Some(0);
        }
        let prices = self.by_deployment.get(&route.deployment_id)?;
        Some(prices.cost_nano(usage.prompt_tokens, usage.completion_tokens))
    }

    /// The most `call` to `group` can cost on any of the group's deployments,
    /// from an upper bound of its prompt tokens and its output limit.
    pub fn worst_case(&self, group: &str, call: &Call) -> i64 {
        let Some(prices) = self.by_group.get(group) else {
            return 0;
        };
        let (prompt, output) = bounds(call);
        prices
            .iter()
            .map(|p| p.cost_nano(prompt, output))
            .max()
            .unwrap_or(0)
    }
}

/// Upper bounds of (prompt tokens, output tokens) of a call. A BPE token
/// covers at least one byte, so the byte length of the messages bounds the
/// prompt's tokens from above.
fn bounds(call: &Call) -> (u64, u64) {
    match call {
        Call::Chat(r) | Call::ChatStream(r) => (prompt_bytes(r), max_output(r)),
        Call::Embeddings(r) => (
            serde_json::to_vec(&r.input).map_or(0, |v| v.len() as u64),
            0,
        ),
        _ => (0, 0),
    }
}

fn prompt_bytes(r: &ChatCompletionRequest) -> u64 {
    let messages = serde_json::to_vec(&r.messages).map_or(0, |v| v.len());
    let tools = r
        .tools
        .as_ref()
        .and_then(|t| serde_json::to_vec(t).ok())
        .map_or(0, |v| v.len());
    (messages + tools) as u64
}

fn max_output(r: &ChatCompletionRequest) -> u64 {
    let per_choice = r
        .max_completion_tokens
        .or(r.max_tokens)
        .map_or(DEFAULT_MAX_OUTPUT_TOKENS, u64::from);
    per_choice.saturating_mul(u64::from(r.n.unwrap_or(1).max(1)))
}
