//! An llmux gateway running in the test process on 127.0.0.1, from a
//! LiteLLM-format config, with its own SQLite (or given) database.

use std::sync::Arc;

use llmux_core::MapEnv;
use llmux_proxy::config;
use llmux_proxy::server::ServeLimits;
use tokio::sync::oneshot;

use crate::db::TestDb;

/// A running gateway; stops (draining) on [`TestGateway::stop`] or when dropped.
pub struct TestGateway {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// The gateway's clock: `advance` it to move time for expiry, rate
    /// windows and budget periods.
    pub clock: std::sync::Arc<llmux_store::clock::OffsetClock>,
    /// The gateway itself, for looking inside.
    pub gateway: std::sync::Arc<llmux_proxy::gateway::Gateway>,
    /// The `DATABASE_URL` it was started with (empty without one).
    pub database_url: String,
    _db: Option<TestDb>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestGateway {
    /// Start from `config_yaml`; `DATABASE_URL` points at a fresh SQLite file
    /// unless the config names a database itself.
    pub async fn start(config_yaml: &str) -> Result<TestGateway, String> {
        Self::start_on(config_yaml, TestDb::sqlite()).await
    }

    /// Start from `config_yaml` on the database `db`, which lives as long as
    /// the gateway.
    pub async fn start_on(config_yaml: &str, db: TestDb) -> Result<TestGateway, String> {
        let url = db.url.clone();
        Self::start_with(config_yaml, Some(db), &url).await
    }

    /// Start from `config_yaml` on a fresh PostgreSQL database; `None` when
    /// PostgreSQL is not there and the test may skip (see
    /// [`crate::services::available`]).
    pub async fn start_on_postgres(config_yaml: &str) -> Result<Option<TestGateway>, String> {
        if !crate::services::available(&[crate::services::Service::Postgres]).await {
            return Ok(None);
        }
        let db = TestDb::postgres().await?;
        Self::start_on(config_yaml, db).await.map(Some)
    }

    /// Start from `config_yaml` with `DATABASE_URL=database_url`.
    pub async fn start_with(
        config_yaml: &str,
        db: Option<TestDb>,
        database_url: &str,
    ) -> Result<TestGateway, String> {
        Self::start_with_env(config_yaml, db, &[("DATABASE_URL", database_url)]).await
    }

    /// Start from `config_yaml` with exactly the environment `env`.
    pub async fn start_with_env(
        config_yaml: &str,
        db: Option<TestDb>,
        env: &[(&str, &str)],
    ) -> Result<TestGateway, String> {
        Self::start_limited(config_yaml, db, env, ServeLimits::default()).await
    }

    /// Start from `config_yaml` with the environment `env`, serving
    /// connections under `limits`.
    pub async fn start_limited(
        config_yaml: &str,
        db: Option<TestDb>,
        env: &[(&str, &str)],
        limits: ServeLimits,
    ) -> Result<TestGateway, String> {
        let database_url = env
            .iter()
            .find(|(k, _)| *k == "DATABASE_URL")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let env = MapEnv::new(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let loaded =
            config::parse("test.yaml", config_yaml, Arc::new(env)).map_err(|e| e.to_string())?;
        let cors = loaded.config.general_settings.cors_allow_origins.clone();
        let clock = std::sync::Arc::new(llmux_store::clock::OffsetClock::default());
        let built = llmux_proxy::server::build_with_clock(Some(loaded), &[], clock.clone())
            .await
            .map_err(|e| e.to_string())?;
        let gateway = built.gateway.clone();
        let app = llmux_proxy::server::app(built.gateway, cors.as_deref());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = rx.await;
        };
        let task = tokio::spawn(llmux_proxy::server::serve_with(
            listener, app, shutdown, limits,
        ));
        Ok(TestGateway {
            url,
            clock,
            gateway,
            database_url,
            _db: db,
            stop: Some(tx),
            task,
        })
    }

    /// Stop accepting, drain, flush spend, and return how serving ended.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let served = match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e.to_string())),
        };
        self.gateway.flush().await;
        served
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Lines under `litellm_params` that price a deployment at 1,000 nano-dollars
/// an input token and 2,000 an output token.
pub const PRICED: &str =
    "      input_cost_per_token: 0.000001\n      output_cost_per_token: 0.000002\n";

/// A `model_list` entry: `name` served by OpenAI's `model` at `base` with the
/// key `sk-upstream`, then `more` (further lines of the entry, e.g. [`PRICED`]).
pub fn openai_deployment(name: &str, model: &str, base: &str, more: &str) -> String {
    format!(
        "  - model_name: {name}\n    litellm_params:\n      model: openai/{model}\n      api_base: {base}\n      api_key: sk-upstream\n{more}"
    )
}

/// A gateway config: `deployments` (from [`openai_deployment`]), no retries
/// (`router_settings:` ends the text before `rest`, so `rest` may go on with
/// indented router settings), then `rest` verbatim.
pub fn config_yaml(deployments: &[String], rest: &str) -> String {
    format!(
        "\nmodel_list:\n{}router_settings:\n  num_retries: 0\n{rest}",
        deployments.concat()
    )
}

/// The `general_settings` that set the master key to `key`.
pub fn master_key_settings(key: &str) -> String {
    format!("general_settings:\n  master_key: {key}\n")
}
