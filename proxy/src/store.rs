//! The gateway's database: SQLite by default (one file, no server), PostgreSQL
//! when a `database_url` says so. One code path through sqlx's `Any` driver,
//! portable SQL, embedded migrations (`proxy/migrations`).
//!
//! Money is integer nano-dollars, so summed spend is exact. The hot path never
//! waits on this module: keys are cached by the caller and spend is written in
//! batches off the request path.

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("database: {context}: {source}")]
pub struct StoreError {
    pub context: String,
    #[source]
    pub source: sqlx::Error,
}

fn ctx(context: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |source| StoreError {
        context: context.to_string(),
        source,
    }
}

type Result<T> = std::result::Result<T, StoreError>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// USD → integer nano-dollars.
pub fn to_nano(usd: f64) -> i64 {
    (usd * 1e9).round() as i64
}

/// Integer nano-dollars → USD.
pub fn from_nano(nano: i64) -> f64 {
    nano as f64 / 1e9
}

/// A virtual key as stored (never the key itself).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub token_hash: String,
    pub key_name: String,
    pub key_alias: Option<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub models: Vec<String>,
    pub aliases: serde_json::Map<String, serde_json::Value>,
    pub max_budget_nano: Option<i64>,
    pub soft_budget_nano: Option<i64>,
    pub budget_duration: Option<String>,
    pub budget_reset_at: Option<i64>,
    pub spend_nano: i64,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub expires_at: Option<i64>,
    pub blocked: bool,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A JSON-text column read into `T`. A value that cannot be read is an
/// error, never a default: an empty `models` list means "every model", so
/// reading a damaged list as empty would open the key up (fail closed).
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    r: &AnyRow,
    column: &str,
) -> std::result::Result<T, sqlx::Error> {
    let text: String = r.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unreadable JSON ({e}); the row is refused until it is repaired").into(),
    })
}

impl KeyRecord {
    fn from_row(r: &AnyRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(KeyRecord {
            token_hash: r.try_get("token_hash")?,
            key_name: r.try_get("key_name")?,
            key_alias: r.try_get("key_alias")?,
            user_id: r.try_get("user_id")?,
            team_id: r.try_get("team_id")?,
            models: json_column(r, "models")?,
            aliases: json_column(r, "aliases")?,
            max_budget_nano: r.try_get("max_budget_nano")?,
            soft_budget_nano: r.try_get("soft_budget_nano")?,
            budget_duration: r.try_get("budget_duration")?,
            budget_reset_at: r.try_get("budget_reset_at")?,
            spend_nano: r.try_get("spend_nano")?,
            tpm_limit: r.try_get("tpm_limit")?,
            rpm_limit: r.try_get("rpm_limit")?,
            max_parallel_requests: r.try_get("max_parallel_requests")?,
            expires_at: r.try_get("expires_at")?,
            blocked: r.try_get::<i64, _>("blocked")? != 0,
            metadata: json_column(r, "metadata")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

/// One answered call, for `llmux_spend_logs` and the spend counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    /// The gateway's own id of this call: the row's key, so that writing a
    /// row twice (a replayed batch) counts it once, while calls that share a
    /// client's `x-request-id` are each counted. Empty in rows spilled by
    /// versions before it existed; the request id stands in then.
    #[serde(default)]
    pub call_id: String,
    pub request_id: String,
    pub token_hash: Option<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub model: String,
    pub model_group: String,
    pub deployment_id: Option<String>,
    pub provider: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub spend_nano: i64,
    pub start_time: i64,
    pub end_time: i64,
    pub latency_ms: i64,
    pub status: String,
    pub cache_hit: bool,
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

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Prepare the database: on a SQLite file, the write-ahead log (a spend
/// batch commits with one fsync where the rollback journal takes several,
/// and reports read while the writer writes; kept in the file once set);
/// then the embedded migrations.
///
/// PostgreSQL serialises concurrent migrators with an advisory lock; SQLite
/// has no such lock, so when several gateways start at once on one fresh
/// file, all but one fail to record a migration that the first already
/// applied (or to switch the journal while another holds the file). Each
/// migration runs in its own transaction, so the loser's work is rolled back
/// and running the migrator again finds it applied.
async fn migrate(pool: &AnyPool, backend: Backend, sqlite_file: bool) -> Result<()> {
    async fn attempt(pool: &AnyPool, wal: bool) -> std::result::Result<(), sqlx::Error> {
        if wal {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(pool)
                .await?;
        }
        MIGRATOR.run(pool).await?;
        Ok(())
    }
    const SQLITE_ATTEMPTS: u32 = 10;
    let wal = backend == Backend::Sqlite && sqlite_file;
    let mut attempt_no = 1;
    loop {
        match attempt(pool, wal).await {
            Ok(()) => return Ok(()),
            Err(_) if backend == Backend::Sqlite && attempt_no < SQLITE_ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt_no)))
                    .await;
                attempt_no += 1;
            }
            Err(e) => {
                return Err(StoreError {
                    context: "migrate".into(),
                    source: e,
                })
            }
        }
    }
}

/// The database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    pub backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

const KEY_COLUMNS: &str = "token_hash, key_name, key_alias, user_id, team_id, models, aliases, max_budget_nano, soft_budget_nano, budget_duration, budget_reset_at, spend_nano, tpm_limit, rpm_limit, max_parallel_requests, expires_at, blocked, metadata, created_at, updated_at";

impl Store {
    /// Connect to `url` (`sqlite://llmux.db`, `postgres://…`) and migrate.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 1 } else { 10 })
            // Fail fast while the database is down: spend spills, keys 503.
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect(&url)
            .await
            .map_err(ctx("connect"))?;
        migrate(&pool, backend, !url.contains(":memory:")).await?;
        Ok(Store { pool, backend })
    }

