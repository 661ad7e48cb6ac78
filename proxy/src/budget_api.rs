//! Named budgets, LiteLLM's `/budget/new|info|update|delete|list` (master key
//! only): a reusable set of limits — max and soft budget, budget period,
//! tpm/rpm, parallel requests. `/key/generate` with `"budget_id"` gives the
//! new key that budget's limits (fields the request sets itself win).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use llmux_core::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;

use crate::app::{parse_json, Gateway};
use crate::error::ApiError;
use crate::management::{admin, check_duration, check_limit, check_money, store_error};
use crate::store::{from_nano, Store, StoreError};

type Shared = State<Arc<Gateway>>;

/// A named budget as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetRecord {
    pub budget_id: String,
    pub max_budget_nano: Option<i64>,
    pub soft_budget_nano: Option<i64>,
    pub budget_duration: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn ctx(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError {
        context: context.to_string(),
        source,
    }
}

const COLUMNS: &str = "budget_id, max_budget_nano, soft_budget_nano, budget_duration, tpm_limit, rpm_limit, max_parallel_requests, created_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<BudgetRecord, sqlx::Error> {
    Ok(BudgetRecord {
        budget_id: r.try_get("budget_id")?,
        max_budget_nano: r.try_get("max_budget_nano")?,
        soft_budget_nano: r.try_get("soft_budget_nano")?,
        budget_duration: r.try_get("budget_duration")?,
        tpm_limit: r.try_get("tpm_limit")?,
        rpm_limit: r.try_get("rpm_limit")?,
        max_parallel_requests: r.try_get("max_parallel_requests")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Storage of named budgets.
impl Store {
    /// One budget.
    pub async fn get_budget(&self, id: &str) -> Result<Option<BudgetRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM llmux_budgets WHERE budget_id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(ctx("read budget"))?;
        row.map(|r| from_row(&r))
            .transpose()
            .map_err(ctx("decode budget"))
    }

    /// Every budget, oldest first.
    pub async fn list_budgets(&self) -> Result<Vec<BudgetRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM llmux_budgets ORDER BY created_at, budget_id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(ctx("list budgets"))?;
        rows.iter()
            .map(from_row)
            .collect::<Result<_, _>>()
            .map_err(ctx("decode budget"))
    }

    /// Insert (`insert = true`) or overwrite a budget.
    pub async fn save_budget(&self, b: &BudgetRecord, insert: bool) -> Result<(), StoreError> {
        let sql = if insert {
            "INSERT INTO llmux_budgets (max_budget_nano, soft_budget_nano, budget_duration, tpm_limit, rpm_limit, max_parallel_requests, updated_at, created_at, budget_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
        } else {
            // created_at never changes; it is bound so both statements share one parameter order.
            "UPDATE llmux_budgets SET max_budget_nano=$1, soft_budget_nano=$2, budget_duration=$3, tpm_limit=$4, rpm_limit=$5, max_parallel_requests=$6, updated_at=$7 WHERE created_at=$8 AND budget_id=$9"
        };
        sqlx::query(sql)
            .bind(b.max_budget_nano)
            .bind(b.soft_budget_nano)
            .bind(&b.budget_duration)
            .bind(b.tpm_limit)
            .bind(b.rpm_limit)
            .bind(b.max_parallel_requests)
            .bind(b.updated_at)
            .bind(b.created_at)
            .bind(&b.budget_id)
            .execute(self.pool())
            .await
            .map_err(ctx("save budget"))?;
        Ok(())
    }

    /// Delete a budget; whether it existed.
    pub async fn delete_budget(&self, id: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM llmux_budgets WHERE budget_id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(ctx("delete budget"))?;
        Ok(r.rows_affected() > 0)
    }
}

/// Fields of `/budget/new` and `/budget/update`; absent ones are left alone.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetFields {
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
pub fn budget_info(b: &BudgetRecord) -> Value {
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
pub async fn find_budget(store: &Store, id: &str) -> Result<BudgetRecord, ApiError> {
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
pub async fn new(State(gw): Shared, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let keys = admin(&gw, &headers).await?;
    let f: BudgetFields = parse_json(&body)?;
    let id = match f.budget_id.clone() {
        Some(id) if id.trim().is_empty() => {
            return Err(ApiError(
                Error::bad_request("budget_id must not be empty").with_param("budget_id"),
            ))
        }
        Some(id) => id,
        None => format!("budget-{}", &crate::keys::generate_key()?[3..19]),
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
pub async fn update(
    State(gw): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let keys = admin(&gw, &headers).await?;
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
pub async fn info(
    State(gw): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let keys = admin(&gw, &headers).await?;
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
pub async fn delete(
    State(gw): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let keys = admin(&gw, &headers).await?;
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
pub async fn list(State(gw): Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    let keys = admin(&gw, &headers).await?;
    let all = keys.store().list_budgets().await.map_err(store_error)?;
    Ok(Json(Value::Array(all.iter().map(budget_info).collect())).into_response())
}
