//! Users and teams ("owners" of keys), with budgets, limits and model access
//! of their own. Both kinds share one storage shape.

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{ctx, json_column, to_json, Result, Store};

/// Users or teams: the two kinds of owner share storage code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user, stored in `llmux_users`.
    User,
    /// A team, stored in `llmux_teams`.
    Team,
}

impl Kind {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Kind::User => "llmux_users",
            Kind::Team => "llmux_teams",
        }
    }

    /// The id column, also the management API's field (`user_id`, `team_id`).
    pub fn id_column(self) -> &'static str {
        match self {
            Kind::User => "user_id",
            Kind::Team => "team_id",
        }
    }

    /// `user` or `team`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Team => "team",
        }
    }
}

/// A user or a team as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owner {
    /// The `user_id` or `team_id`.
    pub id: String,
    /// `user_email` of a user, `team_alias` of a team.
    pub label: Option<String>,
    /// `user_role` of a user.
    pub role: Option<String>,
    /// A user's teams; a team's members (`{"user_id", "role"}` objects).
    pub members: Vec<Value>,
    /// Allowed models (empty: all). A team's list bounds what its keys may call;
    /// a user's is stored and shown but not checked.
    pub models: Vec<String>,
    /// Spending limit per budget period, in nano-dollars (USD × 1e9); `None` for no limit.
    pub max_budget_nano: Option<i64>,
    /// Budget period as LiteLLM writes it (`30d`, `1mo`); `None` for a budget that never resets.
    pub budget_duration: Option<String>,
    /// When the current budget period ends, in Unix seconds.
    pub budget_reset_at: Option<i64>,
    /// Spend in the current budget period (all time without one), in nano-dollars (USD × 1e9).
    pub spend_nano: i64,
    /// Tokens per minute; stored and shown, but only a key's own rate limits are enforced.
    pub tpm_limit: Option<i64>,
    /// Requests per minute; stored and shown, but only a key's own rate limits are enforced.
    pub rpm_limit: Option<i64>,
    /// Whether a team's keys are refused; always false for users, which have no such column.
    pub blocked: bool,
    /// Free-form JSON object kept for the management API.
    pub metadata: Map<String, Value>,
    /// When the record was created, in Unix seconds.
    pub created_at: i64,
    /// When the record last changed, in Unix seconds.
    pub updated_at: i64,
}

fn columns(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "user_id, user_email, user_role, teams, models, max_budget_nano, budget_duration, budget_reset_at, spend_nano, tpm_limit, rpm_limit, metadata, created_at, updated_at",
        Kind::Team => "team_id, team_alias, members, models, max_budget_nano, budget_duration, budget_reset_at, spend_nano, tpm_limit, rpm_limit, blocked, metadata, created_at, updated_at",
    }
}

