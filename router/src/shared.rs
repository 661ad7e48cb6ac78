//! What every stage of the router's stack shares: the deployments grouped
//! by model group (exact, alias, wildcard), the validated settings, the
//! fallback lists and the listeners other instances are told through. The
//! stages (`fallback`, `retry`, `hedge`, `select`) read it; it knows none of
//! them.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use llmux_core::{Error, FallbackClass, Result};

use crate::config::RouterSettings;
use crate::deployment::Deployment;
use crate::strategy::RoutingStrategy;

/// Router-wide settings, validated from [`RouterSettings`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Retries for a retryable failure when neither `retry_policy` nor the group's
    /// `max_retries` applies (`num_retries`, default 2).
    pub num_retries: u64,
    /// Retries per error class, keyed like `RateLimitErrorRetries` (`retry_policy`).
    pub retry_policy: BTreeMap<String, u64>,
    /// Minimum wait before any retry (`retry_after`).
    pub retry_after: Duration,
    /// First exponential backoff step (doubles per retry, capped at 8 s).
    pub backoff_base: Duration,
    /// Failures a deployment may have in a minute before it cools down (`allowed_fails`, default 3).
    pub allowed_fails: u64,
    /// How long a cooled-down deployment is skipped (`cooldown_time`, default 5 s).
    pub cooldown_time: Duration,
    /// Whole-call limit for deployments that set no `timeout` of their own.
    pub timeout: Option<Duration>,
    /// Time-to-first-chunk limit for deployments that set no `stream_timeout` of their own.
    pub stream_timeout: Option<Duration>,
    /// Skip deployments whose `max_input_tokens` the estimated prompt exceeds
    /// (`enable_pre_call_checks`).
    pub pre_call_checks: bool,
}

/// LiteLLM's defaults: 2 retries, 3 allowed fails a minute, 5 s cooldown.
impl Default for Settings {
    fn default() -> Self {
        Settings {
            num_retries: 2,
            retry_policy: BTreeMap::new(),
            retry_after: Duration::ZERO,
            backoff_base: Duration::from_millis(500),
            allowed_fails: 3,
            cooldown_time: Duration::from_secs(5),
            timeout: None,
            stream_timeout: None,
            pre_call_checks: false,
        }
    }
}

type FallbackMap = HashMap<String, Vec<String>>;

/// Everything the services share.
pub struct Shared {
    pub(crate) deployments: Vec<Arc<Deployment>>,
    groups: HashMap<String, Vec<Arc<Deployment>>>,
    /// Wildcard deployments, longest pattern first (`*` last).
    wildcards: Vec<Arc<Deployment>>,
    aliases: HashMap<String, String>,
    pub(crate) strategy: Box<dyn RoutingStrategy>,
    pub(crate) settings: Settings,
    fallbacks: FallbackMap,
    context_window_fallbacks: FallbackMap,
    content_policy_fallbacks: FallbackMap,
    default_fallbacks: Vec<String>,
    /// Told of every cooldown this router starts (to share it with other
    /// instances); set once by [`Router::on_cooldown`].
    pub(crate) cooldown_listener: std::sync::OnceLock<CooldownListener>,
    /// Told of every request and its tokens (to share usage with other
    /// instances); set once by [`Router::on_usage`].
    pub(crate) usage_listener: std::sync::OnceLock<UsageListener>,
}

/// Called with a deployment id and how long it cools down.
pub type CooldownListener = Arc<dyn Fn(&str, Duration) + Send + Sync>;

/// Called with a deployment id, requests and tokens it just served.
pub type UsageListener = Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

impl Shared {
    /// Group `deployments` by model group, check their ids are unique, and
    /// read the fallback lists and aliases of `raw`.
    pub(crate) fn new(
        deployments: Vec<Arc<Deployment>>,
        strategy: Box<dyn RoutingStrategy>,
        settings: Settings,
        raw: &RouterSettings,
    ) -> Result<Shared> {
        let mut groups: HashMap<String, Vec<Arc<Deployment>>> = HashMap::new();
        let mut wildcards = Vec::new();
        for d in &deployments {
            if d.spec.group.ends_with('*') {
                wildcards.push(d.clone());
            } else {
                groups
                    .entry(d.spec.group.clone())
                    .or_default()
                    .push(d.clone());
            }
        }
        wildcards.sort_by_key(|d| std::cmp::Reverse(d.spec.group.len()));
        let mut seen = std::collections::HashSet::new();
        for d in &deployments {
            if !seen.insert(d.spec.id.clone()) {
                return Err(Error::bad_request(format!(
                    "model_info.id '{}' is used by more than one deployment",
                    d.spec.id
                )));
            }
        }
        Ok(Shared {
            cooldown_listener: std::sync::OnceLock::new(),
            usage_listener: std::sync::OnceLock::new(),
            deployments,
            groups,
            wildcards,
            aliases: raw
                .model_group_alias
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            strategy,
            settings,
            fallbacks: fallback_map("fallbacks", &raw.fallbacks)?,
            context_window_fallbacks: fallback_map(
                "context_window_fallbacks",
                &raw.context_window_fallbacks,
            )?,
            content_policy_fallbacks: fallback_map(
                "content_policy_fallbacks",
                &raw.content_policy_fallbacks,
            )?,
            default_fallbacks: raw.default_fallbacks.clone().unwrap_or_default(),
        })
    }

