//! Named budgets, LiteLLM's `/budget/new|info|update|delete|list` (master key
//! only): a reusable set of limits — max and soft budget, budget period,
//! tpm/rpm, parallel requests. `/key/generate` with `"budget_id"` gives the
//! new key that budget's limits (fields the request sets itself win).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use llmux_core::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::fields::{
    check_duration, check_limit, check_money, id_or_new, refuse_existing, required, store_error,
};
use crate::admin::AdminKeys;
use crate::body::JsonBody;
use crate::error::ApiError;
use llmux_store::{from_nano, BudgetRecord, Store};

use crate::http::Shared;

/// Fields of `/budget/new` and `/budget/update`; absent ones are left alone.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct BudgetFields {
    budget_id: Option<String>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    budget_duration: Option<String>,
    tpm_limit: Option<i64>,
    rpm_limit: Option<i64>,
    max_parallel_requests: Option<i64>,
}

fn apply(b: &mut BudgetRecord, f: &BudgetFields, now: i64) -> Result<(), Error> {
    b.max_budget_nano = check_money("max_budget", f.max_budget)?.or(b.max_budget_nano);
    b.soft_budget_nano = check_money("soft_budget", f.soft_budget)?.or(b.soft_budget_nano);
    if let Some(d) = &f.budget_duration {
        check_duration("budget_duration", d)?;
        b.budget_duration = Some(d.clone());
    }
    b.tpm_limit = check_limit("tpm_limit", f.tpm_limit)?.or(b.tpm_limit);
    b.rpm_limit = check_limit("rpm_limit", f.rpm_limit)?.or(b.rpm_limit);
    let parallel = check_limit("max_parallel_requests", f.max_parallel_requests)?;
    b.max_parallel_requests = parallel.or(b.max_parallel_requests);
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
    JsonBody(f): JsonBody<BudgetFields>,
) -> Result<Response, ApiError> {
    let id = id_or_new(f.budget_id.clone(), "budget_id", "budget")?;
    let now = gw.clock.now();
    let mut b = BudgetRecord {
        budget_id: id.clone(),
        created_at: now,
        ..BudgetRecord::default()
    };
    apply(&mut b, &f, now)?;
    refuse_existing(
        keys.store().get_budget(&id).await,
        || format!("budget already exists: {id}"),
        "budget_id",
    )?;
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
    JsonBody(f): JsonBody<BudgetFields>,
) -> Result<Response, ApiError> {
    let id = required(f.budget_id.as_deref(), "budget_id")?;
    let mut b = find_budget(keys.store(), id).await?;
    apply(&mut b, &f, gw.clock.now())?;
    keys.store()
        .save_budget(&b, false)
        .await
        .map_err(store_error)?;
    Ok(Json(budget_info(&b)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InfoBody {
    budgets: Vec<String>,
}

/// `POST /budget/info` with `{"budgets": [ids]}`
pub(crate) async fn info(
    AdminKeys(keys): AdminKeys,
    JsonBody(req): JsonBody<InfoBody>,
) -> Result<Response, ApiError> {
    let mut out = Vec::with_capacity(req.budgets.len());
    for id in &req.budgets {
        out.push(budget_info(&find_budget(keys.store(), id).await?));
    }
    Ok(Json(Value::Array(out)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteBody {
    id: String,
}

/// `POST /budget/delete` with `{"id": …}`
pub(crate) async fn delete(
    AdminKeys(keys): AdminKeys,
    JsonBody(req): JsonBody<DeleteBody>,
) -> Result<Response, ApiError> {
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
