//! Money as integer nano-dollars, so summed spend is exact.

/// USD → integer nano-dollars.
pub fn to_nano(usd: f64) -> i64 {
    (usd * 1e9).round() as i64
}

/// Integer nano-dollars → USD.
pub fn from_nano(nano: i64) -> f64 {
    nano as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nano_dollars_round_trip() {
        assert_eq!(to_nano(0.000_002_5), 2500);
        assert_eq!(to_nano(12.345_678_901), 12_345_678_901);
        assert_eq!(from_nano(2500), 0.000_002_5);
    }
}
