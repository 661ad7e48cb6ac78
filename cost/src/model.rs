//! What llmux knows about a model: prices, context window, capabilities.

use std::borrow::Cow;

use crate::money::Rate;

/// One priced quantity. Token fields are per token; [`PriceField::InputImage`]
/// and [`PriceField::OutputImage`] are per image, [`PriceField::InputQuery`]
/// per rerank query (search unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PriceField {
    /// Uncached text prompt tokens (`input_cost_per_token`).
    Input,
    /// Text completion tokens (`output_cost_per_token`).
    Output,
    /// Prompt tokens read from the provider's cache (`cache_read_input_token_cost`).
    CacheRead,
    /// Prompt tokens written to the cache (`cache_creation_input_token_cost`).
    CacheWrite,
    /// Prompt tokens written to a one-hour cache (`cache_creation_input_token_cost_above_1hr`).
    CacheWrite1h,
    /// Reasoning tokens (`output_cost_per_reasoning_token`); output price when absent.
    Reasoning,
    /// Audio prompt tokens (`input_cost_per_audio_token`).
    InputAudio,
    /// Audio completion tokens (`output_cost_per_audio_token`).
    OutputAudio,
    /// Audio prompt tokens read from the cache (`cache_read_input_audio_token_cost`).
    CacheReadAudio,
    /// Image prompt tokens (`input_cost_per_image_token`).
    InputImageToken,
    /// Image completion tokens (`output_cost_per_image_token`).
    OutputImageToken,
    /// Per input image (`input_cost_per_image`).
    InputImage,
    /// Per generated image (`output_cost_per_image`).
    OutputImage,
    /// Per rerank query, Cohere's search unit (`input_cost_per_query`).
    InputQuery,
}

/// Number of [`PriceField`]s.
pub(crate) const PRICE_FIELDS: usize = 14;

impl PriceField {
    /// Every field, in table order.
    pub const ALL: [PriceField; PRICE_FIELDS] = [
        PriceField::Input,
        PriceField::Output,
        PriceField::CacheRead,
        PriceField::CacheWrite,
        PriceField::CacheWrite1h,
        PriceField::Reasoning,
        PriceField::InputAudio,
        PriceField::OutputAudio,
        PriceField::CacheReadAudio,
        PriceField::InputImageToken,
        PriceField::OutputImageToken,
        PriceField::InputImage,
        PriceField::OutputImage,
        PriceField::InputQuery,
    ];

