//! `cargo xtask dist`: the release artefacts of the `llmux` binary.
//!
//! Builds `llmux` with the release profile (thin LTO, symbols stripped, see the
//! root `Cargo.toml`), checks that the result carries no symbol table, and
//! writes into `dist/`:
//!
//! - `llmux-<version>-<host triple>`: the binary;
//! - `llmux-<version>-<host triple>.sha256`: its checksum, in the format
//!   `sha256sum -c` reads;
//! - `CHANGELOG.md`: this version's section, one line per commit since the
//!   previous tag (or since the first commit when there is no tag).
//!
//! The build honours `CARGO_TARGET_DIR` like any cargo command.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// Run the whole `dist` task.
pub(crate) fn run() -> Result<(), String> {
    let root = crate::workspace_root();
    let binary = build_release(&root)?;
    let bytes = std::fs::read(&binary)
        .map_err(|e| format!("dist: cannot read {}: {e}", binary.display()))?;
    if has_symbol_table(&bytes) {
        return Err(format!(
            "dist: {} still has a symbol table; the release profile must keep `strip = true`",
            binary.display()
        ));
    }
    let version = workspace_version(&root)?;
    let triple = host_triple()?;
    let name = format!("llmux-{version}-{triple}");
    let dist = root.join("dist");
    std::fs::create_dir_all(&dist)
        .map_err(|e| format!("dist: cannot create {}: {e}", dist.display()))?;

    let out = dist.join(&name);
    write(&out, &bytes)?;
    make_executable(&out)?;
    let checksum = format!("{}  {name}\n", sha256_hex(&bytes));
    write(&dist.join(format!("{name}.sha256")), checksum.as_bytes())?;
    let changelog = changelog(&root, &version)?;
    write(&dist.join("CHANGELOG.md"), changelog.as_bytes())?;

    eprintln!(
        "xtask: dist: {} ({} bytes, stripped)\nxtask: dist: {}.sha256: {}xtask: dist: {}",
        out.display(),
        bytes.len(),
        out.display(),
        checksum,
        dist.join("CHANGELOG.md").display()
    );
    Ok(())
}

/// `cargo build --release -p llmux-cli --bin llmux`; the path of the binary.
pub(crate) fn build_release(root: &Path) -> Result<PathBuf, String> {
    crate::cargo(
        "release build",
        &["build", "--release", "-p", "llmux-cli", "--bin", "llmux"],
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"));
    let binary = target.join("release").join("llmux");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "release build: {} not found after the build",
            binary.display()
        ))
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("dist: cannot write {}: {e}", path.display()))
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("dist: cannot chmod {}: {e}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Whether an ELF file still names a `.symtab` section (an unstripped binary
/// does; `strip` removes both the section and its name). Non-ELF files
/// (macOS, Windows) are not checked.
fn has_symbol_table(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF") && bytes.windows(8).any(|w| w == b".symtab\0")
}

/// `version` from `[workspace.package]` in the root `Cargo.toml`.
fn workspace_version(root: &Path) -> Result<String, String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("dist: cannot read Cargo.toml: {e}"))?;
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package {
            if let Some(v) = line
                .strip_prefix("version")
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('='))
            {
                return Ok(v.trim().trim_matches('"').to_string());
            }
        }
    }
    Err("dist: no version in [workspace.package] of Cargo.toml".into())
}

/// The host target triple, from `rustc -vV`.
fn host_triple() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("dist: cannot run rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| "dist: rustc -vV printed no host triple".into())
}

fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("dist: cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "dist: git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// This version's changelog section from `git log`: commits since the last
/// tag, newest first.
fn changelog(root: &Path, version: &str) -> Result<String, String> {
    let last_tag = git(root, &["describe", "--tags", "--abbrev=0"])
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let range = match &last_tag {
        Some(tag) => format!("{tag}..HEAD"),
        None => "HEAD".to_string(),
    };
    // Unit separator between fields, one commit per line.
    let log = git(
        root,
        &["log", "--no-merges", "--format=%h\x1f%cs\x1f%s", &range],
    )?;
    Ok(render_changelog(version, last_tag.as_deref(), &log))
}

/// The Markdown section for `version` from `git log --format=%h<US>%cs<US>%s` output.
fn render_changelog(version: &str, since: Option<&str>, log: &str) -> String {
    let commits: Vec<(&str, &str, &str)> = log
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, '\x1f');
            Some((f.next()?, f.next()?, f.next()?))
        })
        .collect();
    let date = commits.first().map_or("unreleased", |c| c.1);
    let mut out = format!("# Changelog\n\n## llmux {version} ({date})\n\n");
    match since {
        Some(tag) => {
            let _ = writeln!(out, "Changes since {tag}:\n");
        }
        None => out.push_str("Changes since the first commit:\n\n"),
    }
    for (hash, _, subject) in &commits {
        let _ = writeln!(out, "- {subject} ({hash})");
    }
    if commits.is_empty() {
        out.push_str("- No changes.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn symbol_table_detection() {
        assert!(has_symbol_table(b"\x7fELF....\0.symtab\0.strtab\0"));
        assert!(!has_symbol_table(b"\x7fELF....\0.shstrtab\0.text\0"));
        assert!(!has_symbol_table(b"MZ .symtab\0"));
    }

    #[test]
    fn changelog_section_from_git_log() {
        let log =
            "abc1234\x1f2026-11-25\x1fllmux serve: bench\ndef5678\x1f2026-11-24\x1fcore: types\n";
        assert_eq!(
            render_changelog("0.1.0", Some("v0.0.9"), log),
            "# Changelog\n\n## llmux 0.1.0 (2026-11-25)\n\nChanges since v0.0.9:\n\n\
             - llmux serve: bench (abc1234)\n- core: types (def5678)\n"
        );
        assert_eq!(
            render_changelog("0.1.0", None, ""),
            "# Changelog\n\n## llmux 0.1.0 (unreleased)\n\nChanges since the first commit:\n\n- No changes.\n"
        );
    }
}
