//! The gateway core, one path for every call type: **admit** (authenticate,
//! key checks, rate limits, budget reservation), **dispatch** (through the
//! router, maybe behind the cache), **settle** (price, release or settle the
//! reservation, queue the spend row, count metrics). The HTTP planes call
//! into it; it knows no routes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use llmux_core::endpoint::{Call, Reply};
use llmux_core::{unix_now, Error};
use llmux_router::{RouteInfo, Router, RouterRequest, RouterResponse};

use serde_json::Value;
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;

use crate::auth::{Authenticator, Caller};
use crate::error::ApiError;
use crate::pricing::Pricing;
use crate::telemetry::callbacks::Callbacks;
use crate::telemetry::metrics::{
    BudgetLabels, CallerLabels, CallerSeries, CallerStatusLabels, DeploymentLabels,
    DeploymentSeries, ErrorLabels, KeyBudgetLabels, LitellmDeploymentLabels, Metrics,
    RequestLabels, RouteLabels, TeamBudgetLabels, TokenLabels,
};
use crate::telemetry::payload::{Captured, CapturedRequest, LoggingPayload};
use crate::telemetry::trace::{AttemptSpan, TraceContext};
use llmux_router::CallContext;
use llmux_store::Clock;
use llmux_store::SpendQueue;
use llmux_store::{Account, Ledger, Reservation};
use llmux_store::{KeyRecord, SpendRow};
use llmux_store::{Limits, Slot};
use std::collections::HashMap;
use std::time::SystemTime;

/// The service every call goes through: the router, maybe behind the cache.
pub type CallService = BoxCloneSyncService<RouterRequest, RouterResponse, Error>;

/// What the handlers share.
pub struct Gateway {
    /// The service every call goes through: the router, behind the response cache when one is on.
    pub service: CallService,
    /// The router, for model listings, health checks and metric labels.
    pub router: Router,
    /// Identifies each request's caller and checks what it may call.
    pub auth: Arc<dyn Authenticator>,
    /// Virtual keys and the database, when a master key is set.
    pub keys: Option<Arc<crate::auth::virtual_keys::VirtualKeys>>,
    /// Where spend rows go (with a database).
    pub spend: Option<Arc<SpendQueue>>,
    /// Budget reservations (this process, or shared through Redis).
    pub ledger: Arc<dyn Ledger>,
    /// Deployment prices.
    pub pricing: Pricing,
    /// `litellm_settings.max_budget`: the budget every call spends from,
    /// with the spend the database held at start.
    pub proxy_budget: Option<Account>,
    /// Per-key rpm/tpm/parallel counters (this process, or Redis).
    pub limits: Arc<Limits>,
    /// Time for expiry, rate windows and budget periods.
    pub clock: Arc<dyn Clock>,
    /// `litellm_settings.drop_params`: chat calls drop parameters their
    /// provider cannot send, unless the request says otherwise.
    pub drop_params: bool,
    /// Prometheus metrics, served at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Sanitized `model_list` for `/model/info` (no keys).
    pub model_info: Vec<Value>,
    /// Seconds of silence before a stream keep-alive comment.
    pub keep_alive: Duration,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Stored Responses API responses (`previous_response_id`).
    pub(crate) conversations: crate::conversations::Conversations,
    /// Spend-log retention, when configured.
    pub(crate) spend_retention: Option<SpendRetention>,
    /// Set on SIGTERM: readiness answers 503 so load balancers stop sending
    /// new calls while the gateway still serves them for `drain_delay`.
    pub(crate) draining: std::sync::atomic::AtomicBool,
    /// Failed authentications per client address, each counted for a minute
    /// from its first failure (bounded: at most 100,000 addresses).
    pub(crate) auth_failures: moka::future::Cache<std::net::IpAddr, Arc<AtomicU32>>,
    /// `general_settings.drain_delay`: how long readiness fails before the
    /// gateway stops accepting and drains.
    pub(crate) drain_delay: Duration,
    /// Where the pass-through routes go.
    pub(crate) pass_through: crate::pass_through::PassThrough,
    /// LiteLLM's logging callbacks (webhook, OpenTelemetry, Langfuse).
    pub callbacks: Callbacks,
    /// Whether answers carry LiteLLM's `x-litellm-*` headers too.
    pub(crate) litellm_headers: bool,
    /// `general_settings.store_prompts_in_spend_logs`: spend rows keep the
    /// request's messages and the answer.
    pub(crate) store_prompts: bool,
    /// LiteLLM's per-caller series by key hash and model group, resolved on
    /// a caller's first call (bounded: past [`CALLER_SERIES_MAX`] entries
    /// calls look their series up each time).
    pub(crate) caller_series: std::sync::RwLock<HashMap<String, Arc<CallerSeries>>>,
    /// LiteLLM's per-deployment series, by deployment id, made at start.
    pub(crate) deployment_series: HashMap<String, DeploymentSeries>,
    /// Each deployment's `api_base`, by deployment id (logging payloads).
    pub(crate) api_bases: HashMap<String, String>,
}

/// How many (key, model group) series [`Gateway::caller_series`] keeps.
const CALLER_SERIES_MAX: usize = 10_000;

/// LiteLLM's series of every configured deployment (labels from the config
/// only: a wildcard deployment's upstream model is the caller's choice).
pub(crate) fn deployment_series(
    router: &Router,
    metrics: &Metrics,
) -> HashMap<String, DeploymentSeries> {
    router
        .deployments()
        .iter()
        .map(|d| {
            let (provider, model) = d.spec.model.split_once('/').unwrap_or(("", &d.spec.model));
            let labels = LitellmDeploymentLabels {
                litellm_model_name: model.to_string(),
                model_id: d.spec.id.clone(),
                api_provider: provider.to_string(),
                model_group: d.spec.group.clone(),
            };
            (
                d.spec.id.clone(),
                metrics.litellm.deployment_series(&labels),
            )
        })
        .collect()
}

/// A call the router answered, with the caller's admission, which
/// [`Gateway::finish`] settles.
pub(crate) struct Served {
    pub reply: Reply,
    pub route: RouteInfo,
    pub admission: Admission,
}

/// Failed authentications from one address within [`AUTH_FAILURE_WINDOW`]
/// after which it is refused until the window is over.
pub(crate) const MAX_AUTH_FAILURES: u32 = 100;

