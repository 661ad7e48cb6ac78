//! Fresh databases for tests: a temporary SQLite file, or a new database on
//! the real PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth), created
//! from the `test` database and dropped when the handle goes away.

use std::sync::atomic::{AtomicU64, Ordering};

/// The server every Postgres test database is created on.
pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test of this run uses: `{prefix}_{pid}_{n}_{nanos}`.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{t}", std::process::id())
}

/// A database for one test; removed on drop.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres(String),
}

impl TestDb {
    /// A new SQLite database in a temporary file.
    pub fn sqlite() -> TestDb {
        let path = std::env::temp_dir().join(format!("{}.db", unique("llmux_test")));
        TestDb {
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::File(path),
        }
    }

    /// A new, empty PostgreSQL database.
    pub async fn postgres() -> Result<TestDb, String> {
        use sqlx::Connection;
        let name = unique("llmux_test");
        let mut admin = sqlx::PgConnection::connect(POSTGRES_ADMIN_URL)
            .await
            .map_err(|e| format!("PostgreSQL at {POSTGRES_ADMIN_URL} is required (run `cargo xtask services`): {e}"))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .map_err(|e| format!("cannot create test database: {e}"))?;
        Ok(TestDb {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            cleanup: Cleanup::Postgres(name),
        })
    }
}

impl TestDb {
    /// Take a PostgreSQL test database down (refuse connections and cut the
    /// open ones) or bring it back, as an outage would. Not for SQLite.
    pub async fn set_postgres_up(&self, up: bool) -> Result<(), String> {
        use sqlx::Connection;
        let Cleanup::Postgres(name) = &self.cleanup else {
            return Err("only a PostgreSQL test database can go down".into());
        };
        let mut admin = sqlx::PgConnection::connect(POSTGRES_ADMIN_URL)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(&format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {up}"
        ))
        .execute(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
        if !up {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(name)
            .execute(&mut admin)
            .await
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm", ".spend-spill.jsonl"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres(name) => {
                // Best effort, on a thread of its own: Drop cannot be async.
                let name = name.clone();
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async {
                        use sqlx::Connection;
                        if let Ok(mut admin) = sqlx::PgConnection::connect(POSTGRES_ADMIN_URL).await
                        {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut admin)
                            .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A one-connection pool on `url` (SQLite or PostgreSQL), for reading what a
/// gateway wrote.
pub async fn any_pool(url: &str) -> Result<sqlx::AnyPool, String> {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))
}
