//! Spend rows: one per answered call, written in batches.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{ctx, Result, Store, Where};

/// One answered call, for `llmux_spend_logs` and the spend counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    /// The gateway's own id of this call: the row's key, so that writing a
    /// row twice (a replayed batch) counts it once, while calls that share a
    /// client's `x-request-id` are each counted. Empty in rows spilled by
    /// versions before it existed; the request id stands in then.
    #[serde(default)]
    pub call_id: String,
    /// The client's `x-request-id` (up to 128 characters) or a generated one;
    /// several rows may share it.
    pub request_id: String,
    /// SHA-256 hex of the virtual key that made the call; `None` for the master key or no key.
    pub token_hash: Option<String>,
    /// The calling key's user, if it has one.
    pub user_id: Option<String>,
    /// The calling key's team, if it has one.
    pub team_id: Option<String>,
    /// The model actually called, as `provider/upstream_model` (e.g. `openai/gpt-4o`).
    pub model: String,
    /// The model group that answered, which after a fallback differs from the one asked for.
    pub model_group: String,
    /// Id of the deployment that served the call (`model_info.id`, or generated).
    pub deployment_id: Option<String>,
    /// Provider prefix of that deployment (e.g. `openai`).
    pub provider: Option<String>,
    /// Input tokens the provider reported (0 when it reported no usage).
    pub prompt_tokens: i64,
    /// Output tokens the provider reported (0 when it reported no usage).
    pub completion_tokens: i64,
    /// Total tokens the provider reported (0 when it reported no usage).
    pub total_tokens: i64,
    /// Cost of the call in nano-dollars (USD × 1e9); 0 when the deployment has no price.
    pub spend_nano: i64,
    /// When the call was admitted, in Unix seconds.
    pub start_time: i64,
    /// When the call finished and was priced, in Unix seconds.
    pub end_time: i64,
    /// Milliseconds from routing to the reply (for streams, to the first chunk).
    pub latency_ms: i64,
    /// `success` for calls llmux served; imported LiteLLM rows keep LiteLLM's status.
    pub status: String,
    /// Whether a response cache answered instead of a deployment.
    pub cache_hit: bool,
    /// The kind of call in LiteLLM's words (`acompletion`, `aresponses`,
    /// `anthropic_messages`, `aembedding`, …); empty in older rows.
    #[serde(default)]
    pub call_type: String,
    /// The request's messages as JSON text, when the gateway stores prompts
    /// (`store_prompts_in_spend_logs`); capped and with secrets redacted.
    #[serde(default)]
    pub messages: Option<String>,
    /// The answer as JSON text, stored like `messages`.
    #[serde(default)]
    pub response: Option<String>,
}

impl SpendRow {
    /// The row's key: its call id, or for rows from before call ids, its
    /// request id.
    pub fn key(&self) -> &str {
        if self.call_id.is_empty() {
            &self.request_id
        } else {
            &self.call_id
        }
    }
}

/// The spend-log columns, in [`bind_spend`]'s order.
pub(crate) const SPEND_COLUMNS: &str = "call_id, request_id, token_hash, user_id, team_id, model, model_group, deployment_id, provider, prompt_tokens, completion_tokens, total_tokens, spend_nano, start_time, end_time, latency_ms, status, cache_hit, call_type, messages, response";

/// Bind a spend row's [`SPEND_COLUMNS`].
pub(crate) fn bind_spend<'q>(
    q: crate::db::AnyQuery<'q>,
    r: &'q SpendRow,
) -> crate::db::AnyQuery<'q> {
    q.bind(r.key())
        .bind(&r.request_id)
        .bind(&r.token_hash)
        .bind(&r.user_id)
        .bind(&r.team_id)
        .bind(&r.model)
        .bind(&r.model_group)
        .bind(&r.deployment_id)
        .bind(&r.provider)
        .bind(r.prompt_tokens)
        .bind(r.completion_tokens)
        .bind(r.total_tokens)
        .bind(r.spend_nano)
        .bind(r.start_time)
        .bind(r.end_time)
        .bind(r.latency_ms)
        .bind(&r.status)
        .bind(i64::from(r.cache_hit))
        .bind(&r.call_type)
        .bind(&r.messages)
        .bind(&r.response)
}

