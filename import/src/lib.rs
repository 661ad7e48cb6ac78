//! `llmux import-litellm`: copy a LiteLLM proxy's state from its PostgreSQL
//! database into llmux's tables, so a team can switch gateways without
//! reissuing keys.
//!
//! What is read (LiteLLM's `schema.prisma` names and types):
//!
//! | LiteLLM table               | llmux table        | key                 |
//! |-----------------------------|--------------------|---------------------|
//! | `LiteLLM_BudgetTable`       | `llmux_budgets`    | `budget_id`         |
//! | `LiteLLM_TeamTable`         | `llmux_teams`      | `team_id`           |
//! | `LiteLLM_UserTable`         | `llmux_users`      | `user_id`           |
//! | `LiteLLM_VerificationToken` | `llmux_keys`       | `token` (SHA-256)   |
//! | `LiteLLM_SpendLogs`         | `llmux_spend_logs` | `request_id`        |
//!
//! LiteLLM stores a key as the SHA-256 hex of the `sk-…` string, exactly as
//! llmux does, so the hash is copied as is and every existing key keeps
//! working. Money (USD floats) becomes integer nano-dollars; times become
//! Unix seconds. Rows whose primary key is already in the target are left
//! alone, so the import can be re-run (say, just before the switch-over)
//! and only adds what is new.
//!
//! Columns a LiteLLM version does not have yet are read as absent, so older
//! databases import too; a missing table is reported and skipped. The source
//! is only read, never written.

use std::collections::{HashMap, HashSet};
use std::fmt;

use futures::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::Connection;
use sqlx::Row;

use llmux_store::db::redact_url;
use llmux_store::keys::{display_name, hash_key};
use llmux_store::{
    parse_duration, to_nano, BudgetRecord, KeyRecord, Kind as OwnerKind, Owner, SpendRow, Store,
};

/// How long to wait for the LiteLLM database to accept a connection.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Spend-log rows written per target transaction.
const SPEND_BATCH: usize = 500;

/// Why an import could not run.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source URL is not a `postgres://` or `postgresql://` URL; holds the
    /// URL with any password masked.
    #[error("the LiteLLM database URL must start with postgres:// or postgresql:// (LiteLLM keeps its state in PostgreSQL), got '{0}'")]
    NotPostgres(String),
    /// The connection (or setting the Prisma `schema` search path) failed, or
    /// took longer than 30 seconds.
    #[error("cannot connect to the LiteLLM database at {url}: {source}")]
    Connect {
        /// The source URL with any password masked.
        url: String,
        /// The driver's error (a timed-out I/O error when no answer came).
        #[source]
        source: sqlx::Error,
    },
    /// None of LiteLLM's five tables exist in the database's current schema.
    #[error("{url} does not look like a LiteLLM database: none of the tables {tables} exist in its current schema")]
    NotLiteLlm {
        /// The source URL with any password masked.
        url: String,
        /// The LiteLLM table names looked for, comma-separated.
        tables: String,
    },
    /// A LiteLLM table lacks a column the import cannot do without.
    #[error("{table} has no column \"{column}\": is this a LiteLLM database?")]
    MissingColumn {
        /// The LiteLLM table, e.g. `LiteLLM_VerificationToken`.
        table: &'static str,
        /// The required column that is absent.
        column: &'static str,
    },
    /// Reading from the LiteLLM database failed: a query, or a column value in a row.
    #[error("reading {table} from the LiteLLM database: {source}")]
    Read {
        /// The LiteLLM table (or `information_schema` view) being read.
        table: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Writing imported rows into llmux's store failed.
    #[error("writing {table}: {source}")]
    Write {
        /// The llmux table being written, e.g. `llmux_keys`.
        table: &'static str,
        /// The store's error.
        #[source]
        source: llmux_store::StoreError,
    },
}

type Result<T> = std::result::Result<T, ImportError>;

/// What happened to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableCount {
    /// Rows read from LiteLLM.
    pub read: u64,
    /// Rows written to llmux.
    pub imported: u64,
    /// Rows whose primary key llmux already had (left unchanged).
    pub skipped: u64,
    /// The LiteLLM table does not exist in the source.
    pub missing: bool,
}

impl TableCount {
    /// Count `read` rows of which `imported` were new.
    fn add(&mut self, read: usize, imported: u64) {
        let read = u64::try_from(read).unwrap_or(u64::MAX);
        self.read += read;
        self.imported += imported;
        self.skipped += read.saturating_sub(imported);
    }
}

