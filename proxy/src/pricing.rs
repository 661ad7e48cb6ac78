//! What a call costs, in integer nano-dollars: the real cost of an answered
//! call (from its usage), and the worst case of a call about to be sent (for
//! budget reservations).
//!
//! Prices come from `llmux-cost`'s embedded table, with a deployment's own
//! `input_cost_per_token` / `output_cost_per_token` (litellm_params or
//! model_info) laid over it. A model with no price costs `None` — never a
//! silent zero; the gateway logs it once and records the call with no cost.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use llmux_core::endpoint::Call;
use llmux_core::types::chat::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage};
use llmux_core::types::rerank::RerankResponse;
use llmux_cost::{CostOptions, ModelInfo, PriceOverride, PriceTable};
use llmux_router::{RouteInfo, Router};

/// Output tokens assumed for the worst case when a request sets no
/// `max_tokens` and the model's limit is unknown.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4096;

/// Distinct unpriced models warned about at most (see [`Pricing::warn_once`]).
const MAX_WARNED_MODELS: usize = 1024;

/// Prices of every deployment, by deployment id and by model group.
#[derive(Default)]
pub struct Pricing {
    by_deployment: HashMap<String, ModelInfo>,
    by_group: HashMap<String, Vec<ModelInfo>>,
    warned: Mutex<HashSet<String>>,
    unpriced: Vec<String>,
}

impl std::fmt::Debug for Pricing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pricing")
            .field("deployments", &self.by_deployment.len())
            .finish()
    }
}

fn table() -> &'static PriceTable {
    PriceTable::embedded()
}

impl Pricing {
    /// Resolve the price of every deployment of `router` once, at start.
    pub fn from_router(router: &Router) -> Pricing {
        let mut p = Pricing::default();
        for d in router.deployments() {
            let over = match (d.spec.input_cost_per_token, d.spec.output_cost_per_token) {
                (None, None) => None,
                (i, o) => Some(PriceOverride::per_token(i.unwrap_or(0.0), o.unwrap_or(0.0))),
            };
            let model = d.spec.price_model.as_deref().unwrap_or(&d.spec.model);
            let Ok(info) = table().resolve(model, over.as_ref()) else {
                // Wildcard groups resolve per call; anything else is named at start.
                if !d.spec.model.ends_with('*') {
                    p.unpriced
                        .push(format!("{} ({})", d.spec.group, d.spec.model));
                }
                continue;
            };
            let info = info.into_owned();
            p.by_group
                .entry(d.spec.group.clone())
                .or_default()
                .push(info.clone());
            p.by_deployment.insert(d.spec.id.clone(), info);
        }
        p
    }

    /// Deployments (`group (model)`) the price table does not know and that
    /// set no price: their calls are recorded at $0.
    pub fn unpriced(&self) -> &[String] {
        &self.unpriced
    }

