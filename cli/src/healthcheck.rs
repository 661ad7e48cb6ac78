//! `llmux healthcheck`: probe a gateway's health route and exit 0 or 1, so a
//! container image with no shell or curl (distroless) can declare a
//! `HEALTHCHECK` with the binary it already has.

use std::time::Duration;

use clap::Args;

/// Arguments of `llmux healthcheck`.
#[derive(Args, Debug)]
pub(crate) struct HealthcheckArgs {
    /// The URL to probe [default: http://127.0.0.1:$PORT/health/liveliness].
    #[arg(long)]
    url: Option<String>,
    /// The gateway's port, when `--url` is not given.
    #[arg(short, long, default_value_t = 4000, env = "PORT")]
    port: u16,
    /// Seconds to wait for the answer before the probe fails.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
}

/// GET the URL: `Ok` on a 2xx answer, the reason otherwise.
pub(crate) async fn run(args: HealthcheckArgs) -> Result<(), String> {
    let url = args
        .url
        .unwrap_or_else(|| format!("http://127.0.0.1:{}/health/liveliness", args.port));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    if status.is_success() {
        println!("{url}: {status}");
        Ok(())
    } else {
        Err(format!("{url}: {status}"))
    }
}