/// The outcome of an import: counts per table and anything worth a look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows from `LiteLLM_BudgetTable` into `llmux_budgets`.
    pub budgets: TableCount,
    /// Rows from `LiteLLM_TeamTable` into `llmux_teams`.
    pub teams: TableCount,
    /// Rows from `LiteLLM_UserTable` into `llmux_users`.
    pub users: TableCount,
    /// Rows from `LiteLLM_VerificationToken` into `llmux_keys`.
    pub keys: TableCount,
    /// Rows from `LiteLLM_SpendLogs` into `llmux_spend_logs`.
    pub spend_logs: TableCount,
    /// Rows imported with a caveat (a budget period llmux cannot parse, a
    /// plaintext key that was hashed on the way in, …).
    pub warnings: Vec<String>,
}

impl ImportReport {
    fn rows(&self) -> [(&'static str, &'static str, &TableCount); 5] {
        [
            ("budgets", BUDGET_TABLE, &self.budgets),
            ("teams", TEAM_TABLE, &self.teams),
            ("users", USER_TABLE, &self.users),
            ("keys", KEY_TABLE, &self.keys),
            ("spend logs", SPEND_TABLE, &self.spend_logs),
        ]
    }
}

impl fmt::Display for ImportReport {
    /// A table of counts, one line per LiteLLM table, then the warnings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<11} {:<26} {:>8} {:>9} {:>14}",
            "", "from LiteLLM", "read", "imported", "already there"
        )?;
        for (name, table, c) in self.rows() {
            if c.missing {
                writeln!(f, "{name:<11} {table:<26} {:>8}", "(table absent, skipped)")?;
            } else {
                writeln!(
                    f,
                    "{name:<11} {table:<26} {:>8} {:>9} {:>14}",
                    c.read, c.imported, c.skipped
                )?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

const BUDGET_TABLE: &str = "LiteLLM_BudgetTable";
const TEAM_TABLE: &str = "LiteLLM_TeamTable";
const USER_TABLE: &str = "LiteLLM_UserTable";
const KEY_TABLE: &str = "LiteLLM_VerificationToken";
const SPEND_TABLE: &str = "LiteLLM_SpendLogs";

/// How a LiteLLM column is read, whatever Prisma made of it.
#[derive(Clone, Copy)]
enum Kind {
    /// `String` → text
    Text,
    /// `Float` → float8
    Float,
    /// `Int` / `BigInt` → bigint
    Int,
    /// `Boolean`
    Bool,
    /// `DateTime` (timestamp(3), UTC) → Unix seconds, with the fraction
    Time,
    /// `String[]` / `Json` → JSON text
    Json,
}

/// One column to read; `required` ones must exist (primary keys).
#[derive(Clone, Copy)]
struct Col {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn col(name: &'static str, kind: Kind) -> Col {
    Col {
        name,
        kind,
        required: false,
    }
}

const fn pk(name: &'static str) -> Col {
    Col {
        name,
        kind: Kind::Text,
        required: true,
    }
}

/// `SELECT <columns> FROM "<table>"`, with `NULL` for columns this LiteLLM
/// version does not have.
fn select(table: &'static str, present: &HashSet<String>, cols: &[Col]) -> Result<String> {
    let mut parts = Vec::with_capacity(cols.len());
    for c in cols {
        let name = c.name;
        let expr = if present.contains(name) {
            match c.kind {
                Kind::Text => format!("\"{name}\"::text"),
                Kind::Float => format!("\"{name}\"::float8"),
                Kind::Int => format!("\"{name}\"::bigint"),
                Kind::Bool => format!("\"{name}\"::boolean"),
                Kind::Time => format!("EXTRACT(EPOCH FROM \"{name}\")::float8"),
                Kind::Json => format!("to_json(\"{name}\")::text"),
            }
        } else if c.required {
            return Err(ImportError::MissingColumn {
                table,
                column: name,
            });
        } else {
            match c.kind {
                Kind::Text | Kind::Json => "NULL::text".to_string(),
                Kind::Float | Kind::Time => "NULL::float8".to_string(),
                Kind::Int => "NULL::bigint".to_string(),
                Kind::Bool => "NULL::boolean".to_string(),
            }
        };
        parts.push(format!("{expr} AS \"{name}\""));
    }
    Ok(format!("SELECT {} FROM \"{table}\"", parts.join(", ")))
}

/// A row read from LiteLLM, with the conversions every table needs.
struct Src<'a> {
    row: &'a PgRow,
    table: &'static str,
}

impl Src<'_> {
    fn err(&self, source: sqlx::Error) -> ImportError {
        ImportError::Read {
            table: self.table,
            source,
        }
    }

    fn text(&self, c: &str) -> Result<Option<String>> {
        self.row.try_get(c).map_err(|e| self.err(e))
    }

    /// Text, with LiteLLM's `""` defaults read as absent.
    fn text_nonempty(&self, c: &str) -> Result<Option<String>> {
        Ok(self.text(c)?.filter(|s| !s.is_empty()))
    }

    fn float(&self, c: &str) -> Result<Option<f64>> {
        self.row.try_get(c).map_err(|e| self.err(e))
    }

    fn nano(&self, c: &str) -> Result<Option<i64>> {
        Ok(self.float(c)?.map(to_nano))
    }

    fn int(&self, c: &str) -> Result<Option<i64>> {
        self.row.try_get(c).map_err(|e| self.err(e))
    }

    /// A time, in whole Unix seconds.
    fn time(&self, c: &str) -> Result<Option<i64>> {
        Ok(self.float(c)?.map(|t| t.floor() as i64))
    }

    fn boolean(&self, c: &str) -> Result<Option<bool>> {
        self.row.try_get(c).map_err(|e| self.err(e))
    }

    /// A JSON value (`String[]` arrive as JSON arrays).
    fn json(&self, c: &str) -> Result<Value> {
        Ok(self
            .text(c)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null))
    }

    /// A `String[]` as a list (absent or `NULL` → empty).
    fn list(&self, c: &str) -> Result<Vec<String>> {
        Ok(match self.json(c)? {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
    }

    /// The budget period and its next reset ([`reset_at`]) of the row
    /// `who` names.
    fn budget_period(
        &self,
        who: &str,
        now: i64,
        warnings: &mut Vec<String>,
    ) -> Result<(Option<String>, Option<i64>)> {
        let duration = self.text("budget_duration")?;
        let reset = self.time("budget_reset_at")?;
        let reset = reset_at(who, duration.as_deref(), reset, now, warnings);
        Ok((duration, reset))
    }

    /// When the row was created (else `now`) and last changed (else created).
    fn stamps(&self, now: i64) -> Result<(i64, i64)> {
        let created = self.time("created_at")?.unwrap_or(now);
        Ok((created, self.time("updated_at")?.unwrap_or(created)))
    }

    /// A `Json` object as a map (anything else → empty).
    fn object(&self, c: &str) -> Result<Map<String, Value>> {
        Ok(match self.json(c)? {
            Value::Object(m) => m,
            _ => Map::new(),
        })
    }
}

/// Table names that exist in the source's current schema.
async fn tables(pg: &mut PgConnection) -> Result<HashSet<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_all(&mut *pg)
    .await
    .map_err(|source| ImportError::Read {
        table: "information_schema.tables",
        source,
    })?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

async fn columns(pg: &mut PgConnection, table: &'static str) -> Result<HashSet<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table)
    .fetch_all(&mut *pg)
    .await
    .map_err(|source| ImportError::Read { table, source })?;
    Ok(rows.into_iter().map(|(c,)| c).collect())
}

/// Read every row of `table` (absent table → `None`).
async fn read_all(
    pg: &mut PgConnection,
    present: &HashSet<String>,
    table: &'static str,
    cols: &[Col],
) -> Result<Option<Vec<PgRow>>> {
    if !present.contains(table) {
        return Ok(None);
    }
    let order = cols
        .iter()
        .find(|c| c.required)
        .map(|c| c.name)
        .unwrap_or("1");
    let sql = format!(
        "{} ORDER BY \"{order}\"",
        select(table, &columns(&mut *pg, table).await?, cols)?
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&mut *pg)
        .await
        .map_err(|source| ImportError::Read { table, source })?;
    Ok(Some(rows))
}

/// Budget reset time: LiteLLM's, or one period from `now` when LiteLLM had a
/// period but no reset time yet. A period llmux cannot parse is kept (and
/// reported): the budget then never resets.
fn reset_at(
    what: &str,
    duration: Option<&str>,
    reset: Option<i64>,
    now: i64,
    warnings: &mut Vec<String>,
) -> Option<i64> {
    let Some(d) = duration else {
        return reset;
    };
    match parse_duration(d) {
        Some(secs) => Some(reset.unwrap_or(now + secs)),
        None => {
            warnings.push(format!(
                "{what}: budget_duration '{d}' is not understood by llmux (use 30s, 30m, 24h, 30d, 1mo); this budget will not reset"
            ));
            reset
        }
    }
}

fn target_err(table: &'static str) -> impl FnOnce(llmux_store::StoreError) -> ImportError {
    move |source| ImportError::Write { table, source }
}

/// Prisma's `?schema=NAME` (LiteLLM's `DATABASE_URL` may carry it): taken
/// out of the URL, since the PostgreSQL driver does not know it, and
/// returned to be set as the search path.
fn prisma_schema(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut schema = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| match p.strip_prefix("schema=") {
            Some(s) => {
                schema = Some(s.to_string()).filter(|s| !s.is_empty());
                false
            }
            None => !p.is_empty(),
        })
        .collect();
    if rest.is_empty() {
        (base.to_string(), schema)
    } else {
        (format!("{base}?{}", rest.join("&")), schema)
    }
}

/// Refuse a source URL that cannot be LiteLLM's (LiteLLM runs on
/// PostgreSQL only), before anything is opened.
pub fn check_source_url(source_url: &str) -> Result<()> {
    if source_url.starts_with("postgres://") || source_url.starts_with("postgresql://") {
        Ok(())
    } else {
        Err(ImportError::NotPostgres(redact_url(source_url)))
    }
}

/// Copy LiteLLM's keys, users, teams, budgets and spend logs from the
/// PostgreSQL database at `source_url` into `store`. Idempotent: rows llmux
/// already has (same primary key) are left alone and counted as skipped.
pub async fn import_litellm(source_url: &str, store: &Store) -> Result<ImportReport> {
    let now = i64::try_from(llmux_core::unix_now()).unwrap_or(i64::MAX);
    import_litellm_at(source_url, store, now).await
}

/// [`import_litellm`] with `now` (Unix seconds) for rows LiteLLM left without
/// a creation time or budget reset time.
pub async fn import_litellm_at(source_url: &str, store: &Store, now: i64) -> Result<ImportReport> {
    check_source_url(source_url)?;
    // One connection, tried once: a wrong address fails at once instead of
    // being retried by a pool.
    let (url, schema) = prisma_schema(source_url);
    let connect = PgConnection::connect(&url);
    let mut pg = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(source)) => {
            return Err(ImportError::Connect {
                url: redact_url(source_url),
                source,
            })
        }
        Err(_) => {
            return Err(ImportError::Connect {
                url: redact_url(source_url),
                source: sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
                )),
            })
        }
    };
    if let Some(schema) = schema {
        sqlx::query(&format!(
            "SET search_path TO \"{}\"",
            schema.replace('"', "\"\"")
        ))
        .execute(&mut pg)
        .await
        .map_err(|source| ImportError::Connect {
            url: redact_url(source_url),
            source,
        })?;
    }
    let result = import_from(&mut pg, source_url, store, now).await;
    let _ = pg.close().await;
    result
}

