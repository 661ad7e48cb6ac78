//! `cargo xtask clients`: install the real SDK clients the end-to-end tests
//! drive (`cli/tests/real_clients.rs`):
//!
//! - a Python venv at `target/clients/venv` with `tests/clients/python/requirements.txt`
//!   (the official `openai` and `anthropic` packages, every version pinned);
//! - `npm ci` in `tests/clients/node` (the official `openai` package, locked
//!   by `package-lock.json`);
//! - `npm ci` in `tests/clients/agents` (the agent CLIs `cli/tests/agents.rs`
//!   drives: OpenAI's Codex CLI and Anthropic's Claude Code, pinned and
//!   locked the same way).
//!
//! Idempotent and fast: each install records the SHA-256 of the file it
//! installed from in a stamp file and is skipped while that file is unchanged
//! and the installed tree is still there. Needs `python3` (with `venv`) and
//! `npm`; reaches PyPI and the npm registry only when something must be
//! installed.

use std::path::Path;
use std::process::Command;

use crate::dist::sha256_hex;

/// Install (or confirm) both client sets.
pub(crate) fn install() -> Result<(), String> {
    let root = crate::workspace_root();
    python(&root)?;
    node(&root, "node", "openai")?;
    node(&root, "agents", "@openai/codex")
}

fn run(step: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: clients: {step}");
    let status = cmd
        .status()
        .map_err(|e| format!("clients: {step}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("clients: {step} failed ({status})"))
    }
}

/// How often a registry download is tried before the install fails: the
/// agent CLIs alone are ~800 MB from the npm registry, and one dropped
/// connection must not fail the whole test run.
const DOWNLOAD_ATTEMPTS: u32 = 3;

/// [`run`] for a step that downloads from a package registry: tried up to
/// [`DOWNLOAD_ATTEMPTS`] times, with a growing pause between tries.
fn run_download(step: &str, make: impl Fn() -> Command) -> Result<(), String> {
    let mut attempt = 1;
    loop {
        match run(step, &mut make()) {
            Ok(()) => return Ok(()),
            Err(e) if attempt < DOWNLOAD_ATTEMPTS => {
                let pause = std::time::Duration::from_secs(10 * u64::from(attempt));
                eprintln!(
                    "xtask: {e}; trying again in {}s ({}/{DOWNLOAD_ATTEMPTS})",
                    pause.as_secs(),
                    attempt + 1
                );
                std::thread::sleep(pause);
                attempt += 1;
            }
            Err(e) => return Err(format!("{e} after {DOWNLOAD_ATTEMPTS} tries")),
        }
    }
}

/// Whether `stamp` holds `expected` and `installed` exists.
fn up_to_date(stamp: &Path, expected: &str, installed: &Path) -> bool {
    installed.exists()
        && std::fs::read_to_string(stamp)
            .map(|s| s.trim() == expected)
            .unwrap_or(false)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("clients: cannot read {}: {e}", path.display()))
}

fn write_stamp(path: &Path, hash: &str) -> Result<(), String> {
    std::fs::write(path, format!("{hash}\n"))
        .map_err(|e| format!("clients: cannot write {}: {e}", path.display()))
}

fn python(root: &Path) -> Result<(), String> {
    let requirements = root.join("tests/clients/python/requirements.txt");
    let hash = sha256_hex(&read(&requirements)?);
    let dir = root.join("target/clients");
    let venv = dir.join("venv");
    let py = venv.join("bin/python");
    let stamp = dir.join("python.stamp");
    if up_to_date(&stamp, &hash, &py) {
        eprintln!(
            "xtask: clients: Python clients up to date ({})",
            venv.display()
        );
        return Ok(());
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("clients: cannot create {}: {e}", dir.display()))?;
    if !py.exists() {
        run(
            "python3 -m venv target/clients/venv",
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        )?;
    }
    run_download(
        "pip install -r tests/clients/python/requirements.txt",
        || {
            let mut pip = Command::new(&py);
            pip.args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(&requirements);
            pip
        },
    )?;
    write_stamp(&stamp, &hash)
}

/// `npm ci` in `tests/clients/<set>` unless its lock file is unchanged
/// since the last install and `package` is still installed.
fn node(root: &Path, set: &str, package: &str) -> Result<(), String> {
    let dir = root.join("tests/clients").join(set);
    let hash = sha256_hex(&read(&dir.join("package-lock.json"))?);
    let stamp = root.join(format!("target/clients/{set}.stamp"));
    let installed = dir.join("node_modules").join(package).join("package.json");
    if up_to_date(&stamp, &hash, &installed) {
        eprintln!("xtask: clients: Node {set} up to date ({})", dir.display());
        return Ok(());
    }
    if let Some(parent) = stamp.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("clients: cannot create {}: {e}", parent.display()))?;
    }
    // npm's default log level: on a failure its `npm error` lines (the
    // cause, not only the path of its log file) reach the test run's output.
    run_download(&format!("npm ci in tests/clients/{set}"), || {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir);
        npm
    })?;
    write_stamp(&stamp, &hash)
}
