//! Budgets that hold under concurrency.
//!
//! At admission a call reserves its worst-case cost against every budget it
//! spends from (key, user, team). The reservation is refused when it does not
//! fit: `spent + reserved + worst_case > max_budget`, or when the budget is
//! already spent. On completion the reservation is settled to the real cost
//! (or released on failure). So however many calls run at once, recorded
//! spend never passes the budget.
//!
//! Two ledgers: [`LocalLedger`] in this process, and [`RedisLedger`] shared by
//! every instance through one Lua script per operation (atomic in Redis).
//! When Redis is unreachable the Redis ledger falls back to its local one and
//! says so in the log; the call is never failed for it.
//!
//! Counters are per budget *period*: an account's id includes the time its
//! budget next resets, so a new period starts from zero by construction.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use llmux_cache::RedisClient;
use llmux_core::Error;

use crate::money::from_nano;

/// One budget a call spends from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `key:<hash>`, `user:<id>`, `team:<id>`, with the period: `…@<reset_at>`.
    pub id: String,
    /// What the caller calls it in errors: "key", "user", "team".
    pub kind: &'static str,
    /// The budget's limit in nano-dollars (USD × 1e9); reservations that could pass it are refused.
    pub max_nano: i64,
    /// Spend the database knew when the account was first seen this period.
    pub base_nano: i64,
}

/// An admitted call's hold on its budgets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    accounts: Vec<String>,
    amount: i64,
    shared: bool,
}

impl Reservation {
    /// A reservation that holds nothing (no budgets apply).
    pub fn none() -> Reservation {
        Reservation {
            accounts: Vec::new(),
            amount: 0,
            shared: false,
        }
    }

    /// Nano-dollars held.
    pub fn amount(&self) -> i64 {
        self.amount
    }
}

/// Reserve and settle spend against budgets.
pub trait Ledger: Send + Sync {
    /// Hold `amount` against every account, or refuse with a 400
    /// "Budget has been exceeded!" error naming the account that is full.
    fn reserve<'a>(
        &'a self,
        accounts: &'a [Account],
        amount: i64,
    ) -> BoxFuture<'a, Result<Reservation, Error>>;

    /// Release the hold and add the real cost (`0` for a failed call).
    fn settle(&self, reservation: Reservation, actual: i64) -> BoxFuture<'_, ()>;

    /// Spent and reserved nano-dollars of an account (for tests and info).
    fn balance<'a>(&'a self, account: &'a str) -> BoxFuture<'a, (i64, i64)>;
}

fn exceeded(a: &Account, spent: i64, reserved: i64, amount: i64) -> Error {
    let mut message = format!(
        "Budget has been exceeded! Current cost: {}, Max budget: {}",
        from_nano(spent),
        from_nano(a.max_nano)
    );
    if spent < a.max_nano {
        message.push_str(&format!(
            " (this call may cost up to {}, and {} is reserved by calls in flight)",
            from_nano(amount),
            from_nano(reserved)
        ));
    }
    Error::bad_request(message)
        .with_code("budget_exceeded")
        .with_param(a.kind)
}

fn refuses(a: &Account, spent: i64, reserved: i64, amount: i64) -> bool {
    spent >= a.max_nano || spent.saturating_add(reserved).saturating_add(amount) > a.max_nano
}

#[derive(Debug, Default, Clone, Copy)]
struct Balance {
    spent: i64,
    reserved: i64,
}

/// Budgets of this process only.
#[derive(Debug, Default)]
pub struct LocalLedger {
    accounts: Mutex<HashMap<String, Balance>>,
}

impl LocalLedger {
    fn reserve_now(&self, accounts: &[Account], amount: i64) -> Result<Reservation, Error> {
        let mut map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        for a in accounts {
            let b = *map.entry(a.id.clone()).or_insert(Balance {
                spent: a.base_nano,
                reserved: 0,
            });
            if refuses(a, b.spent, b.reserved, amount) {
                return Err(exceeded(a, b.spent, b.reserved, amount));
            }
        }
        for a in accounts {
            if let Some(b) = map.get_mut(&a.id) {
                b.reserved += amount;
            }
        }
        Ok(Reservation {
            accounts: accounts.iter().map(|a| a.id.clone()).collect(),
            amount,
            shared: false,
        })
    }