/// How long failed authentications are counted (and an address refused).
pub(crate) const AUTH_FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The client's address, where the server recorded it.
pub(crate) fn peer_of(request: &axum::extract::Request) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The bounded table of failed authentications by client address.
pub(crate) fn auth_failure_table() -> moka::future::Cache<std::net::IpAddr, Arc<AtomicU32>> {
    moka::future::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(AUTH_FAILURE_WINDOW)
        .build()
}

/// LiteLLM's `call_type` for the calls a route serves, so spend logs read
/// the same in both (`""` for routes that call no model); pass-through
/// routes are named by their route (`pass_through/gemini`).
fn call_type(route: &'static str) -> &'static str {
    match route {
        r if r.starts_with("pass_through/") => r,
        "chat_completions" => "acompletion",
        "completions" => "atext_completion",
        "messages" => "anthropic_messages",
        "responses" => "aresponses",
        "embeddings" => "aembedding",
        "image_generation" => "aimage_generation",
        "moderations" => "amoderation",
        "rerank" => "arerank",
        "audio_speech" => "aspeech",
        "audio_transcriptions" => "atranscription",
        _ => "",
    }
}

/// A caller admitted for one call: its parallel-request slot and its budget
/// reservation. Finishing the call settles the reservation to the real cost;
/// dropping it unfinished releases the reservation.
pub(crate) struct Admission {
    key: Option<Arc<KeyRecord>>,
    /// Held for its drop: frees the parallel-request slot.
    _slot: Slot,
    reservation: Option<Reservation>,
    ledger: Arc<dyn Ledger>,
    started_unix: i64,
    request_id: String,
    /// The call's id: its spend row's, its callbacks' and `x-litellm-call-id`.
    call_id: String,
    /// LiteLLM's name for the kind of call (the spend row's `call_type`).
    call_type: &'static str,
    /// What the logging callbacks will be told (only when any is on).
    log: Option<Box<CallLog>>,
    /// When the request arrived.
    started: Instant,
    /// The key's team, for metric labels and its budget gauge.
    team: Option<Arc<llmux_store::Owner>>,
    /// Whether the answer is streamed.
    stream: bool,
    /// The gateway route that took the call.
    route: &'static str,
    /// The status of an error that ended the answer after it started.
    failed_status: Option<u16>,
    /// The router's record of the call's attempts (set when it is routed).
    context: Option<Arc<CallContext>>,
    /// The key's, user's and team's budgets the call spends from, for the
    /// remaining-budget gauges.
    budgets: Vec<Account>,
}

/// What a call's logging payload needs that settling does not, gathered
/// only when a logging callback is on.
pub(crate) struct CallLog {
    trace: TraceContext,
    /// The gateway request's span (the parent the upstream is told of).
    span_id: [u8; 8],
    started_at: SystemTime,
    started: Instant,
    route: &'static str,
    requested: String,
    stream: bool,
    request: CapturedRequest,
    response: Option<Captured>,
    failure: Option<Error>,
    /// The request body's size (`Content-Length`), for queue byte bounds.
    request_bytes: usize,
    /// The answer's finish reasons, when known.
    finish_reasons: Vec<String>,
    requester_ip: Option<String>,
    user_agent: Option<String>,
    team_alias: Option<String>,
    /// Whether messages and answers are kept.
    log_content: bool,
}

impl Admission {
    /// The virtual key the call was admitted with, if any.
    pub(crate) fn key(&self) -> Option<&KeyRecord> {
        self.key.as_deref()
    }

    /// Keep the answer for the logging callbacks, when they log content
    /// (`answer` runs only then).
    pub(crate) fn capture_response(&mut self, answer: impl FnOnce() -> Option<Value>) {
        if let Some(log) = self.log.as_mut().filter(|l| l.log_content) {
            log.response = answer().map(Captured::Value);
        }
    }

    /// The answer's finish reasons (`stop`, `tool_calls`, …), for traces.
    pub(crate) fn capture_finish_reasons<'a>(&mut self, reasons: impl Iterator<Item = &'a str>) {
        if let Some(log) = self.log.as_mut() {
            log.finish_reasons = reasons.take(16).map(str::to_string).collect();
        }
    }

    /// Keep the answer's JSON as the client is sent it, when the logging
    /// callbacks log content (shares the bytes; copies nothing).
    pub(crate) fn capture_response_json(&mut self, answer: &bytes::Bytes) {
        if let Some(log) = self.log.as_mut().filter(|l| l.log_content) {
            log.response = Some(Captured::Json(answer.clone()));
        }
    }

    /// The call failed after its answer started (a stream cut short): it is
    /// settled for what it used, and logged as a failure.
    pub(crate) fn mark_failed(&mut self, err: &Error) {
        self.failed_status = Some(err.status());
        if let Some(log) = self.log.as_mut() {
            log.failure = Some(err.clone());
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(r) = self.reservation.take() {
            if r.amount() != 0 {
                let ledger = self.ledger.clone();
                tokio::spawn(async move { ledger.settle(r, 0).await });
            }
        }
    }
}

/// The longest stored prompt or answer, in characters.
const STORED_PROMPT_MAX: usize = 64 * 1024;

/// A request's messages or an answer as a spend row keeps it: JSON text, cut
/// at [`STORED_PROMPT_MAX`] characters (a cut one ends in `…[truncated]`),
/// with credentials (bearer tokens, `sk-…` keys) redacted.
fn stored_prompt(text: String) -> String {
    let cut = llmux_core::text::truncate(&text, STORED_PROMPT_MAX);
    let mut stored = llmux_core::text::redact_secrets(cut).into_owned();
    if cut.len() < text.len() {
        stored.push_str("…[truncated]");
    }
    stored
}

/// A remaining-budget gauge (llmux's and LiteLLM's names).
enum BudgetGauge {
    Key { hash: String, alias: String },
    Team { id: String, alias: String },
}

impl BudgetGauge {
    fn set(self, metrics: &Metrics, usd: f64) {
        match self {
            BudgetGauge::Key { hash, alias } => {
                metrics
                    .remaining_budget
                    .get_or_create(&BudgetLabels {
                        kind: "key",
                        id: hash.clone(),
                        alias: alias.clone(),
                    })
                    .set(usd);
                metrics
                    .litellm
                    .remaining_api_key_budget
                    .get_or_create(&KeyBudgetLabels {
                        hashed_api_key: hash,
                        api_key_alias: alias,
                    })
                    .set(usd);
            }
            BudgetGauge::Team { id, alias } => {
                metrics
                    .remaining_budget
                    .get_or_create(&BudgetLabels {
                        kind: "team",
                        id: id.clone(),
                        alias: alias.clone(),
                    })
                    .set(usd);
                metrics
                    .litellm
                    .remaining_team_budget
                    .get_or_create(&TeamBudgetLabels {
                        team: id,
                        team_alias: alias,
                    })
                    .set(usd);
            }
        }
    }
}

/// Per-request bookkeeping.
pub(crate) struct Ctx {
    pub started: Instant,
    pub route: &'static str,
    pub request_id: String,
    /// The call's id (spend row, callbacks, `x-litellm-call-id`).
    pub call_id: String,
}

impl Ctx {
    pub(crate) fn new(route: &'static str, headers: &HeaderMap) -> Ctx {
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_string)
            .unwrap_or_else(|| new_id("req"));
        Ctx {
            started: Instant::now(),
            route,
            request_id,
            call_id: new_id("call"),
        }
    }
}

