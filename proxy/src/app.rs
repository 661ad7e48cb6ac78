//! The gateway's state and HTTP routes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use llmux_core::endpoint::{Call, Reply};
use llmux_core::types::audio::{SpeechRequest, TranscriptionRequest, TranscriptionResponse};
use llmux_core::types::chat::{ChatCompletion, ChatCompletionRequest, StreamOptions};
use llmux_core::types::embeddings::EmbeddingRequest;
use llmux_core::types::images::ImageGenerationRequest;
use llmux_core::types::moderations::ModerationRequest;
use llmux_core::types::rerank::RerankRequest;
use llmux_core::{unix_now, Error, ErrorKind};
use llmux_router::{RouteInfo, Router, RouterRequest, RouterResponse};

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;

use crate::auth::{Authenticator, Caller, Principal};
use crate::completions;
use crate::error::ApiError;
use crate::metrics::{
    DeploymentLabels, ErrorLabels, Metrics, RequestLabels, RouteLabels, TokenLabels,
};
use crate::pricing::{Pricing, PromptSize, UsageTracker};
use crate::sse::{sse_stream, SseOptions, StreamOutcome};
use llmux_store::Clock;
use llmux_store::SpendQueue;
use llmux_store::{Account, Ledger, Reservation};
use llmux_store::{KeyRecord, SpendRow};
use llmux_store::{Limits, Slot};

/// The service every call goes through: the router, maybe behind the cache.
pub type CallService = BoxCloneSyncService<RouterRequest, RouterResponse, Error>;

/// What the handlers share.
pub struct Gateway {
    pub service: CallService,
    pub router: Router,
    pub auth: Arc<dyn Authenticator>,
    /// Virtual keys and the database, when a master key is set.
    pub keys: Option<Arc<crate::keys::VirtualKeys>>,
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
    pub metrics: Arc<Metrics>,
    /// Sanitized `model_list` for `/model/info` (no keys).
    pub model_info: Vec<Value>,
    /// Seconds of silence before a stream keep-alive comment.
    pub keep_alive: Duration,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
}

type Shared = State<Arc<Gateway>>;

/// All routes, with and without the `/v1` prefix.
pub fn routes(gateway: Arc<Gateway>) -> axum::Router {
    let limit = gateway.max_body_bytes;
    let mut r = axum::Router::new();
    for prefix in ["", "/v1"] {
        r = r
            .route(
                &format!("{prefix}/chat/completions"),
                post(chat_completions),
            )
            .route(
                &format!("{prefix}/completions"),
                post(completions::text_completions),
            )
            .route(&format!("{prefix}/embeddings"), post(embeddings))
            .route(
                &format!("{prefix}/images/generations"),
                post(image_generation),
            )
            .route(
                &format!("{prefix}/audio/transcriptions"),
                post(transcription),
            )
            .route(&format!("{prefix}/audio/speech"), post(speech))
            .route(&format!("{prefix}/moderations"), post(moderation))
            .route(&format!("{prefix}/rerank"), post(rerank))
            .route(&format!("{prefix}/models"), get(list_models))
            .route(&format!("{prefix}/models/{{*id}}"), get(get_model))
            .route(&format!("{prefix}/model/info"), get(model_info));
    }
    r.route("/v2/rerank", post(rerank))
        .route("/v1/messages", post(crate::messages::messages))
        .route(
            "/openai/deployments/{model}/chat/completions",
            post(azure_chat_completions),
        )
        .route("/key/generate", post(crate::management::generate))
        .route("/key/info", get(crate::management::info))
        .route("/key/update", post(crate::management::update))
        .route("/key/delete", post(crate::management::delete))
        .route("/key/list", get(crate::management::list))
        .route("/key/regenerate", post(crate::management::regenerate))
        .route("/key/block", post(crate::management::block))
        .route("/key/unblock", post(crate::management::unblock))
        .route("/user/new", post(crate::org::user_new))
        .route("/user/info", get(crate::org::user_info))
        .route("/user/update", post(crate::org::user_update))
        .route("/user/delete", post(crate::org::user_delete))
        .route("/user/list", get(crate::org::user_list))
        .route("/team/new", post(crate::org::team_new))
        .route("/team/info", get(crate::org::team_info))
        .route("/team/update", post(crate::org::team_update))
        .route("/team/delete", post(crate::org::team_delete))
        .route("/team/list", get(crate::org::team_list))
        .route("/team/member_add", post(crate::org::team_member_add))
        .route("/team/member_delete", post(crate::org::team_member_delete))
        .route("/team/block", post(crate::org::team_block))
        .route("/team/unblock", post(crate::org::team_unblock))
        .route("/budget/new", post(crate::budget_api::new))
        .route("/budget/info", post(crate::budget_api::info))
        .route("/budget/update", post(crate::budget_api::update))
        .route("/budget/delete", post(crate::budget_api::delete))
        .route("/budget/list", get(crate::budget_api::list))
        .route("/spend/logs", get(crate::reports::spend_logs))
        .route("/global/spend", get(crate::reports::global_spend))
        .route(
            "/global/spend/report",
            get(crate::reports::global_spend_report),
        )
        .route("/health/liveliness", get(liveliness))
        .route("/health/liveness", get(liveliness))
        .route("/health/readiness", get(readiness))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/", get(index))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(gateway)
}