    /// The price entry that served `route`.
    fn info_for(&self, route: &RouteInfo) -> Option<Cow<'_, ModelInfo>> {
        if let Some(info) = self.by_deployment.get(&route.deployment_id) {
            return Some(Cow::Borrowed(info));
        }
        let model = format!("{}/{}", route.provider, route.upstream_model);
        match table().lookup(&model) {
            Ok(info) => Some(Cow::Borrowed(info)),
            Err(e) => {
                self.warn_once(&model, &e.to_string());
                None
            }
        }
    }

    /// Warn about an unpriced model once. Pass-through callers name models
    /// themselves, so the set of models warned about is bounded
    /// ([`MAX_WARNED_MODELS`]); past it, one last warning says so.
    fn warn_once(&self, model: &str, why: &str) {
        let model = llmux_core::text::truncate(model, 256);
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.contains(model) || warned.len() > MAX_WARNED_MODELS {
            return;
        }
        if warned.len() == MAX_WARNED_MODELS {
            warned.insert(String::new());
            tracing::warn!("{MAX_WARNED_MODELS} unpriced models warned about; further ones are recorded without a cost silently");
            return;
        }
        warned.insert(model.to_string());
        tracing::warn!(model, "{why}: its calls are recorded without a cost; set input_cost_per_token/output_cost_per_token on the deployment to price it");
    }

    /// Cost of an answered call; `None` when its model has no price.
    /// Cache hits cost nothing.
    pub fn cost(&self, route: &RouteInfo, usage: &Usage) -> Option<i64> {
        if route.cache_hit {
            return Some(0);
        }
        let info = self.info_for(route)?;
        match info.cost_per_token(usage, &CostOptions::default()) {
            Ok(c) => Some(c.total().nano()),
            Err(e) => {
                self.warn_once(&info.key, &e.to_string());
                None
            }
        }
    }

    /// The cost of a rerank call of `queries` search units and `tokens`
    /// tokens (see [`rerank_units`]), like [`Pricing::cost`].
    pub fn rerank_cost(&self, route: &RouteInfo, queries: u64, tokens: u64) -> Option<i64> {
        if route.cache_hit {
            return Some(0);
        }
        let info = self.info_for(route)?;
        match info.rerank_cost(queries, tokens, &CostOptions::default()) {
            Ok(c) => Some(c.total().nano()),
            Err(e) => {
                self.warn_once(&info.key, &e.to_string());
                None
            }
        }
    }

    /// The most `call` to `group` can cost on any of the group's deployments:
    /// its prompt tokens (counted with the model's own tokenizer when
    /// llmux has it, else bounded by the prompt's byte length) plus its output
    /// limit (`max_tokens`, else the model's, else 4096), at the model's prices.
    pub fn worst_case(&self, group: &str, call: &Call) -> i64 {
        let fallback;
        let infos: &[ModelInfo] = match self.by_group.get(group) {
            Some(v) => v,
            None => match table().lookup(group) {
                Ok(info) => {
                    fallback = [info.clone()];
                    &fallback
                }
                Err(_) => return 0,
            },
        };
        infos
            .iter()
            .filter_map(|info| match call {
                Call::Rerank(r) => {
                    let (queries, tokens) = rerank_bounds(r);
                    info.rerank_cost(queries, tokens, &CostOptions::default())
                        .ok()
                }
                _ => info
                    .cost_per_token(&bounds(info, call), &CostOptions::default())
                    .ok(),
            })
            .map(|c| c.total().nano())
            .max()
            .unwrap_or(0)
    }
}

impl Pricing {
    /// The most a pass-through call to `model` (`provider/model`, as the
    /// price table names it) can cost: a token per byte of its
    /// `prompt_bytes`, plus its output limit (else the model's, else 4096);
    /// 0 for a model without a price.
    pub fn worst_case_model(&self, model: &str, prompt_bytes: u64, max_output: Option<u64>) -> i64 {
        let Ok(info) = table().lookup(model) else {
            return 0;
        };
        let output = max_output
            .or(info.max_output_tokens)
            .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS);
        info.cost_per_token(&Usage::new(prompt_bytes, output), &CostOptions::default())
            .map_or(0, |c| c.total().nano())
    }
}

/// Upper bounds of a call's usage on the model `info`.
fn bounds(info: &ModelInfo, call: &Call) -> Usage {
    match call {
        Call::Chat(r) | Call::ChatStream(r) => {
            Usage::new(prompt_tokens(&info.key, r), max_output(info, r))
        }
        Call::Messages(m) | Call::MessagesStream(m) => {
            Usage::new(prompt_tokens(&info.key, &m.chat), max_output(info, &m.chat))
        }
        Call::Embeddings(r) => Usage::new(
            serde_json::to_vec(&r.input).map_or(0, |v| v.len() as u64),
            0,
        ),
        _ => Usage::new(0, 0),
    }
}

/// Upper bounds of a rerank call's (queries, tokens): a search unit per
/// 100 documents (Cohere's unit), and the query read once per document plus
/// every document, at most a token per byte (Voyage's count).
fn rerank_bounds(r: &llmux_core::types::rerank::RerankRequest) -> (u64, u64) {
    let docs = r.documents.len() as u64;
    let doc_bytes: u64 = r.documents.iter().map(|d| d.text().len() as u64).sum();
    let tokens = (r.query.len() as u64).saturating_mul(docs.max(1)) + doc_bytes;
    (docs.div_ceil(100).max(1), tokens)
}

fn prompt_tokens(model: &str, r: &ChatCompletionRequest) -> u64 {
    let (encoding, exact) = llmux_cost::tokenizer_for(model);
    if exact {
        let tools = r.tools.as_deref().unwrap_or_default();
        return llmux_cost::count_messages(encoding, &r.messages)
            + llmux_cost::count_tools(encoding, tools);
    }
    // A BPE token covers at least one byte.
    let messages = serde_json::to_vec(&r.messages).map_or(0, |v| v.len());
    let tools = r
        .tools
        .as_ref()
        .and_then(|t| serde_json::to_vec(t).ok())
        .map_or(0, |v| v.len());
    (messages + tools) as u64
}

