//! OpenTelemetry traces over OTLP (HTTP/protobuf or gRPC), built from each
//! call's payload after the call, so tracing costs the request path
//! nothing: a span per gateway request (continuing the client's
//! `traceparent`), a child per router attempt, and under each attempt the
//! upstream call, with the GenAI semantic conventions and llmux's own
//! attributes. Also Langfuse, through its OTLP endpoint.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use llmux_core::Env;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use super::queue::{DeliveryError, Sink};
use super::webhook::answered;
use crate::telemetry::payload::{LoggingPayload, Status as CallStatus};
use crate::telemetry::trace::new_span_id;

/// How spans are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST {endpoint}` with `application/x-protobuf`.
    HttpProtobuf,
    /// The OTLP gRPC `TraceService/Export` call.
    Grpc,
}

/// An OTLP trace exporter.
pub struct Otlp {
    client: reqwest::Client,
    /// The traces URL (HTTP) or the collector's address (gRPC).
    endpoint: String,
    headers: HeaderMap,
    protocol: Protocol,
    service_name: String,
    /// Whether spans carry messages and answers.
    capture_content: bool,
    /// A gRPC channel, made on first use.
    grpc: tokio::sync::OnceCell<tonic::transport::Channel>,
}

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest attribute value (message content is cut there).
const MAX_ATTRIBUTE_CHARS: usize = 32 * 1024;

/// OTLP's header list (`OTEL_EXPORTER_OTLP_HEADERS`, LiteLLM's
/// `OTEL_HEADERS`): `name=value` pairs separated by commas, values
/// percent-encoded.
fn header_list(text: &str, variable: &str) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (k, v) in super::webhook::parse_header_list(text).map_err(|e| format!("{variable}: {e}"))? {
        let v = percent_encoding::percent_decode_str(&v)
            .decode_utf8()
            .map_err(|_| format!("{variable}: the value of `{k}` is not UTF-8"))?;
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("{variable}: `{k}` is not a header name"))?;
        let value = HeaderValue::from_str(&v)
            .map_err(|_| format!("{variable}: the value of `{k}` is not a header value"))?;
        map.insert(name, value);
    }
    Ok(map)
}

/// `{base}/v1/traces` unless `base` already names the traces path.
fn traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    }
}

