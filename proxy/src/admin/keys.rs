//! Key management API (master key only), with LiteLLM's paths and fields:
//! `/key/generate`, `/key/info`, `/key/update`, `/key/delete`, `/key/list`,
//! `/key/regenerate`, `/key/block`, `/key/unblock`. Keys are shown once, at
//! generation (and regeneration); the database keeps only their hash.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use llmux_core::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::admin::fields::{
    check_duration, check_limit, check_money, refuse_existing, required, required_query,
    store_error, token_hash_of, Page,
};
use crate::admin::AdminKeys;
use crate::auth::virtual_keys::{display_name, generate_key, hash_key, VirtualKeys};
use crate::body::{parse_json_or_default, JsonBody};
use crate::error::ApiError;
use llmux_store::{from_nano, KeyRecord};

use crate::http::Shared;

/// Fields shared by `/key/generate` and `/key/update`. Absent fields are left
/// alone on update.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct KeyFields {
    pub key: Option<String>,
    pub key_alias: Option<String>,
    /// Lifetime (`30d`, `24h`, …); `null` for none.
    pub duration: Option<String>,
    pub models: Option<Vec<String>>,
    pub aliases: Option<Map<String, Value>>,
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub metadata: Option<Map<String, Value>>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub blocked: Option<bool>,
    /// Accepted for LiteLLM compatibility: spend is tracked by llmux itself.
    #[allow(dead_code)] // read from the request only so it is not refused
    pub spend: Option<f64>,
    /// A named budget (`/budget/new`) whose limits the key takes, where
    /// the request does not set them itself. On `/key/generate` only.
    pub budget_id: Option<String>,
}

fn apply(k: &mut KeyRecord, f: &KeyFields, now: i64) -> Result<(), Error> {
    if let Some(a) = &f.key_alias {
        k.key_alias = Some(a.clone());
    }
    if let Some(d) = &f.duration {
        k.expires_at = Some(now + check_duration("duration", d)?);
    }
    if let Some(m) = &f.models {
        k.models.clone_from(m);
    }
    if let Some(a) = &f.aliases {
        k.aliases.clone_from(a);
    }
    k.max_budget_nano = check_money("max_budget", f.max_budget)?.or(k.max_budget_nano);
    k.soft_budget_nano = check_money("soft_budget", f.soft_budget)?.or(k.soft_budget_nano);
    if let Some(d) = &f.budget_duration {
        k.budget_reset_at = Some(now + check_duration("budget_duration", d)?);
        k.budget_duration = Some(d.clone());
    }
    k.tpm_limit = check_limit("tpm_limit", f.tpm_limit)?.or(k.tpm_limit);
    k.rpm_limit = check_limit("rpm_limit", f.rpm_limit)?.or(k.rpm_limit);
    let parallel = check_limit("max_parallel_requests", f.max_parallel_requests)?;
    k.max_parallel_requests = parallel.or(k.max_parallel_requests);
    if let Some(m) = &f.metadata {
        k.metadata.clone_from(m);
    }
    if let Some(u) = &f.user_id {
        k.user_id = Some(u.clone());
    }
    if let Some(t) = &f.team_id {
        k.team_id = Some(t.clone());
    }
    if let Some(b) = f.blocked {
        k.blocked = b;
    }
    k.updated_at = now;
    Ok(())
}

fn iso(ts: Option<i64>) -> Value {
    ts.map(|t| json!(t)).unwrap_or(Value::Null)
}

/// A key's info as LiteLLM's `/key/info` shows it (never the key itself).
pub fn key_info(k: &KeyRecord) -> Value {
    json!({
        "token": k.token_hash,
        "key_name": k.key_name,
        "key_alias": k.key_alias,
        "user_id": k.user_id,
        "team_id": k.team_id,
        "models": k.models,
        "aliases": k.aliases,
        "spend": from_nano(k.spend_nano),
        "max_budget": k.max_budget_nano.map(from_nano),
        "soft_budget": k.soft_budget_nano.map(from_nano),
        "budget_duration": k.budget_duration,
        "budget_reset_at": iso(k.budget_reset_at),
        "tpm_limit": k.tpm_limit,
        "rpm_limit": k.rpm_limit,
        "max_parallel_requests": k.max_parallel_requests,
        "expires": iso(k.expires_at),
        "blocked": k.blocked,
        "metadata": k.metadata,
        "created_at": k.created_at,
        "updated_at": k.updated_at,
    })
}

async fn find(keys: &VirtualKeys, key: &str) -> Result<KeyRecord, ApiError> {
    keys.store()
        .get_key(&token_hash_of(key))
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError(Error::new(ErrorKind::NotFound, "key not found").with_param("key")))
}

