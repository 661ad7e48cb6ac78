//! A real S3 implementation on 127.0.0.1: `moto` in server mode, from the
//! Python client venv that `cargo xtask clients` installs (pinned in
//! `tests/clients/python/requirements.txt`). Killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `moto_server`.
pub struct MotoServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl MotoServer {
    /// Start it and wait (at most 30 s) until it answers.
    pub async fn start() -> Result<MotoServer, String> {
        let program = crate::venv_program("moto_server")?;
        let port = crate::process::free_port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let server = MotoServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(30) {
            if client.get(&server.url).send().await.is_ok() {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("moto_server did not answer within 30 s".into())
    }

    /// Create `bucket` (moto takes unsigned requests).
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), String> {
        let r = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.url))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!("creating bucket {bucket}: {}", r.status()))
        }
    }

    /// The keys of `bucket`'s objects (ListObjectsV2, first page).
    pub async fn keys(&self, bucket: &str) -> Result<Vec<String>, String> {
        let xml = reqwest::Client::new()
            .get(format!("{}/{bucket}?list-type=2", self.url))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        Ok(xml
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(k, _)| k.to_string()))
            .collect())
    }

    /// An object's bytes, read with the credentials `access`/`secret` (an
    /// object is its writer's: moto refuses unsigned reads).
    pub async fn object(
        &self,
        bucket: &str,
        key: &str,
        access: &str,
        secret: &str,
    ) -> Result<Vec<u8>, String> {
        use llmux_bedrock::sign::{sign, PayloadHash, S3};
        let url = format!("{}/{bucket}/{key}", self.url);
        let mut request = http::Request::builder()
            .method("GET")
            .uri(&url)
            .body(bytes::Bytes::new())
            .map_err(|e| e.to_string())?;
        sign(
            &mut request,
            &llmux_bedrock::AwsCredentials::new(access, secret),
            "us-east-1",
            S3,
            std::time::SystemTime::now(),
            PayloadHash::SignedWithHeader,
        )
        .map_err(|e| e.to_string())?;
        let r = reqwest::Client::new()
            .get(&url)
            .headers(request.headers().clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("GET {key}: {}", r.status()));
        }
        r.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
