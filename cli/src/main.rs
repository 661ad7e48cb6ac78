//! `llmux`: call any LLM provider from the shell, or run the gateway.

// Library docs are for crates others build on; this is the binary.
#![allow(missing_docs)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool: stdout and stderr are its interface

mod admin;
mod chat;
mod healthcheck;
mod import;
mod keys;
mod serve;
mod spend;

use std::process::ExitCode;

/// musl's allocator serialises threads on one lock: the static release
/// binary (`--features mimalloc`, set by `cargo xtask dist` and the
/// container build) allocates with mimalloc instead.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// `llmux --version`: the version, the commit built and that commit's date.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LLMUX_GIT_COMMIT"),
    ", ",
    env!("LLMUX_GIT_DATE"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "llmux",
    version = VERSION,
    about = "One OpenAI-shaped interface to every LLM provider"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send one prompt to a model and stream the answer to stdout.
    Chat(chat::ChatArgs),
    /// Run the OpenAI-compatible gateway.
    Serve(serve::ServeArgs),
    /// Manage a running gateway's virtual keys (master key required).
    Keys(keys::KeysArgs),
    /// A running gateway's spend by key, user, team, model or day (master key required).
    Spend(spend::SpendArgs),
    /// Copy keys, users, teams, budgets and spend from a LiteLLM proxy's database.
    ImportLitellm(import::ImportArgs),
    /// Probe a gateway's health route: exit 0 on a 2xx answer, 1 otherwise
    /// (a container HEALTHCHECK without curl).
    Healthcheck(healthcheck::HealthcheckArgs),
}

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LLMUX_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = match &cli.command {
        Command::Chat(_)
        | Command::Keys(_)
        | Command::Spend(_)
        | Command::ImportLitellm(_)
        | Command::Healthcheck(_) => tokio::runtime::Builder::new_current_thread(),
        Command::Serve(args) => {
            init_logging(args.json_logs());
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = args.num_workers() {
                b.worker_threads(n.max(1));
            }
            b
        }
    };
    let runtime = match runtime.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Chat(args) => chat::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Keys(args) => keys::run(args).await,
            Command::Spend(args) => spend::run(args).await,
            Command::ImportLitellm(args) => import::run(args).await,
            Command::Healthcheck(args) => healthcheck::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