/// The first address of `X-Forwarded-For` (else `X-Real-IP`): the client as
/// a proxy in front saw it.
fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-forwarded-for")
        .or_else(|| headers.get("x-real-ip"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| llmux_core::text::truncate(v.trim(), 64).to_string())
        .filter(|v| !v.is_empty())
}

/// A call's request as JSON, for its logging payload.
fn request_json(call: &Call) -> Option<Value> {
    match call {
        Call::Chat(r) | Call::ChatStream(r) => serde_json::to_value(r).ok(),
        Call::Responses(r) | Call::ResponsesStream(r) => serde_json::to_value(r).ok(),
        Call::Messages(m) | Call::MessagesStream(m) => Some(Value::Object(m.body.clone())),
        Call::Embeddings(r) => serde_json::to_value(r).ok(),
        Call::ImageGeneration(r) => serde_json::to_value(r).ok(),
        Call::Speech(r) => serde_json::to_value(r).ok(),
        Call::Moderation(r) => serde_json::to_value(r).ok(),
        Call::Rerank(r) => serde_json::to_value(r).ok(),
        Call::Transcription(_) => None,
    }
}

/// How long spend-log rows are kept, and how often old ones are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendRetention {
    /// Rows that started longer ago than this are deleted.
    pub keep_seconds: i64,
    /// Minutes between runs of the deletion.
    pub every_minutes: u64,
}

/// Rows deleted per statement by the retention job: each statement holds
/// the table briefly, and writes go on between them.
const RETENTION_BATCH: i64 = 1_000;

impl Gateway {
    /// Delete spend-log rows past the retention, a batch at a time with a
    /// pause between batches; how many. Logged; a database error stops this
    /// run (the next one goes on).
    pub async fn purge_spend_logs(&self, retention: SpendRetention) -> u64 {
        let Some(keys) = &self.keys else {
            return 0;
        };
        let cutoff = self.clock.now().saturating_sub(retention.keep_seconds);
        let mut deleted = 0;
        loop {
            match keys
                .store()
                .delete_spend_logs_before(cutoff, RETENTION_BATCH)
                .await
            {
                Ok(n) => {
                    deleted += n;
                    if n < RETENTION_BATCH as u64 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, deleted, "spend-log retention stopped; retried at its next run");
                    break;
                }
            }
        }
        if deleted > 0 {
            tracing::info!(
                deleted,
                cutoff,
                "spend-log rows past their retention deleted"
            );
        }
        deleted
    }
}

/// A gateway-made id: `{prefix}_` and 24 hex digits, the time (seconds)
/// first so that ids written together sort together (spend rows append to
/// the end of their index instead of landing all over it).
///
/// The random part comes from `fastrand`'s per-thread generator, seeded from
/// the operating system's randomness (it used to hash an elapsed time of
/// about 0 ns).
pub(crate) fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{:08x}{:016x}",
        unix_now() as u32,
        fastrand::u64(..)
    )
}

/// The budgets a caller's calls spend from (key, user, team), each in its
/// budget period of `now`.
pub(crate) fn budget_accounts(caller: &Caller, now: i64) -> Vec<Account> {
    let mut out = Vec::new();
    if let Some(k) = caller.key.as_deref() {
        let budget = Budget {
            max: k.max_budget_nano,
            duration: k.budget_duration.as_deref(),
            reset_at: k.budget_reset_at,
            spent: k.spend_nano,
        };
        out.extend(budget.account("key", &k.token_hash, now));
    }
    for (kind, owner) in [("user", &caller.user), ("team", &caller.team)] {
        if let Some(o) = owner.as_deref() {
            let budget = Budget {
                max: o.max_budget_nano,
                duration: o.budget_duration.as_deref(),
                reset_at: o.budget_reset_at,
                spent: o.spend_nano,
            };
            out.extend(budget.account(kind, &o.id, now));
        }
    }
    out
}

/// A stored budget: limit, period and spend as the database last knew it.
struct Budget<'a> {
    max: Option<i64>,
    duration: Option<&'a str>,
    reset_at: Option<i64>,
    spent: i64,
}

impl Budget<'_> {
    /// The ledger account for the budget period `now` falls in. Past the
    /// stored reset time a new period has begun with nothing spent, whether
    /// or not the reset job has written that yet.
    fn account(&self, kind: &'static str, id: &str, now: i64) -> Option<Account> {
        let max = self.max?;
        let duration = self.duration.and_then(llmux_store::parse_duration);
        let (period, base) = match (self.reset_at, duration) {
            (Some(reset), Some(d)) if now >= reset => (llmux_store::period_end(reset, d, now), 0),
            (Some(reset), _) => (reset, self.spent),
            (None, _) => (0, self.spent),
        };
        Some(Account {
            id: format!("{kind}:{id}@{period}"),
            kind,
            max_nano: max,
            base_nano: base,
        })
    }
}

/// The longest caller-sent text (a model name, an id) a log line carries.
pub(crate) const LOGGED_TEXT_MAX: usize = 128;

/// Caller-sent text as a log line shows it: at most [`LOGGED_TEXT_MAX`]
/// characters, so a 5 MB model name is not written to the log.
pub(crate) fn loggable(s: &str) -> &str {
    llmux_core::text::truncate(s, LOGGED_TEXT_MAX)
}

impl Gateway {
    /// The `model_group` label for a call that asked for `requested`: the
    /// configured group (or wildcard pattern) serving it, else `unknown`.
    /// Labels come only from the config, so callers cannot grow `/metrics`.
    pub(crate) fn group_label(&self, requested: &str) -> String {
        self.router
            .group_name(requested)
            .unwrap_or("unknown")
            .to_string()
    }

