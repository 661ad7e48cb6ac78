//! # llmux-store
//!
//! The gateway's state, and the only crate that speaks SQL: keys, users,
//! teams, named budgets and spend logs on SQLite (one file, the default) or
//! PostgreSQL, with embedded migrations; the budget ledger and per-key rate
//! limits (this process, or shared through Redis); the spend queue with its
//! spill file; time and budget periods. It knows nothing of HTTP.
//!
//! - [`Store`]: the database, with typed methods per record kind
//!   ([`keys`], [`owners`], [`budgets`], [`spend`], [`responses`], [`audit`],
//!   [`period`]);
//! - [`ledger`]: budgets that hold under concurrency;
//! - [`limits`]: rpm, tpm and parallel-request limits;
//! - [`spend_queue`]: spend written in batches off the request path;
//! - [`clock`]: injectable wall-clock time; [`money`]: nano-dollars.
//!
//! Money is integer nano-dollars, so summed spend is exact. The request path
//! never waits on the database: keys are cached by the gateway and spend is
//! written in batches.

pub mod audit;
pub mod budgets;
pub mod bulk;
pub mod clock;
pub mod db;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod money;
pub mod owners;
pub mod period;
pub mod responses;
pub mod spend;
pub mod spend_queue;

pub use audit::{AuditEntry, AuditFilter};
pub use budgets::BudgetRecord;
pub use clock::{Clock, OffsetClock, SystemClock};
pub use db::{Backend, Store, StoreError};
pub use keys::KeyRecord;
pub use ledger::{Account, Ledger, LocalLedger, RedisLedger, Reservation};
pub use limits::{Limits, Slot};
pub use money::{from_nano, to_nano};
pub use owners::{Kind, Owner};
pub use period::{parse_duration, period_end};
pub use responses::StoredResponse;
pub use spend::{ReportGroup, ReportRow, SpendFilter, SpendRow};
pub use spend_queue::{SpendOptions, SpendQueue};