    /// The deployments serving `requested` (alias, exact group, or wildcard).
    pub(crate) fn candidates(&self, requested: &str) -> Result<Vec<Arc<Deployment>>> {
        let name = self
            .aliases
            .get(requested)
            .map(String::as_str)
            .unwrap_or(requested);
        if let Some(g) = self.groups.get(name) {
            return Ok(g.clone());
        }
        let matching: Vec<Arc<Deployment>> = self
            .wildcards
            .iter()
            .filter(|d| d.matches(name))
            .cloned()
            .collect();
        if let Some(first) = matching.first() {
            // Only the most specific pattern's deployments serve the call.
            let group = first.spec.group.clone();
            return Ok(matching
                .into_iter()
                .filter(|d| d.spec.group == group)
                .collect());
        }
        let mut names: Vec<&str> = self.groups.keys().map(String::as_str).collect();
        names.extend(self.wildcards.iter().map(|d| d.spec.group.as_str()));
        names.sort_unstable();
        names.dedup();
        let hint = if !requested.contains('/') && !self.wildcards.is_empty() {
            ". Name the provider as provider/model (a bare name is read so only when it belongs to one provider)"
        } else {
            ""
        };
        Err(Error::bad_request(format!(
            "Invalid model name passed in model={}. Available model groups: {}{hint}",
            llmux_core::text::truncate(requested, 256),
            if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            }
        ))
        .with_param("model")
        .with_code("model_not_found"))
    }

    /// `requested` as the router serves it. A bare name that no group
    /// serves as is (`gpt-4o`) but that belongs unambiguously to one
    /// provider becomes `provider/name` when a wildcard group serves that
    /// (the SDK's `resolve` reads bare names the same way).
    pub(crate) fn canonical_name<'a>(&self, requested: &'a str) -> Cow<'a, str> {
        let served = |name: &str| {
            self.aliases.contains_key(name)
                || self.groups.contains_key(name)
                || self.wildcards.iter().any(|d| d.matches(name))
        };
        if served(requested) {
            return Cow::Borrowed(requested);
        }
        match llmux_core::model::infer_provider(requested) {
            Some(provider) => {
                let full = format!("{provider}/{requested}");
                if served(&full) {
                    Cow::Owned(full)
                } else {
                    Cow::Borrowed(requested)
                }
            }
            None => Cow::Borrowed(requested),
        }
    }

    /// The configured group `requested` resolves to: its alias target, its
    /// own name, or the wildcard pattern that serves it. `None` when no
    /// group serves it. Bounded by the config, so safe as a metrics label.
    pub(crate) fn group_name(&self, requested: &str) -> Option<&str> {
        let requested = self.canonical_name(requested);
        let name = self
            .aliases
            .get(requested.as_ref())
            .map(String::as_str)
            .unwrap_or(&requested);
        if let Some((group, _)) = self.groups.get_key_value(name) {
            return Some(group.as_str());
        }
        self.wildcards
            .iter()
            .find(|d| d.matches(name))
            .map(|d| d.spec.group.as_str())
    }

    /// Retries a call to `group` gets when one of its deployments sets
    /// `litellm_params.max_retries` (the largest such value), else `None`
    /// (then `num_retries` applies).
    pub(crate) fn group_max_retries(&self, group: &str) -> Option<u64> {
        self.candidates(group)
            .ok()?
            .iter()
            .filter_map(|d| d.spec.max_retries)
            .max()
    }

    pub(crate) fn fallbacks_for(&self, class: FallbackClass, group: &str) -> Vec<String> {
        let pick = |map: &FallbackMap| -> Option<Vec<String>> {
            map.get(group).or_else(|| map.get("*")).cloned()
        };
        match class {
            FallbackClass::None => Vec::new(),
            FallbackClass::ContextWindow => {
                pick(&self.context_window_fallbacks).unwrap_or_default()
            }
            FallbackClass::ContentPolicy => {
                pick(&self.content_policy_fallbacks).unwrap_or_default()
            }
            FallbackClass::Default => {
                pick(&self.fallbacks).unwrap_or_else(|| self.default_fallbacks.clone())
            }
        }
        .into_iter()
        .filter(|g| g != group)
        .collect()
    }
}

fn fallback_map(
    field: &str,
    lists: &Option<Vec<BTreeMap<String, Vec<String>>>>,
) -> Result<FallbackMap> {
    let mut out = FallbackMap::new();
    for entry in lists.iter().flatten() {
        for (group, targets) in entry {
            if out.insert(group.clone(), targets.clone()).is_some() {
                return Err(Error::bad_request(format!(
                    "router_settings.{field}: model group '{group}' is listed twice"
                )));
            }
        }
    }
    Ok(out)
}
