//! HTTP headers every provider builds the same way: values checked once,
//! with an error that names the setting they came from, and the
//! `extra_headers` a deployment adds to every upstream request.

use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue};

use crate::error::{Error, Result};

/// `value` as a header value, or a 400 naming `name` (the setting it came
/// from, e.g. `api_key`) when it has characters a header cannot carry.
pub fn header_value(name: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| {
        Error::bad_request(format!(
            "{name} contains characters not allowed in an HTTP header"
        ))
    })
}

/// `Authorization: Bearer {key}`, or a 400 naming the setting (`api_key`).
pub fn bearer(setting: &str, key: &str) -> Result<(HeaderName, HeaderValue)> {
    Ok((
        AUTHORIZATION,
        header_value(setting, &format!("Bearer {key}"))?,
    ))
}

/// A codec's fixed headers: the credential header when there is one, then
/// the deployment's `extra_headers`, in that order.
pub fn credential_headers(
    credential: Option<(HeaderName, HeaderValue)>,
    extra: &[(String, String)],
) -> Result<Vec<(HeaderName, HeaderValue)>> {
    let mut headers: Vec<_> = credential.into_iter().collect();
    headers.extend(extra_headers(extra)?);
    Ok(headers)
}

/// One `extra_headers` entry as a header, or a 400 naming what is wrong.
pub fn extra_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue)> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::bad_request(format!("extra_headers: invalid header name '{name}'")))?;
    Ok((header, header_value(name, value)?))
}

/// Every `extra_headers` entry as a header.
pub fn extra_headers(pairs: &[(String, String)]) -> Result<Vec<(HeaderName, HeaderValue)>> {
    pairs.iter().map(|(k, v)| extra_header(k, v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_and_values_are_400s_naming_them() {
        let ok = extra_headers(&[("X-Team".into(), "blue".into())]).unwrap();
        assert_eq!(ok[0].0.as_str(), "x-team");
        assert_eq!(ok[0].1, "blue");
        let e = extra_header("bad name", "v").unwrap_err();
        assert_eq!(
            (e.status(), e.message.as_str()),
            (400, "extra_headers: invalid header name 'bad name'")
        );
        let e = header_value("api_key", "a\nb").unwrap_err();
        assert_eq!(
            e.message,
            "api_key contains characters not allowed in an HTTP header"
        );
    }
}