    /// The key LiteLLM's JSON uses for the standard-tier price.
    pub fn litellm_key(self) -> &'static str {
        match self {
            PriceField::Input => "input_cost_per_token",
            PriceField::Output => "output_cost_per_token",
            PriceField::CacheRead => "cache_read_input_token_cost",
            PriceField::CacheWrite => "cache_creation_input_token_cost",
            PriceField::CacheWrite1h => "cache_creation_input_token_cost_above_1hr",
            PriceField::Reasoning => "output_cost_per_reasoning_token",
            PriceField::InputAudio => "input_cost_per_audio_token",
            PriceField::OutputAudio => "output_cost_per_audio_token",
            PriceField::CacheReadAudio => "cache_read_input_audio_token_cost",
            PriceField::InputImageToken => "input_cost_per_image_token",
            PriceField::OutputImageToken => "output_cost_per_image_token",
            PriceField::InputImage => "input_cost_per_image",
            PriceField::OutputImage => "output_cost_per_image",
            PriceField::InputQuery => "input_cost_per_query",
        }
    }

    /// The short name llmux's price table uses.
    pub fn code(self) -> &'static str {
        match self {
            PriceField::Input => "in",
            PriceField::Output => "out",
            PriceField::CacheRead => "cache_read",
            PriceField::CacheWrite => "cache_write",
            PriceField::CacheWrite1h => "cache_write_1h",
            PriceField::Reasoning => "reasoning",
            PriceField::InputAudio => "in_audio",
            PriceField::OutputAudio => "out_audio",
            PriceField::CacheReadAudio => "cache_read_audio",
            PriceField::InputImageToken => "in_image_token",
            PriceField::OutputImageToken => "out_image_token",
            PriceField::InputImage => "in_image",
            PriceField::OutputImage => "out_image",
            PriceField::InputQuery => "in_query",
        }
    }

    /// The field for a table code.
    pub fn from_code(code: &str) -> Option<PriceField> {
        Some(match code {
            "in" => PriceField::Input,
            "out" => PriceField::Output,
            "cache_read" => PriceField::CacheRead,
            "cache_write" => PriceField::CacheWrite,
            "cache_write_1h" => PriceField::CacheWrite1h,
            "reasoning" => PriceField::Reasoning,
            "in_audio" => PriceField::InputAudio,
            "out_audio" => PriceField::OutputAudio,
            "cache_read_audio" => PriceField::CacheReadAudio,
            "in_image_token" => PriceField::InputImageToken,
            "out_image_token" => PriceField::OutputImageToken,
            "in_image" => PriceField::InputImage,
            "out_image" => PriceField::OutputImage,
            "in_query" => PriceField::InputQuery,
            _ => return None,
        })
    }

    /// True for per-token prices (stored in USD per million tokens);
    /// false for per-image and per-query prices (stored in USD per unit).
    pub fn per_token(self) -> bool {
        !matches!(
            self,
            PriceField::InputImage | PriceField::OutputImage | PriceField::InputQuery
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The processing tier a call was billed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum ServiceTier {
    /// Default on-demand pricing.
    #[default]
    Standard,
    /// Batch API (`*_batches` prices; usually half).
    Batch,
    /// OpenAI `service_tier: "priority"` (and Gemini priority).
    Priority,
    /// OpenAI `service_tier: "flex"`.
    Flex,
}

impl ServiceTier {
    /// Every tier, in table order.
    pub const ALL: [ServiceTier; 4] = [
        ServiceTier::Standard,
        ServiceTier::Batch,
        ServiceTier::Priority,
        ServiceTier::Flex,
    ];

    /// The suffix LiteLLM appends to price keys.
    pub fn litellm_suffix(self) -> &'static str {
        match self {
            ServiceTier::Standard => "",
            ServiceTier::Batch => "_batches",
            ServiceTier::Priority => "_priority",
            ServiceTier::Flex => "_flex",
        }
    }

    /// The name used in llmux's price table (`@batch`).
    pub fn code(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Batch => "batch",
            ServiceTier::Priority => "priority",
            ServiceTier::Flex => "flex",
        }
    }

    /// The tier for a table code.
    pub fn from_code(code: &str) -> Option<ServiceTier> {
        ServiceTier::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The tier an OpenAI-shaped response's `service_tier` names: `priority`
    /// and `flex` are priced separately, everything else (`default`, `auto`,
    /// `scale`, absent) is standard.
    pub fn from_response(service_tier: Option<&str>) -> ServiceTier {
        match service_tier {
            Some("priority") => ServiceTier::Priority,
            Some("flex") => ServiceTier::Flex,
            _ => ServiceTier::Standard,
        }
    }
}

/// What kind of endpoint a model serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Chat completions (`/v1/chat/completions`).
    #[default]
    Chat,
    /// Legacy text completions (`/v1/completions`).
    Completion,
    /// Served only through OpenAI's Responses API.
    Responses,
    /// Embeddings (`/v1/embeddings`).
    Embedding,
    /// Rerank (`/rerank`).
    Rerank,
    /// Anything else (image generation, audio, …) or unstated.
    Other,
}

impl Mode {
    /// LiteLLM's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Chat => "chat",
            Mode::Completion => "completion",
            Mode::Responses => "responses",
            Mode::Embedding => "embedding",
            Mode::Rerank => "rerank",
            Mode::Other => "other",
        }
    }

    /// From LiteLLM's spelling (unknown → [`Mode::Other`]).
    pub fn parse(s: &str) -> Mode {
        match s {
            "chat" => Mode::Chat,
            "completion" => Mode::Completion,
            "responses" => Mode::Responses,
            "embedding" => Mode::Embedding,
            "rerank" => Mode::Rerank,
            _ => Mode::Other,
        }
    }
}

/// A `supports_*` capability flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Can call tools/functions (`supports_function_calling`).
    FunctionCalling,
    /// Can request several tool calls in one reply (`supports_parallel_function_calling`).
    ParallelFunctionCalling,
    /// Honours the `tool_choice` parameter (`supports_tool_choice`).
    ToolChoice,
    /// Accepts images in chat messages (`supports_vision`).
    Vision,
    /// Produces reasoning (thinking) output (`supports_reasoning`).
    Reasoning,
    /// Can constrain replies to a JSON schema via `response_format` (`supports_response_schema`).
    ResponseSchema,
    /// Can reuse a cached prompt prefix at a lower input price (`supports_prompt_caching`).
    PromptCaching,
    /// Accepts system messages (`supports_system_messages`).
    SystemMessages,
    /// Accepts PDF documents as input (`supports_pdf_input`).
    PdfInput,
    /// Can search the web while answering (`supports_web_search`).
    WebSearch,
    /// Accepts audio as input (`supports_audio_input`).
    AudioInput,
    /// Can produce audio output (`supports_audio_output`).
    AudioOutput,
    /// Supports the computer-use tool (`supports_computer_use`).
    ComputerUse,
    /// Continues a final assistant message given in the prompt (`supports_assistant_prefill`).
    AssistantPrefill,
    /// Streams natively rather than through a simulated stream (`supports_native_streaming`).
    NativeStreaming,
    /// Accepts video as input (`supports_video_input`).
    VideoInput,
    /// Can fetch and read URLs named in the prompt (`supports_url_context`).
    UrlContext,
    /// An embedding model that accepts images as input (`supports_embedding_image_input`).
    EmbeddingImageInput,
    /// The provider enforces structured output itself (`supports_native_structured_output`).
    NativeStructuredOutput,
    /// Accepts images as input (`supports_image_input`).
    ImageInput,
}