impl Store {
    /// Write spend rows and add their cost to the keys', users' and teams'
    /// spend, in one transaction. Rows already written (same call id) are
    /// skipped, so replaying a batch is safe. The rows go in multi-row
    /// `INSERT … RETURNING` statements that say which were new, and each
    /// key, user and team gets one `UPDATE` for the batch, in a fixed order
    /// (so two instances writing at once cannot deadlock on Postgres).
    pub async fn record_spend(&self, rows: &[SpendRow]) -> Result<()> {
        /// Rows per statement: 21 parameters each, well under SQLite's and
        /// Postgres's limits on bound parameters.
        const ROWS_PER_INSERT: usize = 200;
        const COLUMNS: usize = 21;
        let mut added: std::collections::BTreeMap<(&str, &str, &str), i64> = Default::default();
        let mut daily: std::collections::BTreeMap<DailyKey, DailySums> = Default::default();
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(ctx("begin spend batch"))?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = format!("INSERT INTO llmux_spend_logs ({SPEND_COLUMNS}) VALUES ");
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 { "(" } else { ",(" });
                for c in 1..=COLUMNS {
                    if c > 1 {
                        sql.push(',');
                    }
                    // SQLite looks numbered parameters up by name, in a list:
                    // quadratic in their count (half the gateway's CPU at
                    // 3,600 of them). Anonymous `?` are bound by position.
                    sql.push_str(&self.placeholder(i * COLUMNS + c));
                }
                sql.push(')');
            }
            sql.push_str(" ON CONFLICT (call_id) DO NOTHING RETURNING call_id");
            // Not kept in the connection's statement cache: one statement per
            // batch size, each up to ~100 KB prepared.
            let mut query = sqlx::query(&sql).persistent(false);
            for r in chunk {
                query = bind_spend(query, r);
            }
            let inserted = query
                .fetch_all(&mut *tx)
                .await
                .map_err(ctx("insert spend logs"))?;
            let mut new: std::collections::HashSet<String> = inserted
                .iter()
                .filter_map(|row| row.try_get::<String, _>(0).ok())
                .collect();
            for r in chunk {
                // A call id twice in one batch is written (and counted) once.
                if !new.remove(r.key()) {
                    continue;
                }
                let day = daily.entry(daily_key(r)).or_default();
                day.spend_nano += r.spend_nano;
                day.requests += 1;
                day.prompt_tokens += r.prompt_tokens;
                day.completion_tokens += r.completion_tokens;
                if r.spend_nano == 0 {
                    continue;
                }
                for (table, column, id) in [
                    ("llmux_keys", "token_hash", &r.token_hash),
                    ("llmux_users", "user_id", &r.user_id),
                    ("llmux_teams", "team_id", &r.team_id),
                ] {
                    if let Some(id) = id {
                        *added.entry((table, column, id.as_str())).or_default() += r.spend_nano;
                    }
                }
            }
        }
        for ((table, column, id), nano) in added {
            sqlx::query(&format!(
                "UPDATE {table} SET spend_nano = spend_nano + $1 WHERE {column} = $2"
            ))
            .bind(nano)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(ctx("add spend"))?;
        }
        for ((day, token_hash, user_id, team_id, model_group), sums) in daily {
            sqlx::query(
                "INSERT INTO llmux_spend_daily (day, token_hash, user_id, team_id, model_group, spend_nano, requests, prompt_tokens, completion_tokens) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) \
                 ON CONFLICT (day, token_hash, user_id, team_id, model_group) DO UPDATE SET \
                 spend_nano = llmux_spend_daily.spend_nano + excluded.spend_nano, \
                 requests = llmux_spend_daily.requests + excluded.requests, \
                 prompt_tokens = llmux_spend_daily.prompt_tokens + excluded.prompt_tokens, \
                 completion_tokens = llmux_spend_daily.completion_tokens + excluded.completion_tokens",
            )
            .bind(day)
            .bind(token_hash)
            .bind(user_id)
            .bind(team_id)
            .bind(model_group)
            .bind(sums.spend_nano)
            .bind(sums.requests)
            .bind(sums.prompt_tokens)
            .bind(sums.completion_tokens)
            .execute(&mut *tx)
            .await
            .map_err(ctx("add daily spend"))?;
        }
        tx.commit().await.map_err(ctx("commit spend batch"))?;
        Ok(())
    }

    /// Recompute the daily aggregates from the spend log (after rows were
    /// written around [`record_spend`](Self::record_spend): an import).
    pub async fn rebuild_daily_spend(&self) -> Result<()> {
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(ctx("begin daily spend rebuild"))?;
        sqlx::query("DELETE FROM llmux_spend_daily")
            .execute(&mut *tx)
            .await
            .map_err(ctx("clear daily spend"))?;
        sqlx::query(
            "INSERT INTO llmux_spend_daily (day, token_hash, user_id, team_id, model_group, spend_nano, requests, prompt_tokens, completion_tokens) \
             SELECT CAST(start_time / 86400 AS BIGINT), COALESCE(token_hash, ''), COALESCE(user_id, ''), COALESCE(team_id, ''), model_group, \
             CAST(SUM(spend_nano) AS BIGINT), CAST(COUNT(*) AS BIGINT), CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT) \
             FROM llmux_spend_logs \
             GROUP BY CAST(start_time / 86400 AS BIGINT), COALESCE(token_hash, ''), COALESCE(user_id, ''), COALESCE(team_id, ''), model_group",
        )
        .execute(&mut *tx)
        .await
        .map_err(ctx("rebuild daily spend"))?;
        tx.commit()
            .await
            .map_err(ctx("commit daily spend rebuild"))?;
        Ok(())
    }

    /// Delete at most `batch` spend-log rows that started before
    /// `unix_seconds`, oldest first; how many. The retention job calls it
    /// until it returns less than `batch`, so no statement holds the table
    /// for long. Daily aggregates are kept: totals and reports still count
    /// the deleted calls.
    pub async fn delete_spend_logs_before(&self, unix_seconds: i64, batch: i64) -> Result<u64> {
        let r = sqlx::query(
            "DELETE FROM llmux_spend_logs WHERE call_id IN \
             (SELECT call_id FROM llmux_spend_logs WHERE start_time < $1 ORDER BY start_time, call_id LIMIT $2)",
        )
        .bind(unix_seconds)
        .bind(batch.max(1))
        .execute(self.pool())
        .await
        .map_err(ctx("delete old spend logs"))?;
        Ok(r.rows_affected())
    }

    /// Total spend in nano-dollars of a key's calls (all when `None`), from
    /// the daily aggregates (calls whose log rows retention deleted count).
    pub async fn total_spend(&self, token_hash: Option<&str>) -> Result<i64> {
        let row = sqlx::query("SELECT CAST(COALESCE(SUM(spend_nano), 0) AS BIGINT) AS total FROM llmux_spend_daily WHERE ($1 IS NULL OR token_hash = $1)")
            .bind(token_hash)
            .fetch_one(self.pool())
            .await
            .map_err(ctx("sum spend"))?;
        row.try_get::<i64, _>("total").map_err(ctx("decode spend"))
    }
}

