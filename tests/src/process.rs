//! `llmux serve` as a child process on 127.0.0.1, for tests that drive the
//! real binary (the binary's path comes from the test: Cargo gives it to the
//! `cli` crate's tests as `CARGO_BIN_EXE_llmux`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// A running `llmux serve`; killed when dropped.
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl ServeProcess {
    /// Start `binary serve --config config` on a free 127.0.0.1 port with
    /// exactly the environment `env`, and wait (up to 20 s) until it accepts
    /// connections.
    pub async fn start(
        binary: &str,
        config: &Path,
        env: &[(&str, &str)],
    ) -> Result<ServeProcess, String> {
        let port = free_port();
        let child = Command::new(binary)
            .args(["serve", "--config"])
            .arg(config)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env_clear()
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let process = ServeProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if started.elapsed() > Duration::from_secs(20) {
                return Err(format!(
                    "llmux serve did not listen on port {port} within 20 s"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(process)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
