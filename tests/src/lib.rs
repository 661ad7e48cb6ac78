//! # llmux-tests
//!
//! End-to-end tests (in `tests/`) and the mock provider servers they use (in
//! [`mock`]). The mocks speak each provider's real wire format on 127.0.0.1 with
//! a random port, record every request for exact assertions, and take scripted
//! responses for error injection and stream framing tests. [`conformance`]
//! drives every provider through the same failure and framing tests.

// Library docs are for crates others build on; this is test support.
#![allow(missing_docs)]

pub mod conformance;
pub mod db;
pub mod gateway;
pub mod litellm;
pub mod mock;
pub mod moto;
pub mod process;
pub mod services;

/// A program of the Python client venv that `cargo xtask clients` installs
/// (`target/clients/venv`, pinned in `tests/clients/python/requirements.txt`),
/// or a message saying how to install it.
pub fn venv_program(name: &str) -> Result<std::path::PathBuf, String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/clients/venv/bin")
        .join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo xtask clients` (or `cargo xtask test`, which runs it) to install the test clients",
            path.display()
        ))
    }
}

/// The README's Rust examples, compiled as doctests so they cannot rot.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