/// Which spend-log rows a query covers; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpendFilter {
    /// Only rows of this key (SHA-256 hex of the key).
    pub token_hash: Option<String>,
    /// Only rows of this user.
    pub user_id: Option<String>,
    /// Only rows of this team.
    pub team_id: Option<String>,
    /// Only rows logged under this request id.
    pub request_id: Option<String>,
    /// Only rows answered by this model group.
    pub model_group: Option<String>,
    /// Unix seconds, inclusive.
    pub start: Option<i64>,
    /// Unix seconds, exclusive.
    pub end: Option<i64>,
    /// Only rows listed after this one (`start_time`, `call_id`) when the
    /// log is listed newest first: the next page (keyset pagination, which
    /// costs the same on page 1 and page 10,000).
    pub before: Option<(i64, String)>,
}

/// What a spend report groups rows by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportGroup {
    /// One group per key hash.
    Key,
    /// One group per user id.
    User,
    /// One group per team id.
    Team,
    /// One group per model group (not per upstream model).
    Model,
    /// UTC days.
    Day,
}

/// One group of a spend report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// The key hash, user, team or model group (`None` for rows without
    /// one, and for [`ReportGroup::Day`]).
    pub group: Option<String>,
    /// For [`ReportGroup::Day`]: days since 1970-01-01.
    pub day: Option<i64>,
    /// Summed cost of the group's rows, in nano-dollars (USD × 1e9).
    pub spend_nano: i64,
    /// Number of spend rows (answered calls) in the group.
    pub requests: i64,
    /// Summed input tokens of the group's rows.
    pub prompt_tokens: i64,
    /// Summed output tokens of the group's rows.
    pub completion_tokens: i64,
}

