//! `cargo xtask dist`: the release artefacts of the `llmux` binary, in `dist/`:
//!
//! - `llmux-<version>-<target>`: the binary, static when the musl target of
//!   the host's architecture is installed (`rustup target add
//!   x86_64-unknown-linux-musl`), else for the host; release profile (thin
//!   LTO, symbols stripped, checked);
//! - `llmux-<version>.cdx.json`: the CycloneDX SBOM of what the binary is
//!   built from (`cargo-cyclonedx` from crates.io, installed into
//!   `target/tools` on first use);
//! - `CHANGELOG.md`: this version's section, one line per commit since the
//!   previous tag (or since the first commit when there is no tag);
//! - `SHA256SUMS`: the checksums of all three, as `sha256sum -c` reads them.
//!
//! Reproducible: the build maps the source, registry and target paths to
//! fixed names (`--remap-path-prefix`), sets `SOURCE_DATE_EPOCH` to the
//! commit's time and takes the commit and date `llmux --version` prints from
//! git, not the clock. To check it, the binary is built twice, in two
//! different target directories (`target/dist/a`, `target/dist/b`), and the
//! two must be the same bytes; `--no-verify` builds once.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The `cargo-cyclonedx` release the SBOM is made with.
const CYCLONEDX_VERSION: &str = "0.5.9";

/// Run the whole `dist` task.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut verify = true;
    for arg in args {
        match arg.as_str() {
            "--no-verify" => verify = false,
            other => {
                return Err(format!(
                    "dist: unknown argument '{other}' (known: --no-verify)"
                ))
            }
        }
    }
    let root = crate::workspace_root();
    let version = workspace_version(&root)?;
    let host = host_triple()?;
    let target = match musl_target(&host) {
        Some(musl) if target_installed(&musl)? => musl,
        Some(musl) => {
            eprintln!(
                "xtask: dist: the {musl} target is not installed (`rustup target add {musl}`): \
                 building for {host}, not static"
            );
            host.clone()
        }
        None => host.clone(),
    };
    let work = crate::target_dir(&root).join("dist");
    let binary = reproducible_build(&root, &target, &work.join("a"))?;
    let bytes = std::fs::read(&binary)
        .map_err(|e| format!("dist: cannot read {}: {e}", binary.display()))?;
    if has_symbol_table(&bytes) {
        return Err(format!(
            "dist: {} still has a symbol table; the release profile must keep `strip = true`",
            binary.display()
        ));
    }
    if verify {
        let again = reproducible_build(&root, &target, &work.join("b"))?;
        let second = std::fs::read(&again)
            .map_err(|e| format!("dist: cannot read {}: {e}", again.display()))?;
        let (a, b) = (sha256_hex(&bytes), sha256_hex(&second));
        if a != b {
            return Err(format!(
                "dist: not reproducible: two builds of one commit differ\n  {a}  {}\n  {b}  {}",
                binary.display(),
                again.display()
            ));
        }
        eprintln!("xtask: dist: reproducible: both builds are {a}");
    }

    let dist = root.join("dist");
    std::fs::create_dir_all(&dist)
        .map_err(|e| format!("dist: cannot create {}: {e}", dist.display()))?;
    let name = format!("llmux-{version}-{target}");
    let out = dist.join(&name);
    write(&out, &bytes)?;
    make_executable(&out)?;
    let sbom_name = format!("llmux-{version}.cdx.json");
    let sbom = sbom(&root, &target)?;
    write(&dist.join(&sbom_name), &sbom)?;
    let changelog = changelog(&root, &version)?;
    write(&dist.join("CHANGELOG.md"), changelog.as_bytes())?;
    let sums: String = [
        (name.as_str(), bytes.as_slice()),
        (sbom_name.as_str(), sbom.as_slice()),
        ("CHANGELOG.md", changelog.as_bytes()),
    ]
    .iter()
    .map(|(file, content)| format!("{}  {file}\n", sha256_hex(content)))
    .collect();
    write(&dist.join("SHA256SUMS"), sums.as_bytes())?;
    eprintln!(
        "xtask: dist: {} ({} bytes, stripped)\nxtask: dist: SHA256SUMS:\n{sums}",
        out.display(),
        bytes.len(),
    );
    Ok(())
}

/// The static (musl) target of a Linux host's architecture.
fn musl_target(host: &str) -> Option<String> {
    let arch = host.strip_suffix("-unknown-linux-gnu")?;
    Some(format!("{arch}-unknown-linux-musl"))
}

/// Whether the standard library for `target` is installed.
fn target_installed(target: &str) -> Result<bool, String> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("dist: cannot run rustc --print sysroot: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Ok(sysroot
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir())
}

