//! LiteLLM's `s3` callback: one JSON object per call, as LiteLLM names them
//! (`{s3_path}/{team alias/}{YYYY-MM-DD}/time-{HH-MM-SS-ffffff}_{call id}.json`),
//! PUT to any S3-compatible endpoint, signed with SigV4 (through
//! `aws-sigv4`, as Bedrock's calls are).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use llmux_bedrock::sign::{sign, PayloadHash, S3};
use llmux_bedrock::AwsCredentials;
use llmux_core::Env;
use serde_json::{Map, Value};

use super::queue::{DeliveryError, Sink};
use super::webhook::answered;
use crate::telemetry::payload::LoggingPayload;

/// How long one PUT may take.
const PUT_TIMEOUT: Duration = Duration::from_secs(30);

/// A bucket to write call logs to.
pub struct S3Bucket {
    client: reqwest::Client,
    /// `https://{bucket}.s3.{region}.amazonaws.com` (virtual-hosted), or
    /// `{s3_endpoint_url}/{bucket}` (path style, for MinIO, moto, …).
    base: String,
    region: String,
    credentials: AwsCredentials,
    /// `s3_path`: a prefix before the date.
    path: String,
    /// `s3_use_team_prefix`: the team alias (else id) before the date.
    team_prefix: bool,
}

/// A setting of `s3_callback_params`, with `os.environ/NAME` resolved.
fn param(params: &Map<String, Value>, key: &str, env: &dyn Env) -> Result<Option<String>, String> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => crate::config::resolve(s, env)
            .map(Some)
            .map_err(|e| format!("litellm_settings.s3_callback_params.{key}: {e}")),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(format!(
            "litellm_settings.s3_callback_params.{key}: expected text, got {other}"
        )),
    }
}

impl S3Bucket {
    /// The bucket of `s3_callback_params` (LiteLLM's names), with AWS's
    /// variables where a parameter is missing.
    pub fn from_params(
        params: &Map<String, Value>,
        env: &dyn Env,
        client: reqwest::Client,
    ) -> Result<S3Bucket, String> {
        let get = |key: &str| param(params, key, env);
        let bucket = get("s3_bucket_name")?
            .ok_or("callback `s3` needs litellm_settings.s3_callback_params.s3_bucket_name")?;
        let region = get("s3_region_name")?
            .or_else(|| env.var("AWS_REGION_NAME"))
            .or_else(|| env.var("AWS_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        let access = get("s3_aws_access_key_id")?.or_else(|| env.var("AWS_ACCESS_KEY_ID"));
        let secret = get("s3_aws_secret_access_key")?.or_else(|| env.var("AWS_SECRET_ACCESS_KEY"));
        let (Some(access), Some(secret)) = (access, secret) else {
            return Err("callback `s3` needs credentials: s3_callback_params.s3_aws_access_key_id and s3_aws_secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into());
        };
        let mut credentials = AwsCredentials::new(access, secret);
        if let Some(token) = get("s3_aws_session_token")?.or_else(|| env.var("AWS_SESSION_TOKEN")) {
            credentials = credentials.with_session_token(token);
        }
        let base = match get("s3_endpoint_url")? {
            Some(endpoint) => {
                reqwest::Url::parse(&endpoint).map_err(|e| {
                    format!("litellm_settings.s3_callback_params.s3_endpoint_url: `{endpoint}` is not a URL: {e}")
                })?;
                format!("{}/{bucket}", endpoint.trim_end_matches('/'))
            }
            None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        Ok(S3Bucket {
            client,
            base,
            region,
            credentials,
            path: get("s3_path")?.unwrap_or_default(),
            team_prefix: get("s3_use_team_prefix")?.is_some_and(|v| v == "true"),
        })
    }

    /// Where `payload` is written, as LiteLLM names it.
    pub fn object_key(&self, payload: &LoggingPayload) -> String {
        let mut key = String::new();
        let path = self.path.trim_matches('/');
        if !path.is_empty() {
            key.push_str(path);
            key.push('/');
        }
        if self.team_prefix {
            let team = payload
                .metadata
                .user_api_key_team_alias
                .as_deref()
                .or(payload.metadata.user_api_key_team_id.as_deref());
            if let Some(team) = team {
                key.push_str(&safe(team));
                key.push('/');
            }
        }
        let (date, time) = utc_date_time(payload.startTime);
        key.push_str(&format!("{date}/time-{time}_{}.json", safe(&payload.id)));
        key
    }

    async fn put(&self, payload: &LoggingPayload) -> Result<(), DeliveryError> {
        let key = self.object_key(payload);
        let encoded: String = key
            .split('/')
            .map(|segment| {
                percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("/");
        let url = format!("{}/{encoded}", self.base);
        let body =
            serde_json::to_vec(payload).map_err(|e| DeliveryError::Rejected(e.to_string()))?;
        let mut request = http::Request::builder()
            .method("PUT")
            .uri(&url)
            .header("content-type", "application/json")
            .body(Bytes::from(body))
            .map_err(|e| DeliveryError::Rejected(format!("{url}: {e}")))?;
        sign(
            &mut request,
            &self.credentials,
            &self.region,
            S3,
            SystemTime::now(),
            PayloadHash::SignedWithHeader,
        )
        .map_err(|e| DeliveryError::Rejected(e.to_string()))?;
        let (parts, body) = request.into_parts();
        let sent = self
            .client
            .put(&url)
            .headers(parts.headers)
            .timeout(PUT_TIMEOUT)
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError::Retry(format!("PUT {url}: {e}")))?;
        answered(sent, &self.base).await
    }
}

/// An object-key segment without `/` or `:` (as LiteLLM's).
fn safe(s: &str) -> String {
    llmux_core::text::truncate(s, 128).replace(['/', ':'], "_")
}

/// `YYYY-MM-DD` and `HH-MM-SS-ffffff` (UTC) of Unix seconds.
fn utc_date_time(unix: f64) -> (String, String) {
    let micros = (unix.max(0.0) * 1e6) as i64;
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (year, month, day) = llmux_core::calendar::civil_from_days(secs.div_euclid(86_400));
    let in_day = secs.rem_euclid(86_400);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}-{:02}-{:02}-{frac:06}",
            in_day / 3_600,
            in_day % 3_600 / 60,
            in_day % 60
        ),
    )
}

#[async_trait]
impl Sink for S3Bucket {
    async fn deliver(&self, batch: &[Arc<LoggingPayload>]) -> Result<(), DeliveryError> {
        // S3 has no batch PUT: one object per call, sent together.
        let results = futures::future::join_all(batch.iter().map(|p| self.put(p))).await;
        results.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(
            utc_date_time(0.0),
            ("1970-01-01".to_string(), "00-00-00-000000".to_string())
        );
        assert_eq!(
            utc_date_time(1_709_251_199.25),
            ("2024-02-29".to_string(), "23-59-59-250000".to_string())
        );
        assert_eq!(utc_date_time(1_796_083_200.5).0, "2026-12-01");
    }
}
