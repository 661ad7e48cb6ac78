//! Exact money: prices and costs as integers, never summed as floats.
//!
//! A [`Rate`] is a price per unit (token, image) in **femto-dollars**
//! (10⁻¹⁵ USD): every price in LiteLLM's table is a whole number of
//! femto-dollars, so `2.5e-06` per token is exactly `2_500_000_000`.
//! A [`Cost`] is an exact femto-dollar amount (`i128`), so summing any number
//! of costs never drifts. Convert once at the edge: [`Cost::nano`] gives the
//! integer nano-dollars the gateway stores (`spend_nano`), [`Cost::usd`] a
//! float for display and headers.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

/// Femto-dollars in one US dollar.
pub const FEMTO_PER_USD: i128 = 1_000_000_000_000_000;
/// Femto-dollars in one nano-dollar.
pub const FEMTO_PER_NANO: i128 = 1_000_000;

/// A price per unit (token, image, …) in femto-dollars (10⁻¹⁵ USD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rate(i64);

impl Rate {
    /// A free unit.
    pub const ZERO: Rate = Rate(0);

    /// A rate of `femto` femto-dollars per unit (negative values clamp to 0).
    pub const fn from_femto(femto: i64) -> Rate {
        if femto < 0 {
            Rate(0)
        } else {
            Rate(femto)
        }
    }

    /// Femto-dollars per unit.
    pub const fn femto(self) -> i64 {
        self.0
    }

    /// A rate from a USD float as found in LiteLLM's JSON (`2.5e-06`).
    ///
    /// The float is read through its shortest round-trip decimal form, so
    /// `2.5e-06` becomes exactly 2,500,000,000 femto-dollars, not the binary
    /// approximation. Digits finer than a femto-dollar are rounded half up.
    /// `None` for NaN, infinities, negative and absurdly large values.
    pub fn from_usd(usd: f64) -> Option<Rate> {
        if !usd.is_finite() || usd < 0.0 {
            return None;
        }
        Rate::parse_usd(&format!("{usd:e}"))
    }

    /// A rate from a decimal USD string (`"0.0000025"`, `"2.5e-6"`), exactly.
    pub fn parse_usd(text: &str) -> Option<Rate> {
        parse_scaled(text, 15).map(Rate)
    }

    /// A rate from a decimal string in USD per million units (`"2.5"` = $2.50 / 1M tokens).
    pub fn parse_usd_per_million(text: &str) -> Option<Rate> {
        parse_scaled(text, 9).map(Rate)
    }

    /// USD per unit, for display.
    pub fn usd(self) -> f64 {
        self.0 as f64 / 1e15
    }

    /// USD per million units, for display (`gpt-4o` input: `2.5`).
    pub fn usd_per_million(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The exact cost of `units` units at this rate.
    pub fn times(self, units: u64) -> Cost {
        Cost(i128::from(self.0) * i128::from(units))
    }

    /// Exact decimal USD per million units (`"2.5"`), as the price table stores it.
    pub fn format_usd_per_million(self) -> String {
        format_scaled(i128::from(self.0), 9)
    }

    /// Exact decimal USD per unit (`"0.04"`).
    pub fn format_usd(self) -> String {
        format_scaled(i128::from(self.0), 15)
    }
}

/// An exact amount of money in femto-dollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cost(i128);

impl Cost {
    /// Nothing.
    pub const ZERO: Cost = Cost(0);

    /// An amount of `femto` femto-dollars.
    pub const fn from_femto(femto: i128) -> Cost {
        Cost(femto)
    }

    /// An amount of `nano` nano-dollars (as stored in `spend_nano`).
    pub const fn from_nano(nano: i64) -> Cost {
        Cost(nano as i128 * FEMTO_PER_NANO)
    }

    /// The exact amount in femto-dollars.
    pub const fn femto(self) -> i128 {
        self.0
    }