/// A call the router answered, with the caller's admission, which
/// [`Gateway::finish`] settles.
pub(crate) struct Served {
    pub reply: Reply,
    pub route: RouteInfo,
    pub admission: Admission,
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

/// Per-request bookkeeping.
pub(crate) struct Ctx {
    pub started: Instant,
    pub route: &'static str,
    pub request_id: String,
}

impl Ctx {
    pub fn new(route: &'static str, headers: &HeaderMap) -> Ctx {
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
        }
    }
}

/// A gateway-made id: `{prefix}_` and 24 hex digits, the time (seconds)
/// first so that ids written together sort together (spend rows append to
/// the end of their index instead of landing all over it).
///
/// The random part comes from `fastrand`'s per-thread generator, seeded from
/// the operating system's randomness (it used to hash an elapsed time of
/// about 0 ns).
fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{:08x}{:016x}",
        unix_now() as u32,
        fastrand::u64(..)
    )
}

/// Parse a JSON body into `T`, with the path of the offending field.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    parse_from(&mut serde_json::Deserializer::from_slice(body))
}

/// [`parse_json`] for a body already parsed into a JSON value.
pub(crate) fn parse_value<T: DeserializeOwned>(body: Value) -> Result<T, Error> {
    parse_from(body)
}

fn parse_from<'de, D, T>(de: D) -> Result<T, Error>
where
    D: serde::Deserializer<'de, Error = serde_json::Error>,
    T: DeserializeOwned,
{
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let err = if inner.is_syntax() || inner.is_eof() {
            Error::bad_request(format!("Invalid JSON in request body: {inner}"))
        } else if path == "." {
            Error::bad_request(format!("Invalid request body: {inner}"))
        } else {
            Error::bad_request(format!("Invalid request body at '{path}': {inner}"))
                .with_param(path.clone())
        };
        if let Some(missing) = inner
            .to_string()
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            return err.with_param(missing.to_string());
        }
        err
    })
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The usage (in chat's shape) and cost of a non-chat reply.
fn reply_cost(
    pricing: &Pricing,
    route: &RouteInfo,
    reply: &Reply,
) -> (Option<llmux_core::types::chat::Usage>, Option<i64>) {
    use llmux_core::types::chat::Usage;
    match reply {
        Reply::Embeddings(e) => {
            let usage = Usage {
                prompt_tokens: e.usage.prompt_tokens,
                total_tokens: e.usage.total_tokens,
                ..Default::default()
            };
            let cost = pricing.cost(route, &usage);
            (Some(usage), cost)
        }
        Reply::Rerank(r) => {
            let (queries, tokens) = crate::pricing::rerank_units(r);
            let cost = pricing.rerank_cost(route, queries, tokens);
            (Some(Usage::new(tokens, 0)), cost)
        }
        _ => (None, None),
    }
}

/// `x-llmux-response-cost`: USD, as LiteLLM's `x-litellm-response-cost`.
pub(crate) fn cost_header(headers: &mut HeaderMap, cost: Option<i64>) {
    if let Some(nano) = cost {
        headers.insert(
            HeaderName::from_static("x-llmux-response-cost"),
            header_value(&llmux_store::from_nano(nano).to_string()),
        );
    }
}

/// The budgets a caller's calls spend from (key, user, team), each in its
/// budget period of `now`.
fn budget_accounts(caller: &Caller, now: i64) -> Vec<Account> {
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

/// Headers describing how a call was served.
pub(crate) fn route_headers(headers: &mut HeaderMap, ctx: &Ctx, route: &RouteInfo) {
    let overhead = ctx.started.elapsed().saturating_sub(route.latency);
    let pairs = [
        ("x-request-id", ctx.request_id.clone()),
        ("x-llmux-model-id", route.deployment_id.clone()),
        ("x-llmux-model-group", route.model_group.clone()),
        ("x-llmux-provider", route.provider.clone()),
        ("x-llmux-attempts", route.attempts.to_string()),
        ("x-llmux-cache-hit", route.cache_hit.to_string()),
        (
            "x-llmux-overhead-ms",
            format!("{:.3}", overhead.as_secs_f64() * 1000.0),
        ),
    ];
    for (k, v) in pairs {
        headers.insert(HeaderName::from_static(k), header_value(&v));
    }
    if let Some(from) = &route.fallback_from {
        headers.insert(
            HeaderName::from_static("x-llmux-fallback-from"),
            header_value(from),
        );
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

    fn record_success(&self, ctx: &Ctx, route: &RouteInfo) {
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
    fn record_status(&self, ctx: &Ctx, requested: &str, status: u16) {
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
    fn record_error(&self, ctx: &Ctx, requested: &str, err: &Error) {
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
        if let Call::Chat(r) | Call::ChatStream(r) = &mut call {
            if self.drop_params && r.drop_params.is_none() {
                r.drop_params = Some(true);
            }
        }
        let admission = match self.admit(ctx, headers, &group, &call).await {
            Ok(a) => a,
            Err(e) => {
                self.record_error(ctx, &group, &e);
                return Err(e.into());
            }
        };
        match self
            .service
            .clone()
            .oneshot(RouterRequest::new(group.clone(), call))
            .await
        {
            Ok(r) => {
                self.record_success(ctx, &r.route);
                Ok(Served {
                    reply: r.reply,
                    route: r.route,
                    admission,
                })
            }
            Err(e) => {
                self.record_error(ctx, &group, &e);
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
        let (_, admission) = self
            .admit_caller(ctx, headers, Some(group), || {
                self.pricing.worst_case(group, call)
            })
            .await?;
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
        let mut accounts = budget_accounts(&caller, now);
        accounts.extend(self.proxy_budget.clone());
        let reservation = if accounts.is_empty() {
            Reservation::none()
        } else {
            self.ledger.reserve(&accounts, worst_cost()).await?
        };
        let admission = Admission {
            key: caller.key.clone(),
            _slot: slot,
            reservation: Some(reservation),
            ledger: self.ledger.clone(),
            started_unix: now,
            request_id: ctx.request_id.clone(),
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
        if let Some(r) = admission.reservation.take() {
            let ledger = self.ledger.clone();
            let actual = cost.unwrap_or(0);
            if r.amount() != 0 || actual != 0 {
                tokio::spawn(async move { ledger.settle(r, actual).await });
            }
        }
        if let Some(spend) = &self.spend {
            let key = admission.key.as_deref();
            let u = usage.cloned().unwrap_or_default();
            let end = self.clock.now();
            spend.record(SpendRow {
                call_id: new_id("call"),
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
            });
        }
        cost
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

    /// Write out queued spend (graceful shutdown).
    pub async fn flush(&self) {
        if let Some(s) = &self.spend {
            s.flush().await;
        }
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

    /// Whether `caller` may call the model group `group` now.
    pub(crate) fn may_use(&self, caller: &Caller, group: &str) -> bool {
        self.auth
            .check(caller, Some(group), self.clock.now())
            .is_ok()
    }

    /// A whole JSON response for a served call that cost `cost` nano-dollars.
    pub(crate) fn json_response(
        &self,
        ctx: &Ctx,
        route: &RouteInfo,
        cost: Option<i64>,
        body: Vec<u8>,
    ) -> Response {
        self.record_status(ctx, &route.model_group, 200);
        let mut response = (StatusCode::OK, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        route_headers(response.headers_mut(), ctx, route);
        cost_header(response.headers_mut(), cost);
        tracing::info!(request_id = %ctx.request_id, route = ctx.route, model = loggable(&route.model_group), deployment = %route.deployment_id, attempts = route.attempts, cache_hit = route.cache_hit, latency_ms = route.latency.as_millis() as u64, "served");
        response
    }

    /// An SSE response for a served stream.
    pub(crate) fn sse_response(
        self: &Arc<Self>,
        ctx: &Ctx,
        route: &RouteInfo,
        stream: llmux_core::ChatStream,
        client: ClientStream,
        admission: Admission,
    ) -> Response {
        self.record_status(ctx, &route.model_group, 200);
        let gateway = self.clone();
        let finished_route = route.clone();
        let route_name = ctx.route;
        let request_id = ctx.request_id.clone();
        let usage = UsageTracker::new(&route.upstream_model, client.prompt);
        let on_end = move |mut outcome: StreamOutcome| {
            gateway.finish(admission, &finished_route, Some(&outcome.usage.usage()));
            match &outcome.error {
                Some(e) => {
                    gateway
                        .metrics
                        .stream_errors
                        .get_or_create(&RouteLabels {
                            route: route_name,
                            model_group: gateway.group_label(&finished_route.model_group),
                        })
                        .inc();
                    tracing::warn!(request_id = %request_id, model = loggable(&finished_route.model_group), deployment = %finished_route.deployment_id, chunks = outcome.chunks, error = %e, "stream failed after it started");
                }
                None if !outcome.completed => {
                    tracing::info!(request_id = %request_id, model = loggable(&finished_route.model_group), chunks = outcome.chunks, "client disconnected mid-stream; upstream call cancelled");
                }
                None => {}
            }
        };
        let options = SseOptions {
            encode: client.encode,
            client_wants_usage: client.wants_usage,
            keep_alive: self.keep_alive,
        };
        let body = Body::from_stream(sse_stream(stream, options, usage, on_end));
        let mut response = Response::new(body);
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        );
        route_headers(h, ctx, route);
        response
    }
}

/// How a served stream is written for its client.
pub(crate) struct ClientStream {
    /// How each chunk is serialized.
    pub encode: crate::sse::ChunkEncoder,
    /// The client asked for `stream_options.include_usage`.
    pub wants_usage: bool,
    /// Its prompt's size, for a usage estimate.
    pub prompt: PromptSize,
}

/// Every answer carries usage: a provider that sent none gets an estimate
/// (see [`UsageTracker`]).
pub(crate) fn fill_usage(completion: &mut ChatCompletion, route: &RouteInfo, prompt: PromptSize) {
    if completion.usage.is_none() {
        let mut usage = UsageTracker::new(&route.upstream_model, prompt);
        usage.observe_completion(completion);
        completion.usage = Some(usage.usage());
    }
}

/// Ask upstream for usage on every stream so it can be priced like the same
/// call without streaming; report whether the client itself asked.
pub(crate) fn force_stream_usage(req: &mut ChatCompletionRequest) -> bool {
    let asked = req
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    req.stream_options
        .get_or_insert_with(StreamOptions::default)
        .include_usage = Some(true);
    asked
}

pub(crate) fn validate_chat(req: &ChatCompletionRequest) -> Result<(), Error> {
    if req.model.trim().is_empty() {
        return Err(Error::bad_request("model is required").with_param("model"));
    }
    if req.messages.is_empty() {
        return Err(
            Error::bad_request("messages must contain at least one message").with_param("messages"),
        );
    }
    Ok(())
}

async fn chat_completions(
    State(gw): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new("chat_completions", &headers);
    let req: ChatCompletionRequest =
        parse_json(&body).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    serve_chat(&gw, &ctx, &headers, req).await
}

async fn azure_chat_completions(
    State(gw): Shared,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new("chat_completions", &headers);
    let mut req: Value = parse_json(&body).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    if let Value::Object(m) = &mut req {
        m.entry("model").or_insert(Value::String(model));
    }
    let req: ChatCompletionRequest =
        parse_value(req).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    serve_chat(&gw, &ctx, &headers, req).await
}

async fn serve_chat(
    gw: &Arc<Gateway>,
    ctx: &Ctx,
    headers: &HeaderMap,
    mut req: ChatCompletionRequest,
) -> Result<Response, ApiError> {
    validate_chat(&req).inspect_err(|e| gw.record_error(ctx, &req.model, e))?;
    let group = req.model.clone();
    let prompt = PromptSize::of(&req);
    if req.is_stream() {
        let client_wants_usage = force_stream_usage(&mut req);
        let r = gw
            .dispatch(ctx, headers, group, Call::ChatStream(req))
            .await?;
        let Reply::ChatStream(stream) = r.reply else {
            return Err(internal(
                "router returned a non-stream reply to a stream call",
            ));
        };
        let client = ClientStream {
            encode: serde_json::to_vec,
            wants_usage: client_wants_usage,
            prompt,
        };
        return Ok(gw.sse_response(ctx, &r.route, stream, client, r.admission));
    }
    let r = gw.dispatch(ctx, headers, group, Call::Chat(req)).await?;
    let Reply::Chat(mut completion) = r.reply else {
        return Err(internal("router returned a non-chat reply to a chat call"));
    };
    fill_usage(&mut completion, &r.route, prompt);
    let cost = gw.finish(r.admission, &r.route, completion.usage.as_ref());
    let body = serde_json::to_vec(&completion).map_err(|e| internal(&e.to_string()))?;
    Ok(gw.json_response(ctx, &r.route, cost, body))
}

pub(crate) fn internal(message: &str) -> ApiError {
    ApiError(Error::new(ErrorKind::InternalServer, message.to_string()))
}

macro_rules! json_endpoint {
    ($name:ident, $route:literal, $req:ty, $variant:ident, $group:expr) => {
        async fn $name(
            State(gw): Shared,
            headers: HeaderMap,
            body: Bytes,
        ) -> Result<Response, ApiError> {
            let ctx = Ctx::new($route, &headers);
            let req: $req = parse_json(&body).inspect_err(|e| gw.record_error(&ctx, "", e))?;
            let group: String = $group(&req);
            if group.trim().is_empty() {
                let e = Error::bad_request("model is required").with_param("model");
                gw.record_error(&ctx, "", &e);
                return Err(e.into());
            }
            let r = gw
                .dispatch(&ctx, &headers, group, Call::$variant(req))
                .await?;
            let body = match &r.reply {
                Reply::$variant(v) => {
                    serde_json::to_vec(v).map_err(|e| internal(&e.to_string()))?
                }
                _ => {
                    return Err(internal(concat!(
                        "router returned the wrong reply for ",
                        $route
                    )))
                }
            };
            let (usage, cost) = reply_cost(&gw.pricing, &r.route, &r.reply);
            let cost = gw.settle(r.admission, &r.route, usage.as_ref(), cost);
            Ok(gw.json_response(&ctx, &r.route, cost, body))
        }
    };
}

json_endpoint!(
    embeddings,
    "embeddings",
    EmbeddingRequest,
    Embeddings,
    |r: &EmbeddingRequest| r.model.clone()
);
json_endpoint!(
    image_generation,
    "image_generation",
    ImageGenerationRequest,
    ImageGeneration,
    |r: &ImageGenerationRequest| r.model.clone().unwrap_or_default()
);
json_endpoint!(
    moderation,
    "moderations",
    ModerationRequest,
    Moderation,
    |r: &ModerationRequest| r.model.clone().unwrap_or_default()
);
json_endpoint!(
    rerank,
    "rerank",
    RerankRequest,
    Rerank,
    |r: &RerankRequest| r.model.clone()
);

async fn speech(State(gw): Shared, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let ctx = Ctx::new("audio_speech", &headers);
    let req: SpeechRequest = parse_json(&body).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    let r = gw
        .dispatch(&ctx, &headers, req.model.clone(), Call::Speech(req))
        .await?;
    let Reply::Speech(audio) = r.reply else {
        return Err(internal("router returned the wrong reply for audio/speech"));
    };
    let cost = gw.finish(r.admission, &r.route, None);
    gw.record_status(&ctx, &r.route.model_group, 200);
    let mut response = (StatusCode::OK, audio.audio).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header_value(&audio.content_type));
    route_headers(response.headers_mut(), &ctx, &r.route);
    cost_header(response.headers_mut(), cost);
    Ok(response)
}

async fn transcription(
    State(gw): Shared,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new("audio_transcriptions", &headers);
    let bad = |m: String| ApiError(Error::bad_request(m));
    let mut file: Option<(String, Bytes)> = None;
    let mut fields: Vec<(String, String)> = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("Invalid multipart body: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let filename = field.file_name().unwrap_or("audio").to_string();
            let data = field
                .bytes()
                .await
                .map_err(|e| bad(format!("Invalid multipart body: {e}")))?;
            file = Some((filename, data));
        } else {
            let text = field
                .text()
                .await
                .map_err(|e| bad(format!("Invalid multipart body: {e}")))?;
            fields.push((name, text));
        }
    }
    let Some((filename, data)) = file else {
        return Err(ApiError(
            Error::bad_request("the 'file' field is required").with_param("file"),
        ));
    };
    let mut model = None;
    let mut req = TranscriptionRequest::new(String::new(), data, filename);
    for (name, value) in fields {
        match name.as_str() {
            "model" => model = Some(value),
            "language" => req.language = Some(value),
            "prompt" => req.prompt = Some(value),
            "response_format" => req.response_format = Some(value),
            "temperature" => {
                req.temperature = Some(value.parse().map_err(|_| {
                    ApiError(
                        Error::bad_request(format!("temperature must be a number, got '{value}'"))
                            .with_param("temperature"),
                    )
                })?)
            }
            "timestamp_granularities[]" | "timestamp_granularities" => {
                req.timestamp_granularities.push(value)
            }
            _ => req.extra.push((name, value)),
        }
    }
    let Some(model) = model.filter(|m| !m.is_empty()) else {
        return Err(ApiError(
            Error::bad_request("the 'model' field is required").with_param("model"),
        ));
    };
    req.model.clone_from(&model);
    let r = gw
        .dispatch(&ctx, &headers, model, Call::Transcription(req))
        .await?;
    let cost = gw.finish(r.admission, &r.route, None);
    match r.reply {
        Reply::Transcription(TranscriptionResponse::Json(t)) => {
            let body = serde_json::to_vec(&t).map_err(|e| internal(&e.to_string()))?;
            Ok(gw.json_response(&ctx, &r.route, cost, body))
        }
        Reply::Transcription(TranscriptionResponse::Text(t)) => {
            gw.record_status(&ctx, &r.route.model_group, 200);
            let mut response = (StatusCode::OK, t).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            route_headers(response.headers_mut(), &ctx, &r.route);
            Ok(response)
        }
        _ => Err(internal(
            "router returned the wrong reply for audio/transcriptions",
        )),
    }
}

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_677_610_602u64, "owned_by": "openai"})
}

/// The model groups `caller` may use, sorted: every configured group
/// its key and team allow, and the `provider/model` names its key lists
/// that a wildcard group serves.
fn visible_models(gw: &Gateway, caller: &Caller) -> Vec<String> {
    let mut ids: Vec<String> = gw
        .router
        .model_groups()
        .into_iter()
        .filter(|g| gw.may_use(caller, g))
        .collect();
    if let Some(key) = caller.key.as_deref() {
        let named = key.models.iter().chain(key.aliases.keys());
        for m in named {
            if gw.router.group_name(m).is_some() && gw.may_use(caller, m) {
                ids.push(m.clone());
            }
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

async fn list_models(State(gw): Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    let caller = gw.admit_listing("models", &headers).await?;
    let data: Vec<Value> = visible_models(&gw, &caller)
        .iter()
        .map(|g| model_object(g))
        .collect();
    Ok(axum::Json(json!({"object": "list", "data": data})).into_response())
}

async fn get_model(
    State(gw): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = gw.admit_listing("models", &headers).await?;
    if visible_models(&gw, &caller).contains(&id) {
        return Ok(axum::Json(model_object(&id)).into_response());
    }
    Err(ApiError(
        Error::new(
            ErrorKind::NotFound,
            format!("The model '{}' does not exist", loggable(&id)),
        )
        .with_param("model")
        .with_code("model_not_found"),
    ))
}

/// The deployments of the groups `caller` may use; `api_base` (where the
/// gateway's upstreams live) only for the master key.
async fn model_info(State(gw): Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    let caller = gw.admit_listing("model_info", &headers).await?;
    let admin = matches!(caller.principal, Principal::Admin | Principal::Anonymous);
    let data: Vec<Value> = gw
        .model_info
        .iter()
        .filter(|m| {
            m["model_name"]
                .as_str()
                .is_some_and(|g| gw.may_use(&caller, g))
        })
        .map(|m| {
            let mut m = m.clone();
            if !admin {
                if let Some(params) = m["litellm_params"].as_object_mut() {
                    params.remove("api_base");
                }
            }
            m
        })
        .collect();
    Ok(axum::Json(json!({"data": data})).into_response())
}

async fn liveliness() -> &'static str {
    "I'm alive!"
}

async fn readiness(State(gw): Shared) -> Response {
    axum::Json(json!({
        "status": "healthy",
        "model_groups": gw.router.model_groups().len(),
        "deployments": gw.router.deployments().len(),
        "llmux_version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

/// Check every deployment with a one-token chat call (LiteLLM's `/health`).
/// Master key only: each check is a paid upstream call per deployment.
async fn health(State(gw): Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    let caller = gw.authenticate(&headers).await?;
    if !matches!(caller.principal, Principal::Admin | Principal::Anonymous) {
        return Err(ApiError(
            Error::new(
                ErrorKind::PermissionDenied,
                "only the master key may call /health: it sends a call to every deployment",
            )
            .with_code("admin_only"),
        ));
    }
    let checks = gw.router.deployments().iter().map(|d| {
        let d = d.clone();
        async move {
            let group = d.spec.group.clone();
            let probe = if group.ends_with('*') {
                return (d, Err("wildcard group: not probed".to_string()));
            } else {
                let mut req = ChatCompletionRequest::new(
                    group.clone(),
                    vec![llmux_core::ChatMessage::user("ping")],
                );
                req.max_tokens = Some(1);
                req
            };
            let result = match d.provider_for(&group) {
                Ok((provider, model)) => {
                    let mut probe = probe;
                    probe.model = model;
                    tokio::time::timeout(Duration::from_secs(30), provider.chat(probe))
                        .await
                        .map_err(|_| "timed out after 30 s".to_string())
                        .and_then(|r| r.map(|_| ()).map_err(|e| e.to_string()))
                }
                Err(e) => Err(e.to_string()),
            };
            (d, result)
        }
    });
    let results = futures::future::join_all(checks).await;
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for (d, result) in results {
        let entry =
            json!({"model": d.spec.model, "model_group": d.spec.group, "model_id": d.spec.id});
        match result {
            Ok(()) => healthy.push(entry),
            Err(e) => {
                let mut entry = entry;
                entry["error"] = Value::String(e);
                unhealthy.push(entry);
            }
        }
    }
    Ok(axum::Json(json!({
        "healthy_endpoints": healthy,
        "unhealthy_endpoints": unhealthy,
        "healthy_count": healthy.len(),
        "unhealthy_count": unhealthy.len(),
    }))
    .into_response())
}

async fn metrics(State(gw): Shared) -> Response {
    let mut response = gw.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// A route the gateway does not serve: not a model error.
async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError(
        Error::new(
            ErrorKind::NotFound,
            format!(
                "Unknown route: {method} {}. The OpenAI-compatible API is under /v1 (e.g. POST /v1/chat/completions); GET / lists the routes",
                loggable(uri.path())
            ),
        )
        .with_code("not_found"),
    )
}

/// `GET /`: what this server is and where to go next.
async fn index() -> Response {
    axum::Json(json!({
        "name": "llmux",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "OpenAI-compatible LLM gateway",
        "routes": {
            "openai": ["POST /v1/chat/completions", "POST /v1/completions", "POST /v1/embeddings", "POST /v1/images/generations", "POST /v1/audio/transcriptions", "POST /v1/audio/speech", "POST /v1/moderations", "POST /v1/rerank", "GET /v1/models"],
            "anthropic": ["POST /v1/messages"],
            "health": ["GET /health/liveliness", "GET /health/readiness", "GET /health"],
            "metrics": "GET /metrics",
            "admin": ["/key/*", "/user/*", "/team/*", "/budget/*", "/spend/logs", "/global/spend", "/global/spend/report"],
        },
        "docs": "README.md, section \"Gateway: llmux serve\"",
    }))
    .into_response()
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
