//! Reading LiteLLM's `model_prices_and_context_window.json` format: whole
//! files (to extend or override the embedded table, and for `cargo xtask
//! prices`) and single entries (per-deployment prices in `litellm_params`).

use serde_json::{Map, Value};

use crate::model::{Capability, Mode, ModelInfo, PriceField, ServiceTier};
use crate::money::Rate;
use crate::CostError;

/// Price fields by LiteLLM base key, longest key first so that
/// `cache_creation_input_token_cost_above_1hr` wins over its prefix.
fn fields_longest_first() -> [PriceField; crate::model::PRICE_FIELDS] {
    let mut all = PriceField::ALL;
    all.sort_by_key(|f| std::cmp::Reverse(f.litellm_key().len()));
    all
}

/// Parse a LiteLLM price key (`input_cost_per_token_above_200k_tokens_priority`)
/// into (field, tier, above_tokens). `None` for keys llmux does not price
/// (per-second, per-character, search, regional multipliers, …).
pub fn parse_price_key(key: &str) -> Option<(PriceField, ServiceTier, u64)> {
    for field in fields_longest_first() {
        let Some(rest) = key.strip_prefix(field.litellm_key()) else {
            continue;
        };
        if let Some((tier, above)) = parse_suffix(rest) {
            return Some((field, tier, above));
        }
    }
    None
}

/// `""`, `"_batches"`, `"_above_200k_tokens"`, `"_above_272k_tokens_priority"`,
/// `"_priority_above_200k_tokens"`.
fn parse_suffix(mut rest: &str) -> Option<(ServiceTier, u64)> {
    let mut tier = ServiceTier::Standard;
    let mut above = 0u64;
    let mut seen_tier = false;
    let mut seen_above = false;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("_above_") {
            if seen_above {
                return None;
            }
            let end = r.find("_tokens")?;
            above = parse_threshold(&r[..end])?;
            rest = &r[end + "_tokens".len()..];
            seen_above = true;
            continue;
        }
        let t = ServiceTier::ALL
            .into_iter()
            .skip(1)
            .find(|t| rest.starts_with(t.litellm_suffix()))?;
        if seen_tier {
            return None;
        }
        tier = t;
        seen_tier = true;
        rest = &rest[t.litellm_suffix().len()..];
    }
    Some((tier, above))
}

/// `200k` → 200000, `128` → 128.
fn parse_threshold(s: &str) -> Option<u64> {
    match s.strip_suffix('k') {
        Some(n) => n.parse::<u64>().ok()?.checked_mul(1000),
        None => s.parse().ok(),
    }
}

/// A price value: a JSON number, or a numeric string as config.yaml may give.
fn rate_of(v: &Value) -> Option<Rate> {
    match v {
        Value::Number(n) => n.as_f64().and_then(Rate::from_usd),
        Value::String(s) => Rate::parse_usd(s),
        _ => None,
    }
}

fn tokens_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.is_finite())
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One entry of LiteLLM's JSON as a [`ModelInfo`]. Unknown keys are ignored;
/// `tiered_pricing` ranges become context tiers.
pub fn model_info_from_litellm(key: &str, entry: &Map<String, Value>) -> ModelInfo {
    let provider = entry
        .get("litellm_provider")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut info = ModelInfo::new(key.to_string(), provider);
    info.mode = entry
        .get("mode")
        .and_then(Value::as_str)
        .map(Mode::parse)
        .unwrap_or(Mode::Other);
    info.max_input_tokens = tokens_of(entry.get("max_input_tokens"));
    info.max_output_tokens = tokens_of(entry.get("max_output_tokens"));
    info.max_tokens = tokens_of(entry.get("max_tokens"));
    for cap in Capability::ALL {
        if entry.get(cap.litellm_key()).and_then(Value::as_bool) == Some(true) {
            info.set_supports(cap, true);
        }
    }
    for (k, v) in entry {
        if let Some((field, tier, above)) = parse_price_key(k) {
            if let Some(rate) = rate_of(v) {
                info.set_price(field, tier, above, Some(rate));
            }
        }
    }
    if let Some(Value::Array(tiers)) = entry.get("tiered_pricing") {
        for tier in tiers {
            let Some(t) = tier.as_object() else { continue };
            let start = t
                .get("range")
                .and_then(Value::as_array)
                .and_then(|r| r.first())
                .and_then(|v| tokens_of(Some(v)))
                .unwrap_or(0);
            for (k, v) in t {
                let Some((field, service, 0)) = parse_price_key(k) else {
                    continue;
                };
                let Some(rate) = rate_of(v) else { continue };
                // The first range's prices are the base prices unless the
                // entry states them itself.
                if start == 0 && info.price(field, service, 0).is_some() {
                    continue;
                }
                info.set_price(field, service, start, Some(rate));
            }
        }
    }
    info
}