/// Whether an environment variable says yes.
fn truthy(env: &dyn Env, name: &str) -> bool {
    env.var(name)
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

impl Otlp {
    /// The `otel` callback, configured as OpenTelemetry's SDKs are
    /// (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_HEADERS`,
    /// `OTEL_SERVICE_NAME`) or as LiteLLM is (`OTEL_EXPORTER`,
    /// `OTEL_ENDPOINT`, `OTEL_HEADERS`).
    pub fn from_env(
        env: &dyn Env,
        client: reqwest::Client,
        turn_off_message_logging: bool,
    ) -> Result<Otlp, String> {
        let protocol = match (
            env.var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                .or_else(|| env.var("OTEL_EXPORTER_OTLP_PROTOCOL")),
            env.var("OTEL_EXPORTER"),
        ) {
            (Some(p), _) => match p.trim() {
                "grpc" => Protocol::Grpc,
                "http/protobuf" => Protocol::HttpProtobuf,
                other => {
                    return Err(format!(
                        "OTEL_EXPORTER_OTLP_PROTOCOL: llmux exports grpc or http/protobuf, not '{other}'"
                    ))
                }
            },
            (None, Some(e)) => match e.trim() {
                "otlp_grpc" | "grpc" => Protocol::Grpc,
                "otlp_http" | "otlp" | "http" | "http/protobuf" => Protocol::HttpProtobuf,
                other => {
                    return Err(format!(
                        "OTEL_EXPORTER: llmux exports otlp_http or otlp_grpc, not '{other}'"
                    ))
                }
            },
            (None, None) => Protocol::HttpProtobuf,
        };
        let endpoint = if let Some(full) = env.var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            full
        } else {
            let base = env
                .var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .or_else(|| env.var("OTEL_ENDPOINT"))
                .unwrap_or_else(|| match protocol {
                    Protocol::Grpc => "http://localhost:4317".into(),
                    Protocol::HttpProtobuf => "http://localhost:4318".into(),
                });
            match protocol {
                Protocol::HttpProtobuf => traces_url(&base),
                Protocol::Grpc => base,
            }
        };
        let mut headers = HeaderMap::new();
        for variable in [
            "OTEL_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(text) = env.var(variable) {
                headers.extend(header_list(&text, variable)?);
            }
        }
        let service_name = env
            .var("OTEL_SERVICE_NAME")
            .unwrap_or_else(|| "llmux".into());
        let capture_content = !turn_off_message_logging
            && truthy(env, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT");
        Otlp::new(
            client,
            endpoint,
            headers,
            protocol,
            service_name,
            capture_content,
        )
    }

    /// The `langfuse` / `langfuse_otel` callback: Langfuse's OTLP endpoint
    /// (`{LANGFUSE_OTEL_HOST or LANGFUSE_HOST}/api/public/otel/v1/traces`)
    /// with `LANGFUSE_PUBLIC_KEY:LANGFUSE_SECRET_KEY` as basic auth.
    /// Langfuse shows messages, so they are sent unless
    /// `turn_off_message_logging` is set.
    pub fn langfuse(
        env: &dyn Env,
        client: reqwest::Client,
        turn_off_message_logging: bool,
    ) -> Result<Otlp, String> {
        let public = env.var("LANGFUSE_PUBLIC_KEY");
        let secret = env.var("LANGFUSE_SECRET_KEY");
        let (Some(public), Some(secret)) = (public, secret) else {
            return Err(
                "callback `langfuse` needs LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY".into(),
            );
        };
        let host = env
            .var("LANGFUSE_OTEL_HOST")
            .or_else(|| env.var("LANGFUSE_HOST"))
            .unwrap_or_else(|| "https://cloud.langfuse.com".into());
        let endpoint = format!("{}/api/public/otel/v1/traces", host.trim_end_matches('/'));
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{public}:{secret}"));
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
                "LANGFUSE_PUBLIC_KEY/LANGFUSE_SECRET_KEY: not header text".to_string()
            })?,
        );
        let service_name = env
            .var("OTEL_SERVICE_NAME")
            .unwrap_or_else(|| "llmux".into());
        Otlp::new(
            client,
            endpoint,
            headers,
            Protocol::HttpProtobuf,
            service_name,
            !turn_off_message_logging,
        )
    }

    fn new(
        client: reqwest::Client,
        endpoint: String,
        headers: HeaderMap,
        protocol: Protocol,
        service_name: String,
        capture_content: bool,
    ) -> Result<Otlp, String> {
        let url = reqwest::Url::parse(&endpoint)
            .map_err(|e| format!("OTLP endpoint `{endpoint}` is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "OTLP endpoint `{endpoint}`: expected http:// or https://"
            ));
        }
        if protocol == Protocol::Grpc && url.scheme() == "https" {
            return Err(format!(
                "OTLP endpoint `{endpoint}`: llmux's gRPC exporter speaks plain HTTP/2 only; for TLS use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
            ));
        }
        Ok(Otlp {
            client,
            endpoint,
            headers,
            protocol,
            service_name,
            capture_content,
            grpc: tokio::sync::OnceCell::new(),
        })
    }

    /// The export request for `batch`.
    pub fn export_request(&self, batch: &[Arc<LoggingPayload>]) -> ExportTraceServiceRequest {
        let spans = batch
            .iter()
            .flat_map(|p| spans_of(p, self.capture_content))
            .collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        string("service.name", &self.service_name),
                        string("telemetry.sdk.name", "llmux"),
                        string("telemetry.sdk.language", "rust"),
                        string("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "llmux".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    async fn export_http(&self, request: ExportTraceServiceRequest) -> Result<(), DeliveryError> {
        let sent = self
            .client
            .post(&self.endpoint)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/x-protobuf")
            .timeout(EXPORT_TIMEOUT)
            .body(request.encode_to_vec())
            .send()
            .await
            .map_err(|e| DeliveryError::Retry(format!("POST {}: {e}", self.endpoint)))?;
        answered(sent, &self.endpoint).await
    }

    async fn export_grpc(&self, request: ExportTraceServiceRequest) -> Result<(), DeliveryError> {
        use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
        let channel = self
            .grpc
            .get_or_try_init(|| async {
                tonic::transport::Endpoint::from_shared(self.endpoint.clone())
                    .map(|e| {
                        e.connect_timeout(Duration::from_secs(10))
                            .timeout(EXPORT_TIMEOUT)
                    })
                    .map(|e| e.connect_lazy())
                    .map_err(|e| DeliveryError::Rejected(format!("{}: {e}", self.endpoint)))
            })
            .await?
            .clone();
        let mut grpc_request = tonic::Request::new(request);
        for (name, value) in &self.headers {
            if let (Ok(k), Ok(v)) = (
                tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
                tonic::metadata::MetadataValue::try_from(value.as_bytes()),
            ) {
                grpc_request.metadata_mut().insert(k, v);
            }
        }
        match TraceServiceClient::new(channel).export(grpc_request).await {
            Ok(_) => Ok(()),
            Err(status) => {
                use tonic::Code;
                let message = format!(
                    "{}: gRPC {:?}: {}",
                    self.endpoint,
                    status.code(),
                    status.message()
                );
                match status.code() {
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
                    | Code::Aborted
                    | Code::Cancelled
                    | Code::Unknown
                    | Code::Internal => Err(DeliveryError::Retry(message)),
                    _ => Err(DeliveryError::Rejected(message)),
                }
            }
        }
    }
}