    fn settle_now(&self, r: &Reservation, actual: i64) {
        let mut map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        for id in &r.accounts {
            let b = map.entry(id.clone()).or_default();
            b.reserved -= r.amount;
            b.spent += actual;
        }
    }
}

impl Ledger for LocalLedger {
    fn reserve<'a>(
        &'a self,
        accounts: &'a [Account],
        amount: i64,
    ) -> BoxFuture<'a, Result<Reservation, Error>> {
        Box::pin(async move { self.reserve_now(accounts, amount) })
    }

    fn settle(&self, reservation: Reservation, actual: i64) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.settle_now(&reservation, actual) })
    }

    fn balance<'a>(&'a self, account: &'a str) -> BoxFuture<'a, (i64, i64)> {
        Box::pin(async move {
            let map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
            map.get(account)
                .map(|b| (b.spent, b.reserved))
                .unwrap_or_default()
        })
    }
}

/// KEYS: spent and reserved counter of each account, in pairs.
/// ARGV: amount, ttl seconds, then max and base of each account.
/// Returns `{0}` when reserved, else `{index, spent, reserved}` of the
/// first account that is full.
const RESERVE_LUA: &str = r"
local amount = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local n = #KEYS / 2
for i = 1, n do
  local max = tonumber(ARGV[1 + 2 * i])
  redis.call('SET', KEYS[2 * i - 1], ARGV[2 + 2 * i], 'NX', 'EX', ttl)
  local spent = tonumber(redis.call('GET', KEYS[2 * i - 1]))
  local reserved = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if spent >= max or spent + reserved + amount > max then
    return {i, spent, reserved}
  end
end
for i = 1, n do
  redis.call('INCRBY', KEYS[2 * i], amount)
  redis.call('EXPIRE', KEYS[2 * i], ttl)
end
return {0}
";

/// KEYS: spent and reserved counter of each account, in pairs.
/// ARGV: reserved amount, actual cost, ttl seconds.
const SETTLE_LUA: &str = r"
local amount = tonumber(ARGV[1])
local actual = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
for i = 1, #KEYS / 2 do
  redis.call('DECRBY', KEYS[2 * i], amount)
  redis.call('INCRBY', KEYS[2 * i - 1], actual)
  redis.call('EXPIRE', KEYS[2 * i - 1], ttl)
  redis.call('EXPIRE', KEYS[2 * i], ttl)
end
return 0
";

/// Budgets shared by every instance through Redis.
pub struct RedisLedger {
    redis: RedisClient,
    prefix: String,
    /// How long idle counters live; they are re-seeded from the database.
    ttl_secs: u64,
    fallback: LocalLedger,
    reserve: redis::Script,
    settle: redis::Script,
}

impl RedisLedger {
    /// A ledger in the Redis at `url`, its counters under `prefix`.
    pub fn new(url: &str, prefix: &str) -> Result<RedisLedger, String> {
        Ok(RedisLedger {
            redis: RedisClient::new(url)?,
            prefix: prefix.to_string(),
            ttl_secs: 7 * 24 * 3600,
            fallback: LocalLedger::default(),
            reserve: redis::Script::new(RESERVE_LUA),
            settle: redis::Script::new(SETTLE_LUA),
        })
    }

    fn keys(&self, id: &str) -> [String; 2] {
        [
            format!("{}budget:{id}:spent", self.prefix),
            format!("{}budget:{id}:reserved", self.prefix),
        ]
    }
}