/// Every entry of a LiteLLM price file (`sample_spec` skipped), in file order.
pub fn parse_litellm_json(text: &str) -> Result<Vec<ModelInfo>, CostError> {
    let root: Map<String, Value> =
        serde_json::from_str(text).map_err(|e| CostError::InvalidPrices {
            source_name: "LiteLLM JSON".into(),
            message: e.to_string(),
        })?;
    let mut out = Vec::with_capacity(root.len());
    for (key, v) in &root {
        if key == "sample_spec" {
            continue;
        }
        let Some(entry) = v.as_object() else {
            return Err(CostError::InvalidPrices {
                source_name: "LiteLLM JSON".into(),
                message: format!("entry {key:?} is not an object"),
            });
        };
        out.push(model_info_from_litellm(key, entry));
    }
    Ok(out)
}

/// Per-deployment prices from a deployment's `litellm_params` (or
/// `model_info`): `input_cost_per_token`, `output_cost_per_token`,
/// `cache_read_input_token_cost`, `cache_creation_input_token_cost`,
/// `output_cost_per_reasoning_token`, tier and threshold variants — every
/// price key LiteLLM's JSON has — plus `max_input_tokens`/`max_output_tokens`.
/// They override the table's entry for that deployment only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceOverride {
    pub(crate) info: ModelInfo,
}

impl PriceOverride {
    /// Pick the price keys out of `litellm_params`; other keys are ignored.
    pub fn from_litellm_params(params: &Map<String, Value>) -> PriceOverride {
        let mut info = model_info_from_litellm("", params);
        // Only what the deployment states; mode/provider come from the table.
        info.mode = Mode::Other;
        PriceOverride { info }
    }

    /// An override setting input and output prices (USD per token).
    pub fn per_token(input_usd: f64, output_usd: f64) -> PriceOverride {
        let mut o = PriceOverride::default();
        o.set(PriceField::Input, Rate::from_usd(input_usd));
        o.set(PriceField::Output, Rate::from_usd(output_usd));
        o
    }

    /// Set one standard-tier price.
    pub fn set(&mut self, field: PriceField, rate: Option<Rate>) -> &mut Self {
        self.info.set_price(field, ServiceTier::Standard, 0, rate);
        self
    }

