//! The local services the test suite talks to for real: PostgreSQL on
//! 127.0.0.1:5432 (user postgres, trust auth, database `test`) and Redis on
//! 127.0.0.1:6379. If one is not answering, start it the way this machine's
//! packages install it, and wait until it accepts connections.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

struct Service {
    name: &'static str,
    port: u16,
    /// Shell command that starts it.
    start: &'static str,
}

const SERVICES: &[Service] = &[
    Service {
        name: "PostgreSQL",
        port: 5432,
        start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | sort -V | tail -n1) main start",
    },
    Service {
        name: "Redis",
        port: 6379,
        start: "mkdir -p /var/lib/redis /var/log/redis && redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log",
    },
];

fn is_up(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// Make sure every service answers; start the ones that do not.
pub(crate) fn ensure() -> Result<(), String> {
    for s in SERVICES {
        if is_up(s.port) {
            continue;
        }
        eprintln!(
            "xtask: {} is not answering on 127.0.0.1:{}; starting it",
            s.name, s.port
        );
        let status = Command::new("sh")
            .args(["-c", s.start])
            .status()
            .map_err(|e| format!("cannot start {}: {e}", s.name))?;
        if !status.success() {
            return Err(format!(
                "starting {} failed ({status}); run `{}` by hand",
                s.name, s.start
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !is_up(s.port) {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} was started but does not answer on 127.0.0.1:{} after 30 s",
                    s.name, s.port
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("xtask: {} is up", s.name);
    }
    Ok(())
}