async fn import_from(
    pg: &mut PgConnection,
    source_url: &str,
    store: &Store,
    now: i64,
) -> Result<ImportReport> {
    let present = tables(&mut *pg).await?;
    let all = [KEY_TABLE, USER_TABLE, TEAM_TABLE, BUDGET_TABLE, SPEND_TABLE];
    if !all.iter().any(|t| present.contains(*t)) {
        return Err(ImportError::NotLiteLlm {
            url: redact_url(source_url),
            tables: all.join(", "),
        });
    }
    let mut report = ImportReport::default();
    let soft_budgets = import_budgets(&mut *pg, &present, store, now, &mut report).await?;
    let team_models = import_teams(&mut *pg, &present, store, now, &mut report).await?;
    import_users(&mut *pg, &present, store, now, &mut report).await?;
    import_keys(
        pg,
        &present,
        store,
        now,
        &soft_budgets,
        &team_models,
        &mut report,
    )
    .await?;
    import_spend(&mut *pg, &present, store, &mut report).await?;
    Ok(report)
}

/// Every row of `table`, converted by `convert` (absent table → `None`,
/// and `count` says it is missing).
async fn convert_all<T>(
    pg: &mut PgConnection,
    present: &HashSet<String>,
    table: &'static str,
    cols: &[Col],
    count: &mut TableCount,
    mut convert: impl FnMut(&Src<'_>) -> Result<T>,
) -> Result<Option<Vec<T>>> {
    let Some(rows) = read_all(pg, present, table, cols).await? else {
        count.missing = true;
        return Ok(None);
    };
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        records.push(convert(&Src { row, table })?);
    }
    Ok(Some(records))
}

