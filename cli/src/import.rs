//! `llmux import-litellm`: copy a LiteLLM proxy's keys, users, teams, budgets
//! and spend from its PostgreSQL database into llmux's database.

use clap::Args;
use llmux_import::{check_source_url, import_litellm};
use llmux_store::db::redact_url;
use llmux_store::Store;

/// Arguments of `llmux import-litellm`.
#[derive(Args, Debug)]
pub(crate) struct ImportArgs {
    /// The LiteLLM proxy's database (what LiteLLM has as DATABASE_URL). Only read.
    #[arg(long = "database-url", value_name = "postgres://…")]
    source: String,
    /// llmux's database to import into [default: $DATABASE_URL, else sqlite://llmux.db,
    /// as `llmux serve` picks it].
    #[arg(long, value_name = "URL")]
    target_database_url: Option<String>,
}

/// The database `llmux serve` would use without a config file: the flag,
/// else `DATABASE_URL`, else `sqlite://llmux.db`.
fn target(args: &ImportArgs) -> String {
    args.target_database_url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "sqlite://llmux.db".to_string())
}

/// Run the import and print the counts per table.
pub(crate) async fn run(args: ImportArgs) -> Result<(), String> {
    check_source_url(&args.source).map_err(|e| e.to_string())?;
    let target = target(&args);
    let store = Store::connect(&target).await.map_err(|e| {
        format!(
            "cannot open the llmux database ({}): {e}",
            redact_url(&target)
        )
    })?;
    let result = import_litellm(&args.source, &store).await;
    store.pool().close().await;
    let report = result.map_err(|e| e.to_string())?;
    print!(
        "Imported LiteLLM state from {} into {}:\n{report}",
        redact_url(&args.source),
        redact_url(&target)
    );
    Ok(())
}
