//! Exact parsing of Kubernetes resource quantities (`100m`, `500Mi`, `1e3`, `1.5Gi`).
//!
//! Upstream rounds up when a quantity is read at a coarser scale (`Value()` and
//! `MilliValue()` take the ceiling); so does this parser.

use std::fmt;

/// A quantity that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError(pub String);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {:?}",
            self.0
        )
    }
}

impl std::error::Error for QuantityError {}

/// A parsed quantity as an exact fraction: `numerator / 10^decimals * 2^binary_exp * 10^decimal_exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exact {
    negative: bool,
    digits: u128,
    decimals: u32,
    binary_exp: u32,
    decimal_exp: i32,
}

fn parse_exact(s: &str) -> Result<Exact, QuantityError> {
    let err = || QuantityError(s.to_string());
    let s = s.trim();
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (num, suffix) = body.split_at(num_end);
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return Err(err());
    }
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    let mut digits: u128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        let d = c.to_digit(10).ok_or_else(err)? as u128;
        digits = digits
            .checked_mul(10)
            .and_then(|v| v.checked_add(d))
            .ok_or_else(err)?;
    }
    let decimals = frac_part.len() as u32;
    let (binary_exp, decimal_exp) = match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        other if other.starts_with(['e', 'E']) => {
            let exp: i32 = other[1..].parse().map_err(|_| err())?;
            if !(-30..=30).contains(&exp) {
                return Err(err());
            }
            (0, exp)
        }
        _ => return Err(err()),
    };
    Ok(Exact {
        negative,
        digits,
        decimals,
        binary_exp,
        decimal_exp,
    })
}

impl Exact {
    /// The value times `10^scale`, rounded up (away from zero for positives), saturating.
    fn scaled(&self, scale: i32) -> i64 {
        let exp10 = self.decimal_exp + scale - self.decimals as i32;
        let mut num: u128 = self.digits;
        let mut den: u128 = 1;
        let pow = |e: u32| 10u128.checked_pow(e);
        if exp10 >= 0 {
            match pow(exp10 as u32).and_then(|p| num.checked_mul(p)) {
                Some(v) => num = v,
                None => return self.saturate(),
            }
        } else {
            match pow((-exp10) as u32) {
                Some(p) => den = p,
                None => return if self.digits == 0 { 0 } else { self.sign(1) },
            }
        }
        match num.checked_mul(1u128 << self.binary_exp) {
            Some(v) => num = v,
            None => return self.saturate(),
        }
        let q = num.div_ceil(den);
        if q > i64::MAX as u128 {
            self.saturate()
        } else {
            self.sign(q as i64)
        }
    }

    fn sign(&self, v: i64) -> i64 {
        if self.negative { -v } else { v }
    }

    fn saturate(&self) -> i64 {
        if self.negative { i64::MIN } else { i64::MAX }
    }
}

/// Parses a quantity into whole units, rounding up (`Quantity.Value()`): `500Mi` → 524288000.
pub fn parse_value(s: &str) -> Result<i64, QuantityError> {
    Ok(parse_exact(s)?.scaled(0))
}

/// Parses a quantity into thousandths, rounding up (`Quantity.MilliValue()`): `100m` → 100, `1` → 1000.
pub fn parse_milli(s: &str) -> Result<i64, QuantityError> {
    Ok(parse_exact(s)?.scaled(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_upstream() {
        let cases: &[(&str, i64, i64)] = &[
            ("0", 0, 0),
            ("1", 1, 1000),
            ("100m", 1, 100),
            ("1.5", 2, 1500),
            ("500Mi", 524_288_000, 524_288_000_000),
            ("32Gi", 34_359_738_368, 34_359_738_368_000),
            ("1k", 1000, 1_000_000),
            ("1e3", 1000, 1_000_000),
            ("1E3", 1000, 1_000_000),
            ("2M", 2_000_000, 2_000_000_000),
            ("1n", 1, 1),
            ("1500u", 1, 2),
            ("0.5Ki", 512, 512_000),
            ("110", 110, 110_000),
            ("+4", 4, 4000),
            ("-1", -1, -1000),
        ];
        for (s, value, milli) in cases {
            assert_eq!(parse_value(s), Ok(*value), "value of {s}");
            assert_eq!(parse_milli(s), Ok(*milli), "milli of {s}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in ["", "m", "1.2.3", "1Xi", "abc", "1 Gi", ".", "1e", "1e99"] {
            assert!(parse_value(s).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn huge_values_saturate() {
        assert_eq!(parse_value("999999999999E"), Ok(i64::MAX));
    }
}