/// The columns of a budget period and of a row's creation and last change,
/// which keys, users and teams all have.
const PERIOD_AND_STAMPS: [Col; 4] = [
    col("budget_duration", Kind::Text),
    col("budget_reset_at", Kind::Time),
    col("created_at", Kind::Time),
    col("updated_at", Kind::Time),
];

/// The columns users and teams share (besides their own id and labels).
const OWNER_COLS: [Col; 6] = [
    col("max_budget", Kind::Float),
    col("spend", Kind::Float),
    col("metadata", Kind::Json),
    col("models", Kind::Json),
    col("tpm_limit", Kind::Int),
    col("rpm_limit", Kind::Int),
];

/// Budgets; returns each budget's soft budget (keys take theirs from it).
async fn import_budgets(
    pg: &mut PgConnection,
    present: &HashSet<String>,
    store: &Store,
    now: i64,
    report: &mut ImportReport,
) -> Result<HashMap<String, i64>> {
    let cols = [
        pk("budget_id"),
        col("max_budget", Kind::Float),
        col("soft_budget", Kind::Float),
        col("max_parallel_requests", Kind::Int),
        col("tpm_limit", Kind::Int),
        col("rpm_limit", Kind::Int),
        col("budget_duration", Kind::Text),
        col("created_at", Kind::Time),
        col("updated_at", Kind::Time),
    ];
    let mut soft = HashMap::new();
    let converted = convert_all(pg, present, BUDGET_TABLE, &cols, &mut report.budgets, |r| {
        let id = r.text("budget_id")?.unwrap_or_default();
        let soft_budget = r.nano("soft_budget")?;
        if let Some(s) = soft_budget {
            soft.insert(id.clone(), s);
        }
        let (created_at, updated_at) = r.stamps(now)?;
        Ok(BudgetRecord {
            budget_id: id,
            max_budget_nano: r.nano("max_budget")?,
            soft_budget_nano: soft_budget,
            budget_duration: r.text("budget_duration")?,
            tpm_limit: r.int("tpm_limit")?,
            rpm_limit: r.int("rpm_limit")?,
            max_parallel_requests: r.int("max_parallel_requests")?,
            created_at,
            updated_at,
        })
    })
    .await?;
    let Some(records) = converted else {
        return Ok(soft);
    };
    let imported = store
        .insert_new_budgets(&records)
        .await
        .map_err(target_err("llmux_budgets"))?;
    report.budgets.add(records.len(), imported);
    Ok(soft)
}

