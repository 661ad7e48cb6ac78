//! Spend reports (master key only), LiteLLM's paths: `/spend/logs`,
//! `/global/spend`, `/global/spend/report` grouped by key, user, team, model
//! or day. Sums are exact (integer nano-dollars) and shown in USD.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use llmux_core::Error;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;

use crate::app::Gateway;
use crate::error::ApiError;
use crate::management::{admin, store_error};
use crate::store::{from_nano, StoreError};

type Shared = State<Arc<Gateway>>;

/// Filters shared by the spend endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct SpendQuery {
    /// A key (`sk-…`) or its hash.
    api_key: Option<String>,
    user_id: Option<String>,
    team_id: Option<String>,
    request_id: Option<String>,
    model: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    start_date: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    end_date: Option<String>,
    /// `key`, `user`, `team`, `model` or `day` (report only).
    group_by: Option<String>,
    /// Most rows returned by `/spend/logs` (default 1000).
    limit: Option<i64>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` → Unix seconds at 00:00 UTC.
fn parse_date(field: &str, s: &str) -> Result<i64, Error> {
    let bad = || {
        Error::bad_request(format!("{field} must be a date like 2026-11-25, got '{s}'"))
            .with_param(field)
    };
    let mut parts = s.splitn(3, '-').map(|p| p.parse::<i64>());
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * 86_400)
}

fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The WHERE clause of a query's filters, with its binds in order.
struct Filter {
    sql: String,
    binds: Vec<FilterValue>,
}

enum FilterValue {
    Text(String),
    Int(i64),
}

impl Filter {
    fn from_query(q: &SpendQuery) -> Result<Filter, Error> {
        let mut f = Filter {
            sql: String::from("WHERE 1 = 1"),
            binds: Vec::new(),
        };
        let text = |column: &str, v: &Option<String>, f: &mut Filter| {
            if let Some(v) = v {
                f.binds.push(FilterValue::Text(v.clone()));
                f.sql
                    .push_str(&format!(" AND {column} = ${}", f.binds.len()));
            }
        };
        let key_hash = q.api_key.as_deref().map(crate::management::token_hash_of);
        text("token_hash", &key_hash, &mut f);
        text("user_id", &q.user_id, &mut f);
        text("team_id", &q.team_id, &mut f);
        text("request_id", &q.request_id, &mut f);
        text("model_group", &q.model, &mut f);
        if let Some(s) = &q.start_date {
            f.binds.push(FilterValue::Int(parse_date("start_date", s)?));
            f.sql
                .push_str(&format!(" AND start_time >= ${}", f.binds.len()));
        }
        if let Some(s) = &q.end_date {
            f.binds
                .push(FilterValue::Int(parse_date("end_date", s)? + 86_400));
            f.sql
                .push_str(&format!(" AND start_time < ${}", f.binds.len()));
        }
        Ok(f)
    }

    fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for b in &self.binds {
            q = match b {
                FilterValue::Text(s) => q.bind(s.as_str()),
                FilterValue::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> ApiError {
    move |source| {
        store_error(StoreError {
            context: context.to_string(),
            source,
        })
    }
}

/// `GET /spend/logs`: the spend-log rows matching the filters, newest first.
pub async fn spend_logs(
    State(gw): Shared,
    headers: HeaderMap,
    Query(q): Query<SpendQuery>,
) -> Result<Response, ApiError> {
    let keys = admin(&gw, &headers).await?;
    let filter = Filter::from_query(&q)?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let sql = format!(
        "SELECT request_id, token_hash, user_id, team_id, model, model_group, deployment_id, provider, prompt_tokens, completion_tokens, total_tokens, spend_nano, start_time, end_time, latency_ms, status, cache_hit FROM llmux_spend_logs {} ORDER BY start_time DESC, request_id LIMIT {limit}",
        filter.sql
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .fetch_all(keys.store().pool())
        .await
        .map_err(db("read spend logs"))?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let get_s = |c: &str| r.try_get::<Option<String>, _>(c);
        let get_i = |c: &str| r.try_get::<i64, _>(c);
        let row = (|| -> Result<Value, sqlx::Error> {
            Ok(json!({
                "request_id": get_s("request_id")?,
                "api_key": get_s("token_hash")?,
                "user": get_s("user_id")?,
                "team_id": get_s("team_id")?,
                "model": get_s("model")?,
                "model_group": get_s("model_group")?,
                "model_id": get_s("deployment_id")?,
                "custom_llm_provider": get_s("provider")?,
                "prompt_tokens": get_i("prompt_tokens")?,
                "completion_tokens": get_i("completion_tokens")?,
                "total_tokens": get_i("total_tokens")?,
                "spend": from_nano(get_i("spend_nano")?),
                "startTime": get_i("start_time")?,
                "endTime": get_i("end_time")?,
                "request_duration_ms": get_i("latency_ms")?,
                "status": get_s("status")?,
                "cache_hit": get_i("cache_hit")? != 0,
            }))
        })()
        .map_err(db("decode spend log"))?;
        out.push(row);
    }
    Ok(Json(Value::Array(out)).into_response())
}

/// `GET /global/spend`: total spend (with the filters, if any).
pub async fn global_spend(
    State(gw): Shared,
    headers: HeaderMap,
    Query(q): Query<SpendQuery>,
) -> Result<Response, ApiError> {
    let keys = admin(&gw, &headers).await?;
    let filter = Filter::from_query(&q)?;
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(spend_nano), 0) AS BIGINT) AS total, CAST(COUNT(*) AS BIGINT) AS requests FROM llmux_spend_logs {}",
        filter.sql
    );
    let row = filter
        .bind(sqlx::query(&sql))
        .fetch_one(keys.store().pool())
        .await
        .map_err(db("sum spend"))?;
    let total: i64 = row.try_get("total").map_err(db("decode spend"))?;
    let requests: i64 = row.try_get("requests").map_err(db("decode spend"))?;
    Ok(
        Json(json!({"spend": from_nano(total), "requests": requests, "max_budget": gw.proxy_budget.as_ref().map(|b| from_nano(b.max_nano))}))
            .into_response(),
    )
}

/// `GET /global/spend/report?group_by=key|user|team|model|day`: spend,
/// requests and tokens per group, biggest first (by date for `day`).
pub async fn global_spend_report(
    State(gw): Shared,
    headers: HeaderMap,
    Query(q): Query<SpendQuery>,
) -> Result<Response, ApiError> {
    let keys = admin(&gw, &headers).await?;
    let filter = Filter::from_query(&q)?;
    let by = q.group_by.as_deref().unwrap_or("day");
    let expr = match by {
        "key" | "api_key" => "token_hash",
        "user" => "user_id",
        "team" => "team_id",
        "model" => "model_group",
        "day" => "start_time / 86400",
        other => {
            return Err(ApiError(
                Error::bad_request(format!(
                    "group_by must be key, user, team, model or day, got '{other}'"
                ))
                .with_param("group_by"),
            ))
        }
    };
    let group_sql = if by == "day" {
        format!("CAST({expr} AS BIGINT)")
    } else {
        format!("COALESCE({expr}, '')")
    };
    let sql = format!(
        "SELECT {group_sql} AS grp, CAST(SUM(spend_nano) AS BIGINT) AS spend, CAST(COUNT(*) AS BIGINT) AS requests, CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens FROM llmux_spend_logs {} GROUP BY {group_sql}",
        filter.sql
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .fetch_all(keys.store().pool())
        .await
        .map_err(db("spend report"))?;
    let mut groups: Vec<(Value, i64, Value)> = Vec::with_capacity(rows.len());
    for r in rows {
        let decode = || -> Result<(Value, i64, Value), sqlx::Error> {
            let group = if by == "day" {
                json!(format_day(r.try_get::<i64, _>("grp")?))
            } else {
                let g: String = r.try_get("grp")?;
                if g.is_empty() {
                    Value::Null
                } else {
                    json!(g)
                }
            };
            let spend: i64 = r.try_get("spend")?;
            let rest = json!({
                "requests": r.try_get::<i64, _>("requests")?,
                "prompt_tokens": r.try_get::<i64, _>("prompt_tokens")?,
                "completion_tokens": r.try_get::<i64, _>("completion_tokens")?,
            });
            Ok((group, spend, rest))
        };
        groups.push(decode().map_err(db("decode spend report"))?);
    }
    if by == "day" {
        groups.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
    } else {
        groups.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| a.0.to_string().cmp(&b.0.to_string()))
        });
    }
    let out: Vec<Value> = groups
        .into_iter()
        .map(|(group, spend, mut rest)| {
            rest["group_by"] = json!(by);
            rest["group"] = group;
            rest["spend"] = json!(from_nano(spend));
            rest
        })
        .collect();
    Ok(Json(Value::Array(out)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("d", "1970-01-01").unwrap(), 0);
        assert_eq!(parse_date("d", "2026-11-25").unwrap(), 1_795_564_800);
        assert_eq!(format_day(1_795_564_800 / 86_400), "2026-11-25");
        assert_eq!(format_day(days_from_civil(2000, 2, 29)), "2000-02-29");
        assert_eq!(
            parse_date("start_date", "25/11/2026").unwrap_err().message,
            "start_date must be a date like 2026-11-25, got '25/11/2026'"
        );
    }
}