#[async_trait]
impl Sink for Otlp {
    async fn deliver(&self, batch: &[Arc<LoggingPayload>]) -> Result<(), DeliveryError> {
        let request = self.export_request(batch);
        match self.protocol {
            Protocol::HttpProtobuf => self.export_http(request).await,
            Protocol::Grpc => self.export_grpc(request).await,
        }
    }
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn seconds_to_nanos(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        (secs * 1e9) as u64
    } else {
        0
    }
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.into()))
}

fn int(key: &str, value: u64) -> KeyValue {
    attribute(
        key,
        any_value::Value::IntValue(i64::try_from(value).unwrap_or(i64::MAX)),
    )
}

fn strings(key: &str, values: &[String]) -> KeyValue {
    attribute(
        key,
        any_value::Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
            values: values
                .iter()
                .map(|v| AnyValue {
                    value: Some(any_value::Value::StringValue(v.clone())),
                })
                .collect(),
        }),
    )
}

/// The GenAI conventions' operation name for a LiteLLM call type.
pub fn operation_name(call_type: &str) -> &str {
    match call_type {
        "acompletion" | "aresponses" | "anthropic_messages" => "chat",
        "atext_completion" => "text_completion",
        "aembedding" => "embeddings",
        "aimage_generation" => "image_generation",
        "amoderation" => "moderation",
        "arerank" => "rerank",
        "aspeech" => "speech",
        "atranscription" => "transcription",
        other => other,
    }
}

/// The GenAI conventions' provider name for an llmux provider.
pub fn provider_name(provider: &str) -> &str {
    match provider {
        "azure" | "azure_ai" => "azure.ai.openai",
        "bedrock" => "aws.bedrock",
        "vertex_ai" => "gcp.vertex_ai",
        "gemini" => "gcp.gemini",
        "mistral" => "mistral_ai",
        "xai" => "x_ai",
        other => other,
    }
}

fn error_status(message: &str) -> Option<Status> {
    Some(Status {
        message: message.into(),
        code: status::StatusCode::Error as i32,
    })
}

