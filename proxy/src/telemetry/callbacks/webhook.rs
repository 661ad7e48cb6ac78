//! LiteLLM's `generic_api` callback: payloads POSTed to an HTTP endpoint as
//! a JSON array (`json_array`, the default), newline-delimited JSON
//! (`ndjson`) or one request per payload (`single`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use super::queue::{DeliveryError, Sink};
use crate::telemetry::payload::LoggingPayload;

/// How a batch is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One request, a JSON array of payloads.
    JsonArray,
    /// One request, a payload per line.
    Ndjson,
    /// One request per payload.
    Single,
}

impl LogFormat {
    /// LiteLLM's name for a format.
    pub fn parse(name: &str) -> Option<LogFormat> {
        match name {
            "json_array" => Some(LogFormat::JsonArray),
            "ndjson" => Some(LogFormat::Ndjson),
            "single" => Some(LogFormat::Single),
            _ => None,
        }
    }
}

/// A webhook endpoint.
pub struct Webhook {
    client: reqwest::Client,
    endpoint: String,
    headers: HeaderMap,
    format: LogFormat,
}

/// About how large one payload's JSON is, to size a batch's buffer once.
const PAYLOAD_SIZE_HINT: usize = 2048;

/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

impl Webhook {
    /// POST to `endpoint` with `headers` (e.g. its credentials).
    pub fn new(
        client: reqwest::Client,
        endpoint: String,
        headers: &[(String, String)],
        format: LogFormat,
    ) -> Result<Webhook, String> {
        reqwest::Url::parse(&endpoint)
            .map_err(|e| format!("endpoint `{endpoint}` is not a URL: {e}"))?;
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| format!("header name `{k}` is not valid"))?;
            let value = HeaderValue::from_str(v.trim())
                .map_err(|_| format!("the value of header `{k}` is not valid"))?;
            map.insert(name, value);
        }
        Ok(Webhook {
            client,
            endpoint,
            headers: map,
            format,
        })
    }

    async fn post(&self, content_type: &'static str, body: Vec<u8>) -> Result<(), DeliveryError> {
        let sent = self
            .client
            .post(&self.endpoint)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, content_type)
            .timeout(DELIVERY_TIMEOUT)
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError::Retry(format!("POST {}: {e}", self.endpoint)))?;
        answered(sent, &self.endpoint).await
    }
}

/// A sink's HTTP answer as a delivery result: 2xx taken, 408/429/5xx worth
/// retrying, any other status refused for good. Its body is read (up to
/// 64 KiB) so the connection goes back to the pool instead of being closed.
pub(crate) async fn answered(
    mut sent: reqwest::Response,
    endpoint: &str,
) -> Result<(), DeliveryError> {
    let status = sent.status();
    let mut read = 0usize;
    while let Ok(Some(chunk)) = sent.chunk().await {
        read += chunk.len();
        if read > 64 * 1024 {
            break;
        }
    }
    answer_status(status, endpoint)
}

fn answer_status(status: reqwest::StatusCode, endpoint: &str) -> Result<(), DeliveryError> {
    if status.is_success() {
        Ok(())
    } else if status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
    {
        Err(DeliveryError::Retry(format!(
            "{endpoint} answered {status}"
        )))
    } else {
        Err(DeliveryError::Rejected(format!(
            "{endpoint} answered {status}"
        )))
    }
}

fn json(payload: &LoggingPayload) -> Result<Vec<u8>, DeliveryError> {
    serde_json::to_vec(payload).map_err(|e| DeliveryError::Rejected(e.to_string()))
}

#[async_trait]
impl Sink for Webhook {
    async fn deliver(&self, batch: &[Arc<LoggingPayload>]) -> Result<(), DeliveryError> {
        match self.format {
            LogFormat::JsonArray => {
                let items: Vec<&LoggingPayload> = batch.iter().map(|p| p.as_ref()).collect();
                let mut body = Vec::with_capacity(batch.len() * PAYLOAD_SIZE_HINT);
                serde_json::to_writer(&mut body, &items)
                    .map_err(|e| DeliveryError::Rejected(e.to_string()))?;
                self.post("application/json", body).await
            }
            LogFormat::Ndjson => {
                let mut body = Vec::with_capacity(batch.len() * PAYLOAD_SIZE_HINT);
                for p in batch {
                    serde_json::to_writer(&mut body, p.as_ref())
                        .map_err(|e| DeliveryError::Rejected(e.to_string()))?;
                    body.push(b'\n');
                }
                self.post("application/x-ndjson", body).await
            }
            LogFormat::Single => {
                for p in batch {
                    self.post("application/json", json(p)?).await?;
                }
                Ok(())
            }
        }
    }
}

/// `GENERIC_LOGGER_HEADERS`: `Name=value` pairs separated by commas.
pub fn parse_header_list(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| format!("`{pair}` is not Name=value"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_are_name_value_pairs() {
        assert_eq!(
            parse_header_list("Authorization=Bearer abc, X-Team = a=b").unwrap(),
            vec![
                ("Authorization".to_string(), "Bearer abc".to_string()),
                ("X-Team".to_string(), "a=b".to_string())
            ]
        );
        assert_eq!(parse_header_list("").unwrap(), vec![]);
        assert!(parse_header_list("novalue").is_err());
    }
}
