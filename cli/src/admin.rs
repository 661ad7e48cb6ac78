//! Talking to a running gateway's management API with the master key: the
//! options every admin command shares, one HTTP client that turns the
//! gateway's errors into one-line messages, and table rendering.

use std::time::Duration;

use clap::Args;
use serde_json::Value;

/// Options shared by `llmux keys` and `llmux spend`.
#[derive(Args, Debug)]
pub(crate) struct AdminArgs {
    /// The gateway.
    #[arg(
        long,
        global = true,
        help_heading = "Common options",
        env = "LLMUX_BASE_URL",
        default_value = "http://127.0.0.1:4000"
    )]
    pub base_url: String,
    /// The gateway's master key [default: $LLMUX_MASTER_KEY, else $LITELLM_MASTER_KEY].
    #[arg(long, global = true, help_heading = "Common options")]
    pub master_key: Option<String>,
    /// Print the gateway's JSON response instead of a table.
    #[arg(long, global = true, help_heading = "Common options")]
    pub json: bool,
}

/// The gateway's management API, with the master key.
pub(crate) struct AdminClient {
    base: String,
    master_key: String,
    http: reqwest::Client,
}

impl AdminClient {
    pub(crate) fn new(args: &AdminArgs) -> Result<AdminClient, String> {
        let master_key = args
            .master_key
            .clone()
            .or_else(|| env_var("LLMUX_MASTER_KEY"))
            .or_else(|| env_var("LITELLM_MASTER_KEY"))
            .ok_or(
                "no master key: pass --master-key or set LLMUX_MASTER_KEY (or LITELLM_MASTER_KEY)",
            )?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(AdminClient {
            base: args.base_url.trim_end_matches('/').to_string(),
            master_key,
            http,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, String> {
        let resp = req
            .bearer_auth(&self.master_key)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot reach the gateway at {} ({}): is `llmux serve` running there?",
                    self.base,
                    root_cause(&e)
                )
            })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("reading the gateway's answer: {}", root_cause(&e)))?;
        let body: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            let message = body
                .as_ref()
                .and_then(|b| {
                    b["error"]["message"]
                        .as_str()
                        .or_else(|| b["detail"].as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| text.trim().to_string());
            return Err(format!("gateway answered {status}: {message}"));
        }
        body.ok_or_else(|| format!("the gateway answered {status} with something not JSON: {text}"))
    }

    pub(crate) async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, String> {
        self.send(self.http.get(format!("{}{path}", self.base)).query(query))
            .await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The innermost cause of an error (reqwest's own message names only the URL).
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(s) = cause.source() {
        cause = s;
    }
    cause.to_string()
}

/// JSON as the `--json` output prints it.
pub(crate) fn pretty(v: &Value) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    )
}

/// USD: cents when that is exact, every digit otherwise.
pub(crate) fn usd(v: f64) -> String {
    if (v * 100.0).round() / 100.0 == v {
        format!("${v:.2}")
    } else {
        format!("${v}")
    }
}

/// Rows under a header, columns padded to their widest cell.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}
