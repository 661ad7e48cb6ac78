//! Virtual keys as stored: their hash, never the key itself.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{ctx, json_column, to_json, AnyQuery, Result, Store};

/// A virtual key as stored (never the key itself).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// SHA-256 hex of the `sk-…` key, as LiteLLM stores it; the key itself is never kept.
    pub token_hash: String,
    /// Display form `sk-...abcd` (the key's last four characters).
    pub key_name: String,
    /// Optional human-readable name set through the management API.
    pub key_alias: Option<String>,
    /// The user the key belongs to; that user's budget also applies to its calls.
    pub user_id: Option<String>,
    /// The team the key belongs to; the team's budget, models and block also apply.
    pub team_id: Option<String>,
    /// Model groups the key may call; empty, `*` or `all-proxy-models` allow every model.
    pub models: Vec<String>,
    /// LiteLLM's per-key model aliases; their names count as allowed models too.
    pub aliases: serde_json::Map<String, serde_json::Value>,
    /// Spending limit per budget period, in nano-dollars (USD × 1e9); `None` for no limit.
    pub max_budget_nano: Option<i64>,
    /// Soft limit in nano-dollars (USD × 1e9); stored and shown, not enforced.
    pub soft_budget_nano: Option<i64>,
    /// Budget period as LiteLLM writes it (`30d`, `1mo`); `None` for a budget that never resets.
    pub budget_duration: Option<String>,
    /// When the current budget period ends, in Unix seconds.
    pub budget_reset_at: Option<i64>,
    /// Spend in the current budget period (all time without one), in nano-dollars (USD × 1e9).
    pub spend_nano: i64,
    /// Tokens per minute the key may use, counted in one-minute windows.
    pub tpm_limit: Option<i64>,
    /// Requests per minute the key may make.
    pub rpm_limit: Option<i64>,
    /// Calls the key may have in flight at once.
    pub max_parallel_requests: Option<i64>,
    /// When the key stops working, in Unix seconds; `None` for never.
    pub expires_at: Option<i64>,
    /// Whether calls with this key are refused.
    pub blocked: bool,
    /// Free-form JSON object kept for the management API.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// When the key was created, in Unix seconds.
    pub created_at: i64,
    /// When the key last changed, in Unix seconds.
    pub updated_at: i64,
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

/// SHA-256 hex of a key: what the database stores.
pub fn hash_key(key: &str) -> String {
    llmux_core::text::hex(&Sha256::digest(key.as_bytes()))
}

/// `sk-...abcd`: enough to recognise a key, not to use it.
pub fn display_name(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-...{tail}")
}

/// Every column of a key: its identity, then [`bind_settings`]' columns,
/// then spend and times.
const KEY_COLUMNS: &str = "token_hash, key_name, key_alias, user_id, team_id, models, aliases, max_budget_nano, soft_budget_nano, budget_duration, budget_reset_at, tpm_limit, rpm_limit, max_parallel_requests, expires_at, blocked, metadata, spend_nano, created_at, updated_at";

/// `INSERT` of every column of a key, then `tail` (e.g. `ON CONFLICT …`).
pub(crate) fn insert_key_sql(tail: &str) -> String {
    format!(
        "INSERT INTO llmux_keys ({KEY_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20){tail}"
    )
}

/// Bind a key's columns in [`insert_key_sql`]'s order.
pub(crate) fn bind_key<'q>(q: AnyQuery<'q>, k: &'q KeyRecord) -> AnyQuery<'q> {
    bind_settings(q.bind(&k.token_hash).bind(&k.key_name), k)
        .bind(k.spend_nano)
        .bind(k.created_at)
        .bind(k.updated_at)
}

/// Bind the columns of a key that an update may change (all but its
/// identity, spend and times), in [`KEY_COLUMNS`]' order.
fn bind_settings<'q>(q: AnyQuery<'q>, k: &'q KeyRecord) -> AnyQuery<'q> {
    q.bind(&k.key_alias)
        .bind(&k.user_id)
        .bind(&k.team_id)
        .bind(to_json(&k.models, "[]"))
        .bind(to_json(&k.aliases, "{}"))
        .bind(k.max_budget_nano)
        .bind(k.soft_budget_nano)
        .bind(&k.budget_duration)
        .bind(k.budget_reset_at)
        .bind(k.tpm_limit)
        .bind(k.rpm_limit)
        .bind(k.max_parallel_requests)
        .bind(k.expires_at)
        .bind(i64::from(k.blocked))
        .bind(to_json(&k.metadata, "{}"))
}

impl Store {
    /// Store a new key.
    pub async fn insert_key(&self, k: &KeyRecord) -> Result<()> {
        bind_key(sqlx::query(&insert_key_sql("")), k)
            .execute(self.pool())
            .await
            .map_err(ctx("insert key"))?;
        Ok(())
    }

    /// Overwrite every mutable field of a key (not its spend).
    pub async fn update_key(&self, k: &KeyRecord) -> Result<bool> {
        let q = sqlx::query(
            "UPDATE llmux_keys SET key_alias=$1, user_id=$2, team_id=$3, models=$4, aliases=$5, max_budget_nano=$6, soft_budget_nano=$7, budget_duration=$8, budget_reset_at=$9, tpm_limit=$10, rpm_limit=$11, max_parallel_requests=$12, expires_at=$13, blocked=$14, metadata=$15, updated_at=$16 WHERE token_hash=$17",
        );
        let r = bind_settings(q, k)
            .bind(k.updated_at)
            .bind(&k.token_hash)
            .execute(self.pool())
            .await
            .map_err(ctx("update key"))?;
        Ok(r.rows_affected() > 0)
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
        .execute(self.pool())
        .await
        .map_err(ctx("regenerate key"))?;
        Ok(r.rows_affected() > 0)
    }

    /// The key with this hash, or `None` when there is none.
    pub async fn get_key(&self, token_hash: &str) -> Result<Option<KeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM llmux_keys WHERE token_hash = $1");
        let q = sqlx::query(&sql).bind(token_hash);
        self.fetch_record(q, "read key", "decode key", KeyRecord::from_row)
            .await
    }

    /// Keys, optionally of one user or team, newest first.
    pub async fn list_keys(
        &self,
        user_id: Option<&str>,
        team_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<KeyRecord>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM llmux_keys WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR team_id = $2) ORDER BY created_at DESC, token_hash LIMIT $3 OFFSET $4"
        );
        let q = sqlx::query(&sql)
            .bind(user_id)
            .bind(team_id)
            .bind(limit)
            .bind(offset);
        self.fetch_records(q, "list keys", "decode key", KeyRecord::from_row)
            .await
    }

    /// Delete the key with this hash; whether it existed.
    pub async fn delete_key(&self, token_hash: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM llmux_keys WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await
            .map_err(ctx("delete key"))?;
        Ok(r.rows_affected() > 0)
    }
}
