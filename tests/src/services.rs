//! The real services some tests need (PostgreSQL at 127.0.0.1:5432, Redis at
//! 127.0.0.1:6379). A plain `cargo test` on a machine without them skips
//! those tests with a one-line reason; `LLMUX_REQUIRE_SERVICES=1` (set by
//! `cargo xtask test`, so by CI) makes a missing service a failure instead,
//! so they can never be skipped there.

use std::io::Write;
use std::time::Duration;

/// A service a test talks to for real.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Postgres,
    Redis,
}

impl Service {
    fn address(self) -> &'static str {
        match self {
            Service::Postgres => "127.0.0.1:5432",
            Service::Redis => "127.0.0.1:6379",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Service::Postgres => "PostgreSQL",
            Service::Redis => "Redis",
        }
    }
}

/// The environment variable that forbids skipping.
pub const REQUIRE_SERVICES: &str = "LLMUX_REQUIRE_SERVICES";

/// Whether a test needing `services` should run: `true` when each one
/// accepts a connection. When one does not, this panics under
/// `LLMUX_REQUIRE_SERVICES=1`, else prints why the test is skipped and
/// returns `false` (the test then returns at once).
#[allow(clippy::panic)] // failing the calling test is the point under LLMUX_REQUIRE_SERVICES=1
pub async fn available(services: &[Service]) -> bool {
    for s in services {
        let reachable = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(s.address()),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        if reachable {
            continue;
        }
        let why = format!(
            "{} is not reachable at {} (start it with `cargo xtask services`)",
            s.name(),
            s.address()
        );
        if std::env::var(REQUIRE_SERVICES).is_ok_and(|v| v == "1") {
            panic!("{why}; {REQUIRE_SERVICES}=1 forbids skipping");
        }
        // Written to the stderr handle itself, which the test harness does
        // not capture, so the reason shows in a plain `cargo test`.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {why}; set {REQUIRE_SERVICES}=1 to fail instead"
        );
        return false;
    }
    true
}
