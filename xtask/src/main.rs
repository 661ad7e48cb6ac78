//! Project chores: `cargo xtask <task>`.
//!
//! - `test`: the whole test suite, exactly as CI runs it: makes sure the local
//!   Postgres and Redis are up (starting them if not), then `cargo fmt --check`,
//!   `cargo clippy -D warnings` and `cargo test` over the workspace; before
//!   the tests it installs the real SDK clients (`clients`).
//! - `clients`: install the official `openai` (Python and Node) and
//!   `anthropic` (Python) packages that the real-client tests drive, into
//!   `target/clients/venv` and `tests/clients/node/node_modules`.
//! - `dist`: the release artefacts in `dist/`: a static (musl) `llmux` when
//!   that target is installed, built twice to check it is reproducible, its
//!   CycloneDX SBOM, a changelog section and `SHA256SUMS`.
//! - `bench`: gateway overhead against a local mock upstream (see `bench.rs`).
//! - `fuzz`: every fuzz target in `fuzz/` for a bounded time (see `fuzz.rs`).
//! - `soak`: a release gateway under mixed traffic and chaos (see `bench/soak.rs`).
//! - `prices`: regenerate llmux-cost's embedded price table from LiteLLM's JSON.

// Library docs are for crates others build on; this is the binary.
#![allow(missing_docs)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // a developer tool that reports on stdout and stderr

mod bench;
mod clients;
mod dist;
mod fuzz;
mod prices;
mod services;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("services") => services::ensure(),
        Some("prices") => prices::run(&args[1..]),
        Some("clients") => clients::install(),
        Some("dist") => dist::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("soak") => bench::soak::run(&args[1..]),
        _ => Err(usage()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    "usage: cargo xtask <task>\n\n\
     tasks:\n  \
     test       start local Postgres/Redis if needed, then fmt --check, clippy, cargo test\n  \
     services   only make sure Postgres (127.0.0.1:5432) and Redis (127.0.0.1:6379) are up\n  \
     prices     regenerate cost/src/prices_data.rs from ../shared/data/litellm_model_prices.json\n             \
     [--from PATH] [--check]\n  \
     clients    install the real SDK clients (openai/anthropic Python, openai Node) for the tests\n  \
     dist       release artefacts in dist/: llmux (static with the musl target), built twice and\n             \
     compared (reproducible; --no-verify builds once), CycloneDX SBOM, changelog, SHA256SUMS\n  \
     bench      gateway overhead vs a direct call against a local mock upstream (release build)\n  \
     fuzz       each fuzz target in fuzz/ for a bounded time (nightly, cargo fuzz)\n             \
     [--seconds N (default 30)] [TARGET...]\n  \
     soak       a release gateway on PostgreSQL + Redis under mixed traffic for N minutes\n             \
     (--minutes N, default 30), PostgreSQL restarted and Redis killed mid-way"
        .to_string()
}

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The cargo target directory (`CARGO_TARGET_DIR`, else `target/`).
pub fn target_dir(root: &std::path::Path) -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

/// The binary of the cargo-installed tool `name` at `version`, installed
/// into `target/tools` on first use (never into the user's cargo home).
fn tool(root: &std::path::Path, name: &str, version: &str) -> Result<std::path::PathBuf, String> {
    let tools = target_dir(root)
        .join("tools")
        .join(format!("{name}-{version}"));
    let binary = tools.join("bin").join(name);
    if !binary.is_file() {
        let tools_text = tools.to_string_lossy().into_owned();
        cargo(
            &format!("install {name} {version}"),
            &[
                "install",
                "--locked",
                name,
                "--version",
                version,
                "--root",
                &tools_text,
            ],
        )?;
    }
    Ok(binary)
}

/// The value after flag `name` in `args`: `None` when the flag is absent,
/// an error when it has no value.
fn flag_value<'a>(args: &'a [String], name: &str) -> Result<Option<&'a str>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .map(|v| Some(v.as_str()))
            .ok_or_else(|| format!("{name} needs a value")),
    }
}

/// Run `cargo` with `args`, failing with a message naming the step.
fn cargo(step: &str, args: &[&str]) -> Result<(), String> {
    cargo_with(step, args, &[])
}

/// [`cargo`] with environment variables set (and `RUSTFLAGS` cleared when
/// `CARGO_ENCODED_RUSTFLAGS` is among them, which it overrides anyway).
fn cargo_with(step: &str, args: &[&str], env: &[(&str, String)]) -> Result<(), String> {
    eprintln!("xtask: {step}: cargo {}", args.join(" "));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    if env.iter().any(|(k, _)| *k == "CARGO_ENCODED_RUSTFLAGS") {
        command.env_remove("RUSTFLAGS");
    }
    let status = command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status()
        .map_err(|e| format!("{step}: cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn test(extra: &[String]) -> Result<(), String> {
    services::ensure()?;
    // Tests that need PostgreSQL or Redis skip themselves when a plain
    // `cargo test` finds neither; here (and so in CI) they must run.
    std::env::set_var("LLMUX_REQUIRE_SERVICES", "1");
    clients::install()?;
    cargo("format check", &["fmt", "--all", "--", "--check"])?;
    cargo(
        "lint",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    cargo("tests", &args)
}