impl Capability {
    /// Every capability, in bit order (bit 0 first).
    pub const ALL: [Capability; 20] = [
        Capability::FunctionCalling,
        Capability::ParallelFunctionCalling,
        Capability::ToolChoice,
        Capability::Vision,
        Capability::Reasoning,
        Capability::ResponseSchema,
        Capability::PromptCaching,
        Capability::SystemMessages,
        Capability::PdfInput,
        Capability::WebSearch,
        Capability::AudioInput,
        Capability::AudioOutput,
        Capability::ComputerUse,
        Capability::AssistantPrefill,
        Capability::NativeStreaming,
        Capability::VideoInput,
        Capability::UrlContext,
        Capability::EmbeddingImageInput,
        Capability::NativeStructuredOutput,
        Capability::ImageInput,
    ];

    /// The LiteLLM key (`supports_vision`).
    pub fn litellm_key(self) -> &'static str {
        match self {
            Capability::FunctionCalling => "supports_function_calling",
            Capability::ParallelFunctionCalling => "supports_parallel_function_calling",
            Capability::ToolChoice => "supports_tool_choice",
            Capability::Vision => "supports_vision",
            Capability::Reasoning => "supports_reasoning",
            Capability::ResponseSchema => "supports_response_schema",
            Capability::PromptCaching => "supports_prompt_caching",
            Capability::SystemMessages => "supports_system_messages",
            Capability::PdfInput => "supports_pdf_input",
            Capability::WebSearch => "supports_web_search",
            Capability::AudioInput => "supports_audio_input",
            Capability::AudioOutput => "supports_audio_output",
            Capability::ComputerUse => "supports_computer_use",
            Capability::AssistantPrefill => "supports_assistant_prefill",
            Capability::NativeStreaming => "supports_native_streaming",
            Capability::VideoInput => "supports_video_input",
            Capability::UrlContext => "supports_url_context",
            Capability::EmbeddingImageInput => "supports_embedding_image_input",
            Capability::NativeStructuredOutput => "supports_native_structured_output",
            Capability::ImageInput => "supports_image_input",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Prices of one (service tier, context tier) cell; `None` = not priced there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateCard {
    rates: [Option<Rate>; PRICE_FIELDS],
}

impl RateCard {
    /// The price of `field` in this cell.
    pub fn get(&self, field: PriceField) -> Option<Rate> {
        self.rates[field.index()]
    }

    /// Set (or clear) the price of `field`.
    pub fn set(&mut self, field: PriceField, rate: Option<Rate>) {
        self.rates[field.index()] = rate;
    }

    /// `(field, rate)` for every priced field.
    pub fn iter(&self) -> impl Iterator<Item = (PriceField, Rate)> + '_ {
        PriceField::ALL
            .into_iter()
            .filter_map(|f| self.get(f).map(|r| (f, r)))
    }

    /// True when nothing is priced.
    pub fn is_empty(&self) -> bool {
        self.rates.iter().all(Option::is_none)
    }
}

/// The prices that apply to one service tier above one prompt size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceCell {
    /// The service tier.
    pub tier: ServiceTier,
    /// These prices apply when the prompt has more than this many tokens
    /// (0 = the base prices). LiteLLM's `*_above_200k_tokens` keys and
    /// `tiered_pricing` ranges.
    pub above_tokens: u64,
    /// The prices.
    pub rates: RateCard,
}

/// Everything llmux knows about one model: `get_model_info`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelInfo {
    /// The table key (`gpt-4o`, `azure/gpt-4o`, `anthropic.claude-3-haiku-20240307-v1:0`).
    pub key: Cow<'static, str>,
    /// LiteLLM's `litellm_provider` (`openai`, `bedrock_converse`, `vertex_ai-language-models`).
    pub provider: Cow<'static, str>,
    /// Endpoint kind.
    pub mode: Mode,
    /// Context window for the prompt.
    pub max_input_tokens: Option<u64>,
    /// Longest completion.
    pub max_output_tokens: Option<u64>,
    /// LiteLLM's legacy `max_tokens` (often the output limit).
    pub max_tokens: Option<u64>,
    pub(crate) capabilities: u32,
    /// Sorted by (above_tokens, tier); at most one cell per pair.
    pub(crate) cells: Vec<PriceCell>,
}

