//! Exact comparison of Kubernetes quantities (`100m`, `0.1`, `128Mi`, `1e3`), so a value
//! the API server re-spells (`0.5` → `500m`) is not mistaken for drift.

/// `value` as `mantissa × 10^exp10` with no trailing zeros in the mantissa, or `None` when it
/// is not a quantity (or does not fit in 128 bits).
pub fn canonical(value: &str) -> Option<(i128, i32)> {
    let (number, suffix) = split(value.trim())?;
    let (mut mantissa, mut exp10) = decimal(number)?;
    match suffix {
        "" => {}
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
            let steps = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                .iter()
                .position(|s| *s == suffix)?
                + 1;
            mantissa = mantissa.checked_mul(1i128.checked_shl(10 * u32::try_from(steps).ok()?)?)?;
        }
        s if s.starts_with(['e', 'E']) => exp10 += s[1..].parse::<i32>().ok()?,
        s => exp10 += si_exponent(s)?,
    }
    if mantissa == 0 {
        return Some((0, 0));
    }
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exp10 += 1;
    }
    Some((mantissa, exp10))
}

/// Whether `a` and `b` spell the same quantity.
pub fn same(a: &str, b: &str) -> bool {
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Whether `value` is a quantity the API server parses: a signed decimal number followed by
/// nothing, a binary (`Ki`…`Ei`) or decimal (`n`…`E`) suffix, or an exponent (`e3`).
pub fn is_valid(value: &str) -> bool {
    let Some((number, suffix)) = split(value) else {
        return false;
    };
    let digits = number.strip_prefix(['+', '-']).unwrap_or(number);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let number_ok = !(int.is_empty() && frac.is_empty())
        && int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit());
    let suffix_ok = match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        s if s.starts_with(['e', 'E']) => s[1..].parse::<i32>().is_ok(),
        s => si_exponent(s).is_some(),
    };
    number_ok && suffix_ok
}

/// The API server's message for a value that is not a quantity.
pub const INVALID_MESSAGE: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

fn split(s: &str) -> Option<(&str, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(end);
    (!number.is_empty()).then_some((number, suffix))
}

fn decimal(number: &str) -> Option<(i128, i32)> {
    let (negative, digits) = match number.as_bytes().first()? {
        b'-' => (true, &number[1..]),
        b'+' => (false, &number[1..]),
        _ => (false, number),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !(int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let mut mantissa: i128 = 0;
    for c in int.chars().chain(frac.chars()) {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(i128::from(c.to_digit(10)?))?;
    }
    let exp10 = -i32::try_from(frac.len()).ok()?;
    Some((if negative { -mantissa } else { mantissa }, exp10))
}

fn si_exponent(suffix: &str) -> Option<i32> {
    Some(match suffix {
        "n" => -9,
        "u" => -6,
        "m" => -3,
        "k" => 3,
        "M" => 6,
        "G" => 9,
        "T" => 12,
        "P" => 15,
        "E" => 18,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn respelled_quantities_are_equal() {
        for (a, b) in [
            ("0.1", "100m"),
            ("0.5", "500m"),
            ("1", "1000m"),
            ("128Mi", "134217728"),
            ("1e3", "1k"),
            ("1Gi", "1024Mi"),
            ("1.5Gi", "1536Mi"),
            ("0", "0m"),
        ] {
            assert!(same(a, b), "{a} == {b}");
        }
    }

    #[test]
    fn syntax_is_checked_as_the_api_server_does() {
        for ok in [
            "1", "100m", "0.5", "+1", ".5", "5.", "1e3", "1E-3", "128Mi", "2Ei", "1k",
        ] {
            assert!(super::is_valid(ok), "{ok} is a quantity");
        }
        for bad in ["lots", "", "1.2.3", "1Xi", "1e", "Mi", "--1", "1 Gi", "."] {
            assert!(!super::is_valid(bad), "{bad:?} is not a quantity");
        }
    }

    #[test]
    fn different_quantities_differ() {
        for (a, b) in [
            ("100m", "101m"),
            ("1Gi", "1G"),
            ("1", "-1"),
            ("abc", "abc"),
            ("1Xi", "1Xi"),
        ] {
            assert!(!same(a, b), "{a} != {b}");
        }
    }
}