fn from_row(kind: Kind, r: &AnyRow) -> std::result::Result<Owner, sqlx::Error> {
    let (label, role, members, blocked) = match kind {
        Kind::User => (
            r.try_get("user_email")?,
            r.try_get("user_role")?,
            json_column::<Vec<Value>>(r, "teams")?,
            false,
        ),
        Kind::Team => (
            r.try_get("team_alias")?,
            None,
            json_column::<Vec<Value>>(r, "members")?,
            r.try_get::<i64, _>("blocked")? != 0,
        ),
    };
    Ok(Owner {
        id: r.try_get(kind.id_column())?,
        label,
        role,
        members,
        models: json_column(r, "models")?,
        max_budget_nano: r.try_get("max_budget_nano")?,
        budget_duration: r.try_get("budget_duration")?,
        budget_reset_at: r.try_get("budget_reset_at")?,
        spend_nano: r.try_get("spend_nano")?,
        tpm_limit: r.try_get("tpm_limit")?,
        rpm_limit: r.try_get("rpm_limit")?,
        blocked,
        metadata: json_column(r, "metadata")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Bind a user's or team's columns in [`Store::save_owner`]'s order
/// (label, role or blocked, members, models, budget, period, reset, limits,
/// metadata, updated, created, id).
pub(crate) fn bind_owner<'q>(
    q: crate::db::AnyQuery<'q>,
    kind: Kind,
    o: &'q Owner,
) -> crate::db::AnyQuery<'q> {
    let q = q.bind(&o.label);
    let q = match kind {
        Kind::User => q.bind(&o.role),
        Kind::Team => q.bind(i64::from(o.blocked)),
    };
    q.bind(to_json(&o.members, "[]"))
        .bind(to_json(&o.models, "[]"))
        .bind(o.max_budget_nano)
        .bind(&o.budget_duration)
        .bind(o.budget_reset_at)
        .bind(o.tpm_limit)
        .bind(o.rpm_limit)
        .bind(to_json(&o.metadata, "{}"))
        .bind(o.updated_at)
        .bind(o.created_at)
        .bind(&o.id)
}

/// Storage of users and teams.
impl Store {
    /// One user or team.
    pub async fn get_owner(&self, kind: Kind, id: &str) -> Result<Option<Owner>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = $1",
            columns(kind),
            kind.table(),
            kind.id_column()
        );
        let q = sqlx::query(&sql).bind(id);
        let decode = |r: &AnyRow| from_row(kind, r);
        self.fetch_record(q, "read user/team", "decode user/team", decode)
            .await
    }

    /// Users or teams, oldest first.
    pub async fn list_owners(&self, kind: Kind, limit: i64, offset: i64) -> Result<Vec<Owner>> {
        let sql = format!(
            "SELECT {} FROM {} ORDER BY created_at, {} LIMIT $1 OFFSET $2",
            columns(kind),
            kind.table(),
            kind.id_column()
        );
        let q = sqlx::query(&sql).bind(limit).bind(offset);
        let decode = |r: &AnyRow| from_row(kind, r);
        self.fetch_records(q, "list users/teams", "decode user/team", decode)
            .await
    }

    /// Insert (`insert = true`) or overwrite every field but spend.
    pub async fn save_owner(&self, kind: Kind, o: &Owner, insert: bool) -> Result<()> {
        let sql = match (kind, insert) {
            (Kind::User, true) => "INSERT INTO llmux_users (user_email, user_role, teams, models, max_budget_nano, budget_duration, budget_reset_at, tpm_limit, rpm_limit, metadata, updated_at, created_at, user_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
            // created_at never changes; it is bound in the WHERE so insert and
            // update share one parameter order.
            (Kind::User, false) => "UPDATE llmux_users SET user_email=$1, user_role=$2, teams=$3, models=$4, max_budget_nano=$5, budget_duration=$6, budget_reset_at=$7, tpm_limit=$8, rpm_limit=$9, metadata=$10, updated_at=$11 WHERE created_at=$12 AND user_id=$13",
            (Kind::Team, true) => "INSERT INTO llmux_teams (team_alias, blocked, members, models, max_budget_nano, budget_duration, budget_reset_at, tpm_limit, rpm_limit, metadata, updated_at, created_at, team_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
            (Kind::Team, false) => "UPDATE llmux_teams SET team_alias=$1, blocked=$2, members=$3, models=$4, max_budget_nano=$5, budget_duration=$6, budget_reset_at=$7, tpm_limit=$8, rpm_limit=$9, metadata=$10, updated_at=$11 WHERE created_at=$12 AND team_id=$13",
        };
        bind_owner(sqlx::query(sql), kind, o)
            .execute(self.pool())
            .await
            .map_err(ctx("save user/team"))?;
        Ok(())
    }

    /// Delete a user or team; whether it existed.
    pub async fn delete_owner(&self, kind: Kind, id: &str) -> Result<bool> {
        let r = sqlx::query(&format!(
            "DELETE FROM {} WHERE {} = $1",
            kind.table(),
            kind.id_column()
        ))
        .bind(id)
        .execute(self.pool())
        .await
        .map_err(ctx("delete user/team"))?;
        Ok(r.rows_affected() > 0)
    }
}
