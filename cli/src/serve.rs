//! `llmux serve`: run the gateway.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use llmux_core::ProcessEnv;
use llmux_proxy::ServeOptions;

/// Arguments of `llmux serve`.
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// LiteLLM-format config.yaml (model_list, router_settings, litellm_settings, general_settings).
    #[arg(short, long, env = "LLMUX_CONFIG")]
    config: Option<PathBuf>,
    /// Serve this provider/model as a model group of the same name (repeatable).
    #[arg(short, long = "model")]
    models: Vec<String>,
    /// Address to listen on [default: 0.0.0.0 with a strong master key, else 127.0.0.1].
    #[arg(long, env = "HOST")]
    host: Option<String>,
    /// Port to listen on.
    #[arg(short, long, default_value_t = 4000, env = "PORT")]
    port: u16,
    /// Local development only: listen beyond loopback with no master key, an
    /// empty one or a publicly known one (also
    /// LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY=true).
    #[arg(long)]
    dangerously_permit_weak_or_unset_master_key: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    num_workers: Option<usize>,
    /// Log as JSON lines (for log collectors) instead of human-readable text.
    #[arg(long, env = "LLMUX_JSON_LOGS")]
    json_logs: bool,
    /// Validate the config (file, model list, providers' credentials) and
    /// exit: 0 when `serve` would start, 1 with the reason otherwise. Opens
    /// no database and binds no port (for CI pipelines and Helm hooks).
    #[arg(long)]
    check_config: bool,
}

impl ServeArgs {
    /// Worker threads requested, if any.
    pub(crate) fn num_workers(&self) -> Option<usize> {
        self.num_workers
    }

    /// Whether logs are JSON.
    pub(crate) fn json_logs(&self) -> bool {
        self.json_logs
    }
}

/// Run the gateway until SIGINT/SIGTERM.
pub(crate) async fn run(args: ServeArgs) -> Result<(), String> {
    let options = ServeOptions {
        config: args.config,
        models: args.models,
        host: args.host,
        port: args.port,
        permit_weak_master_key: args.dangerously_permit_weak_or_unset_master_key,
    };
    if args.check_config {
        let checked = llmux_proxy::server::check(&options, Arc::new(ProcessEnv))
            .map_err(|e| e.to_string())?;
        for w in &checked.warnings {
            eprintln!("warning: {w}");
        }
        println!(
            "config OK: {} model group{} ({})",
            checked.model_groups.len(),
            if checked.model_groups.len() == 1 {
                ""
            } else {
                "s"
            },
            checked.model_groups.join(", ")
        );
        return Ok(());
    }
    llmux_proxy::serve(options, Arc::new(ProcessEnv))
        .await
        .map_err(|e| e.to_string())
}