    /// Integer nano-dollars (10⁻⁹ USD), rounded to the nearest nano-dollar
    /// (halves away from zero), saturating at the `i64` range. This is the
    /// unit the gateway stores and sums (`spend_nano`).
    pub fn nano(self) -> i64 {
        let q = self.0 / FEMTO_PER_NANO;
        let r = self.0 % FEMTO_PER_NANO;
        let q = if r.abs() * 2 >= FEMTO_PER_NANO {
            q + r.signum()
        } else {
            q
        };
        i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
    }

    /// USD as a float, for display and response headers only; sum [`Cost`]s
    /// (or nano-dollars), never these.
    pub fn usd(self) -> f64 {
        self.0 as f64 / 1e15
    }

    /// True for a zero amount.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl Add for Cost {
    type Output = Cost;
    fn add(self, rhs: Cost) -> Cost {
        Cost(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Cost {
    fn add_assign(&mut self, rhs: Cost) {
        *self = *self + rhs;
    }
}

impl Sum for Cost {
    fn sum<I: Iterator<Item = Cost>>(iter: I) -> Cost {
        iter.fold(Cost::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Cost> for Cost {
    fn sum<I: Iterator<Item = &'a Cost>>(iter: I) -> Cost {
        iter.copied().sum()
    }
}

/// Exact decimal dollars: `$0.0000125`.
impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", format_scaled(self.0, 15))
    }
}

/// `value / 10^scale` as an exact decimal string without trailing zeros.
fn format_scaled(value: i128, scale: u32) -> String {
    let div = 10i128.pow(scale);
    let sign = if value < 0 { "-" } else { "" };
    let v = value.unsigned_abs();
    let div = div.unsigned_abs();
    let whole = v / div;
    let frac = v % div;
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{frac:0width$}", width = scale as usize);
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

/// Parse a non-negative decimal (`12`, `0.25`, `2.5e-6`, `1E+3`) into an
/// integer scaled by `10^scale`, rounding half up below that resolution.
/// `None` when malformed, negative or beyond `i64`.
fn parse_scaled(text: &str, scale: i32) -> Option<i64> {
    let text = text.trim();
    let text = text.strip_prefix('+').unwrap_or(text);
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    // Keep at most 36 significant digits (they fit in a u128); the rest are
    // far below a femto-dollar for any sane price.
    let mut digits: u128 = 0;
    let mut significant = 0usize;
    let mut dropped_int = 0i32;
    let mut kept_frac = 0i32;
    for (i, c) in int_part.bytes().chain(frac_part.bytes()).enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let in_frac = i >= int_part.len();
        if significant >= 36 {
            if !in_frac {
                dropped_int += 1;
            }
            continue;
        }
        if digits != 0 || c != b'0' {
            significant += 1;
        }
        digits = digits * 10 + u128::from(c - b'0');
        if in_frac {
            kept_frac += 1;
        }
    }
    // value = digits * 10^(exp + dropped_int - kept_frac); scaled = value * 10^scale
    let shift = exp + dropped_int - kept_frac + scale;
    let scaled: u128 = if shift >= 0 {
        let mul = 10u128.checked_pow(u32::try_from(shift).ok()?)?;
        digits.checked_mul(mul)?
    } else {
        let neg = u32::try_from(-shift).ok()?;
        if neg > 38 {
            0
        } else {
            let div = 10u128.pow(neg);
            let q = digits / div;
            if (digits % div) * 2 >= div {
                q + 1
            } else {
                q
            }
        }
    };
    i64::try_from(scaled).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_from_litellm_floats_are_exact() {
        assert_eq!(Rate::from_usd(2.5e-06).unwrap().femto(), 2_500_000_000);
        assert_eq!(Rate::from_usd(1e-05).unwrap().femto(), 10_000_000_000);
        assert_eq!(Rate::from_usd(2e-08).unwrap().femto(), 20_000_000);
        assert_eq!(Rate::from_usd(6.25e-08).unwrap().femto(), 62_500_000);
        assert_eq!(Rate::from_usd(0.04).unwrap().femto(), 40_000_000_000_000);
        assert_eq!(Rate::from_usd(0.0).unwrap(), Rate::ZERO);
        // Float noise in the source data rounds to the femto-dollar.
        assert_eq!(
            Rate::from_usd(0.000015000020000000002).unwrap().femto(),
            15_000_020_000
        );
        assert_eq!(Rate::from_usd(-1.0), None);
        assert_eq!(Rate::from_usd(f64::NAN), None);
        assert_eq!(Rate::from_usd(1e30), None);
    }

    #[test]
    fn decimal_parsing() {
        assert_eq!(Rate::parse_usd("0.0000025").unwrap().femto(), 2_500_000_000);
        assert_eq!(Rate::parse_usd("2.5e-6").unwrap().femto(), 2_500_000_000);
        assert_eq!(Rate::parse_usd("2.5E-6").unwrap().femto(), 2_500_000_000);
        assert_eq!(Rate::parse_usd("3").unwrap().femto(), 3_000_000_000_000_000);
        assert_eq!(Rate::parse_usd("1e-16").unwrap().femto(), 0);
        assert_eq!(Rate::parse_usd("5e-16").unwrap().femto(), 1);
        assert_eq!(
            Rate::parse_usd_per_million("2.5").unwrap().femto(),
            2_500_000_000
        );
        assert_eq!(
            Rate::parse_usd_per_million("0.02").unwrap().femto(),
            20_000_000
        );
        assert_eq!(Rate::parse_usd(""), None);
        assert_eq!(Rate::parse_usd("."), None);
        assert_eq!(Rate::parse_usd("-1"), None);
        assert_eq!(Rate::parse_usd("1x"), None);
        assert_eq!(Rate::parse_usd("1e400"), None);
    }

    #[test]
    fn formatting_is_exact_and_round_trips() {
        let r = Rate::from_femto(2_500_000_000);
        assert_eq!(r.format_usd_per_million(), "2.5");
        assert_eq!(r.format_usd(), "0.0000025");
        assert_eq!(
            Rate::from_femto(10_000_000_000).format_usd_per_million(),
            "10"
        );
        assert_eq!(
            Rate::from_femto(15_000_020_000).format_usd_per_million(),
            "15.00002"
        );
        assert_eq!(Rate::from_femto(1).format_usd_per_million(), "0.000000001");
        for f in [1i64, 7, 62_500_000, 15_000_020_000, 40_000_000_000_000] {
            let r = Rate::from_femto(f);
            assert_eq!(
                Rate::parse_usd_per_million(&r.format_usd_per_million()),
                Some(r)
            );
            assert_eq!(Rate::parse_usd(&r.format_usd()), Some(r));
        }
        assert_eq!(Cost::from_femto(12_500_000_000).to_string(), "$0.0000125");
        assert_eq!(Cost::ZERO.to_string(), "$0");
    }

    #[test]
    fn nano_rounding() {
        assert_eq!(Cost::from_femto(1_499_999).nano(), 1);
        assert_eq!(Cost::from_femto(1_500_000).nano(), 2);
        assert_eq!(Cost::from_femto(499_999).nano(), 0);
        assert_eq!(Cost::from_femto(-1_500_000).nano(), -2);
        assert_eq!(Cost::from_nano(42).nano(), 42);
        assert_eq!(Cost::from_femto(i128::MAX).nano(), i64::MAX);
    }

    #[test]
    fn sums_do_not_drift() {
        // 0.1 + 0.2 in floats is 0.30000000000000004; in femto-dollars it is exact.
        let a = Rate::from_usd(0.1).unwrap().times(1);
        let b = Rate::from_usd(0.2).unwrap().times(1);
        assert_eq!((a + b).nano(), 300_000_000);
        let many: Cost = (0..1_000_000)
            .map(|_| Rate::from_usd(1e-7).unwrap().times(3))
            .sum();
        assert_eq!(many.femto(), 300_000_000_000_000);
        assert_eq!(many.nano(), 300_000_000);
        assert_eq!(many.usd(), 0.3);
    }
}