fn max_output(info: &ModelInfo, r: &ChatCompletionRequest) -> u64 {
    let per_choice = r
        .max_output_tokens()
        .map(u64::from)
        .or(info.max_output_tokens)
        .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS);
    per_choice.saturating_mul(u64::from(r.n.unwrap_or(1).max(1)))
}

/// A rough prompt size, taken before a call is sent, for the rare reply that
/// comes back without `usage`: the characters of every text part, and the
/// number of messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromptSize {
    /// UTF-8 bytes of the messages' text content (non-text parts are not counted).
    pub chars: u64,
    /// Number of messages in the request.
    pub messages: u64,
}

impl PromptSize {
    /// Measure the prompt of chat request `r`.
    pub fn of(r: &ChatCompletionRequest) -> PromptSize {
        use llmux_core::types::chat::{ChatMessage, ContentPart, MessageContent};
        let content_len = |c: &MessageContent| -> usize {
            match c {
                MessageContent::Text(t) => t.len(),
                MessageContent::Parts(parts) => parts
                    .iter()
                    .map(|p| match p {
                        ContentPart::Text(t) => t.text.len(),
                        _ => 0,
                    })
                    .sum(),
            }
        };
        let chars: usize = r
            .messages
            .iter()
            .map(|m| match m {
                ChatMessage::System(s) | ChatMessage::Developer(s) => content_len(&s.content),
                ChatMessage::User(u) => content_len(&u.content),
                ChatMessage::Assistant(a) => a.content.as_ref().map_or(0, content_len),
                ChatMessage::Tool(t) => content_len(&t.content),
                ChatMessage::Function(f) => f.content.as_ref().map_or(0, String::len),
            })
            .sum();
        PromptSize {
            chars: chars as u64,
            messages: r.messages.len() as u64,
        }
    }
}

/// The usage of one chat reply, whole or streamed: what the provider
/// reported, or — for a provider that reports none (some OpenAI-compatible
/// servers ignore `stream_options.include_usage`) and for a stream cut short
/// — an estimate, so no served call is recorded as free. The estimate counts
/// the prompt at about 4 characters a token plus OpenAI's 3 tokens per
/// message and 3 for the reply, and the completion's text (content, refusal,
/// reasoning, tool-call names and arguments) with the model's tokenizer
/// (`cl100k_base` where llmux has none), the same way for a stream as for
/// the same reply whole.
#[derive(Debug, Default)]
pub struct UsageTracker {
    model: String,
    prompt: PromptSize,
    reported: Option<Usage>,
    completion_text: String,
    /// The estimate, once made: a stream's end needs it twice (the client's
    /// usage chunk and the spend row), and it runs the tokenizer.
    estimate: Option<Usage>,
}

impl UsageTracker {
    /// For a call to `model` (the upstream model, for its tokenizer).
    pub fn new(model: &str, prompt: PromptSize) -> UsageTracker {
        UsageTracker {
            model: model.to_string(),
            prompt,
            reported: None,
            completion_text: String::new(),
            estimate: None,
        }
    }

    /// Take in one streamed chunk.
    pub fn observe_chunk(&mut self, chunk: &ChatCompletionChunk) {
        if let Some(u) = &chunk.usage {
            self.reported = Some(u.clone());
        }
        if self.reported.is_some() {
            return; // the text is only needed for an estimate
        }
        self.estimate = None;
        for c in &chunk.choices {
            let d = &c.delta;
            let tools = d.tool_calls.iter().flatten();
            let tool_parts = tools
                .filter_map(|t| t.function.as_ref())
                .flat_map(|f| [&f.name, &f.arguments])
                .flatten();
            let parts = [&d.content, &d.refusal, &d.reasoning_content];
            self.push_text(parts.into_iter().flatten().chain(tool_parts));
        }
    }

    /// Take in a whole reply.
    pub fn observe_completion(&mut self, completion: &ChatCompletion) {
        if let Some(u) = &completion.usage {
            self.reported = Some(u.clone());
            return;
        }
        self.estimate = None;
        for c in &completion.choices {
            let m = &c.message;
            let tool_parts = m
                .tool_calls
                .iter()
                .flatten()
                .flat_map(|t| [&t.function.name, &t.function.arguments]);
            let parts = [&m.content, &m.refusal, &m.reasoning_content];
            self.push_text(parts.into_iter().flatten().chain(tool_parts));
        }
    }