/// What users and teams share, from the row of the `kind` named `id`; the
/// caller fills in its label, role, members, models and blocked flag.
fn owner_base(
    r: &Src<'_>,
    kind: OwnerKind,
    id: String,
    now: i64,
    warnings: &mut Vec<String>,
) -> Result<Owner> {
    let who = format!("{} {id}", kind.name());
    let (budget_duration, budget_reset_at) = r.budget_period(&who, now, warnings)?;
    let (created_at, updated_at) = r.stamps(now)?;
    Ok(Owner {
        max_budget_nano: r.nano("max_budget")?,
        budget_duration,
        budget_reset_at,
        spend_nano: r.nano("spend")?.unwrap_or(0),
        tpm_limit: r.int("tpm_limit")?,
        rpm_limit: r.int("rpm_limit")?,
        metadata: r.object("metadata")?,
        created_at,
        updated_at,
        id,
        ..Owner::default()
    })
}

/// Teams; returns each team's models (for keys on `all-team-models`).
async fn import_teams(
    pg: &mut PgConnection,
    present: &HashSet<String>,
    store: &Store,
    now: i64,
    report: &mut ImportReport,
) -> Result<HashMap<String, Vec<String>>> {
    let own = [
        pk("team_id"),
        col("team_alias", Kind::Text),
        col("members", Kind::Json),
        col("members_with_roles", Kind::Json),
        col("blocked", Kind::Bool),
    ];
    let cols = [&own[..], &OWNER_COLS, &PERIOD_AND_STAMPS].concat();
    let mut models = HashMap::new();
    let warnings = &mut report.warnings;
    let converted = convert_all(pg, present, TEAM_TABLE, &cols, &mut report.teams, |r| {
        let id = r.text("team_id")?.unwrap_or_default();
        let team_models = r.list("models")?;
        models.insert(id.clone(), team_models.clone());
        // LiteLLM's member list is `members_with_roles` ({user_id, user_email,
        // role}); older rows may only have the plain `members` ids.
        let members = match r.json("members_with_roles")? {
            Value::Array(m) if !m.is_empty() => m,
            _ => r
                .list("members")?
                .into_iter()
                .map(|u| serde_json::json!({"user_id": u, "role": "user"}))
                .collect(),
        };
        Ok(Owner {
            label: r.text("team_alias")?,
            members,
            models: team_models,
            blocked: r.boolean("blocked")?.unwrap_or(false),
            ..owner_base(r, OwnerKind::Team, id, now, warnings)?
        })
    })
    .await?;
    let Some(records) = converted else {
        return Ok(models);
    };
    let imported = store
        .insert_new_owners(OwnerKind::Team, &records)
        .await
        .map_err(target_err("llmux_teams"))?;
    report.teams.add(records.len(), imported);
    Ok(models)
}