/// A `WHERE` clause with the filter's key, user, team and model group:
/// columns both the log and the daily aggregates have.
fn owners_where(f: &SpendFilter) -> Where {
    let mut w = Where::default();
    for (column, value) in [
        ("token_hash", &f.token_hash),
        ("user_id", &f.user_id),
        ("team_id", &f.team_id),
        ("model_group", &f.model_group),
    ] {
        w.text(column, value.as_deref());
    }
    w
}

/// The `WHERE` clause of a spend filter.
fn where_of(f: &SpendFilter) -> Where {
    let mut w = owners_where(f);
    w.text("request_id", f.request_id.as_deref());
    w.int("start_time", ">=", f.start);
    w.int("start_time", "<", f.end);
    if let Some((time, call_id)) = &f.before {
        w.before("start_time", *time, "call_id", call_id);
    }
    w
}

/// The `WHERE` clause of a spend filter on the daily aggregates, when they
/// can answer it: no request id (not kept per day) and whole days.
fn daily_where_of(f: &SpendFilter) -> Option<Where> {
    let whole_day = |t: Option<i64>| t.is_none_or(|t| t.rem_euclid(86_400) == 0);
    if f.request_id.is_some() || f.before.is_some() || !whole_day(f.start) || !whole_day(f.end) {
        return None;
    }
    let mut w = owners_where(f);
    w.int("day", ">=", f.start.map(|t| t.div_euclid(86_400)));
    w.int("day", "<", f.end.map(|t| t.div_euclid(86_400)));
    Some(w)
}

/// Spend, calls and tokens of one day of one key, user, team and model
/// group: a row of `llmux_spend_daily` (`""` for no key, user or team).
type DailyKey = (i64, String, String, String, String);

#[derive(Debug, Default, Clone, Copy)]
struct DailySums {
    spend_nano: i64,
    requests: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
}

fn daily_key(r: &SpendRow) -> DailyKey {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    (
        r.start_time.div_euclid(86_400),
        text(&r.token_hash),
        text(&r.user_id),
        text(&r.team_id),
        r.model_group.clone(),
    )
}

