//! Checks of management fields shared by keys, users, teams and budgets,
//! and how a store failure is answered.

use llmux_core::{Error, ErrorKind};
use llmux_store::keys::hash_key;
use llmux_store::{parse_duration, to_nano};

use crate::error::ApiError;

/// A database failure, answered as 503 (the caller may retry). The
/// database's own text goes to the log, not to the caller.
pub(crate) fn store_error(e: llmux_store::StoreError) -> ApiError {
    tracing::warn!(error = %e, "admin request failed in the database");
    ApiError(Error::new(
        ErrorKind::ServiceUnavailable,
        format!("database unavailable while trying to {}", e.context),
    ))
}

/// A USD amount as nano-dollars, or a 400 naming the field.
pub(crate) fn check_money(field: &str, v: Option<f64>) -> Result<Option<i64>, Error> {
    match v {
        None => Ok(None),
        Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(to_nano(x))),
        Some(x) => Err(Error::bad_request(format!(
            "{field} must be a non-negative number, got {x}"
        ))
        .with_param(field)),
    }
}

pub(crate) fn check_limit(field: &str, v: Option<i64>) -> Result<Option<i64>, Error> {
    match v {
        Some(x) if x < 0 => Err(Error::bad_request(format!(
            "{field} must not be negative, got {x}"
        ))
        .with_param(field)),
        other => Ok(other),
    }
}

/// A LiteLLM duration field (`30s`, `30m`, `24h`, `30d`, `1mo`) in seconds,
/// or a 400 naming the field.
pub(crate) fn check_duration(field: &str, d: &str) -> Result<i64, Error> {
    parse_duration(d).ok_or_else(|| {
        Error::bad_request(format!("{field} '{d}' is not like 30s, 30m, 24h, 30d"))
            .with_param(field)
    })
}

/// `sk-…` or a 64-hex hash → the hash.
pub(crate) fn token_hash_of(key: &str) -> String {
    if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        key.to_ascii_lowercase()
    } else {
        hash_key(key)
    }
}

/// The row offset of page `page` (1-based) of `size` rows, or a 400 when
/// the page is past any table (a huge `page` overflowed the offset).
pub(crate) fn page_offset(page: i64, size: i64) -> Result<i64, Error> {
    page.saturating_sub(1)
        .max(0)
        .checked_mul(size)
        .filter(|offset| *offset <= MAX_OFFSET)
        .ok_or_else(|| {
            Error::bad_request(format!(
                "page {page} is past the end (at most {MAX_OFFSET} rows can be skipped)"
            ))
            .with_param("page")
        })
}

/// The most rows a page may skip.
const MAX_OFFSET: i64 = 100_000_000;