/// Release build of `llmux` for `target` in `dir`, with every build-machine
/// path mapped to a fixed name; the binary's path.
fn reproducible_build(root: &Path, target: &str, dir: &Path) -> Result<PathBuf, String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("dist: neither CARGO_HOME nor HOME is set")?;
    let remap = |from: &Path, to: &str| format!("--remap-path-prefix={}={to}", from.display());
    let rustflags = [
        remap(dir, "/target"),
        remap(root, "/llmux"),
        remap(&cargo_home, "/cargo"),
    ]
    .join("\x1f");
    let epoch = git(root, &["log", "-1", "--format=%ct"])?
        .trim()
        .to_string();
    let dir_text = dir.to_string_lossy().into_owned();
    let cc_var = format!("CC_{}", target.replace('-', "_"));
    let mut env = vec![
        ("CARGO_TARGET_DIR", dir_text),
        ("CARGO_ENCODED_RUSTFLAGS", rustflags),
        ("CARGO_INCREMENTAL", "0".into()),
        ("SOURCE_DATE_EPOCH", epoch),
    ];
    // ring compiles C and assembly: for musl, with Debian's musl-gcc
    // (package musl-tools) unless a compiler is named already.
    if target.ends_with("-linux-musl")
        && std::env::var_os(&cc_var).is_none()
        && std::env::var_os("TARGET_CC").is_none()
    {
        if Command::new("musl-gcc").arg("--version").output().is_err() {
            return Err(format!(
                "dist: building for {target} needs a musl C compiler: install musl-tools \
                 (apt-get install musl-tools) or set {cc_var}"
            ));
        }
        env.push((cc_var.as_str(), "musl-gcc".into()));
    }
    crate::cargo_with(
        "reproducible release build",
        &[
            "build",
            "--release",
            "--locked",
            "-p",
            "llmux-cli",
            "--bin",
            "llmux",
            "--features",
            "mimalloc",
            "--target",
            target,
        ],
        &env,
    )?;
    let binary = dir.join(target).join("release").join("llmux");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "dist: {} not found after the build",
            binary.display()
        ))
    }
}

/// The CycloneDX SBOM (JSON) of `llmux-cli` for `target`, by `cargo-cyclonedx`.
fn sbom(root: &Path, target: &str) -> Result<Vec<u8>, String> {
    let tool = crate::tool(root, "cargo-cyclonedx", CYCLONEDX_VERSION)?;
    let manifest = root.join("cli").join("Cargo.toml");
    let status = Command::new(&tool)
        .args([
            "cyclonedx",
            "-q",
            "--format",
            "json",
            "--spec-version",
            "1.5",
        ])
        .args(["--target", target, "--manifest-path"])
        .arg(&manifest)
        .status()
        .map_err(|e| format!("dist: cannot run {}: {e}", tool.display()))?;
    // It writes one `<crate>.cdx.json` beside every workspace member's
    // manifest: keep the binary's crate's, remove them all from the tree.
    let written = root.join("cli").join("llmux-cli.cdx.json");
    let sbom = std::fs::read(&written);
    remove_sboms(root);
    if !status.success() {
        return Err(format!("dist: cargo-cyclonedx failed ({status})"));
    }
    sbom.map_err(|e| format!("dist: cannot read {}: {e}", written.display()))
}

/// Delete the `*.cdx.json` files under `dir` (not in build output or
/// dependencies' folders).
fn remove_sboms(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | "dist" | ".git" | "node_modules") {
                remove_sboms(&path);
            }
        } else if name.ends_with(".cdx.json") {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// `cargo build --release -p llmux-cli --bin llmux` (the bench's build, in
/// the usual target directory); the path of the binary.
pub(crate) fn build_release(root: &Path) -> Result<PathBuf, String> {
    crate::cargo(
        "release build",
        &["build", "--release", "-p", "llmux-cli", "--bin", "llmux"],
    )?;
    let binary = crate::target_dir(root).join("release").join("llmux");
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
    fn static_target_of_a_linux_host() {
        assert_eq!(
            musl_target("x86_64-unknown-linux-gnu").as_deref(),
            Some("x86_64-unknown-linux-musl")
        );
        assert_eq!(
            musl_target("aarch64-unknown-linux-gnu").as_deref(),
            Some("aarch64-unknown-linux-musl")
        );
        assert_eq!(musl_target("aarch64-apple-darwin"), None);
    }

    #[test]
    fn sboms_removed_from_the_tree_only() {
        let dir = std::env::temp_dir().join(format!("xtask-sbom-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["cli", "providers/openai", "target/x", "node_modules/y"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let files = [
            "cli/llmux-cli.cdx.json",
            "providers/openai/llmux-openai.cdx.json",
            "target/x/kept.cdx.json",
            "node_modules/y/kept.cdx.json",
            "cli/Cargo.toml",
        ];
        for f in files {
            std::fs::write(dir.join(f), "{}").unwrap();
        }
        remove_sboms(&dir);
        let left: Vec<bool> = files.iter().map(|f| dir.join(f).exists()).collect();
        assert_eq!(left, [false, false, true, true, true]);
        std::fs::remove_dir_all(&dir).unwrap();
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
