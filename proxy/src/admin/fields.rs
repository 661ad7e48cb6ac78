//! Checks of management fields shared by keys, users, teams and budgets,
//! and how a store failure is answered.

use llmux_core::{Error, ErrorKind};
use llmux_store::keys::hash_key;
use llmux_store::{parse_duration, to_nano, StoreError};

use crate::auth::virtual_keys::generate_key;
use crate::error::ApiError;

/// A database failure, answered as 503 (the caller may retry). The
/// database's own text goes to the log, not to the caller.
pub(crate) fn store_error(e: StoreError) -> ApiError {
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
        Error::bad_request(format!(
            "{field} '{d}' is not like 30s, 30m, 24h, 30d (at most 1000 years)"
        ))
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

/// A page of a list endpoint: 1-based number, rows per page, rows skipped.
pub(crate) struct Page {
    pub number: i64,
    pub size: i64,
    pub offset: i64,
}

impl Page {
    /// The page a list request asks for: page 1 and `default_size` rows
    /// when unset, at most 100 rows.
    pub(crate) fn of(
        page: Option<i64>,
        size: Option<i64>,
        default_size: i64,
    ) -> Result<Page, Error> {
        let number = page.unwrap_or(1).max(1);
        let size = size.unwrap_or(default_size).clamp(1, 100);
        let offset = page_offset(number, size)?;
        Ok(Page {
            number,
            size,
            offset,
        })
    }
}

/// The row offset of page `page` (1-based) of `size` rows, or a 400 when
/// the page is past any table (a huge `page` overflowed the offset).
fn page_offset(page: i64, size: i64) -> Result<i64, Error> {
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

/// A field the request must carry, or a 400 naming it.
pub(crate) fn required<T>(v: Option<T>, field: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| ApiError(Error::bad_request(format!("{field} is required")).with_param(field)))
}

/// A query parameter the request must carry, or a 400 naming it.
pub(crate) fn required_query<T>(v: Option<T>, field: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| {
        ApiError(
            Error::bad_request(format!("the {field} query parameter is required"))
                .with_param(field),
        )
    })
}

/// The id a new budget, user or team is created under: the one the request
/// gives (not blank), else `{prefix}-` and a fresh random tail.
pub(crate) fn id_or_new(
    given: Option<String>,
    field: &str,
    prefix: &str,
) -> Result<String, ApiError> {
    match given {
        Some(id) if id.trim().is_empty() => Err(ApiError(
            Error::bad_request(format!("{field} must not be empty")).with_param(field),
        )),
        Some(id) => Ok(id),
        // A key's random tail makes a fine unique id.
        None => Ok(format!("{prefix}-{}", &generate_key()?[3..19])),
    }
}

/// Refuse to create what the store already holds (`found` is its lookup):
/// a 400 with `message`, naming `field`.
pub(crate) fn refuse_existing<T>(
    found: Result<Option<T>, StoreError>,
    message: impl FnOnce() -> String,
    field: &str,
) -> Result<(), ApiError> {
    match found.map_err(store_error)? {
        Some(_) => Err(ApiError(Error::bad_request(message()).with_param(field))),
        None => Ok(()),
    }
}
