//! Named budgets, LiteLLM's `/budget/new|info|update|delete|list` (master key
//! only): a reusable set of limits — max and soft budget, budget period,
//! tpm/rpm, parallel requests. `/key/generate` with `"budget_id"` gives the
//! new key that budget's limits (fields the request sets itself win).

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use llmux_core::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::fields::{check_duration, check_limit, check_money, store_error};
use crate::admin::AdminKeys;
use crate::body::parse_json;
use crate::error::ApiError;
use llmux_store::{from_nano, BudgetRecord, Store};

use crate::http::Shared;

/// Fields of `/budget/new` and `/budget/update`; absent ones are left alone.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BudgetFields {
    #[serde(default)]
    budget_id: Option<String>,
    #[serde(default)]
    max_budget: Option<f64>,
    #[serde(default)]
    soft_budget: Option<f64>,
    #[serde(default)]
    budget_duration: Option<String>,
    #[serde(default)]
    tpm_limit: Option<i64>,
    #[serde(default)]
    rpm_limit: Option<i64>,
    #[serde(default)]
    max_parallel_requests: Option<i64>,
}

fn apply(b: &mut BudgetRecord, f: &BudgetFields, now: i64) -> Result<(), Error> {
    if let Some(v) = check_money("max_budget", f.max_budget)? {
        b.max_budget_nano = Some(v);
    }
    if let Some(v) = check_money("soft_budget", f.soft_budget)? {
        b.soft_budget_nano = Some(v);
    }
    if let Some(d) = &f.budget_duration {
        check_duration("budget_duration", d)?;
        b.budget_duration = Some(d.clone());
    }
    if let Some(v) = check_limit("tpm_limit", f.tpm_limit)? {
        b.tpm_limit = Some(v);
    }
    if let Some(v) = check_limit("rpm_limit", f.rpm_limit)? {
        b.rpm_limit = Some(v);
    }
    if let Some(v) = check_limit("max_parallel_requests", f.max_parallel_requests)? {
        b.max_parallel_requests = Some(v);
    }
    b.updated_at = now;
    Ok(())
}

/// A budget as LiteLLM shows it.
pub(crate) fn budget_info(b: &BudgetRecord) -> Value {
    json!({
        "budget_id": b.budget_id,
        "max_budget": b.max_budget_nano.map(from_nano),
        "soft_budget": b.soft_budget_nano.map(from_nano),
        "budget_duration": b.budget_duration,
        "tpm_limit": b.tpm_limit,
        "rpm_limit": b.rpm_limit,
        "max_parallel_requests": b.max_parallel_requests,
        "created_at": b.created_at,
        "updated_at": b.updated_at,
    })
}

/// The budget named `id`, or a 404.
pub(crate) async fn find_budget(store: &Store, id: &str) -> Result<BudgetRecord, ApiError> {
    store
        .get_budget(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError(
                Error::new(ErrorKind::NotFound, format!("budget not found: {id}"))
                    .with_param("budget_id"),
            )
        })
}

/// `POST /budget/new`
pub(crate) async fn new(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    body: Bytes,
) -> Result<Response, ApiError> {
    let f: BudgetFields = parse_json(&body)?;
    let id = match f.budget_id.clone() {
        Some(id) if id.trim().is_empty() => {
            return Err(ApiError(
                Error::bad_request("budget_id must not be empty").with_param("budget_id"),
            ))
        }
        Some(id) => id,
        None => format!(
            "budget-{}",
            &crate::auth::virtual_keys::generate_key()?[3..19]
        ),
    };
    let now = gw.clock.now();
    let mut b = BudgetRecord {
        budget_id: id.clone(),
        created_at: now,
        ..BudgetRecord::default()
    };
    apply(&mut b, &f, now)?;
    if keys
        .store()
        .get_budget(&id)
        .await
        .map_err(store_error)?
        .is_some()
    {
        return Err(ApiError(
            Error::bad_request(format!("budget already exists: {id}")).with_param("budget_id"),
        ));
    }
    keys.store()
        .save_budget(&b, true)
        .await
        .map_err(store_error)?;
    Ok(Json(budget_info(&b)).into_response())
}

/// `POST /budget/update`
pub(crate) async fn update(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    body: Bytes,
) -> Result<Response, ApiError> {
    let f: BudgetFields = parse_json(&body)?;
    let id = f.budget_id.clone().ok_or_else(|| {
        ApiError(Error::bad_request("budget_id is required").with_param("budget_id"))
    })?;
    let mut b = find_budget(keys.store(), &id).await?;
    apply(&mut b, &f, gw.clock.now())?;
    keys.store()
        .save_budget(&b, false)
        .await
        .map_err(store_error)?;
    Ok(Json(budget_info(&b)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InfoBody {
    budgets: Vec<String>,
}

/// `POST /budget/info` with `{"budgets": [ids]}`
pub(crate) async fn info(
    State(_gw): Shared,
    AdminKeys(keys): AdminKeys,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: InfoBody = parse_json(&body)?;
    let mut out = Vec::with_capacity(req.budgets.len());
    for id in &req.budgets {
        out.push(budget_info(&find_budget(keys.store(), id).await?));
    }
    Ok(Json(Value::Array(out)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    id: String,
}

/// `POST /budget/delete` with `{"id": …}`
pub(crate) async fn delete(
    State(_gw): Shared,
    AdminKeys(keys): AdminKeys,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: DeleteBody = parse_json(&body)?;
    if !keys
        .store()
        .delete_budget(&req.id)
        .await
        .map_err(store_error)?
    {
        return Err(ApiError(
            Error::new(ErrorKind::NotFound, format!("budget not found: {}", req.id))
                .with_param("id"),
        ));
    }
    Ok(Json(json!({"deleted": req.id})).into_response())
}

/// `GET /budget/list`
pub(crate) async fn list(AdminKeys(keys): AdminKeys) -> Result<Response, ApiError> {
    let all = keys.store().list_budgets().await.map_err(store_error)?;
    Ok(Json(Value::Array(all.iter().map(budget_info).collect())).into_response())
}