async fn import_users(
    pg: &mut PgConnection,
    present: &HashSet<String>,
    store: &Store,
    now: i64,
    report: &mut ImportReport,
) -> Result<()> {
    let own = [
        pk("user_id"),
        col("user_email", Kind::Text),
        col("user_role", Kind::Text),
        col("teams", Kind::Json),
    ];
    let cols = [&own[..], &OWNER_COLS, &PERIOD_AND_STAMPS].concat();
    let warnings = &mut report.warnings;
    let converted = convert_all(pg, present, USER_TABLE, &cols, &mut report.users, |r| {
        let id = r.text("user_id")?.unwrap_or_default();
        Ok(Owner {
            label: r.text("user_email")?,
            role: r.text("user_role")?,
            members: r.list("teams")?.into_iter().map(Value::String).collect(),
            models: r.list("models")?,
            ..owner_base(r, OwnerKind::User, id, now, warnings)?
        })
    })
    .await?;
    let Some(records) = converted else {
        return Ok(());
    };
    let imported = store
        .insert_new_owners(OwnerKind::User, &records)
        .await
        .map_err(target_err("llmux_users"))?;
    report.users.add(records.len(), imported);
    Ok(())
}

/// LiteLLM's stored token as llmux's key hash. LiteLLM stores the SHA-256
/// hex; a token still in `sk-…` form (very old rows) is hashed here, so it
/// keeps working and no plaintext key lands in llmux.
fn token_hash(token: &str, warnings: &mut Vec<String>) -> String {
    if token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()) {
        token.to_ascii_lowercase()
    } else if token.starts_with("sk-") {
        let hash = hash_key(token);
        warnings.push(format!(
            "key {}: stored in plaintext by LiteLLM; llmux keeps only its SHA-256 hash",
            display_name(token)
        ));
        hash
    } else {
        token.to_string()
    }
}

async fn import_keys(
    pg: &mut PgConnection,
    present: &HashSet<String>,
    store: &Store,
    now: i64,
    soft_budgets: &HashMap<String, i64>,
    team_models: &HashMap<String, Vec<String>>,
    report: &mut ImportReport,
) -> Result<()> {
    let own = [
        pk("token"),
        col("key_name", Kind::Text),
        col("key_alias", Kind::Text),
        col("spend", Kind::Float),
        col("expires", Kind::Time),
        col("models", Kind::Json),
        col("aliases", Kind::Json),
        col("user_id", Kind::Text),
        col("team_id", Kind::Text),
        col("max_parallel_requests", Kind::Int),
        col("metadata", Kind::Json),
        col("blocked", Kind::Bool),
        col("tpm_limit", Kind::Int),
        col("rpm_limit", Kind::Int),
        col("max_budget", Kind::Float),
        col("budget_id", Kind::Text),
    ];
    let cols = [&own[..], &PERIOD_AND_STAMPS].concat();
    let warnings = &mut report.warnings;
    let converted = convert_all(pg, present, KEY_TABLE, &cols, &mut report.keys, |r| {
        let token = r.text("token")?.unwrap_or_default();
        let hash = token_hash(&token, warnings);
        let stored_name = r.text_nonempty("key_name")?;
        // How warnings name the key: LiteLLM's display name, else the hash.
        let label = match (&stored_name, token.starts_with("sk-")) {
            (Some(n), _) => n.clone(),
            (None, true) => display_name(&token),
            (None, false) => format!("with hash {}…", hash.get(..12).unwrap_or(&hash)),
        };
        let key_name = stored_name.unwrap_or_else(|| "sk-...".to_string());
        let team_id = r.text("team_id")?;
        // `all-team-models` means "whatever the key's team may use": llmux
        // keys list their models, so the team's list is copied in (a team
        // with no list may use every model, and so may the key).
        let mut models = r.list("models")?;
        if models.iter().any(|m| m == "all-team-models") {
            let from_team = team_id
                .as_deref()
                .and_then(|t| team_models.get(t))
                .cloned()
                .unwrap_or_default();
            models.retain(|m| m != "all-team-models");
            if from_team.is_empty() {
                models.clear();
            } else {
                for m in from_team {
                    if !models.contains(&m) {
                        models.push(m);
                    }
                }
            }
        }
        let soft_budget = r
            .text("budget_id")?
            .and_then(|b| soft_budgets.get(&b).copied());
        let (duration, reset) = r.budget_period(&format!("key {label}"), now, warnings)?;
        let (created_at, updated_at) = r.stamps(now)?;
        Ok(KeyRecord {
            token_hash: hash,
            key_name,
            key_alias: r.text("key_alias")?,
            user_id: r.text("user_id")?,
            team_id,
            models,
            aliases: r.object("aliases")?,
            max_budget_nano: r.nano("max_budget")?,
            soft_budget_nano: soft_budget,
            budget_duration: duration,
            budget_reset_at: reset,
            spend_nano: r.nano("spend")?.unwrap_or(0),
            tpm_limit: r.int("tpm_limit")?,
            rpm_limit: r.int("rpm_limit")?,
            max_parallel_requests: r.int("max_parallel_requests")?,
            expires_at: r.time("expires")?,
            blocked: r.boolean("blocked")?.unwrap_or(false),
            metadata: r.object("metadata")?,
            created_at,
            updated_at,
        })
    })
    .await?;
    let Some(records) = converted else {
        return Ok(());
    };
    let imported = store
        .insert_new_keys(&records)
        .await
        .map_err(target_err("llmux_keys"))?;
    report.keys.add(records.len(), imported);
    Ok(())
}