    /// True when it states no price and no limit.
    pub fn is_empty(&self) -> bool {
        self.info.is_unpriced()
            && self.info.max_input_tokens.is_none()
            && self.info.max_output_tokens.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn price_keys() {
        use PriceField::*;
        use ServiceTier::*;
        let cases = [
            ("input_cost_per_token", Some((Input, Standard, 0))),
            ("output_cost_per_token_batches", Some((Output, Batch, 0))),
            (
                "cache_read_input_token_cost_flex",
                Some((CacheRead, Flex, 0)),
            ),
            (
                "cache_creation_input_token_cost_above_1hr",
                Some((CacheWrite1h, Standard, 0)),
            ),
            (
                "cache_creation_input_token_cost_above_1hr_above_200k_tokens",
                Some((CacheWrite1h, Standard, 200_000)),
            ),
            (
                "cache_creation_input_token_cost_above_272k_tokens",
                Some((CacheWrite, Standard, 272_000)),
            ),
            (
                "input_cost_per_token_above_272k_tokens_priority",
                Some((Input, Priority, 272_000)),
            ),
            (
                "input_cost_per_token_priority_above_200k_tokens",
                Some((Input, Priority, 200_000)),
            ),
            ("input_cost_per_image", Some((InputImage, Standard, 0))),
            (
                "input_cost_per_image_token",
                Some((InputImageToken, Standard, 0)),
            ),
            (
                "input_cost_per_image_above_128k_tokens",
                Some((InputImage, Standard, 128_000)),
            ),
            (
                "input_cost_per_audio_token_batches",
                Some((InputAudio, Batch, 0)),
            ),
            (
                "output_cost_per_reasoning_token",
                Some((Reasoning, Standard, 0)),
            ),
            ("input_cost_per_token_cache_hit", None),
            ("input_cost_per_token_ultrafast", None),
            ("output_cost_per_image_1K", None),
            ("input_cost_per_second", None),
            ("max_tokens", None),
        ];
        for (key, want) in cases {
            assert_eq!(parse_price_key(key), want, "{key}");
        }
    }

    #[test]
    fn entry_conversion() {
        let entry = json!({
            "input_cost_per_token": 1.25e-06,
            "input_cost_per_token_above_200k_tokens": 2.5e-06,
            "output_cost_per_token": 1e-05,
            "cache_read_input_token_cost": 1.25e-07,
            "input_cost_per_token_batches": "6.25e-07",
            "litellm_provider": "gemini",
            "max_input_tokens": 1048576,
            "max_output_tokens": 65536.0,
            "mode": "chat",
            "supports_vision": true,
            "supports_pdf_input": false,
            "search_context_cost_per_query": {"search_context_size_low": 0.035}
        });
        let info = model_info_from_litellm("gemini/x", entry.as_object().unwrap());
        assert_eq!(info.key, "gemini/x");
        assert_eq!(info.provider, "gemini");
        assert_eq!(info.mode, Mode::Chat);
        assert_eq!(info.max_input_tokens, Some(1_048_576));
        assert_eq!(info.max_output_tokens, Some(65_536));
        assert!(info.supports(Capability::Vision));
        assert!(!info.supports(Capability::PdfInput));
        assert_eq!(
            info.base_price(PriceField::Input),
            Some(Rate::from_femto(1_250_000_000))
        );
        assert_eq!(
            info.price(PriceField::Input, ServiceTier::Standard, 200_000),
            Some(Rate::from_femto(2_500_000_000))
        );
        assert_eq!(
            info.price(PriceField::Input, ServiceTier::Batch, 0),
            Some(Rate::from_femto(625_000_000))
        );
        assert_eq!(info.cells().len(), 3);
    }

    #[test]
    fn tiered_pricing_ranges_become_context_tiers() {
        let entry = json!({
            "litellm_provider": "dashscope",
            "mode": "chat",
            "tiered_pricing": [
                {"input_cost_per_token": 5e-08, "output_cost_per_token": 4e-07, "range": [0, 256000.0]},
                {"input_cost_per_token": 2.5e-07, "output_cost_per_token": 2e-06, "range": [256000.0, 1000000.0]}
            ]
        });
        let info = model_info_from_litellm("dashscope/q", entry.as_object().unwrap());
        assert_eq!(
            info.base_price(PriceField::Input),
            Some(Rate::from_femto(50_000_000))
        );
        assert_eq!(
            info.price(PriceField::Output, ServiceTier::Standard, 256_000),
            Some(Rate::from_femto(2_000_000_000))
        );
    }
}
