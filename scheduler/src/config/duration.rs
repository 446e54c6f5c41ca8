//! Go-style durations (`metav1.Duration` on the wire: `"15s"`, `"1m30s"`, `"500ms"`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{Errs, FieldPath};

/// A signed duration with nanosecond precision that reads and writes Go's
/// `time.Duration` text format, as Kubernetes `metav1.Duration` fields do.
/// Zero means "not set" where upstream treats a zero duration as unset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(pub i64);

impl GoDuration {
    /// The zero duration.
    pub const ZERO: GoDuration = GoDuration(0);

    /// A duration of whole seconds.
    pub const fn from_secs(secs: i64) -> Self {
        GoDuration(secs.saturating_mul(1_000_000_000))
    }

    /// A duration of whole milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        GoDuration(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds, possibly negative.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whether this is zero (upstream's "unset").
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }

    /// As a `std` duration; negative values become `None`.
    pub fn to_std(self) -> Option<Duration> {
        u64::try_from(self.0).ok().map(Duration::from_nanos)
    }

    /// From a `std` duration, saturating at `i64::MAX` nanoseconds.
    pub fn from_std(d: Duration) -> Self {
        GoDuration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Parse Go's duration syntax (`"1h2m3.5s"`, `"-300ms"`, `"0"`), with Go's error texts.
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_go_duration(text).map(GoDuration)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_go_duration(self.0))
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_go_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        GoDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

fn parse_go_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
    let (neg, mut rest) = match orig.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, orig.strip_prefix('+').unwrap_or(orig)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        rest = after;
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(invalid());
            }
        } else if int_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let (unit, after) = rest.split_at(unit_len);
        rest = after;
        let mult = unit_nanos(unit).ok_or_else(|| {
            format!(
                "time: unknown unit {} in duration {}",
                go_quote(unit),
                go_quote(orig)
            )
        })?;
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(mult).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            let mut scale: u128 = 1;
            let mut frac: u128 = 0;
            for digit in frac_part.bytes().take(20) {
                frac = frac * 10 + u128::from(digit - b'0');
                scale *= 10;
            }
            value += frac * mult / scale;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > 1u128 << 63 {
            return Err(invalid());
        }
    }
    let signed = if neg { -(total as i128) } else { total as i128 };
    i64::try_from(signed).map_err(|_| invalid())
}

fn frac_digits(frac: u64, precision: usize) -> String {
    if frac == 0 {
        return String::new();
    }
    let digits = format!("{frac:0precision$}");
    format!(".{}", digits.trim_end_matches('0'))
}

fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    let body = if u < 1_000_000_000 {
        let (unit, precision, div) = if u < 1_000 {
            ("ns", 0, 1)
        } else if u < 1_000_000 {
            ("\u{b5}s", 3, 1_000)
        } else {
            ("ms", 6, 1_000_000)
        };
        format!("{}{}{unit}", u / div, frac_digits(u % div, precision))
    } else {
        let secs = u / 1_000_000_000;
        let sec_text = format!("{}{}s", secs % 60, frac_digits(u % 1_000_000_000, 9));
        let (hours, minutes) = (secs / 3600, (secs / 60) % 60);
        if hours > 0 {
            format!("{hours}h{minutes}m{sec_text}")
        } else if minutes > 0 {
            format!("{minutes}m{sec_text}")
        } else {
            sec_text
        }
    };
    format!("{sign}{body}")
}

/// The longest duration in seconds (Go's `time.Duration`, an i64 of nanoseconds, as
/// upstream converts these fields; about 292 years). Longer values are rejected: upstream
/// would wrap them to negative durations, and no clock here needs to add them.
pub const MAX_DURATION_SECONDS: i64 = i64::MAX / 1_000_000_000;

/// Rejects `value` seconds beyond [`MAX_DURATION_SECONDS`].
pub(crate) fn check_duration_seconds(path: &FieldPath, value: i64, errs: &mut Errs) {
    if value > MAX_DURATION_SECONDS {
        let detail = format!(
            "must be less than or equal to {MAX_DURATION_SECONDS} (the longest duration, about 292 years)"
        );
        errs.invalid(path, &value, &detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_like_go() {
        let cases: &[(&str, i64, &str)] = &[
            ("15s", 15_000_000_000, "15s"),
            ("0", 0, "0s"),
            ("1m30s", 90_000_000_000, "1m30s"),
            ("2m", 120_000_000_000, "2m0s"),
            ("1h", 3_600_000_000_000, "1h0m0s"),
            ("1.5s", 1_500_000_000, "1.5s"),
            ("500ms", 500_000_000, "500ms"),
            ("-2s", -2_000_000_000, "-2s"),
            ("1500us", 1_500_000, "1.5ms"),
            ("7ns", 7, "7ns"),
            ("+.5m", 30_000_000_000, "30s"),
        ];
        for (text, nanos, shown) in cases {
            let d = GoDuration::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(d.0, *nanos, "{text}");
            assert_eq!(d.to_string(), *shown, "{text}");
        }
    }

    #[test]
    fn rejects_like_go() {
        let cases = [
            ("", "time: invalid duration \"\""),
            ("abc", "time: invalid duration \"abc\""),
            ("10", "time: missing unit in duration \"10\""),
            ("3x", "time: unknown unit \"x\" in duration \"3x\""),
            ("99999999999h", "time: invalid duration \"99999999999h\""),
        ];
        for (text, want) in cases {
            assert_eq!(GoDuration::parse(text), Err(want.to_string()), "{text}");
        }
    }
}
