//! The price table: llmux's own compact format, embedded in the crate, plus
//! whatever LiteLLM-format files the user loads on top.
//!
//! # Format
//!
//! `cargo xtask prices` writes `cost/src/prices_data.rs`: a static array of
//! lines, one per model, sorted by key, so loading the table costs no
//! parsing at all (entries are parsed on first lookup). The same lines with
//! `#` comments are the text format [`PriceTable::parse`] reads. Each line has
//! eight tab-separated columns:
//!
//! ```text
//! key  provider  mode  max_input  max_output  max_tokens  capabilities  prices
//! ```
//!
//! Empty columns are absent values. `capabilities` is a hex bitset of
//! [`Capability::ALL`] (bit 0 = `supports_function_calling`). `prices` is a
//! space-separated list of `field[@tier][>tokens]=value`: `field` a
//! [`PriceField::code`], `tier` a [`ServiceTier::code`] (`batch`, `priority`,
//! `flex`; none = standard), `>tokens` the prompt size above which the price
//! applies. Values are exact decimals: **USD per million tokens** for token
//! fields (`in=2.5` is $2.50 / 1M input tokens), USD per image for
//! `in_image`/`out_image`. Example (`⇥` = tab):
//!
//! ```text
//! gpt-4o⇥openai⇥chat⇥128000⇥16384⇥16384⇥1ef⇥in=2.5 out=10 cache_read=1.25 in@batch=1.25 …
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use crate::litellm::{parse_litellm_json, PriceOverride};
use crate::model::{Capability, Mode, ModelInfo, PriceField, ServiceTier};
use crate::money::Rate;
use crate::CostError;

use crate::prices_data::{KEYS, LINES};

/// Model prices, context windows and capabilities, looked up by model string.
///
/// Loading the embedded table only indexes its lines (a few tens of
/// microseconds); an entry is parsed the first time it is looked up and kept.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    /// Sorted by key, keys unique.
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    key: Cow<'static, str>,
    /// The table line, until parsed.
    line: &'static str,
    /// Boxed so that an unparsed entry stays small (the index is what
    /// loading the table allocates).
    parsed: OnceLock<Box<ModelInfo>>,
}

impl Entry {
    fn info(&self) -> Result<&ModelInfo, CostError> {
        if let Some(info) = self.parsed.get() {
            return Ok(info);
        }
        let info = parse_line(self.line).map_err(|message| CostError::InvalidPrices {
            source_name: "price table".into(),
            message: format!("entry {}: {message}", self.key),
        })?;
        Ok(self.parsed.get_or_init(|| Box::new(info)))
    }

    fn parsed(info: ModelInfo) -> Entry {
        Entry {
            key: info.key.clone(),
            line: "",
            parsed: OnceLock::from(Box::new(info)),
        }
    }
}