    pub(crate) fn record_success(&self, ctx: &Ctx, route: &RouteInfo) {
        let group = self.group_label(&route.model_group);
        self.metrics
            .request_duration
            .get_or_create(&RouteLabels {
                route: ctx.route,
                model_group: group.clone(),
            })
            .observe(ctx.started.elapsed().as_secs_f64());
        if route.cache_hit {
            self.metrics
                .cache_hits
                .get_or_create(&RouteLabels {
                    route: ctx.route,
                    model_group: group,
                })
                .inc();
        } else {
            self.metrics
                .upstream_latency
                .get_or_create(&DeploymentLabels {
                    model_group: group,
                    deployment: route.deployment_id.clone(),
                })
                .observe(route.latency.as_secs_f64());
            self.metrics.overhead.observe(
                ctx.started
                    .elapsed()
                    .saturating_sub(route.latency)
                    .as_secs_f64(),
            );
        }
    }

    /// Count an answer to a call for `requested` (any caller-sent name).
    pub(crate) fn record_status(&self, ctx: &Ctx, requested: &str, status: u16) {
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                route: ctx.route,
                model_group: self.group_label(requested),
                status,
            })
            .inc();
    }

    /// Count and log a failed call for `requested` (any caller-sent name).
    pub(crate) fn record_error(&self, ctx: &Ctx, requested: &str, err: &Error) {
        self.record_status(ctx, requested, err.status());
        self.metrics
            .errors
            .get_or_create(&ErrorLabels {
                route: ctx.route,
                model_group: self.group_label(requested),
                kind: err.kind.name(),
            })
            .inc();
        let message = err.to_string();
        tracing::warn!(request_id = %ctx.request_id, route = ctx.route, model = loggable(requested), status = err.status(), error = loggable(&message), "request failed");
    }

    pub(crate) fn record_tokens(&self, route: &RouteInfo, usage: &llmux_core::types::chat::Usage) {
        if route.cache_hit {
            return;
        }
        for (kind, n) in [
            ("prompt", usage.prompt_tokens),
            ("completion", usage.completion_tokens),
        ] {
            self.metrics
                .tokens
                .get_or_create(&TokenLabels {
                    model_group: self.group_label(&route.model_group),
                    deployment: route.deployment_id.clone(),
                    r#type: kind,
                })
                .inc_by(n);
        }
    }

    /// Authenticate and admit the caller (limits, budget reservation), send
    /// `call` for `group`, record metrics.
    pub(crate) async fn dispatch(
        &self,
        ctx: &Ctx,
        headers: &HeaderMap,
        group: String,
        mut call: Call,
    ) -> Result<Served, ApiError> {
        let drop_params = match &mut call {
            Call::Chat(r) | Call::ChatStream(r) => Some(&mut r.drop_params),
            Call::Responses(r) | Call::ResponsesStream(r) => Some(&mut r.drop_params),
            Call::Messages(m) | Call::MessagesStream(m) => Some(&mut m.chat.drop_params),
            _ => None,
        };
        if let Some(d) = drop_params.filter(|d| self.drop_params && d.is_none()) {
            *d = Some(true);
        }
        if let Some(size) = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.metrics
                .request_size
                .get_or_create(&RouteLabels {
                    route: ctx.route,
                    model_group: self.group_label(&group),
                })
                .observe(size as f64);
        }
        let mut admission = match self.admit(ctx, headers, &group, &call).await {
            Ok(a) => a,
            Err(e) => {
                self.record_error(ctx, &group, &e);
                return Err(e.into());
            }
        };
        let request = RouterRequest::new(group.clone(), call);
        admission.context = Some(request.context.clone());
        let routed = self.service.clone().oneshot(request);
        let result = match admission.log.as_ref() {
            Some(log) => {
                let traceparent = log.trace.traceparent(log.span_id);
                llmux_core::propagation::with_traceparent(traceparent, routed).await
            }
            None => routed.await,
        };
        match result {
            Ok(r) => {
                self.record_success(ctx, &r.route);
                if admission.stream && !r.route.cache_hit {
                    self.record_first_token(&admission, &r.route);
                }
                Ok(Served {
                    reply: r.reply,
                    route: r.route,
                    admission,
                })
            }
            Err(e) => {
                self.record_error(ctx, &group, &e);
                self.record_call(&admission, &group, None, None, None, e.status());
                self.log_failure(admission, &e);
                Err(e.into())
            }
        }
    }

    async fn admit(
        &self,
        ctx: &Ctx,
        headers: &HeaderMap,
        group: &str,
        call: &Call,
    ) -> Result<Admission, Error> {
        let (_, mut admission) = self
            .admit_caller(ctx, headers, Some(group), || {
                self.pricing.worst_case(group, call)
            })
            .await?;
        admission.stream = matches!(
            call,
            Call::ChatStream(_) | Call::ResponsesStream(_) | Call::MessagesStream(_)
        );
        if let Some(log) = admission.log.as_mut() {
            log.stream = admission.stream;
            if let Some(json) = request_json(call) {
                log.request = CapturedRequest::of(json);
                if !log.log_content {
                    log.request.content = None;
                }
            }
        }
        Ok(admission)
    }

    /// Authenticate the caller and apply every key check: blocked, expired,
    /// model access (when the request names a `model`), rate limits and
    /// budgets (reserving `worst_cost()` nano-dollars). Every data-plane
    /// route goes through here, so a revoked, expired, over-budget or
    /// rate-limited key is refused everywhere, not only on model calls.
    pub(crate) async fn admit_caller(
        &self,
        ctx: &Ctx,
        headers: &HeaderMap,
        model: Option<&str>,
        worst_cost: impl FnOnce() -> i64,
    ) -> Result<(Caller, Admission), Error> {
        let caller = self.auth.authenticate(headers).await?;
        let now = self.clock.now();
        self.auth.check(&caller, model, now)?;
        let slot = match caller.key.as_deref() {
            Some(k) => self.limits.admit(k, now).await?,
            None => Slot::none(),
        };
        let budgets = budget_accounts(&caller, now);
        let reservation = match (&budgets[..], &self.proxy_budget) {
            ([], None) => Reservation::none(),
            (_, None) => self.ledger.reserve(&budgets, worst_cost()).await?,
            (_, Some(proxy)) => {
                let mut accounts = budgets.clone();
                accounts.push(proxy.clone());
                self.ledger.reserve(&accounts, worst_cost()).await?
            }
        };
        let wants_events = self.callbacks.wants(
            caller.key.as_deref().map(|k| &k.metadata),
            caller.team.as_deref().map(|t| &t.metadata),
        );
        let log = (wants_events || self.store_prompts).then(|| {
            Box::new(CallLog {
                trace: TraceContext::of(headers),
                span_id: crate::telemetry::trace::new_span_id(),
                started_at: SystemTime::now() - ctx.started.elapsed(),
                started: ctx.started,
                route: ctx.route,
                requested: loggable(model.unwrap_or_default()).to_string(),
                stream: false,
                request: CapturedRequest::default(),
                response: None,
                failure: None,
                finish_reasons: Vec::new(),
                request_bytes: headers
                    .get(axum::http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                requester_ip: forwarded_for(headers),
                user_agent: headers
                    .get(axum::http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| llmux_core::text::truncate(v, 256).to_string()),
                team_alias: caller.team.as_deref().and_then(|t| t.label.clone()),
                log_content: self.callbacks.log_content() || self.store_prompts,
            })
        });
        let admission = Admission {
            key: caller.key.clone(),
            _slot: slot,
            reservation: Some(reservation),
            ledger: self.ledger.clone(),
            started_unix: now,
            request_id: ctx.request_id.clone(),
            call_id: ctx.call_id.clone(),
            call_type: call_type(ctx.route),
            log,
            started: ctx.started,
            team: caller.team.clone(),
            stream: false,
            route: ctx.route,
            failed_status: None,
            context: None,
            budgets,
        };
        Ok((caller, admission))
    }

    /// A served call is over: count its tokens, price it, settle its budget
    /// reservation and queue its spend row. Returns its cost in nano-dollars
    /// when its deployment is priced.
    pub(crate) fn finish(
        &self,
        admission: Admission,
        route: &RouteInfo,
        usage: Option<&llmux_core::types::chat::Usage>,
    ) -> Option<i64> {
        let cost = usage.and_then(|u| self.pricing.cost(route, u));
        self.settle(admission, route, usage, cost)
    }

    /// [`Gateway::finish`] for a call priced otherwise (`cost` in
    /// nano-dollars, `None` when unpriced).
    pub(crate) fn settle(
        &self,
        mut admission: Admission,
        route: &RouteInfo,
        usage: Option<&llmux_core::types::chat::Usage>,
        cost: Option<i64>,
    ) -> Option<i64> {
        if let Some(u) = usage {
            self.record_tokens(route, u);
            // Only keys with a tpm limit count tokens; do not spawn for the rest.
            if let Some(k) = admission.key.clone().filter(|k| k.tpm_limit.is_some()) {
                let (limits, tokens, now) = (self.limits.clone(), u.total_tokens, self.clock.now());
                tokio::spawn(async move { limits.add_tokens(&k, tokens, now).await });
            }
        }
        if let Some(nano) = cost.filter(|c| *c > 0 && !route.cache_hit) {
            self.metrics
                .spend
                .get_or_create(&DeploymentLabels {
                    model_group: self.group_label(&route.model_group),
                    deployment: route.deployment_id.clone(),
                })
                .inc_by(llmux_store::from_nano(nano));
        }
        if let Some(r) = admission.reservation.take() {
            let ledger = self.ledger.clone();
            let actual = cost.unwrap_or(0);
            if r.amount() != 0 || actual != 0 {
                let gauges = self.budget_gauges(&admission);
                let metrics = self.metrics.clone();
                tokio::spawn(async move {
                    ledger.settle(r, actual).await;
                    // What is left, as the ledger (this process or Redis) knows it.
                    for (account, max, labels) in gauges {
                        let (spent, _) = ledger.balance(&account).await;
                        labels.set(&metrics, llmux_store::from_nano(max.saturating_sub(spent)));
                    }
                });
            }
        }
        let log = admission.log.take();
        if let Some(spend) = &self.spend {
            let (messages, response) = match log.as_deref().filter(|_| self.store_prompts) {
                Some(l) => (
                    l.request
                        .content
                        .as_ref()
                        .map(|c| stored_prompt(c.to_string())),
                    l.response
                        .as_ref()
                        .map(|r| stored_prompt(r.to_json_string())),
                ),
                None => (None, None),
            };
            let key = admission.key.as_deref();
            let u = usage.cloned().unwrap_or_default();
            let end = self.clock.now();
            spend.record(SpendRow {
                call_id: admission.call_id.clone(),
                request_id: admission.request_id.clone(),
                token_hash: key.map(|k| k.token_hash.clone()),
                user_id: key.and_then(|k| k.user_id.clone()),
                team_id: key.and_then(|k| k.team_id.clone()),
                model: format!("{}/{}", route.provider, route.upstream_model),
                model_group: route.model_group.clone(),
                deployment_id: Some(route.deployment_id.clone()),
                provider: Some(route.provider.clone()),
                prompt_tokens: i64::try_from(u.prompt_tokens).unwrap_or(i64::MAX),
                completion_tokens: i64::try_from(u.completion_tokens).unwrap_or(i64::MAX),
                total_tokens: i64::try_from(u.total_tokens).unwrap_or(i64::MAX),
                spend_nano: cost.unwrap_or(0),
                start_time: admission.started_unix,
                end_time: end,
                latency_ms: i64::try_from(route.latency.as_millis()).unwrap_or(i64::MAX),
                status: "success".into(),
                cache_hit: route.cache_hit,
                call_type: admission.call_type.to_string(),
                messages,
                response,
            });
        }
        let status = admission.failed_status.unwrap_or(200);
        let requested = route.fallback_from.as_deref().unwrap_or(&route.model_group);
        self.record_call(&admission, requested, Some(route), usage, cost, status);
        if let Some(log) = log.filter(|_| self.wants_events(&admission)) {
            let payload = self.payload(&admission, *log, Some(route), usage, cost, None);
            self.emit(&admission, payload);
        }
        cost
    }

    /// LiteLLM's labels for a call of `admission`'s caller for `requested`.
    fn caller_labels(&self, admission: &Admission, requested: &str) -> CallerLabels {
        let key = admission.key.as_deref();
        let text = |v: Option<&String>| v.cloned().unwrap_or_default();
        CallerLabels {
            end_user: String::new(),
            hashed_api_key: key.map(|k| k.token_hash.clone()).unwrap_or_default(),
            api_key_alias: text(key.and_then(|k| k.key_alias.as_ref())),
            requested_model: self.group_label(requested),
            team: text(key.and_then(|k| k.team_id.as_ref())),
            team_alias: text(admission.team.as_deref().and_then(|t| t.label.as_ref())),
            user: text(key.and_then(|k| k.user_id.as_ref())),
        }
    }

    /// A streamed call's first event arrived: its time to first token.
    fn record_first_token(&self, admission: &Admission, route: &RouteInfo) {
        let ttft = admission.started.elapsed();
        self.metrics
            .time_to_first_token
            .get_or_create(&RouteLabels {
                route: admission.route,
                model_group: self.group_label(&route.model_group),
            })
            .observe(ttft.as_secs_f64());
        let requested = route.fallback_from.as_deref().unwrap_or(&route.model_group);
        let series = self.series_of(admission, requested);
        series.time_to_first_token.observe(ttft.as_secs_f64());
        series
            .overhead_latency
            .observe(ttft.saturating_sub(route.latency).as_secs_f64());
    }

    /// LiteLLM's series for `admission`'s caller and `requested`, from the
    /// cache when it is there.
    fn series_of(&self, admission: &Admission, requested: &str) -> Arc<CallerSeries> {
        let group = self.router.group_name(requested).unwrap_or("unknown");
        let hash = admission
            .key
            .as_deref()
            .map_or("", |k| k.token_hash.as_str());
        let id = format!("{hash}\u{0}{group}");
        if let Some(s) = self
            .caller_series
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return s.clone();
        }
        let series = Arc::new(
            self.metrics
                .litellm
                .series(&self.caller_labels(admission, requested)),
        );
        let mut cache = self
            .caller_series
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if cache.len() < CALLER_SERIES_MAX {
            cache.insert(id, series.clone());
        }
        series
    }

    /// The per-call metrics of a finished call (`status` its HTTP status):
    /// LiteLLM's by caller, per deployment (every attempt), token rates.
    fn record_call(
        &self,
        admission: &Admission,
        requested: &str,
        route: Option<&RouteInfo>,
        usage: Option<&llmux_core::types::chat::Usage>,
        cost: Option<i64>,
        status: u16,
    ) {
        let m = &self.metrics;
        let series = self.series_of(admission, requested);
        if status == 200 {
            series.requests_ok.inc();
            series.proxy_requests_ok.inc();
        } else {
            let with_status = CallerStatusLabels {
                caller: self.caller_labels(admission, requested),
                status_code: status.to_string(),
            };
            m.litellm.requests.get_or_create(&with_status).inc();
            m.litellm
                .proxy_total_requests
                .get_or_create(&with_status)
                .inc();
            if status >= 400 {
                m.litellm
                    .proxy_failed_requests
                    .get_or_create(&with_status)
                    .inc();
            }
        }
        let output_tokens = usage.map_or(0, |u| u.completion_tokens);
        if let Some(context) = &admission.context {
            context.with_attempts(|attempts| {
                for a in attempts {
                    let Some(d) = self.deployment_series.get(a.deployment_id.as_str()) else {
                        continue;
                    };
                    d.total.inc();
                    match (&a.error, a.duration) {
                        (Some(_), _) => {
                            d.failure.inc();
                        }
                        (None, Some(latency)) => {
                            d.success.inc();
                            if output_tokens > 0 && route.is_some_and(|r| !r.cache_hit) {
                                d.latency_per_output_token
                                    .observe(latency.as_secs_f64() / output_tokens as f64);
                            }
                        }
                        (None, None) => {}
                    }
                }
            });
        }
        let total = admission.started.elapsed();
        series.request_total_latency.observe(total.as_secs_f64());
        if let Some(route) = route.filter(|r| !r.cache_hit) {
            series.llm_api_latency.observe(route.latency.as_secs_f64());
            // A stream's overhead is taken at its first token.
            if !admission.stream {
                series
                    .overhead_latency
                    .observe(total.saturating_sub(route.latency).as_secs_f64());
            }
            if let Some(u) = usage {
                series.total_tokens.inc_by(u.total_tokens);
                series.input_tokens.inc_by(u.prompt_tokens);
                series.output_tokens.inc_by(u.completion_tokens);
                self.record_token_rate(admission, route, u.completion_tokens, total);
            }
            if let Some(nano) = cost.filter(|c| *c > 0) {
                series.spend.inc_by(llmux_store::from_nano(nano));
            }
        }
    }

    /// Seconds per output token and output tokens per second: after the
    /// first token on a stream, the upstream's whole time on an answer.
    fn record_token_rate(
        &self,
        admission: &Admission,
        route: &RouteInfo,
        completion_tokens: u64,
        total: Duration,
    ) {
        if completion_tokens == 0 {
            return;
        }
        let generating = if admission.stream {
            total.saturating_sub(route.latency)
        } else {
            route.latency
        };
        let per_token = generating.as_secs_f64() / completion_tokens as f64;
        let labels = RouteLabels {
            route: admission.route,
            model_group: self.group_label(&route.model_group),
        };
        self.metrics
            .time_per_output_token
            .get_or_create(&labels)
            .observe(per_token);
        if per_token > 0.0 {
            self.metrics
                .output_tokens_per_second
                .get_or_create(&labels)
                .observe(1.0 / per_token);
        }
    }

    /// The remaining-budget gauges a settled call updates: each budget's
    /// ledger account, its limit and the gauge's labels.
    fn budget_gauges(&self, admission: &Admission) -> Vec<(String, i64, BudgetGauge)> {
        admission
            .budgets
            .iter()
            .filter_map(|account| {
                let gauge = match account.kind {
                    "key" => {
                        let k = admission.key.as_deref()?;
                        BudgetGauge::Key {
                            hash: k.token_hash.clone(),
                            alias: k.key_alias.clone().unwrap_or_default(),
                        }
                    }
                    "team" => {
                        let t = admission.team.as_deref()?;
                        BudgetGauge::Team {
                            id: t.id.clone(),
                            alias: t.label.clone().unwrap_or_default(),
                        }
                    }
                    _ => return None,
                };
                Some((account.id.clone(), account.max_nano, gauge))
            })
            .collect()
    }

    /// Set the deployment gauges from the router's state (at each scrape).
    pub(crate) fn refresh_deployment_gauges(&self) {
        let now = tokio::time::Instant::now();
        let m = &self.metrics;
        for d in self.router.deployments() {
            let labels = DeploymentLabels {
                model_group: d.spec.group.clone(),
                deployment: d.spec.id.clone(),
            };
            let state = d.state();
            let cooling = i64::from(state.cooling_down(now).is_some()) * 2;
            let (rpm, tpm) = state.usage_this_minute(now);
            m.deployment_state.get_or_create(&labels).set(cooling);
            m.deployment_in_flight
                .get_or_create(&labels)
                .set(i64::try_from(state.in_flight()).unwrap_or(i64::MAX));
            m.deployment_rpm
                .get_or_create(&labels)
                .set(i64::try_from(rpm).unwrap_or(i64::MAX));
            m.deployment_tpm
                .get_or_create(&labels)
                .set(i64::try_from(tpm).unwrap_or(i64::MAX));
            if let Some(series) = self.deployment_series.get(&d.spec.id) {
                series.state.set(cooling);
            }
        }
    }

    /// Tell the logging callbacks about a call that failed before its answer.
    fn log_failure(&self, mut admission: Admission, err: &Error) {
        if let Some(log) = admission
            .log
            .take()
            .filter(|_| self.wants_events(&admission))
        {
            let payload = self.payload(&admission, *log, None, None, None, Some(err));
            self.emit(&admission, payload);
        }
    }

    /// Whether `admission`'s call goes to any logging callback.
    fn wants_events(&self, admission: &Admission) -> bool {
        self.callbacks.wants(
            admission.key.as_deref().map(|k| &k.metadata),
            admission.team.as_deref().map(|t| &t.metadata),
        )
    }

    /// Hand a call's payload to the gateway's callbacks and its key's and team's.
    fn emit(&self, admission: &Admission, payload: LoggingPayload) {
        self.callbacks.emit(
            payload,
            admission.key.as_deref().map(|k| &k.metadata),
            admission.team.as_deref().map(|t| &t.metadata),
        );
    }

    /// A call's logging payload (LiteLLM's `StandardLoggingPayload`).
    fn payload(
        &self,
        admission: &Admission,
        log: CallLog,
        route: Option<&RouteInfo>,
        usage: Option<&llmux_core::types::chat::Usage>,
        cost: Option<i64>,
        err: Option<&Error>,
    ) -> LoggingPayload {
        use crate::telemetry::payload as p;
        let err = err.or(log.failure.as_ref());
        let status = if err.is_some() {
            p::Status::Failure
        } else {
            p::Status::Success
        };
        let ended = log.started.elapsed();
        let end_time = p::unix_seconds(log.started_at + ended);
        let start_time = p::unix_seconds(log.started_at);
        let (prompt, completion, total) = p::token_counts(usage);
        let attempts: Vec<AttemptSpan> = admission
            .context
            .as_ref()
            .map(|c| c.attempt_log())
            .unwrap_or_default()
            .into_iter()
            .map(|a| AttemptSpan {
                start: log.started_at + a.started.saturating_duration_since(log.started),
                duration: a.duration.unwrap_or_else(|| a.started.elapsed()),
                provider: Some(a.provider).filter(|p| !p.is_empty()),
                upstream_model: a.upstream_model,
                deployment_id: a.deployment_id,
                model_group: a.model_group,
                error: a.error.map(|(kind, message)| (kind.to_string(), message)),
            })
            .collect();
        // The first token (or the whole answer) came when the last attempt
        // ended; a cache hit answered at once.
        let first = attempts
            .last()
            .filter(|a| a.error.is_none())
            .and_then(|a| (a.start + a.duration).duration_since(log.started_at).ok())
            .unwrap_or(ended)
            .min(ended);
        let last_failed = attempts.last().filter(|a| a.error.is_some());
        let provider = route
            .map(|r| r.provider.clone())
            .or_else(|| last_failed.and_then(|a| a.provider.clone()));
        let key = admission.key.as_deref();
        let cost_usd = cost.map_or(0.0, llmux_store::from_nano);
        let model = route.map_or_else(
            || log.requested.clone(),
            |r| format!("{}/{}", r.provider, r.upstream_model),
        );
        let model_id = route
            .map(|r| r.deployment_id.clone())
            .or_else(|| last_failed.map(|a| a.deployment_id.clone()));
        let api_base = model_id
            .as_deref()
            .and_then(|id| self.api_base_of(id))
            .unwrap_or_default();
        let served_but_free =
            route.is_some_and(|r| !r.cache_hit) && cost.is_none() && err.is_none();
        let requester_metadata = log.request.metadata.clone();
        let weight = 1024
            + log.request_bytes
            + log.response.as_ref().map_or(0, |r| match r {
                Captured::Json(b) => b.len(),
                Captured::Value(_) => 4096,
            });
        p::LoggingPayload {
            id: admission.call_id.clone(),
            trace_id: log.trace.trace_id_hex(),
            call_id: admission.call_id.clone(),
            call_type: admission.call_type.to_string(),
            stream: log.stream,
            response_cost: cost_usd,
            response_cost_failure_debug_info: served_but_free.then(|| {
                serde_json::json!({
                    "error_str": "no price for this deployment's model",
                    "traceback_str": "",
                    "model": model,
                    "cache_hit": false,
                    "custom_llm_provider": provider,
                    "call_type": admission.call_type,
                })
            }),
            status,
            status_fields: p::StatusFields {
                llm_api_status: status,
            },
            custom_llm_provider: provider.clone(),
            total_tokens: total,
            prompt_tokens: prompt,
            completion_tokens: completion,
            startTime: start_time,
            endTime: end_time,
            completionStartTime: p::unix_seconds(log.started_at + first),
            response_time: end_time - start_time,
            model_map_information: p::ModelMapInformation {
                model_map_key: route
                    .map_or_else(|| log.requested.clone(), |r| r.upstream_model.clone()),
                model_map_value: None,
            },
            model: model.clone(),
            model_id: model_id.clone(),
            model_group: Some(
                route.map_or_else(|| log.requested.clone(), |r| r.model_group.clone()),
            ),
            api_base: api_base.clone(),
            metadata: p::Metadata {
                user_api_key_hash: key.map(|k| k.token_hash.clone()),
                user_api_key_alias: key.and_then(|k| k.key_alias.clone()),
                user_api_key_team_id: key.and_then(|k| k.team_id.clone()),
                user_api_key_user_id: key.and_then(|k| k.user_id.clone()),
                user_api_key_team_alias: log.team_alias.clone(),
                user_api_key_end_user_id: log.request.end_user.clone(),
                user_api_key_request_route: Some(log.route.to_string()),
                spend_logs_metadata: requester_metadata
                    .as_ref()
                    .and_then(|m| m.get("spend_logs_metadata"))
                    .cloned(),
                requester_ip_address: log.requester_ip.clone(),
                user_agent: log.user_agent.clone(),
                requester_metadata,
                team_id: key.and_then(|k| k.team_id.clone()),
                team_alias: log.team_alias.clone(),
            },
            cache_hit: Some(route.is_some_and(|r| r.cache_hit)),
            cache_key: None,
            saved_cache_cost: 0.0,
            request_tags: log.request.tags,
            end_user: log.request.end_user,
            requester_ip_address: log.requester_ip,
            user_agent: log.user_agent,
            messages: log.request.content.filter(|_| self.callbacks.log_content()),
            response: log.response.filter(|_| self.callbacks.log_content()),
            error_str: err.map(|e| e.to_string()),
            error_information: err.map(|e| p::error_information(e, provider.as_deref())),
            model_parameters: log.request.parameters,
            hidden_params: p::HiddenParams {
                model_id,
                cache_key: None,
                api_base: Some(api_base).filter(|a| !a.is_empty()),
                response_cost: cost.map(|c| llmux_store::from_nano(c).to_string()),
                litellm_overhead_time_ms: route
                    .map(|r| first.saturating_sub(r.latency).as_secs_f64() * 1000.0),
                additional_headers: serde_json::Map::new(),
                litellm_model_name: route.map(|r| r.upstream_model.clone()),
            },
            guardrail_information: None,
            standard_built_in_tools_params: None,
            weight,
            spans: p::SpanFacts {
                trace: log.trace,
                span_id: log.span_id,
                route: log.route,
                requested_model: log.requested,
                attempt_count: route.map_or(attempts.len() as u32, |r| r.attempts),
                fallback_from: route.and_then(|r| r.fallback_from.clone()),
                attempts,
                finish_reasons: log.finish_reasons,
            },
        }
    }

    /// The configured `api_base` of a deployment, for logging payloads.
    fn api_base_of(&self, deployment_id: &str) -> Option<String> {
        self.api_bases.get(deployment_id).cloned()
    }

    /// Start new budget periods that are due (run every minute by the
    /// server; tests call it after moving the clock).
    pub async fn reset_budgets(&self) {
        let Some(keys) = &self.keys else {
            return;
        };
        match keys.store().reset_due_budgets(self.clock.now()).await {
            Ok(reset) => {
                for entry in &reset {
                    match entry.split_once(':') {
                        Some(("llmux_keys", id)) => keys.invalidate(id).await,
                        Some(("llmux_users", id)) => {
                            keys.invalidate_owner(llmux_store::Kind::User, id).await
                        }
                        Some(("llmux_teams", id)) => {
                            keys.invalidate_owner(llmux_store::Kind::Team, id).await
                        }
                        _ => {}
                    }
                }
                if !reset.is_empty() {
                    tracing::info!(keys = reset.len(), "budget periods reset");
                }
            }
            Err(e) => tracing::warn!(error = %e, "budget reset skipped; retried next minute"),
        }
    }

    /// Fail readiness from now on (the first step of a graceful shutdown).
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether [`Gateway::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Write out queued spend and deliver queued callback events (graceful
    /// shutdown; each callback is given at most ten seconds).
    pub async fn flush(&self) {
        if let Some(s) = &self.spend {
            s.flush().await;
        }
        self.callbacks.flush(Duration::from_secs(10)).await;
    }

    /// Authenticate a request that calls no model (listing, info) and
    /// apply every key check but model access; counted like any request.
    pub(crate) async fn admit_listing(
        &self,
        route: &'static str,
        headers: &HeaderMap,
    ) -> Result<Caller, ApiError> {
        let ctx = Ctx::new(route, headers);
        match self.admit_caller(&ctx, headers, None, || 0).await {
            Ok((caller, _admission)) => Ok(caller),
            Err(e) => {
                self.record_error(&ctx, "", &e);
                Err(e.into())
            }
        }
    }

    /// Authenticate only (admin routes check the principal themselves).
    pub(crate) async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        Ok(self.auth.authenticate(headers).await?)
    }

    /// [`Gateway::authenticate`] for a request from a client address that
    /// may be guessing keys: an address with [`MAX_AUTH_FAILURES`] failed
    /// authentications within a minute is refused (429, before any key is
    /// looked up) until that minute is over.
    pub(crate) async fn authenticate_request(
        &self,
        headers: &HeaderMap,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Caller, ApiError> {
        if let Some(ip) = peer {
            let failed = self.auth_failures.get(&ip).await;
            if failed.is_some_and(|n| n.load(Ordering::Relaxed) >= MAX_AUTH_FAILURES) {
                return Err(ApiError(
                    Error::new(
                        llmux_core::ErrorKind::RateLimit,
                        "too many failed authentications from this address; try again in a minute",
                    )
                    .with_retry_after(Some(AUTH_FAILURE_WINDOW)),
                ));
            }
        }
        let result = self.authenticate(headers).await;
        if let (Some(ip), Err(e)) = (peer, &result) {
            if e.0.kind == llmux_core::ErrorKind::Authentication {
                let count = self
                    .auth_failures
                    .get_with(ip, async { Arc::new(AtomicU32::new(0)) })
                    .await;
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    /// Whether `caller` may call the model group `group` now.
    pub(crate) fn may_use(&self, caller: &Caller, group: &str) -> bool {
        self.auth
            .check(caller, Some(group), self.clock.now())
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::new_id;

    /// Architecture issue defect: the random part hashed an elapsed time of
    /// ~0 ns. Ids made at once, on several threads, never repeat and their
    /// random parts spread over the whole range.
    #[test]
    fn call_ids_are_unique_and_random() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..25_000).map(|_| new_id("call")).collect::<Vec<_>>()))
            .collect();
        let ids: Vec<String> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        let high_bit_set = ids
            .iter()
            .filter(|id| u64::from_str_radix(&id[13..], 16).unwrap() >> 63 == 1)
            .count();
        assert!((45_000..55_000).contains(&high_bit_set), "{high_bit_set}");
        assert!(
            ids[0].starts_with("call_") && ids[0].len() == 29,
            "{}",
            ids[0]
        );
    }
}