/// One spend-log row, converted. LiteLLM's request id is unique there:
/// it is the call id here too.
fn spend_log(r: &Src<'_>) -> Result<SpendRow> {
    let model = r.text("model")?.unwrap_or_default();
    let start = r.float("startTime")?.unwrap_or(0.0);
    let end = r.float("endTime")?.unwrap_or(start);
    let (start_time, end_time) = (start.floor() as i64, end.floor() as i64);
    // Older LiteLLM versions log no duration: end − start, to the millisecond.
    let latency_ms = match r.int("request_duration_ms")? {
        Some(ms) => ms,
        None => ((end - start) * 1000.0).round().max(0.0) as i64,
    };
    let request_id = r.text("request_id")?.unwrap_or_default();
    Ok(SpendRow {
        call_id: request_id.clone(),
        request_id,
        token_hash: r.text_nonempty("api_key")?,
        user_id: r.text_nonempty("user")?,
        team_id: r.text_nonempty("team_id")?,
        model_group: r.text_nonempty("model_group")?.unwrap_or(model.clone()),
        model,
        deployment_id: r.text_nonempty("model_id")?,
        provider: r.text_nonempty("custom_llm_provider")?,
        prompt_tokens: r.int("prompt_tokens")?.unwrap_or(0),
        completion_tokens: r.int("completion_tokens")?.unwrap_or(0),
        total_tokens: r.int("total_tokens")?.unwrap_or(0),
        spend_nano: r.nano("spend")?.unwrap_or(0),
        start_time,
        end_time,
        latency_ms,
        // LiteLLM logs only successes here unless `status` says otherwise.
        status: r
            .text_nonempty("status")?
            .unwrap_or_else(|| "success".to_string()),
        // LiteLLM writes Python's str(bool): "True" / "False" / "".
        cache_hit: r
            .text("cache_hit")?
            .is_some_and(|c| c.eq_ignore_ascii_case("true")),
        call_type: r.text("call_type")?.unwrap_or_default(),
        // LiteLLM's stored prompts are not imported.
        messages: None,
        response: None,
    })
}

async fn write_spend(store: &Store, batch: &[SpendRow], count: &mut TableCount) -> Result<()> {
    let imported = store
        .insert_new_spend_logs(batch)
        .await
        .map_err(target_err("llmux_spend_logs"))?;
    count.add(batch.len(), imported);
    Ok(())
}

