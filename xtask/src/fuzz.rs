//! `cargo xtask fuzz [--seconds N] [TARGET…]`: run the fuzz targets in
//! `fuzz/` (cargo fuzz, libFuzzer, nightly), each for a bounded time, one
//! after another.
//!
//! - cargo-fuzz is installed into `target/tools` on first use;
//! - the seeds in `fuzz/corpus/<target>` are read, never written: what the
//!   fuzzer finds goes to `target/fuzz/corpus/<target>`, crashes to
//!   `target/fuzz/artifacts/<target>/` (the run then fails, naming them);
//! - targets are built without a sanitizer (safe Rust; debug assertions and
//!   overflow checks stay on), so a short run spends its time fuzzing.

use std::path::Path;
use std::process::Command;

/// The cargo-fuzz release the targets are run with.
const CARGO_FUZZ_VERSION: &str = "0.13.1";

/// Seconds per target when `--seconds` is not given: a smoke run.
const DEFAULT_SECONDS: u64 = 30;

/// Every target in `fuzz/Cargo.toml`.
const TARGETS: &[&str] = &[
    "sse",
    "openai",
    "anthropic",
    "gemini",
    "cohere",
    "ollama",
    "bedrock",
    "gateway",
    "config",
];

/// What to run: targets and seconds each.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    targets: Vec<String>,
    seconds: u64,
}

fn plan(args: &[String]) -> Result<Plan, String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--seconds" {
            let value = args
                .next()
                .ok_or("fuzz: --seconds needs a number of seconds")?;
            seconds = value
                .parse()
                .ok()
                .filter(|s| (1..=86_400).contains(s))
                .ok_or_else(|| format!("fuzz: --seconds must be 1 to 86400, got '{value}'"))?;
        } else if TARGETS.contains(&arg.as_str()) {
            targets.push(arg.clone());
        } else {
            return Err(format!(
                "fuzz: unknown target '{arg}' (targets: {})",
                TARGETS.join(", ")
            ));
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| (*t).to_string()).collect();
    }
    Ok(Plan { targets, seconds })
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let plan = plan(args)?;
    let root = crate::workspace_root();
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !nightly {
        return Err(
            "fuzz: cargo fuzz needs the nightly toolchain: rustup toolchain install nightly".into(),
        );
    }
    let cargo_fuzz = crate::tool(&root, "cargo-fuzz", CARGO_FUZZ_VERSION)?;
    let work = crate::target_dir(&root).join("fuzz");
    for target in &plan.targets {
        fuzz(&root, &cargo_fuzz, &work, target, plan.seconds)?;
    }
    eprintln!(
        "xtask: fuzz: {} target(s), {} s each, no crash",
        plan.targets.len(),
        plan.seconds
    );
    Ok(())
}

fn fuzz(
    root: &Path,
    cargo_fuzz: &Path,
    work: &Path,
    target: &str,
    seconds: u64,
) -> Result<(), String> {
    let corpus = work.join("corpus").join(target);
    let artifacts = work.join("artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("fuzz: cannot create {}: {e}", dir.display()))?;
    }
    let seeds = root.join("fuzz").join("corpus").join(target);
    eprintln!("xtask: fuzz: {target} for {seconds} s");
    let status = Command::new("rustup")
        .args(["run", "nightly"])
        .arg(cargo_fuzz)
        .args(["fuzz", "run", "--sanitizer", "none", "--fuzz-dir"])
        .arg(root.join("fuzz"))
        .arg("--target-dir")
        .arg(work.join("build"))
        .arg(target)
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        // A slow input is a finding too (an unbounded loop), as is memory.
        .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("fuzz: cannot run cargo fuzz: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "fuzz: {target} failed ({status}); the input is in {}",
            artifacts.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn plans() {
        let all = plan(&[]).unwrap();
        assert_eq!(all.targets.len(), TARGETS.len());
        assert_eq!(all.seconds, DEFAULT_SECONDS);
        assert_eq!(
            plan(&args(&["--seconds", "600", "sse", "gateway"])).unwrap(),
            Plan {
                targets: args(&["sse", "gateway"]),
                seconds: 600
            }
        );
        assert_eq!(
            plan(&args(&["--seconds", "0"])).unwrap_err(),
            "fuzz: --seconds must be 1 to 86400, got '0'"
        );
        assert!(plan(&args(&["nope"]))
            .unwrap_err()
            .starts_with("fuzz: unknown target 'nope'"));
    }

    #[test]
    fn every_target_has_seeds_and_a_manifest_entry() {
        let root = crate::workspace_root().join("fuzz");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        for target in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{target}\"")),
                "{target}"
            );
            assert!(
                root.join("fuzz_targets")
                    .join(format!("{target}.rs"))
                    .is_file(),
                "{target}"
            );
            let seeds = std::fs::read_dir(root.join("corpus").join(target))
                .unwrap()
                .count();
            assert!(seeds > 0, "{target} has no seeds");
        }
        let declared = manifest.matches("[[bin]]").count();
        assert_eq!(declared, TARGETS.len());
    }
}