impl PriceTable {
    /// The table embedded in this crate, indexed once on first use
    /// (see `benches/cost.rs` for what that costs).
    pub fn embedded() -> &'static PriceTable {
        static TABLE: OnceLock<PriceTable> = OnceLock::new();
        TABLE.get_or_init(|| PriceTable::from_lines(KEYS, LINES))
    }

    /// A freshly indexed embedded table, not the shared one (what
    /// [`PriceTable::embedded`] does once; for benchmarks).
    pub fn embedded_uncached() -> PriceTable {
        PriceTable::from_lines(KEYS, LINES)
    }

    /// A fresh copy of the embedded table, to extend with
    /// [`PriceTable::load_litellm_file`] or [`PriceTable::insert`].
    pub fn with_embedded() -> PriceTable {
        PriceTable::embedded().clone()
    }

    /// An empty table.
    pub fn empty() -> PriceTable {
        PriceTable::default()
    }

    /// Index a table in llmux's format (see the module docs). Lines are
    /// parsed lazily, on first lookup; a malformed line surfaces then as
    /// [`CostError::InvalidPrices`] (the embedded table is checked by tests).
    pub fn parse(text: &'static str) -> PriceTable {
        let mut entries: Vec<Entry> = Vec::with_capacity(text.len() / 100);
        let mut sorted = true;
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = line.split('\t').next().unwrap_or(line);
            if let Some(prev) = entries.last() {
                if prev.key.as_ref() >= key {
                    sorted = false;
                }
            }
            entries.push(Entry {
                key: Cow::Borrowed(key),
                line,
                parsed: OnceLock::new(),
            });
        }
        if !sorted {
            entries.sort_by(|a, b| a.key.cmp(&b.key));
            entries.dedup_by(|later, earlier| later.key == earlier.key);
        }
        PriceTable { entries }
    }

    /// Index lines already split and sorted by key (the embedded table),
    /// with their keys (generated beside them, so nothing is scanned).
    fn from_lines(keys: &'static [&'static str], lines: &'static [&'static str]) -> PriceTable {
        let entries: Vec<Entry> = keys
            .iter()
            .zip(lines)
            .map(|(key, line)| Entry {
                key: Cow::Borrowed(key),
                line,
                parsed: OnceLock::new(),
            })
            .collect();
        let sorted = entries.windows(2).all(|w| w[0].key < w[1].key);
        let mut table = PriceTable { entries };
        if !sorted {
            table.entries.sort_by(|a, b| a.key.cmp(&b.key));
            table
                .entries
                .dedup_by(|later, earlier| later.key == earlier.key);
        }
        table
    }

    /// Parse every entry now (instead of on first lookup), failing on the
    /// first malformed line.
    pub fn parse_all(&self) -> Result<(), CostError> {
        self.entries.iter().try_for_each(|e| e.info().map(|_| ()))
    }

    /// Number of models.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every model key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|e| e.key.as_ref())
    }

    /// Every model, sorted by key (parsing those not parsed yet; malformed
    /// lines are skipped — [`PriceTable::parse_all`] reports them).
    pub fn models(&self) -> impl Iterator<Item = &ModelInfo> + '_ {
        self.entries.iter().filter_map(|e| e.info().ok())
    }

    /// The entry stored under exactly `key`.
    pub fn get(&self, key: &str) -> Option<&ModelInfo> {
        self.entries
            .binary_search_by(|e| e.key.as_ref().cmp(key))
            .ok()
            .and_then(|i| self.entries[i].info().ok())
    }

    /// Add or replace the entry under `info.key`.
    pub fn insert(&mut self, info: ModelInfo) {
        match self
            .entries
            .binary_search_by(|e| e.key.as_ref().cmp(info.key.as_ref()))
        {
            Ok(i) => self.entries[i] = Entry::parsed(info),
            Err(i) => self.entries.insert(i, Entry::parsed(info)),
        }
    }

    /// Extend or override the table from LiteLLM's
    /// `model_prices_and_context_window.json` format: an entry for a key the
    /// table has **replaces** that entry (as LiteLLM's own
    /// `register_model` does); new keys are added.
    pub fn load_litellm_json(&mut self, text: &str) -> Result<usize, CostError> {
        let entries = parse_litellm_json(text)?;
        let n = entries.len();
        self.entries.reserve(n);
        for info in entries {
            self.insert(info);
        }
        Ok(n)
    }

    /// [`PriceTable::load_litellm_json`] from a file.
    pub fn load_litellm_file(&mut self, path: impl AsRef<Path>) -> Result<usize, CostError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| CostError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        self.load_litellm_json(&text).map_err(|e| match e {
            CostError::InvalidPrices { message, .. } => CostError::InvalidPrices {
                source_name: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Find the entry for a model string: `gpt-4o`, `openai/gpt-4o`,
    /// `azure/gpt-4o`, `bedrock/anthropic.claude-3-haiku-20240307-v1:0`,
    /// `bedrock/converse/us.anthropic…`, `vertex_ai/gemini-2.5-pro`,
    /// `gemini/gemini-2.5-pro`.
    ///
    /// Order: the exact key; then, for `provider/name`, the key `name` when
    /// its entry belongs to that provider (LiteLLM lists OpenAI, Anthropic,
    /// Bedrock and Vertex models without a prefix). A bare name never
    /// borrows another provider's price.
    pub fn lookup(&self, model: &str) -> Result<&ModelInfo, CostError> {
        if let Some(info) = self.get(model) {
            return Ok(info);
        }
        if let Some((provider, rest)) = model.split_once('/') {
            let fam = provider_family(provider);
            let mut candidates: Vec<&str> = vec![rest];
            // Bedrock route prefixes: bedrock/converse/…, bedrock/invoke/…
            for route in ["converse/", "invoke/", "converse_like/"] {
                if let Some(r) = rest.strip_prefix(route) {
                    candidates.push(r);
                }
            }
            for name in candidates {
                let prefixed = format!("{provider}/{name}");
                if name != rest {
                    if let Some(info) = self.get(&prefixed) {
                        return Ok(info);
                    }
                }
                if let Some(info) = self.get(name) {
                    if provider_family(&info.provider) == fam {
                        return Ok(info);
                    }
                }
            }
        }
        Err(CostError::NoPrice {
            model: model.to_string(),
        })
    }

    /// `get_model_info(model)`: [`PriceTable::lookup`] by another name.
    pub fn get_model_info(&self, model: &str) -> Result<&ModelInfo, CostError> {
        self.lookup(model)
    }

    /// The entry for `model` with a deployment's own prices applied on top.
    /// A model the table does not know is fine when the override prices it.
    pub fn resolve<'a>(
        &'a self,
        model: &str,
        overrides: Option<&PriceOverride>,
    ) -> Result<Cow<'a, ModelInfo>, CostError> {
        let Some(o) = overrides.filter(|o| !o.is_empty()) else {
            return self.lookup(model).map(Cow::Borrowed);
        };
        let mut info = match self.lookup(model) {
            Ok(i) => i.clone(),
            Err(_) if !o.info.is_unpriced() => {
                let mut i = ModelInfo::new(model.to_string(), provider_of(model).to_string());
                i.mode = Mode::Chat;
                i
            }
            Err(e) => return Err(e),
        };
        info.apply(&o.info);
        Ok(Cow::Owned(info))
    }

    /// The table as the generated Rust module `cargo xtask prices` writes
    /// (`cost/src/prices_data.rs`): the header as comments, then the lines
    /// of [`PriceTable::to_tsv`] as a static array of string literals.
    pub fn to_rust_module(&self, header: &str) -> String {
        let tsv = self.to_tsv(header);
        let mut out = String::with_capacity(tsv.len() + self.entries.len() * 8);
        out.push_str("// @generated by `cargo xtask prices`; do not edit by hand.\n");
        for line in tsv.lines().filter(|l| l.starts_with('#')) {
            let _ = writeln!(out, "//{}", line.trim_start_matches('#'));
        }
        out.push_str("\n/// One line per model, sorted by key (format in `table.rs`).\n#[rustfmt::skip]\npub(crate) static LINES: &[&str] = &[\n");
        for line in tsv.lines().filter(|l| !l.starts_with('#')) {
            let _ = writeln!(out, "{line:?},");
        }
        out.push_str("];\n\n/// The key (first column) of each line of [`LINES`].\n#[rustfmt::skip]\npub(crate) static KEYS: &[&str] = &[\n");
        for e in &self.entries {
            let _ = writeln!(out, "{:?},", e.key);
        }
        out.push_str("];\n");
        out
    }

    /// The table in llmux's line format (see the module docs).
    pub fn to_tsv(&self, header: &str) -> String {
        let mut out = String::with_capacity(self.entries.len() * 160);
        for line in header.lines() {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(
            out,
            "# columns: key, provider, mode, max_input, max_output, max_tokens, capabilities, prices"
        );
        let caps: Vec<&str> = Capability::ALL
            .iter()
            .map(|c| c.litellm_key().trim_start_matches("supports_"))
            .collect();
        let _ = writeln!(out, "# capabilities bits (0..): {}", caps.join(" "));
        let _ = writeln!(
            out,
            "# prices: field[@tier][>prompt_tokens]=USD per 1M tokens (in_image/out_image: USD per image)"
        );
        for m in self.models() {
            write_line(&mut out, m);
        }
        out
    }
}

/// The provider part of `provider/model` (empty for a bare name).
fn provider_of(model: &str) -> &str {
    model.split_once('/').map(|(p, _)| p).unwrap_or("")
}

/// LiteLLM spreads one provider over several `litellm_provider` names
/// (`bedrock_converse`, `vertex_ai-language-models`, `text-completion-openai`,
/// `cohere_chat`); this is the name a model string's prefix uses.
pub fn provider_family(provider: &str) -> &str {
    match provider {
        "bedrock" | "bedrock_converse" | "bedrock_mantle" => "bedrock",
        "text-completion-openai" | "openai" | "chatgpt" => "openai",
        "cohere" | "cohere_chat" => "cohere",
        "azure" | "azure_text" => "azure",
        "text-completion-codestral" | "codestral" => "codestral",
        "amazon_nova" | "amazon-nova" => "amazon_nova",
        p if p.starts_with("vertex_ai") => "vertex_ai",
        p if p.starts_with("fireworks_ai") => "fireworks_ai",
        p => p,
    }
}

fn write_line(out: &mut String, m: &ModelInfo) {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let _ = write!(
        out,
        "{}\t{}\t{}\t{}\t{}\t{}\t{:x}\t",
        m.key,
        m.provider,
        m.mode.as_str(),
        opt(m.max_input_tokens),
        opt(m.max_output_tokens),
        opt(m.max_tokens),
        m.capability_bits()
    );
    let mut first = true;
    for cell in m.cells() {
        for (field, rate) in cell.rates.iter() {
            if !first {
                out.push(' ');
            }
            first = false;
            out.push_str(field.code());
            if cell.tier != ServiceTier::Standard {
                out.push('@');
                out.push_str(cell.tier.code());
            }
            if cell.above_tokens > 0 {
                let _ = write!(out, ">{}", cell.above_tokens);
            }
            out.push('=');
            if field.per_token() {
                out.push_str(&rate.format_usd_per_million());
            } else {
                out.push_str(&rate.format_usd());
            }
        }
    }
    out.push('\n');
}

fn parse_line(line: &'static str) -> Result<ModelInfo, String> {
    let mut cols = line.split('\t');
    let mut next = |name: &str| cols.next().ok_or_else(|| format!("missing column {name}"));
    let key = next("key")?;
    let provider = next("provider")?;
    let mode = next("mode")?;
    let max_in = next("max_input")?;
    let max_out = next("max_output")?;
    let max_tokens = next("max_tokens")?;
    let caps = next("capabilities")?;
    let prices = next("prices")?;
    if key.is_empty() {
        return Err("empty key".into());
    }
    let num = |s: &str, name: &str| -> Result<Option<u64>, String> {
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| format!("bad {name} {s:?}"))
        }
    };
    let mut info = ModelInfo {
        key: Cow::Borrowed(key),
        provider: Cow::Borrowed(provider),
        mode: Mode::parse(mode),
        max_input_tokens: num(max_in, "max_input")?,
        max_output_tokens: num(max_out, "max_output")?,
        max_tokens: num(max_tokens, "max_tokens")?,
        capabilities: u32::from_str_radix(caps, 16)
            .map_err(|_| format!("bad capabilities {caps:?}"))?,
        cells: Vec::new(),
    };
    for item in prices.split(' ').filter(|s| !s.is_empty()) {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| format!("bad price {item:?}"))?;
        let (name, above) = match name.split_once('>') {
            Some((n, a)) => (
                n,
                a.parse()
                    .map_err(|_| format!("bad threshold in {item:?}"))?,
            ),
            None => (name, 0u64),
        };
        let (code, tier) = match name.split_once('@') {
            Some((c, t)) => (
                c,
                ServiceTier::from_code(t).ok_or_else(|| format!("bad tier in {item:?}"))?,
            ),
            None => (name, ServiceTier::Standard),
        };
        let field = PriceField::from_code(code).ok_or_else(|| format!("bad field in {item:?}"))?;
        let rate = if field.per_token() {
            Rate::parse_usd_per_million(value)
        } else {
            Rate::parse_usd(value)
        }
        .ok_or_else(|| format!("bad value in {item:?}"))?;
        info.set_price(field, tier, above, Some(rate));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_parses_and_round_trips() {
        let table = PriceTable::embedded().clone();
        table.parse_all().unwrap();
        assert!(table.len() > 3000, "{}", table.len());
        let again = PriceTable::parse(Box::leak(table.to_tsv("x").into_boxed_str()));
        again.parse_all().unwrap();
        assert!(again.models().eq(table.models()));
        assert!(table.entries.windows(2).all(|w| w[0].key < w[1].key));
        assert_eq!(KEYS.len(), LINES.len());
        // Every line's key column is its entry's key.
        assert!(table.models().zip(table.keys()).all(|(m, k)| m.key == k));
    }

    #[test]
    fn line_format() {
        let line = "m\tp\tchat\t10\t\t5\t9\tin=2.5 out=10 in@batch=1.25 in>200000=5 in@priority>200000=9 in_image=0.04";
        let info = parse_line(line).unwrap();
        assert_eq!(info.max_input_tokens, Some(10));
        assert_eq!(info.max_output_tokens, None);
        assert!(info.supports(Capability::FunctionCalling));
        assert!(info.supports(Capability::Vision));
        assert!(!info.supports(Capability::ToolChoice));
        assert_eq!(
            info.price(PriceField::Input, ServiceTier::Priority, 200_000),
            Some(Rate::from_femto(9_000_000_000))
        );
        assert_eq!(
            info.base_price(PriceField::InputImage),
            Some(Rate::from_femto(40_000_000_000_000))
        );
        let mut out = String::new();
        write_line(&mut out, &info);
        assert_eq!(
            out,
            "m\tp\tchat\t10\t\t5\t9\tin=2.5 out=10 in_image=0.04 in@batch=1.25 in>200000=5 in@priority>200000=9\n"
        );
        for bad in [
            "m\tp",
            "m\tp\tchat\tx\t\t\t0\t",
            "m\tp\tchat\t\t\t\tzz\t",
            "m\tp\tchat\t\t\t\t0\tin",
            "m\tp\tchat\t\t\t\t0\tnope=1",
            "m\tp\tchat\t\t\t\t0\tin@gold=1",
            "m\tp\tchat\t\t\t\t0\tin=-1",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }
}
