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
    /// `http://HOST:PORT` (127.0.0.1 unless started in a namespace)
    pub url: String,
    pub port: u16,
}

/// The local addresses on which something listens on TCP `port`, read from
/// `/proc/net/tcp` and `/proc/net/tcp6` (Linux): e.g. `127.0.0.1`, `0.0.0.0`.
pub fn listening_addresses(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st …; st 0A is LISTEN.
            let (Some(local), Some("0A")) = (fields.get(1), fields.get(3).copied()) else {
                continue;
            };
            let Some((addr, p)) = local.split_once(':') else {
                continue;
            };
            if u16::from_str_radix(p, 16).ok() != Some(port) {
                continue;
            }
            out.push(proc_net_address(addr, v6));
        }
    }
    out
}

/// A `/proc/net/tcp*` hex address (little-endian words) as text.
fn proc_net_address(hex: &str, v6: bool) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    // Each 32-bit word is stored in host (little-endian) order.
    let mut ordered = Vec::with_capacity(bytes.len());
    for word in bytes.chunks(4) {
        ordered.extend(word.iter().rev());
    }
    if v6 {
        let mut a = [0u8; 16];
        for (d, s) in a.iter_mut().zip(&ordered) {
            *d = *s;
        }
        std::net::Ipv6Addr::from(a).to_string()
    } else {
        let mut a = [0u8; 4];
        for (d, s) in a.iter_mut().zip(&ordered) {
            *d = *s;
        }
        std::net::Ipv4Addr::from(a).to_string()
    }
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
    /// `dir/serve-127.0.0.1-P.log`; if it exits or does not listen in time, the error
    /// carries that log.
    pub async fn start_in(
        binary: &str,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<ServeProcess, String> {
        let mut all = args.to_vec();
        all.extend(["--host", "127.0.0.1"]);
        Self::start_as_given(binary, dir, &all, env).await
    }

    /// [`ServeProcess::start_in`] without `--host`: `binary serve ARGS --port
    /// P`, listening where `ARGS` and its defaults say (tests of the default
    /// address).
    pub async fn start_as_given(
        binary: &str,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<ServeProcess, String> {
        let port = free_port();
        let mut command = Command::new(binary);
        command.arg("serve").args(args);
        Self::launch(command, dir, env, "127.0.0.1", port).await
    }

    /// `binary serve ARGS --host HOST --port PORT` inside the network
    /// namespace `netns` (`ip netns exec`), as a gateway on another host;
    /// ready once `HOST:PORT` accepts connections from this namespace.
    pub async fn start_in_netns(
        netns: &str,
        binary: &str,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        host: &str,
        port: u16,
    ) -> Result<ServeProcess, String> {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", netns, binary, "serve"])
            .args(args)
            .args(["--host", host]);
        Self::launch(command, dir, env, host, port).await
    }

    /// Run `command --port PORT` with exactly `env`, in `dir`, stderr to
    /// `dir/serve-PORT.log`, and wait until `host:PORT` accepts connections;
    /// if it exits or does not listen in time, the error carries that log.
    async fn launch(
        mut command: Command,
        dir: &Path,
        env: &[(&str, &str)],
        host: &str,
        port: u16,
    ) -> Result<ServeProcess, String> {
        let log_path = dir.join(format!("serve-{host}-{port}.log"));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let child = command
            .args(["--port", &port.to_string()])
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
        let mut process = ServeProcess {
            child,
            url: format!("http://{host}:{port}"),
            port,
        };
        let started = Instant::now();
        while tokio::net::TcpStream::connect((host, port)).await.is_err() {
            if let Ok(Some(status)) = process.child.try_wait() {
                return Err(format!(
                    "llmux serve exited ({status}) before listening on {host}:{port}:\n{}",
                    read_log(&log_path)
                ));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "llmux serve did not listen on {host}:{port} within {} s:\n{}",
                    START_TIMEOUT.as_secs(),
                    read_log(&log_path)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(process)
    }
}

impl ServeProcess {
    /// Send SIGTERM, as an orchestrator does to stop a gateway.
    pub fn terminate(&self) -> Result<(), String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("cannot run kill: {e}"))?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("kill -TERM failed: {status}"))
    }

    /// Wait up to `timeout` for the process to exit; its status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
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
