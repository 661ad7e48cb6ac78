//! Spend reports (master key only), LiteLLM's paths: `/spend/logs`,
//! `/global/spend`, `/global/spend/report` grouped by key, user, team, model
//! or day. Sums are exact (integer nano-dollars) and shown in USD.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use llmux_core::Error;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::fields::store_error;
use crate::admin::AdminKeys;
use crate::error::ApiError;
use llmux_core::calendar::{civil_from_days, days_from_civil};
use llmux_store::{from_nano, ReportGroup, SpendFilter};

use crate::http::Shared;

/// Filters shared by the spend endpoints.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SpendQuery {
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
    /// `/spend/logs`: the page after the one whose `x-llmux-next-cursor`
    /// header this is.
    cursor: Option<String>,
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
    // Four-digit years: a larger one overflows the seconds.
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * 86_400)
}

fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The store's filter for a query's filters.
fn filter_of(q: &SpendQuery) -> Result<SpendFilter, Error> {
    let mut filter = SpendFilter {
        token_hash: q
            .api_key
            .as_deref()
            .map(crate::admin::fields::token_hash_of),
        user_id: q.user_id.clone(),
        team_id: q.team_id.clone(),
        request_id: q.request_id.clone(),
        model_group: q.model.clone(),
        ..SpendFilter::default()
    };
    (filter.start, filter.end) = date_range(q.start_date.as_deref(), q.end_date.as_deref())?;
    filter.before = q.cursor.as_deref().map(parse_cursor).transpose()?;
    Ok(filter)
}

/// A `/spend/logs` page cursor: the last row's start time and its call id
/// in hex (`1733486400_63616c6c5f31`), so any id fits in a header.
fn cursor_of(start_time: i64, call_id: &str) -> String {
    format!("{start_time}_{}", llmux_core::text::hex(call_id.as_bytes()))
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), Error> {
    let bad = || {
        Error::bad_request(format!(
            "cursor must be the x-llmux-next-cursor header of a /spend/logs answer, got '{cursor}'"
        ))
        .with_param("cursor")
    };
    let (time, hex) = cursor.split_once('_').ok_or_else(bad)?;
    let time = time.parse().map_err(|_| bad())?;
    if hex.len() % 2 != 0 || hex.len() > 512 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let id = String::from_utf8(bytes).map_err(|_| bad())?;
    Ok((time, id))
}

/// `start_date` and `end_date` (`YYYY-MM-DD`, both inclusive) as Unix
/// seconds: the first second of the start, the first second after the end.
pub(crate) fn date_range(
    start_date: Option<&str>,
    end_date: Option<&str>,
) -> Result<(Option<i64>, Option<i64>), Error> {
    let start = start_date
        .map(|s| parse_date("start_date", s))
        .transpose()?;
    let end = end_date
        .map(|s| parse_date("end_date", s).map(|d| d + 86_400))
        .transpose()?;
    Ok((start, end))
}

/// A stored prompt or answer as JSON again (a cut one, no longer JSON, as
/// text); `{}` when none was stored, as LiteLLM shows it.
fn stored_json(text: Option<&str>) -> Value {
    match text {
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())),
        None => json!({}),
    }
}

/// `GET /spend/logs`: the spend-log rows matching the filters, newest first.
pub(crate) async fn spend_logs(
    AdminKeys(keys): AdminKeys,
    Query(q): Query<SpendQuery>,
) -> Result<Response, ApiError> {
    let filter = filter_of(&q)?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let rows = keys
        .store()
        .spend_logs(&filter, limit)
        .await
        .map_err(store_error)?;
    // A full page may have a next one: where it starts.
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| cursor_of(r.start_time, r.key())))
        .flatten();
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "request_id": r.request_id,
                "api_key": r.token_hash,
                "user": r.user_id,
                "team_id": r.team_id,
                "model": r.model,
                "model_group": r.model_group,
                "model_id": r.deployment_id,
                "custom_llm_provider": r.provider,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "total_tokens": r.total_tokens,
                "spend": from_nano(r.spend_nano),
                "startTime": r.start_time,
                "endTime": r.end_time,
                "request_duration_ms": r.latency_ms,
                "status": r.status,
                "cache_hit": r.cache_hit,
                "call_type": r.call_type,
                "messages": stored_json(r.messages.as_deref()),
                "response": stored_json(r.response.as_deref()),
            })
        })
        .collect();
    let mut response = Json(Value::Array(out)).into_response();
    if let Some(next) = next.and_then(|c| axum::http::HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert("x-llmux-next-cursor", next);
    }
    Ok(response)
}

/// `GET /global/spend`: total spend (with the filters, if any).
pub(crate) async fn global_spend(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    Query(q): Query<SpendQuery>,
) -> Result<Response, ApiError> {
    let (total, requests) = keys
        .store()
        .spend_total(&filter_of(&q)?)
        .await
        .map_err(store_error)?;
    Ok(
        Json(json!({"spend": from_nano(total), "requests": requests, "max_budget": gw.proxy_budget.as_ref().map(|b| from_nano(b.max_nano))}))
            .into_response(),
    )
}

/// `GET /global/spend/report?group_by=key|user|team|model|day`: spend,
/// requests and tokens per group, biggest first (by date for `day`).
pub(crate) async fn global_spend_report(
    AdminKeys(keys): AdminKeys,
    Query(q): Query<SpendQuery>,
) -> Result<Response, ApiError> {
    let filter = filter_of(&q)?;
    let by = q.group_by.as_deref().unwrap_or("day");
    let group = match by {
        "key" | "api_key" => ReportGroup::Key,
        "user" => ReportGroup::User,
        "team" => ReportGroup::Team,
        "model" => ReportGroup::Model,
        "day" => ReportGroup::Day,
        other => {
            return Err(ApiError(
                Error::bad_request(format!(
                    "group_by must be key, user, team, model or day, got '{other}'"
                ))
                .with_param("group_by"),
            ))
        }
    };
    let rows = keys
        .store()
        .spend_report(&filter, group)
        .await
        .map_err(store_error)?;
    let mut groups: Vec<(Value, i64, Value)> = rows
        .into_iter()
        .map(|r| {
            let name = match r.day {
                Some(day) => json!(format_day(day)),
                None => json!(r.group),
            };
            let rest = json!({
                "requests": r.requests,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
            });
            (name, r.spend_nano, rest)
        })
        .collect();
    if group == ReportGroup::Day {
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
    fn cursors_round_trip_and_bad_ones_are_400s() {
        for id in ["call_1", "réq id with spaces", ""] {
            let c = cursor_of(1_733_486_400, id);
            assert_eq!(parse_cursor(&c).unwrap(), (1_733_486_400, id.to_string()));
        }
        assert_eq!(cursor_of(5, "ab"), "5_6162");
        for bad in ["", "5", "x_61", "5_6", "5_zz", "5_ff"] {
            let e = parse_cursor(bad).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("cursor"), "{bad}");
        }
    }

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
