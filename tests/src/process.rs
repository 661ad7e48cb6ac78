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

/// How long a gateway may take to listen before the test gives up.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `llmux serve`; killed when dropped.
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl ServeProcess {
    /// Start `binary serve --config config` (see [`ServeProcess::start_in`]),
    /// in the config file's directory.
    pub async fn start(
        binary: &str,
        config: &Path,
        env: &[(&str, &str)],
    ) -> Result<ServeProcess, String> {
        let dir = config.parent().unwrap_or(Path::new("."));
        let config = config.to_string_lossy();
        Self::start_in(binary, dir, &["--config", &config], env).await
    }

    /// Start `binary serve ARGS --host 127.0.0.1 --port P` on a free port,
    /// with exactly the environment `env` and `dir` as its working directory
    /// (so its default `llmux.db` and spill file stay out of the source
    /// tree), and wait until it accepts connections. Its stderr goes to
    /// `dir/serve-P.log`; if it exits or does not listen in time, the error
    /// carries that log.
    pub async fn start_in(
        binary: &str,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<ServeProcess, String> {
        let port = free_port();
        let log_path = dir.join(format!("serve-{port}.log"));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let child = Command::new(binary)
            .arg("serve")
            .args(args)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let mut process = ServeProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = process.child.try_wait() {
                return Err(format!(
                    "llmux serve exited ({status}) before listening on port {port}:\n{}",
                    read_log(&log_path)
                ));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "llmux serve did not listen on port {port} within {} s:\n{}",
                    START_TIMEOUT.as_secs(),
                    read_log(&log_path)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(process)
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log: {e})"))
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