    /// Append a reply's text (content, refusal, reasoning, tool-call names
    /// and arguments) to what an estimate counts.
    fn push_text<'a>(&mut self, parts: impl Iterator<Item = &'a String>) {
        for part in parts {
            self.completion_text.push_str(part);
        }
    }

    /// Take in usage the provider reported outside a chat shape.
    pub fn report(&mut self, usage: Usage) {
        self.reported = Some(usage);
    }

    /// Take in generated text of a reply that is not chat-shaped (Responses
    /// events), for the estimate.
    pub fn observe_text(&mut self, text: &str) {
        if self.reported.is_none() {
            self.estimate = None;
            self.completion_text.push_str(text);
        }
    }

    /// Whether the provider reported usage.
    pub fn is_reported(&self) -> bool {
        self.reported.is_some()
    }

    /// The reported usage, or the estimate.
    pub fn usage(&mut self) -> Usage {
        if let Some(u) = &self.reported {
            return u.clone();
        }
        let PromptSize { chars, messages } = self.prompt;
        let (model, text) = (&self.model, &self.completion_text);
        self.estimate
            .get_or_insert_with(|| {
                let prompt_tokens = chars.div_ceil(4) + 3 * messages + 3;
                Usage::new(prompt_tokens, llmux_cost::token_counter(model, text))
            })
            .clone()
    }
}

/// What a rerank answer is billed on: (queries, tokens). Queries are
/// Cohere's `meta.billed_units.search_units` (one when the provider does not
/// say); tokens are `meta.tokens.input_tokens`, else the billed units'
/// `input_tokens` or `total_tokens` (Voyage), else a top-level
/// `usage.total_tokens` (Jina), else 0.
pub fn rerank_units(r: &RerankResponse) -> (u64, u64) {
    let meta = r.meta.as_ref();
    let billed = meta.and_then(|m| m.billed_units.as_ref());
    let queries = billed.and_then(|b| b.search_units).unwrap_or(1);
    let tokens = meta
        .and_then(|m| m.tokens.as_ref())
        .and_then(|t| t.get("input_tokens"))
        .and_then(serde_json::Value::as_u64)
        .or_else(|| billed.and_then(|b| b.input_tokens))
        .or_else(|| {
            billed
                .and_then(|b| b.extra.get("total_tokens"))
                .and_then(serde_json::Value::as_u64)
        })
        .or_else(|| {
            r.extra
                .get("usage")
                .and_then(|u| u.get("total_tokens"))
                .and_then(serde_json::Value::as_u64)
        })
        .unwrap_or(0);
    (queries, tokens)
}

/// The usage (in chat's shape) and cost of a non-chat reply.
pub(crate) fn reply_cost(
    pricing: &Pricing,
    route: &RouteInfo,
    reply: &llmux_core::endpoint::Reply,
) -> (Option<llmux_core::types::chat::Usage>, Option<i64>) {
    use llmux_core::types::chat::Usage;
    match reply {
        llmux_core::endpoint::Reply::Embeddings(e) => {
            let usage = Usage {
                prompt_tokens: e.usage.prompt_tokens,
                total_tokens: e.usage.total_tokens,
                ..Default::default()
            };
            let cost = pricing.cost(route, &usage);
            (Some(usage), cost)
        }
        llmux_core::endpoint::Reply::Rerank(r) => {
            let (queries, tokens) = rerank_units(r);
            let cost = pricing.rerank_cost(route, queries, tokens);
            (Some(Usage::new(tokens, 0)), cost)
        }
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pass-through callers name models: the set of unpriced models warned
    /// about must not grow with them.
    #[test]
    fn warnings_about_unpriced_models_are_bounded() {
        let p = Pricing::default();
        for i in 0..3 * MAX_WARNED_MODELS {
            p.warn_once(&format!("nobody/model-{i}"), "no price");
        }
        p.warn_once(&"x".repeat(10_000), "no price");
        let warned = p.warned.lock().unwrap();
        assert_eq!(warned.len(), MAX_WARNED_MODELS + 1);
        assert!(warned.iter().all(|m| m.len() <= 256));
    }
}
