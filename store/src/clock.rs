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

/// The system's clock plus an offset that tests advance; frozen, it stops
/// following the system clock (for tests that must not see a second pass).
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: AtomicI64,
    /// The system time it was frozen at; 0 while it follows the system clock.
    frozen_at: AtomicI64,
}

impl OffsetClock {
    /// Move time forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }

    /// Stop following the system clock: from now on only
    /// [`OffsetClock::advance`] moves time.
    pub fn freeze(&self) {
        let _ = self.frozen_at.compare_exchange(
            0,
            SystemClock.now(),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> i64 {
        let base = match self.frozen_at.load(Ordering::SeqCst) {
            0 => SystemClock.now(),
            frozen => frozen,
        };
        base + self.offset.load(Ordering::SeqCst)
    }
}
