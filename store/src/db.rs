//! The database handle: SQLite by default (one file, no server), PostgreSQL
//! when a `database_url` says so. One code path through sqlx's `Any` driver,
//! portable SQL, embedded migrations (`store/migrations`).

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("database: {context}: {source}")]
pub struct StoreError {
    /// What was being done, e.g. `read key` or `insert spend logs`.
    pub context: String,
    /// The driver's error.
    #[source]
    pub source: sqlx::Error,
}

/// Wrap a sqlx error with what was being done.
pub(crate) fn ctx(context: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |source| StoreError {
        context: context.to_string(),
        source,
    }
}

pub(crate) type Result<T> = std::result::Result<T, StoreError>;

/// A query through the `Any` driver, its parameters bound.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A `WHERE` clause built from optional filters, with its bound values
/// (never spliced into the SQL).
#[derive(Debug)]
pub(crate) struct Where {
    pub(crate) sql: String,
    values: Vec<Bound>,
}

#[derive(Debug)]
enum Bound {
    Text(String),
    Int(i64),
}

impl Default for Where {
    fn default() -> Self {
        Where {
            sql: String::from("WHERE 1 = 1"),
            values: Vec::new(),
        }
    }
}

impl Where {
    /// `AND column = value`, when there is a value.
    pub(crate) fn text(&mut self, column: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.values.push(Bound::Text(v.to_string()));
            self.sql
                .push_str(&format!(" AND {column} = ${}", self.values.len()));
        }
    }

    /// `AND column op value` (`op` one of `=`, `<`, `>=`…), when there is a value.
    pub(crate) fn int(&mut self, column: &str, op: &str, value: Option<i64>) {
        if let Some(v) = value {
            self.values.push(Bound::Int(v));
            self.sql
                .push_str(&format!(" AND {column} {op} ${}", self.values.len()));
        }
    }

    /// `AND` a row sorting after `(time, id)` when rows are listed by
    /// `time_column DESC, id_column DESC`: the next page of a keyset. A row
    /// value comparison, which both databases answer from a
    /// `(…, time_column, id_column)` index (an `OR` of the two made SQLite
    /// scan: 245 ms 45 days into 10 million rows).
    pub(crate) fn before(&mut self, time_column: &str, time: i64, id_column: &str, id: &str) {
        self.values.push(Bound::Int(time));
        let t = self.values.len();
        self.values.push(Bound::Text(id.to_string()));
        let i = self.values.len();
        self.sql
            .push_str(&format!(" AND ({time_column}, {id_column}) < (${t}, ${i})"));
    }

    /// `q` with the clause's values bound, in order.
    pub(crate) fn bind<'q>(&'q self, mut q: AnyQuery<'q>) -> AnyQuery<'q> {
        for v in &self.values {
            q = match v {
                Bound::Text(s) => q.bind(s.as_str()),
                Bound::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// A database URL without its password, for logs and messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

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

/// A value written to a JSON-text column (`empty` if it cannot be written).
pub(crate) fn to_json<T: serde::Serialize>(v: &T, empty: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| empty.to_string())
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: any URL that is not `postgres://` or `postgresql://` (a file, or in memory).
    Sqlite,
    /// PostgreSQL: a `postgres://` or `postgresql://` URL.
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
    /// Which database the URL chose; pool size and SQL placeholders depend on it.
    pub backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

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

    /// The record `q` finds, if any; `read` and `decode` say in an error
    /// what was being done.
    pub(crate) async fn fetch_record<T>(
        &self,
        q: AnyQuery<'_>,
        read: &str,
        decode: &str,
        from_row: impl Fn(&AnyRow) -> std::result::Result<T, sqlx::Error>,
    ) -> Result<Option<T>> {
        let row = q.fetch_optional(self.pool()).await.map_err(ctx(read))?;
        row.map(|r| from_row(&r)).transpose().map_err(ctx(decode))
    }

    /// Every record `q` finds, as [`Store::fetch_record`] reads one.
    pub(crate) async fn fetch_records<T>(
        &self,
        q: AnyQuery<'_>,
        read: &str,
        decode: &str,
        from_row: impl Fn(&AnyRow) -> std::result::Result<T, sqlx::Error>,
    ) -> Result<Vec<T>> {
        let rows = q.fetch_all(self.pool()).await.map_err(ctx(read))?;
        rows.iter()
            .map(from_row)
            .collect::<std::result::Result<_, _>>()
            .map_err(ctx(decode))
    }

    /// The pool (for tests and maintenance).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The dialect's placeholder for bound parameter `n` (1-based): SQLite
    /// looks numbered parameters up by name, in a list, so statements with
    /// many of them use anonymous `?` there.
    pub(crate) fn placeholder(&self, n: usize) -> String {
        match self.backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact_url("postgres://llm:secret@db:5432/litellm"),
            "postgres://llm:***@db:5432/litellm"
        );
        assert_eq!(redact_url("postgres://db/litellm"), "postgres://db/litellm");
    }
}
