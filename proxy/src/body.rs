//! Request bodies: JSON parsed into typed requests, with the path of the
//! offending field in the error (`messages[1].role`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use llmux_core::Error;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// Parse a JSON body into `T`, with the path of the offending field.
/// Bytes after the JSON value (other than white space) are refused: a body
/// is one JSON value, and what follows it would be silently dropped.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = parse_from(&mut de)?;
    de.end()
        .map_err(|e| Error::bad_request(format!("Invalid JSON in request body: {e}")))?;
    Ok(value)
}

/// A handler's JSON body parsed by [`parse_json`], so a bad one is a 400
/// naming the field's path. For handlers that count no metrics for a bad
/// body (the admin plane); data-plane handlers parse themselves and record
/// the error.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        parse_json(&body)
            .map(JsonBody)
            .map_err(|e| ApiError(e).into_response())
    }
}

/// [`parse_json`], where an empty body means every field's default.
pub(crate) fn parse_json_or_default<T: DeserializeOwned + Default>(
    body: &[u8],
) -> Result<T, Error> {
    if body.is_empty() {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}

/// [`parse_json`] for a body already parsed into a JSON value.
pub(crate) fn parse_value<T: DeserializeOwned>(body: Value) -> Result<T, Error> {
    parse_from(body)
}

fn parse_from<'de, D, T>(de: D) -> Result<T, Error>
where
    D: serde::Deserializer<'de, Error = serde_json::Error>,
    T: DeserializeOwned,
{
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let err = if inner.is_syntax() || inner.is_eof() {
            Error::bad_request(format!("Invalid JSON in request body: {inner}"))
        } else if path == "." {
            Error::bad_request(format!("Invalid request body: {inner}"))
        } else {
            Error::bad_request(format!("Invalid request body at '{path}': {inner}"))
                .with_param(path.clone())
        };
        if let Some(missing) = inner
            .to_string()
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            return err.with_param(missing.to_string());
        }
        err
    })
}
