//! The audit log of admin changes: who changed which key, user, team or
//! budget, when, and the object before and after. Rows are only ever
//! added; the gateway removes secrets before it writes one.

use sqlx::Row;

use crate::db::{ctx, Result, Store, Where};

/// One admin change, in LiteLLM's `LiteLLM_AuditLog` shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditEntry {
    /// `audit_…`, made so that ids sort in the order entries were written
    /// (the log is listed by id).
    pub id: String,
    /// When, in Unix seconds.
    pub updated_at: i64,
    /// Who (`master_key`, or a user id once other admins exist).
    pub changed_by: String,
    /// Hash of the key that made the change.
    pub changed_by_api_key: String,
    /// `created`, `updated`, `deleted`, `blocked` or `rotated`.
    pub action: String,
    /// LiteLLM's table name (`LiteLLM_VerificationToken`, `LiteLLM_TeamTable`…).
    pub table_name: String,
    /// The key's hash, the user, team or budget id.
    pub object_id: String,
    /// The object before the change, as JSON (none for a creation).
    pub before_value: Option<String>,
    /// The object after the change, as JSON (none for a deletion).
    pub updated_values: Option<String>,
}

/// Which entries [`Store::list_audit`] returns; absent fields match all.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// One object's entries.
    pub object_id: Option<String>,
    /// One table's entries (LiteLLM's name).
    pub table_name: Option<String>,
    /// One action's entries.
    pub action: Option<String>,
    /// One changer's entries.
    pub changed_by: Option<String>,
    /// Unix seconds, inclusive.
    pub start: Option<i64>,
    /// Unix seconds, exclusive.
    pub end: Option<i64>,
}

const COLUMNS: &str = "id, updated_at, changed_by, changed_by_api_key, action, table_name, object_id, before_value, updated_values";

fn from_row(r: &sqlx::any::AnyRow) -> std::result::Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        id: r.try_get("id")?,
        updated_at: r.try_get("updated_at")?,
        changed_by: r.try_get("changed_by")?,
        changed_by_api_key: r.try_get("changed_by_api_key")?,
        action: r.try_get("action")?,
        table_name: r.try_get("table_name")?,
        object_id: r.try_get("object_id")?,
        before_value: r.try_get("before_value")?,
        updated_values: r.try_get("updated_values")?,
    })
}

fn where_of(f: &AuditFilter) -> Where {
    let mut w = Where::default();
    for (column, value) in [
        ("object_id", &f.object_id),
        ("table_name", &f.table_name),
        ("action", &f.action),
        ("changed_by", &f.changed_by),
    ] {
        w.text(column, value.as_deref());
    }
    w.int("updated_at", ">=", f.start);
    w.int("updated_at", "<", f.end);
    w
}

/// The audit log.
impl Store {
    /// Add an entry.
    pub async fn insert_audit(&self, e: &AuditEntry) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO llmux_audit_log ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
        ))
        .bind(&e.id)
        .bind(e.updated_at)
        .bind(&e.changed_by)
        .bind(&e.changed_by_api_key)
        .bind(&e.action)
        .bind(&e.table_name)
        .bind(&e.object_id)
        .bind(&e.before_value)
        .bind(&e.updated_values)
        .execute(self.pool())
        .await
        .map_err(ctx("write audit entry"))?;
        Ok(())
    }

    /// One entry, if it exists.
    pub async fn get_audit(&self, id: &str) -> Result<Option<AuditEntry>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM llmux_audit_log WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(ctx("read audit entry"))?;
        row.map(|r| from_row(&r))
            .transpose()
            .map_err(ctx("decode audit entry"))
    }

    /// The entries matching `filter`, newest first (`limit` from
    /// `offset`), and how many match in all.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AuditEntry>, i64)> {
        let w = where_of(filter);
        let count = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM llmux_audit_log {}",
            w.sql
        );
        let total: i64 = w
            .bind(sqlx::query(&count))
            .fetch_one(self.pool())
            .await
            .map_err(ctx("count audit entries"))?
            .try_get("n")
            .map_err(ctx("decode audit count"))?;
        let page = format!(
            "SELECT {COLUMNS} FROM llmux_audit_log {} ORDER BY id DESC LIMIT {} OFFSET {}",
            w.sql,
            limit.max(0),
            offset.max(0)
        );
        let rows = w
            .bind(sqlx::query(&page))
            .fetch_all(self.pool())
            .await
            .map_err(ctx("read audit entries"))?;
        let entries = rows
            .iter()
            .map(from_row)
            .collect::<std::result::Result<_, _>>()
            .map_err(ctx("decode audit entry"))?;
        Ok((entries, total))
    }
}