    /// The pool (for tests and maintenance).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn insert_key(&self, k: &KeyRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO llmux_keys ({KEY_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)"
        ))
        .bind(&k.token_hash)
        .bind(&k.key_name)
        .bind(&k.key_alias)
        .bind(&k.user_id)
        .bind(&k.team_id)
        .bind(serde_json::to_string(&k.models).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(&k.aliases).unwrap_or_else(|_| "{}".into()))
        .bind(k.max_budget_nano)
        .bind(k.soft_budget_nano)
        .bind(&k.budget_duration)
        .bind(k.budget_reset_at)
        .bind(k.spend_nano)
        .bind(k.tpm_limit)
        .bind(k.rpm_limit)
        .bind(k.max_parallel_requests)
        .bind(k.expires_at)
        .bind(i64::from(k.blocked))
        .bind(serde_json::to_string(&k.metadata).unwrap_or_else(|_| "{}".into()))
        .bind(k.created_at)
        .bind(k.updated_at)
        .execute(&self.pool)
        .await
        .map_err(ctx("insert key"))?;
        Ok(())
    }

    /// Overwrite every mutable field of a key (not its spend).
    pub async fn update_key(&self, k: &KeyRecord) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE llmux_keys SET key_alias=$1, user_id=$2, team_id=$3, models=$4, aliases=$5, max_budget_nano=$6, soft_budget_nano=$7, budget_duration=$8, budget_reset_at=$9, tpm_limit=$10, rpm_limit=$11, max_parallel_requests=$12, expires_at=$13, blocked=$14, metadata=$15, updated_at=$16 WHERE token_hash=$17",
        )
        .bind(&k.key_alias)
        .bind(&k.user_id)
        .bind(&k.team_id)
        .bind(serde_json::to_string(&k.models).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string(&k.aliases).unwrap_or_else(|_| "{}".into()))
        .bind(k.max_budget_nano)
        .bind(k.soft_budget_nano)
        .bind(&k.budget_duration)
        .bind(k.budget_reset_at)
        .bind(k.tpm_limit)
        .bind(k.rpm_limit)
        .bind(k.max_parallel_requests)
        .bind(k.expires_at)
        .bind(i64::from(k.blocked))
        .bind(serde_json::to_string(&k.metadata).unwrap_or_else(|_| "{}".into()))
        .bind(k.updated_at)
        .bind(&k.token_hash)
        .execute(&self.pool)
        .await
        .map_err(ctx("update key"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Start a new budget period for every key whose period ended by `now`:
    /// spend becomes what was logged since the new period began (usually
    /// nothing), next reset one `budget_duration` on (skipping whole periods
    /// missed while the gateway was down). Keys, users and teams alike.
    /// Returns `table:id` of each budget reset.
    pub async fn reset_due_budgets(&self, now: i64) -> Result<Vec<String>> {
        let mut reset = Vec::new();
        for (table, column) in [
            ("llmux_keys", "token_hash"),
            ("llmux_users", "user_id"),
            ("llmux_teams", "team_id"),
        ] {
            let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(&format!(
                "SELECT {column}, budget_duration, budget_reset_at FROM {table} WHERE budget_reset_at IS NOT NULL AND budget_reset_at <= $1"
            ))
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(ctx("find budgets to reset"))?;
            for (id, duration, reset_at) in rows {
                let Some(d) = duration.as_deref().and_then(crate::keys::parse_duration) else {
                    continue;
                };
                let next = crate::budget::period_end(reset_at, d, now);
                // Only if no other instance reset it meanwhile.
                let done = sqlx::query(&format!(
                    "UPDATE {table} SET spend_nano = (SELECT CAST(COALESCE(SUM(spend_nano), 0) AS BIGINT) FROM llmux_spend_logs WHERE {column} = $2 AND start_time >= $4), budget_reset_at = $1 WHERE {column} = $2 AND budget_reset_at = $3"
                ))
                .bind(next)
                .bind(&id)
                .bind(reset_at)
                .bind(next - d)
                .execute(&self.pool)
                .await
                .map_err(ctx("reset budget"))?;
                if done.rows_affected() > 0 {
                    reset.push(format!("{table}:{id}"));
                }
            }
        }
        Ok(reset)
    }

    /// Replace a key's hash and display name (regenerate), keeping everything else.
    pub async fn rekey(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_name: &str,
        now: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE llmux_keys SET token_hash=$1, key_name=$2, updated_at=$3 WHERE token_hash=$4",
        )
        .bind(new_hash)
        .bind(new_name)
        .bind(now)
        .bind(old_hash)
        .execute(&self.pool)
        .await
        .map_err(ctx("regenerate key"))?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn get_key(&self, token_hash: &str) -> Result<Option<KeyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM llmux_keys WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(ctx("read key"))?;
        row.map(|r| KeyRecord::from_row(&r))
            .transpose()
            .map_err(ctx("decode key"))
    }

    /// Keys, optionally of one user or team, newest first.
    pub async fn list_keys(
        &self,
        user_id: Option<&str>,
        team_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<KeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM llmux_keys WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR team_id = $2) ORDER BY created_at DESC, token_hash LIMIT $3 OFFSET $4"
        ))
        .bind(user_id)
        .bind(team_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(ctx("list keys"))?;
        rows.iter()
            .map(KeyRecord::from_row)
            .collect::<std::result::Result<_, _>>()
            .map_err(ctx("decode key"))
    }

    pub async fn delete_key(&self, token_hash: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM llmux_keys WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(ctx("delete key"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Write spend rows and add their cost to the keys', users' and teams'
    /// spend, in one transaction. Rows already written (same call id) are
    /// skipped, so replaying a batch is safe. The rows go in multi-row
    /// `INSERT … RETURNING` statements that say which were new, and each
    /// key, user and team gets one `UPDATE` for the batch, in a fixed order
    /// (so two instances writing at once cannot deadlock on Postgres).
    pub async fn record_spend(&self, rows: &[SpendRow]) -> Result<()> {
        /// Rows per statement: 18 parameters each, well under SQLite's and
        /// Postgres's limits on bound parameters.
        const ROWS_PER_INSERT: usize = 200;
        const COLUMNS: usize = 18;
        let mut added: std::collections::BTreeMap<(&str, &str, &str), i64> = Default::default();
        let mut tx = self.pool.begin().await.map_err(ctx("begin spend batch"))?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO llmux_spend_logs (call_id, request_id, token_hash, user_id, team_id, model, model_group, deployment_id, provider, prompt_tokens, completion_tokens, total_tokens, spend_nano, start_time, end_time, latency_ms, status, cache_hit) VALUES ",
            );
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 { "(" } else { ",(" });
                for c in 1..=COLUMNS {
                    if c > 1 {
                        sql.push(',');
                    }
                    // SQLite looks numbered parameters up by name, in a list:
                    // quadratic in their count (half the gateway's CPU at
                    // 3,600 of them). Anonymous `?` are bound by position.
                    match self.backend {
                        Backend::Sqlite => sql.push('?'),
                        Backend::Postgres => {
                            sql.push('$');
                            sql.push_str(&(i * COLUMNS + c).to_string());
                        }
                    }
                }
                sql.push(')');
            }
            sql.push_str(" ON CONFLICT (call_id) DO NOTHING RETURNING call_id");
            // Not kept in the connection's statement cache: one statement per
            // batch size, each up to ~100 KB prepared.
            let mut query = sqlx::query(&sql).persistent(false);
            for r in chunk {
                query = query
                    .bind(r.key())
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
                    .bind(i64::from(r.cache_hit));
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
                if r.spend_nano == 0 || !new.remove(r.key()) {
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
        tx.commit().await.map_err(ctx("commit spend batch"))?;
        Ok(())
    }

    /// Total spend in nano-dollars of the logs matching a key (all when `None`).
    pub async fn total_spend(&self, token_hash: Option<&str>) -> Result<i64> {
        let row = sqlx::query("SELECT CAST(COALESCE(SUM(spend_nano), 0) AS BIGINT) AS total FROM llmux_spend_logs WHERE ($1 IS NULL OR token_hash = $1)")
            .bind(token_hash)
            .fetch_one(&self.pool)
            .await
            .map_err(ctx("sum spend"))?;
        row.try_get::<i64, _>("total").map_err(ctx("decode spend"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nano_dollars_round_trip() {
        assert_eq!(to_nano(0.000_002_5), 2500);
        assert_eq!(to_nano(12.345_678_901), 12_345_678_901);
        assert_eq!(from_nano(2500), 0.000_002_5);
    }
}