/// Spend logs, streamed from LiteLLM and written in batches, so a large
/// history does not have to fit in memory. Spend is copied as logged: the
/// keys', users' and teams' running totals come from their own rows.
async fn import_spend(
    pg: &mut PgConnection,
    present: &HashSet<String>,
    store: &Store,
    report: &mut ImportReport,
) -> Result<()> {
    if !present.contains(SPEND_TABLE) {
        report.spend_logs.missing = true;
        return Ok(());
    }
    let cols = [
        pk("request_id"),
        col("api_key", Kind::Text),
        col("spend", Kind::Float),
        col("total_tokens", Kind::Int),
        col("prompt_tokens", Kind::Int),
        col("completion_tokens", Kind::Int),
        col("startTime", Kind::Time),
        col("endTime", Kind::Time),
        col("request_duration_ms", Kind::Int),
        col("model", Kind::Text),
        col("model_id", Kind::Text),
        col("model_group", Kind::Text),
        col("custom_llm_provider", Kind::Text),
        col("user", Kind::Text),
        col("cache_hit", Kind::Text),
        col("team_id", Kind::Text),
        col("status", Kind::Text),
        col("call_type", Kind::Text),
    ];
    let sql = format!(
        "{} ORDER BY \"request_id\"",
        select(SPEND_TABLE, &columns(&mut *pg, SPEND_TABLE).await?, &cols)?
    );
    let mut rows = sqlx::query(&sql).fetch(&mut *pg);
    let mut batch = Vec::with_capacity(SPEND_BATCH);
    while let Some(row) = rows.try_next().await.map_err(|source| ImportError::Read {
        table: SPEND_TABLE,
        source,
    })? {
        batch.push(spend_log(&Src {
            row: &row,
            table: SPEND_TABLE,
        })?);
        if batch.len() == SPEND_BATCH {
            write_spend(store, &batch, &mut report.spend_logs).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        write_spend(store, &batch, &mut report.spend_logs).await?;
    }
    // Reports and totals read the daily aggregates: count what came in.
    store
        .rebuild_daily_spend()
        .await
        .map_err(target_err("llmux_spend_daily"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(cols: &[&str]) -> HashSet<String> {
        cols.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn select_reads_present_columns_and_nulls_absent_ones() {
        let sql = select(
            "LiteLLM_X",
            &set(&["id", "spend", "expires", "models"]),
            &[
                pk("id"),
                col("spend", Kind::Float),
                col("expires", Kind::Time),
                col("models", Kind::Json),
                col("blocked", Kind::Bool),
                col("tpm_limit", Kind::Int),
            ],
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT \"id\"::text AS \"id\", \"spend\"::float8 AS \"spend\", EXTRACT(EPOCH FROM \"expires\")::float8 AS \"expires\", to_json(\"models\")::text AS \"models\", NULL::boolean AS \"blocked\", NULL::bigint AS \"tpm_limit\" FROM \"LiteLLM_X\""
        );
        let err = select("LiteLLM_X", &set(&["spend"]), &[pk("id")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "LiteLLM_X has no column \"id\": is this a LiteLLM database?"
        );
    }

    #[test]
    fn tokens_stay_hashes_and_plaintext_keys_get_hashed() {
        let mut w = Vec::new();
        let h = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b";
        assert_eq!(token_hash(h, &mut w), h);
        assert_eq!(token_hash(&h.to_ascii_uppercase(), &mut w), h);
        assert!(w.is_empty());
        assert_eq!(token_hash("sk-1234", &mut w), h);
        assert_eq!(
            w,
            vec![
                "key sk-...1234: stored in plaintext by LiteLLM; llmux keeps only its SHA-256 hash"
            ]
        );
    }

    #[test]
    fn reset_times() {
        let mut w = Vec::new();
        assert_eq!(reset_at("k", None, Some(5), 100, &mut w), Some(5));
        assert_eq!(reset_at("k", Some("30d"), Some(5), 100, &mut w), Some(5));
        assert_eq!(
            reset_at("k", Some("1h"), None, 100, &mut w),
            Some(100 + 3600)
        );
        assert!(w.is_empty());
        assert_eq!(
            reset_at("key x", Some("fortnight"), None, 100, &mut w),
            None
        );
        assert_eq!(
            w,
            vec!["key x: budget_duration 'fortnight' is not understood by llmux (use 30s, 30m, 24h, 30d, 1mo); this budget will not reset"]
        );
    }

    #[test]
    fn prisma_schema_parameter() {
        assert_eq!(
            prisma_schema("postgres://u@h/db?schema=litellm"),
            ("postgres://u@h/db".to_string(), Some("litellm".to_string()))
        );
        assert_eq!(
            prisma_schema("postgres://u@h/db?sslmode=require&schema=s&application_name=x"),
            (
                "postgres://u@h/db?sslmode=require&application_name=x".to_string(),
                Some("s".to_string())
            )
        );
        assert_eq!(
            prisma_schema("postgres://u@h/db?sslmode=disable"),
            ("postgres://u@h/db?sslmode=disable".to_string(), None)
        );
        assert_eq!(
            prisma_schema("postgres://u@h/db"),
            ("postgres://u@h/db".to_string(), None)
        );
    }

    #[test]
    fn report_table() {
        let report = ImportReport {
            keys: TableCount {
                read: 3,
                imported: 2,
                skipped: 1,
                missing: false,
            },
            budgets: TableCount {
                missing: true,
                ..Default::default()
            },
            warnings: vec!["something".into()],
            ..Default::default()
        };
        assert_eq!(
            report.to_string(),
            "            from LiteLLM                   read  imported  already there
budgets     LiteLLM_BudgetTable        (table absent, skipped)
teams       LiteLLM_TeamTable                 0         0              0
users       LiteLLM_UserTable                 0         0              0
keys        LiteLLM_VerificationToken         3         2              1
spend logs  LiteLLM_SpendLogs                 0         0              0
warning: something
"
        );
    }
}