impl ModelInfo {
    /// An entry with no prices.
    pub fn new(key: impl Into<Cow<'static, str>>, provider: impl Into<Cow<'static, str>>) -> Self {
        ModelInfo {
            key: key.into(),
            provider: provider.into(),
            ..Default::default()
        }
    }

    /// Whether LiteLLM's data says the model supports `cap`.
    pub fn supports(&self, cap: Capability) -> bool {
        self.capabilities & cap.bit() != 0
    }

    /// Mark `cap` as supported (or not).
    pub fn set_supports(&mut self, cap: Capability, yes: bool) {
        if yes {
            self.capabilities |= cap.bit();
        } else {
            self.capabilities &= !cap.bit();
        }
    }

    /// Every supported capability.
    pub fn capabilities(&self) -> impl Iterator<Item = Capability> + '_ {
        Capability::ALL.into_iter().filter(|c| self.supports(*c))
    }

    pub(crate) fn capability_bits(&self) -> u32 {
        self.capabilities
    }

    /// The price cells, base first.
    pub fn cells(&self) -> &[PriceCell] {
        &self.cells
    }

    /// The price of `field` exactly as stored for `tier` above `above_tokens`
    /// (no fallback).
    pub fn price(&self, field: PriceField, tier: ServiceTier, above_tokens: u64) -> Option<Rate> {
        self.cell(tier, above_tokens)
            .and_then(|c| c.rates.get(field))
    }

    /// The standard base price of `field` (`input_cost_per_token` etc.).
    pub fn base_price(&self, field: PriceField) -> Option<Rate> {
        self.price(field, ServiceTier::Standard, 0)
    }

    /// Set one price; `None` removes it.
    pub fn set_price(
        &mut self,
        field: PriceField,
        tier: ServiceTier,
        above_tokens: u64,
        rate: Option<Rate>,
    ) {
        let key = (above_tokens, tier);
        match self
            .cells
            .binary_search_by(|c| (c.above_tokens, c.tier).cmp(&key))
        {
            Ok(i) => {
                self.cells[i].rates.set(field, rate);
                if self.cells[i].rates.is_empty() {
                    self.cells.remove(i);
                }
            }
            Err(i) => {
                if rate.is_some() {
                    let mut rates = RateCard::default();
                    rates.set(field, rate);
                    self.cells.insert(
                        i,
                        PriceCell {
                            tier,
                            above_tokens,
                            rates,
                        },
                    );
                }
            }
        }
    }

    /// True when the model has no price at all.
    pub fn is_unpriced(&self) -> bool {
        self.cells.is_empty()
    }

    /// Copy every price, limit and capability `other` states over this entry.
    pub fn apply(&mut self, other: &ModelInfo) {
        for cell in &other.cells {
            for (field, rate) in cell.rates.iter() {
                self.set_price(field, cell.tier, cell.above_tokens, Some(rate));
            }
        }
        if other.max_input_tokens.is_some() {
            self.max_input_tokens = other.max_input_tokens;
        }
        if other.max_output_tokens.is_some() {
            self.max_output_tokens = other.max_output_tokens;
        }
        if other.max_tokens.is_some() {
            self.max_tokens = other.max_tokens;
        }
        self.capabilities |= other.capabilities;
    }

    fn cell(&self, tier: ServiceTier, above_tokens: u64) -> Option<&PriceCell> {
        let key = (above_tokens, tier);
        self.cells
            .binary_search_by(|c| (c.above_tokens, c.tier).cmp(&key))
            .ok()
            .map(|i| &self.cells[i])
    }

    /// The context tier a prompt of `prompt_tokens` falls in: the largest
    /// `above_tokens` it exceeds (or reaches, when `inclusive`), else 0.
    pub(crate) fn context_tier(&self, prompt_tokens: u64, inclusive: bool) -> u64 {
        self.cells
            .iter()
            .map(|c| c.above_tokens)
            .filter(|&t| t > 0 && (prompt_tokens > t || (inclusive && prompt_tokens == t)))
            .max()
            .unwrap_or(0)
    }

    /// The price of `field` for a call billed at `tier` whose prompt falls in
    /// context tier `above` (see [`ModelInfo::context_tier`]), falling back
    /// like LiteLLM: tier price above the threshold, standard price above the
    /// threshold, tier base price, standard base price.
    pub(crate) fn resolve(&self, field: PriceField, tier: ServiceTier, above: u64) -> Option<Rate> {
        let mut order = [
            (tier, above),
            (ServiceTier::Standard, above),
            (tier, 0),
            (ServiceTier::Standard, 0),
        ];
        if above == 0 {
            order[1] = (ServiceTier::Standard, 0);
        }
        order.into_iter().find_map(|(t, a)| self.price(field, t, a))
    }
}
