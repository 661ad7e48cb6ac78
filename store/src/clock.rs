//! Wall-clock time in Unix seconds, injectable so tests can move it: key
//! expiry, rate-limit windows and budget periods all read it.

use std::sync::atomic::{AtomicI64, Ordering};

use llmux_core::unix_now;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Unix seconds.
    fn now(&self) -> i64;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        i64::try_from(unix_now()).unwrap_or(i64::MAX)
    }
}

/// The system's clock plus an offset that tests advance.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: AtomicI64,
}

impl OffsetClock {
    /// Move time forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> i64 {
        SystemClock.now() + self.offset.load(Ordering::SeqCst)
    }
}