impl Ledger for RedisLedger {
    fn reserve<'a>(
        &'a self,
        accounts: &'a [Account],
        amount: i64,
    ) -> BoxFuture<'a, Result<Reservation, Error>> {
        Box::pin(async move {
            if accounts.is_empty() {
                return Ok(Reservation::none());
            }
            let mut invocation = self.reserve.prepare_invoke();
            invocation.arg(amount).arg(self.ttl_secs);
            for a in accounts {
                for k in self.keys(&a.id) {
                    invocation.key(k);
                }
                invocation.arg(a.max_nano).arg(a.base_nano);
            }
            let answer: Result<Vec<i64>, String> = self
                .redis
                .run(async |mut c| invocation.invoke_async(&mut c).await)
                .await;
            match answer {
                Ok(v) if v.first() == Some(&0) => Ok(Reservation {
                    accounts: accounts.iter().map(|a| a.id.clone()).collect(),
                    amount,
                    shared: true,
                }),
                Ok(v) => {
                    let i = usize::try_from(v.first().copied().unwrap_or(1) - 1).unwrap_or(0);
                    let a = accounts.get(i).unwrap_or(&accounts[0]);
                    Err(exceeded(
                        a,
                        v.get(1).copied().unwrap_or(0),
                        v.get(2).copied().unwrap_or(0),
                        amount,
                    ))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "shared budgets unavailable; enforcing this instance's local budgets");
                    self.fallback.reserve_now(accounts, amount)
                }
            }
        })
    }

    fn settle(&self, reservation: Reservation, actual: i64) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if !reservation.shared {
                return self.fallback.settle_now(&reservation, actual);
            }
            if reservation.accounts.is_empty() {
                return;
            }
            let mut invocation = self.settle.prepare_invoke();
            invocation
                .arg(reservation.amount)
                .arg(actual)
                .arg(self.ttl_secs);
            for id in &reservation.accounts {
                for k in self.keys(id) {
                    invocation.key(k);
                }
            }
            let done: Result<i64, String> = self
                .redis
                .run(async |mut c| invocation.invoke_async(&mut c).await)
                .await;
            if let Err(e) = done {
                // The reservation expires with its counter; spend itself is
                // safe in the spend log and the database.
                tracing::warn!(error = %e, "could not settle a shared budget reservation");
            }
        })
    }

    fn balance<'a>(&'a self, account: &'a str) -> BoxFuture<'a, (i64, i64)> {
        Box::pin(async move {
            let [spent, reserved] = self.keys(account);
            let got: Result<(Option<i64>, Option<i64>), String> = self
                .redis
                .run(async |mut c| {
                    redis::pipe()
                        .get(&spent)
                        .get(&reserved)
                        .query_async(&mut c)
                        .await
                })
                .await;
            match got {
                Ok((s, r)) => (s.unwrap_or(0), r.unwrap_or(0)),
                Err(_) => self.fallback.balance(account).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(max: i64, base: i64) -> Account {
        Account {
            id: "key:k@0".into(),
            kind: "key",
            max_nano: max,
            base_nano: base,
        }
    }

    #[tokio::test]
    async fn reservations_never_let_spend_pass_the_budget() {
        let ledger = LocalLedger::default();
        let a = [account(100, 10)];
        let r1 = ledger.reserve(&a, 50).await.unwrap();
        let r2 = ledger.reserve(&a, 40).await.unwrap();
        // 10 spent + 90 reserved: one more nano-dollar does not fit.
        let e = ledger.reserve(&a, 1).await.unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.message,
            "Budget has been exceeded! Current cost: 0.00000001, Max budget: 0.0000001 (this call may cost up to 0.000000001, and 0.00000009 is reserved by calls in flight)"
        );
        ledger.settle(r1, 20).await;
        assert_eq!(ledger.balance("key:k@0").await, (30, 40));
        ledger.settle(r2, 0).await;
        assert_eq!(ledger.balance("key:k@0").await, (30, 0));
        let r3 = ledger.reserve(&a, 70).await.unwrap();
        ledger.settle(r3, 70).await;
        let full = ledger.reserve(&a, 0).await.unwrap_err();
        assert_eq!(
            full.message,
            "Budget has been exceeded! Current cost: 0.0000001, Max budget: 0.0000001"
        );
    }

    #[tokio::test]
    async fn every_account_must_fit() {
        let ledger = LocalLedger::default();
        let key = account(1_000, 0);
        let team = Account {
            id: "team:t@0".into(),
            kind: "team",
            max_nano: 10,
            base_nano: 0,
        };
        let e = ledger.reserve(&[key.clone(), team], 11).await.unwrap_err();
        assert_eq!(e.param.as_deref(), Some("team"));
        // Nothing was held on the key for the refused call.
        assert_eq!(ledger.balance(&key.id).await, (0, 0));
    }
}