/// The spans of one call: the gateway request, its attempts, and each
/// attempt's upstream call.
pub fn spans_of(p: &LoggingPayload, capture_content: bool) -> Vec<Span> {
    let facts = &p.spans;
    let trace_id = facts.trace.trace_id.to_vec();
    let operation = operation_name(&p.call_type);
    let requested = facts.requested_model.as_str();
    let provider = p.custom_llm_provider.as_deref().map(provider_name);
    let root_id = facts.span_id;
    let mut root_attributes = vec![
        string("gen_ai.operation.name", operation),
        string("gen_ai.request.model", requested),
        string("llmux.call_id", &p.id),
        string("llmux.call_type", &p.call_type),
        string("llmux.route", facts.route),
        string(
            "llmux.status",
            if p.status == CallStatus::Success {
                "success"
            } else {
                "failure"
            },
        ),
        attribute(
            "llmux.cache_hit",
            any_value::Value::BoolValue(p.cache_hit.unwrap_or(false)),
        ),
        attribute("llmux.stream", any_value::Value::BoolValue(p.stream)),
        int("llmux.attempts", u64::from(facts.attempt_count)),
        int("gen_ai.usage.input_tokens", p.prompt_tokens),
        int("gen_ai.usage.output_tokens", p.completion_tokens),
        attribute(
            "llmux.cost_usd",
            any_value::Value::DoubleValue(p.response_cost),
        ),
    ];
    if let Some(provider) = provider {
        root_attributes.push(string("gen_ai.system", provider));
        root_attributes.push(string("gen_ai.provider.name", provider));
    }
    if p.status == CallStatus::Success {
        let upstream = p.model.split_once('/').map_or(p.model.as_str(), |(_, m)| m);
        root_attributes.push(string("gen_ai.response.model", upstream));
    }
    if let Some(group) = &p.model_group {
        root_attributes.push(string("llmux.model_group", group));
    }
    if let Some(id) = &p.model_id {
        root_attributes.push(string("llmux.deployment", id));
    }
    if let Some(from) = &facts.fallback_from {
        root_attributes.push(string("llmux.fallback_from", from));
    }
    if !facts.finish_reasons.is_empty() {
        root_attributes.push(strings(
            "gen_ai.response.finish_reasons",
            &facts.finish_reasons,
        ));
    }
    for (k, v) in [
        ("llmux.key_alias", &p.metadata.user_api_key_alias),
        ("llmux.team_id", &p.metadata.user_api_key_team_id),
        ("llmux.team_alias", &p.metadata.user_api_key_team_alias),
        ("llmux.user_id", &p.metadata.user_api_key_user_id),
        ("llmux.end_user", &p.end_user),
    ] {
        if let Some(v) = v {
            root_attributes.push(string(k, v));
        }
    }
    if capture_content {
        if let Some(m) = &p.messages {
            root_attributes.push(string(
                "gen_ai.input.messages",
                llmux_core::text::truncate(&m.to_string(), MAX_ATTRIBUTE_CHARS),
            ));
        }
        if let Some(r) = &p.response {
            root_attributes.push(string(
                "gen_ai.output.messages",
                llmux_core::text::truncate(&r.to_json_string(), MAX_ATTRIBUTE_CHARS),
            ));
        }
    }
    let root_status = match &p.error_str {
        Some(e) if p.status == CallStatus::Failure => error_status(e),
        _ => None,
    };
    let mut spans = vec![Span {
        trace_id: trace_id.clone(),
        span_id: root_id.to_vec(),
        parent_span_id: facts
            .trace
            .parent_span_id
            .map(|s| s.to_vec())
            .unwrap_or_default(),
        flags: 0x100 | u32::from(facts.trace.parent_span_id.is_some()) << 9 | 1,
        name: format!("{operation} {requested}"),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: seconds_to_nanos(p.startTime),
        end_time_unix_nano: seconds_to_nanos(p.endTime),
        attributes: root_attributes,
        status: root_status,
        ..Default::default()
    }];
    let last = facts.attempts.len().saturating_sub(1);
    for (i, attempt) in facts.attempts.iter().enumerate() {
        let attempt_id = new_span_id();
        let start = nanos(attempt.start);
        let end = nanos(attempt.start + attempt.duration);
        let served = i == last && attempt.error.is_none() && p.status == CallStatus::Success;
        let mut attributes = vec![
            string("llmux.deployment", &attempt.deployment_id),
            string("llmux.model_group", &attempt.model_group),
            int("llmux.attempt", i as u64 + 1),
        ];
        let status = attempt.error.as_ref().and_then(|(kind, message)| {
            attributes.push(string("error.type", kind));
            error_status(message)
        });
        spans.push(Span {
            trace_id: trace_id.clone(),
            span_id: attempt_id.to_vec(),
            parent_span_id: root_id.to_vec(),
            flags: 0x100 | 1,
            name: format!("llmux.attempt {}", attempt.deployment_id),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: attributes.clone(),
            status: status.clone(),
            ..Default::default()
        });
        let mut upstream = vec![
            string("gen_ai.operation.name", operation),
            string("gen_ai.request.model", &attempt.upstream_model),
        ];
        if let Some(provider) = attempt.provider.as_deref().map(provider_name) {
            upstream.push(string("gen_ai.system", provider));
            upstream.push(string("gen_ai.provider.name", provider));
        }
        if served {
            upstream.push(string("gen_ai.response.model", &attempt.upstream_model));
            upstream.push(int("gen_ai.usage.input_tokens", p.prompt_tokens));
            upstream.push(int("gen_ai.usage.output_tokens", p.completion_tokens));
        }
        if let Some((kind, _)) = &attempt.error {
            upstream.push(string("error.type", kind));
        }
        spans.push(Span {
            trace_id: trace_id.clone(),
            span_id: new_span_id().to_vec(),
            parent_span_id: attempt_id.to_vec(),
            flags: 0x100 | 1,
            name: format!("{operation} {}", attempt.upstream_model),
            kind: span::SpanKind::Client as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: upstream,
            status,
            ..Default::default()
        });
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_headers_read_as_the_sdks_do() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
        let h = header_list("api-key=a%20b,x-tenant=t1", "OTEL_HEADERS").unwrap();
        assert_eq!(h["api-key"], "a b");
        assert_eq!(h["x-tenant"], "t1");
        assert!(header_list("bad", "OTEL_HEADERS").is_err());
    }
}