/// `POST /key/generate`
pub(crate) async fn generate(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut fields: KeyFields = parse_json_or_default(&body)?;
    if let Some(id) = fields.budget_id.clone() {
        let b = crate::admin::budgets::find_budget(keys.store(), &id).await?;
        fields.max_budget = fields.max_budget.or(b.max_budget_nano.map(from_nano));
        fields.soft_budget = fields.soft_budget.or(b.soft_budget_nano.map(from_nano));
        fields.budget_duration = fields.budget_duration.or(b.budget_duration);
        fields.tpm_limit = fields.tpm_limit.or(b.tpm_limit);
        fields.rpm_limit = fields.rpm_limit.or(b.rpm_limit);
        fields.max_parallel_requests = fields.max_parallel_requests.or(b.max_parallel_requests);
    }
    let key = match &fields.key {
        Some(k) if !k.starts_with("sk-") || k.len() < 8 => {
            return Err(ApiError(
                Error::bad_request(
                    "a custom key must start with 'sk-' and be at least 8 characters",
                )
                .with_param("key"),
            ))
        }
        Some(k) => k.clone(),
        None => generate_key()?,
    };
    let t = gw.clock.now();
    let mut record = KeyRecord {
        token_hash: hash_key(&key),
        key_name: display_name(&key),
        key_alias: None,
        user_id: None,
        team_id: None,
        models: Vec::new(),
        aliases: Map::new(),
        max_budget_nano: None,
        soft_budget_nano: None,
        budget_duration: None,
        budget_reset_at: None,
        spend_nano: 0,
        tpm_limit: None,
        rpm_limit: None,
        max_parallel_requests: None,
        expires_at: None,
        blocked: false,
        metadata: Map::new(),
        created_at: t,
        updated_at: t,
    };
    apply(&mut record, &fields, t)?;
    refuse_existing(
        keys.store().get_key(&record.token_hash).await,
        || "that key already exists".into(),
        "key",
    )?;
    keys.store()
        .insert_key(&record)
        .await
        .map_err(store_error)?;
    let mut out = key_info(&record);
    out["key"] = json!(key);
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
pub(crate) struct KeyQuery {
    key: Option<String>,
}

/// `GET /key/info?key=…` (without `key`: the caller's own key).
pub(crate) async fn info(
    AdminKeys(keys): AdminKeys,
    Query(q): Query<KeyQuery>,
) -> Result<Response, ApiError> {
    let record = find(&keys, &required_query(q.key, "key")?).await?;
    Ok(Json(json!({"key": record.token_hash, "info": key_info(&record)})).into_response())
}

/// `POST /key/update`
pub(crate) async fn update(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    JsonBody(fields): JsonBody<KeyFields>,
) -> Result<Response, ApiError> {
    if fields.budget_id.is_some() {
        return Err(ApiError(
            Error::bad_request(
                "budget_id applies when a key is generated; update the key's limits directly",
            )
            .with_param("budget_id"),
        ));
    }
    let mut record = find(&keys, required(fields.key.as_deref(), "key")?).await?;
    apply(&mut record, &fields, gw.clock.now())?;
    save_changed(&keys, &record).await
}

/// Write a changed key, drop it from the key cache, and answer with its info.
async fn save_changed(keys: &VirtualKeys, record: &KeyRecord) -> Result<Response, ApiError> {
    keys.store().update_key(record).await.map_err(store_error)?;
    keys.invalidate(&record.token_hash).await;
    Ok(Json(key_info(record)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteBody {
    #[serde(default)]
    keys: Vec<String>,
}

/// `POST /key/delete` with `{"keys": [...]}`
pub(crate) async fn delete(
    AdminKeys(keys): AdminKeys,
    JsonBody(req): JsonBody<DeleteBody>,
) -> Result<Response, ApiError> {
    if req.keys.is_empty() {
        return Err(ApiError(
            Error::bad_request("keys must list at least one key").with_param("keys"),
        ));
    }
    let mut deleted = Vec::new();
    for k in &req.keys {
        let hash = token_hash_of(k);
        if !keys.store().delete_key(&hash).await.map_err(store_error)? {
            return Err(ApiError(
                Error::new(
                    ErrorKind::NotFound,
                    format!("key not found: {}", display_name(k)),
                )
                .with_param("keys"),
            ));
        }
        keys.invalidate(&hash).await;
        deleted.push(k.clone());
    }
    Ok(Json(json!({"deleted_keys": deleted})).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    page: Option<i64>,
    size: Option<i64>,
    user_id: Option<String>,
    team_id: Option<String>,
}

/// `GET /key/list?page=&size=&user_id=&team_id=`
pub(crate) async fn list(
    AdminKeys(keys): AdminKeys,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let page = Page::of(q.page, q.size, 10)?;
    let rows = keys
        .store()
        .list_keys(
            q.user_id.as_deref(),
            q.team_id.as_deref(),
            page.size,
            page.offset,
        )
        .await
        .map_err(store_error)?;
    let hashes: Vec<&str> = rows.iter().map(|k| k.token_hash.as_str()).collect();
    Ok(
        Json(json!({"keys": hashes, "current_page": page.number, "page_size": page.size}))
            .into_response(),
    )
}

#[derive(Deserialize)]
pub(crate) struct OneKey {
    key: String,
}

/// `POST /key/regenerate` with `{"key": ...}`: a new secret, same settings and spend.
pub(crate) async fn regenerate(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    JsonBody(req): JsonBody<OneKey>,
) -> Result<Response, ApiError> {
    let mut record = find(&keys, &req.key).await?;
    let new_key = generate_key()?;
    let new_hash = hash_key(&new_key);
    keys.store()
        .rekey(
            &record.token_hash,
            &new_hash,
            &display_name(&new_key),
            gw.clock.now(),
        )
        .await
        .map_err(store_error)?;
    keys.invalidate(&record.token_hash).await;
    record.token_hash = new_hash;
    record.key_name = display_name(&new_key);
    let mut out = key_info(&record);
    out["key"] = json!(new_key);
    Ok(Json(out).into_response())
}

/// `POST /key/block` (`BLOCKED`) and `/key/unblock` with `{"key": ...}`.
pub(crate) async fn set_blocked<const BLOCKED: bool>(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    JsonBody(req): JsonBody<OneKey>,
) -> Result<Response, ApiError> {
    let mut record = find(&keys, &req.key).await?;
    record.blocked = BLOCKED;
    record.updated_at = gw.clock.now();
    save_changed(&keys, &record).await
}
