//! Named budgets: sets of limits that keys take by `budget_id`.

use sqlx::Row;

use crate::db::{ctx, Result, Store};

/// A named budget as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetRecord {
    /// Given at `/budget/new` (or generated as `budget-…`); `/key/generate` refers to it.
    pub budget_id: String,
    /// Spending limit per period in nano-dollars (USD × 1e9), given to keys generated with it.
    pub max_budget_nano: Option<i64>,
    /// Soft limit in nano-dollars (USD × 1e9) given to such keys; stored and shown, not enforced.
    pub soft_budget_nano: Option<i64>,
    /// Budget period (`30d`, `1mo`) given to such keys.
    pub budget_duration: Option<String>,
    /// Tokens-per-minute limit given to such keys.
    pub tpm_limit: Option<i64>,
    /// Requests-per-minute limit given to such keys.
    pub rpm_limit: Option<i64>,
    /// Limit on requests in flight given to such keys.
    pub max_parallel_requests: Option<i64>,
    /// When the budget was created, in Unix seconds.
    pub created_at: i64,
    /// When the budget last changed, in Unix seconds.
    pub updated_at: i64,
}

const COLUMNS: &str = "budget_id, max_budget_nano, soft_budget_nano, budget_duration, tpm_limit, rpm_limit, max_parallel_requests, created_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> std::result::Result<BudgetRecord, sqlx::Error> {
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

/// `INSERT` of a budget, then `tail` (e.g. `ON CONFLICT …`).
pub(crate) fn insert_budget_sql(tail: &str) -> String {
    format!("INSERT INTO llmux_budgets (max_budget_nano, soft_budget_nano, budget_duration, tpm_limit, rpm_limit, max_parallel_requests, updated_at, created_at, budget_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9){tail}")
}

/// Bind a budget in [`insert_budget_sql`]'s order (the update's too).
pub(crate) fn bind_budget<'q>(
    q: crate::db::AnyQuery<'q>,
    b: &'q BudgetRecord,
) -> crate::db::AnyQuery<'q> {
    q.bind(b.max_budget_nano)
        .bind(b.soft_budget_nano)
        .bind(&b.budget_duration)
        .bind(b.tpm_limit)
        .bind(b.rpm_limit)
        .bind(b.max_parallel_requests)
        .bind(b.updated_at)
        .bind(b.created_at)
        .bind(&b.budget_id)
}

/// Storage of named budgets.
impl Store {
    /// One budget.
    pub async fn get_budget(&self, id: &str) -> Result<Option<BudgetRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM llmux_budgets WHERE budget_id = $1");
        let q = sqlx::query(&sql).bind(id);
        self.fetch_record(q, "read budget", "decode budget", from_row)
            .await
    }

    /// Every budget, oldest first.
    pub async fn list_budgets(&self) -> Result<Vec<BudgetRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM llmux_budgets ORDER BY created_at, budget_id");
        let q = sqlx::query(&sql);
        self.fetch_records(q, "list budgets", "decode budget", from_row)
            .await
    }

    /// Insert (`insert = true`) or overwrite a budget.
    pub async fn save_budget(&self, b: &BudgetRecord, insert: bool) -> Result<()> {
        let sql = if insert {
            insert_budget_sql("")
        } else {
            // created_at never changes; it is bound so both statements share one parameter order.
            "UPDATE llmux_budgets SET max_budget_nano=$1, soft_budget_nano=$2, budget_duration=$3, tpm_limit=$4, rpm_limit=$5, max_parallel_requests=$6, updated_at=$7 WHERE created_at=$8 AND budget_id=$9".to_string()
        };
        bind_budget(sqlx::query(&sql), b)
            .execute(self.pool())
            .await
            .map_err(ctx("save budget"))?;
        Ok(())
    }

    /// Delete a budget; whether it existed.
    pub async fn delete_budget(&self, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM llmux_budgets WHERE budget_id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(ctx("delete budget"))?;
        Ok(r.rows_affected() > 0)
    }
}
