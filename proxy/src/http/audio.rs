//! `POST /audio/speech` (JSON in, audio out) and `/audio/transcriptions`
//! (multipart in).

use crate::body::parse_json;
use crate::error::internal;
use crate::gateway::Ctx;
use crate::http::respond::header_value;

use axum::body::Bytes;
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use llmux_core::endpoint::{Call, Reply};
use llmux_core::types::audio::{SpeechRequest, TranscriptionRequest, TranscriptionResponse};
use llmux_core::Error;

use crate::error::ApiError;

use crate::http::{prefixed, Routes, Shared};

/// The routes of this module.
pub(crate) fn routes() -> Routes {
    prefixed([
        ("/audio/transcriptions", post(transcription)),
        ("/audio/speech", post(speech)),
    ])
}

pub(crate) async fn speech(
    State(gw): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new("audio_speech", &headers);
    let req: SpeechRequest = parse_json(&body).inspect_err(|e| gw.record_error(&ctx, "", e))?;
    let r = gw
        .dispatch(&ctx, &headers, req.model.clone(), Call::Speech(req))
        .await?;
    let Reply::Speech(audio) = r.reply else {
        return Err(internal("router returned the wrong reply for audio/speech"));
    };
    let cost = gw.finish(r.admission, &r.route, None);
    gw.record_status(&ctx, &r.route.model_group, 200);
    let mut response = (StatusCode::OK, audio.audio).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header_value(&audio.content_type));
    gw.route_headers(response.headers_mut(), &ctx, &r.route);
    gw.cost_header(response.headers_mut(), cost);
    Ok(response)
}

pub(crate) async fn transcription(
    State(gw): Shared,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new("audio_transcriptions", &headers);
    let bad = |m: String| ApiError(Error::bad_request(m));
    let mut file: Option<(String, Bytes)> = None;
    let mut fields: Vec<(String, String)> = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("Invalid multipart body: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let filename = field.file_name().unwrap_or("audio").to_string();
            let data = field
                .bytes()
                .await
                .map_err(|e| bad(format!("Invalid multipart body: {e}")))?;
            file = Some((filename, data));
        } else {
            let text = field
                .text()
                .await
                .map_err(|e| bad(format!("Invalid multipart body: {e}")))?;
            fields.push((name, text));
        }
    }
    let Some((filename, data)) = file else {
        return Err(ApiError(
            Error::bad_request("the 'file' field is required").with_param("file"),
        ));
    };
    let mut model = None;
    let mut req = TranscriptionRequest::new(String::new(), data, filename);
    for (name, value) in fields {
        match name.as_str() {
            "model" => model = Some(value),
            "language" => req.language = Some(value),
            "prompt" => req.prompt = Some(value),
            "response_format" => req.response_format = Some(value),
            "temperature" => {
                req.temperature = Some(value.parse().map_err(|_| {
                    ApiError(
                        Error::bad_request(format!("temperature must be a number, got '{value}'"))
                            .with_param("temperature"),
                    )
                })?)
            }
            "timestamp_granularities[]" | "timestamp_granularities" => {
                req.timestamp_granularities.push(value)
            }
            _ => req.extra.push((name, value)),
        }
    }
    let Some(model) = model.filter(|m| !m.is_empty()) else {
        return Err(ApiError(
            Error::bad_request("the 'model' field is required").with_param("model"),
        ));
    };
    req.model.clone_from(&model);
    let r = gw
        .dispatch(&ctx, &headers, model, Call::Transcription(req))
        .await?;
    let cost = gw.finish(r.admission, &r.route, None);
    match r.reply {
        Reply::Transcription(TranscriptionResponse::Json(t)) => {
            let body = serde_json::to_vec(&t).map_err(|e| internal(&e.to_string()))?;
            Ok(gw.json_response(&ctx, &r.route, cost, body))
        }
        Reply::Transcription(TranscriptionResponse::Text(t)) => {
            gw.record_status(&ctx, &r.route.model_group, 200);
            let mut response = (StatusCode::OK, t).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            gw.route_headers(response.headers_mut(), &ctx, &r.route);
            Ok(response)
        }
        _ => Err(internal(
            "router returned the wrong reply for audio/transcriptions",
        )),
    }
}
