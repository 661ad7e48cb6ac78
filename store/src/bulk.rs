//! Bulk inserts that keep the rows already there: how the LiteLLM importer
//! writes (run it twice and the second run adds nothing). Each call is one
//! transaction and returns how many rows were new.

use crate::budgets::{bind_budget, insert_budget_sql, BudgetRecord};
use crate::db::{ctx, Result, Store};
use crate::keys::{bind_key, insert_key_sql, KeyRecord};
use crate::owners::{bind_owner, Kind, Owner};
use crate::spend::{bind_spend, SpendRow, SPEND_COLUMNS};

/// How a user or team is inserted with its spend.
fn insert_owner_sql(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "INSERT INTO llmux_users (user_email, user_role, teams, models, max_budget_nano, budget_duration, budget_reset_at, tpm_limit, rpm_limit, metadata, updated_at, created_at, user_id, spend_nano) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) ON CONFLICT (user_id) DO NOTHING",
        Kind::Team => "INSERT INTO llmux_teams (team_alias, blocked, members, models, max_budget_nano, budget_duration, budget_reset_at, tpm_limit, rpm_limit, metadata, updated_at, created_at, team_id, spend_nano) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) ON CONFLICT (team_id) DO NOTHING",
    }
}

/// Run one statement per row in a transaction; count the rows it inserted.
macro_rules! insert_each {
    ($store:expr, $rows:expr, $what:literal, |$row:ident| $query:expr) => {{
        let mut tx = $store.pool().begin().await.map_err(ctx($what))?;
        let mut inserted = 0;
        for $row in $rows {
            inserted += $query
                .execute(&mut *tx)
                .await
                .map_err(ctx($what))?
                .rows_affected();
        }
        tx.commit().await.map_err(ctx($what))?;
        Ok(inserted)
    }};
}

impl Store {
    /// Insert the budgets whose id is new.
    pub async fn insert_new_budgets(&self, rows: &[BudgetRecord]) -> Result<u64> {
        let sql = insert_budget_sql(" ON CONFLICT (budget_id) DO NOTHING");
        insert_each!(self, rows, "import budgets", |b| bind_budget(
            sqlx::query(&sql),
            b
        ))
    }

    /// Insert the users or teams whose id is new, spend included.
    pub async fn insert_new_owners(&self, kind: Kind, rows: &[Owner]) -> Result<u64> {
        insert_each!(self, rows, "import users/teams", |o| bind_owner(
            sqlx::query(insert_owner_sql(kind)),
            kind,
            o
        )
        .bind(o.spend_nano))
    }

    /// Insert the keys whose hash is new, spend included.
    pub async fn insert_new_keys(&self, rows: &[KeyRecord]) -> Result<u64> {
        let sql = insert_key_sql(" ON CONFLICT (token_hash) DO NOTHING");
        insert_each!(self, rows, "import keys", |k| bind_key(
            sqlx::query(&sql),
            k
        ))
    }

    /// Insert spend-log rows whose call id is new, as they are: the keys',
    /// users' and teams' running totals are not changed (imported owners
    /// bring their own).
    pub async fn insert_new_spend_logs(&self, rows: &[SpendRow]) -> Result<u64> {
        let sql = format!(
            "INSERT INTO llmux_spend_logs ({SPEND_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21) ON CONFLICT (call_id) DO NOTHING"
        );
        insert_each!(self, rows, "import spend logs", |r| bind_spend(
            sqlx::query(&sql),
            r
        ))
    }
}