impl Store {
    /// The spend-log rows matching `filter`, newest first, at most `limit`.
    pub async fn spend_logs(&self, filter: &SpendFilter, limit: i64) -> Result<Vec<SpendRow>> {
        let w = where_of(filter);
        let sql = format!(
            "SELECT {SPEND_COLUMNS} FROM llmux_spend_logs {} ORDER BY start_time DESC, call_id DESC LIMIT {}",
            w.sql,
            limit.max(0)
        );
        let rows = w
            .bind(sqlx::query(&sql))
            .fetch_all(self.pool())
            .await
            .map_err(ctx("read spend logs"))?;
        rows.iter()
            .map(|r| -> std::result::Result<SpendRow, sqlx::Error> {
                Ok(SpendRow {
                    call_id: r.try_get("call_id")?,
                    request_id: r.try_get("request_id")?,
                    token_hash: r.try_get("token_hash")?,
                    user_id: r.try_get("user_id")?,
                    team_id: r.try_get("team_id")?,
                    model: r.try_get("model")?,
                    model_group: r.try_get("model_group")?,
                    deployment_id: r.try_get("deployment_id")?,
                    provider: r.try_get("provider")?,
                    prompt_tokens: r.try_get("prompt_tokens")?,
                    completion_tokens: r.try_get("completion_tokens")?,
                    total_tokens: r.try_get("total_tokens")?,
                    spend_nano: r.try_get("spend_nano")?,
                    start_time: r.try_get("start_time")?,
                    end_time: r.try_get("end_time")?,
                    latency_ms: r.try_get("latency_ms")?,
                    status: r.try_get("status")?,
                    cache_hit: r.try_get::<i64, _>("cache_hit")? != 0,
                    call_type: r.try_get("call_type")?,
                    messages: r.try_get("messages")?,
                    response: r.try_get("response")?,
                })
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(ctx("decode spend log"))
    }

    /// Total spend (nano-dollars) and number of rows matching `filter`.
    pub async fn spend_total(&self, filter: &SpendFilter) -> Result<(i64, i64)> {
        let (w, table, requests) = match daily_where_of(filter) {
            Some(w) => (w, "llmux_spend_daily", "SUM(requests)"),
            None => (where_of(filter), "llmux_spend_logs", "COUNT(*)"),
        };
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(spend_nano), 0) AS BIGINT) AS total, CAST(COALESCE({requests}, 0) AS BIGINT) AS requests FROM {table} {}",
            w.sql
        );
        let row = w
            .bind(sqlx::query(&sql))
            .fetch_one(self.pool())
            .await
            .map_err(ctx("sum spend"))?;
        let total: i64 = row.try_get("total").map_err(ctx("decode spend"))?;
        let requests: i64 = row.try_get("requests").map_err(ctx("decode spend"))?;
        Ok((total, requests))
    }

    /// Spend, requests and tokens of the rows matching `filter`, per
    /// `group`, in no particular order.
    pub async fn spend_report(
        &self,
        filter: &SpendFilter,
        group: ReportGroup,
    ) -> Result<Vec<ReportRow>> {
        // The daily aggregates answer whole-day reports; a request id filter
        // or a time within a day reads the log itself.
        let (w, table, requests, group_sql) = match daily_where_of(filter) {
            Some(w) => {
                let group_sql = match group {
                    ReportGroup::Key => "token_hash",
                    ReportGroup::User => "user_id",
                    ReportGroup::Team => "team_id",
                    ReportGroup::Model => "model_group",
                    ReportGroup::Day => "day",
                };
                (w, "llmux_spend_daily", "SUM(requests)", group_sql)
            }
            None => {
                let group_sql = match group {
                    ReportGroup::Key => "COALESCE(token_hash, '')",
                    ReportGroup::User => "COALESCE(user_id, '')",
                    ReportGroup::Team => "COALESCE(team_id, '')",
                    ReportGroup::Model => "COALESCE(model_group, '')",
                    ReportGroup::Day => "CAST(start_time / 86400 AS BIGINT)",
                };
                (where_of(filter), "llmux_spend_logs", "COUNT(*)", group_sql)
            }
        };
        let sql = format!(
            "SELECT {group_sql} AS grp, CAST(SUM(spend_nano) AS BIGINT) AS spend, CAST({requests} AS BIGINT) AS requests, CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens FROM {table} {} GROUP BY {group_sql}",
            w.sql
        );
        let rows = w
            .bind(sqlx::query(&sql))
            .fetch_all(self.pool())
            .await
            .map_err(ctx("spend report"))?;
        rows.iter()
            .map(|r| -> std::result::Result<ReportRow, sqlx::Error> {
                let (group, day) = if group == ReportGroup::Day {
                    (None, Some(r.try_get::<i64, _>("grp")?))
                } else {
                    let g: String = r.try_get("grp")?;
                    ((!g.is_empty()).then_some(g), None)
                };
                Ok(ReportRow {
                    group,
                    day,
                    spend_nano: r.try_get("spend")?,
                    requests: r.try_get("requests")?,
                    prompt_tokens: r.try_get("prompt_tokens")?,
                    completion_tokens: r.try_get("completion_tokens")?,
                })
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(ctx("decode spend report"))
    }
}
