//! Generators of extreme values, shared by the properties.

use proptest::prelude::*;

/// An integer as YAML text: the ends of i64/i32, one past them, and ordinary values.
pub fn int_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("9223372036854775808".to_string()),
        Just("9223372036".to_string()),
        Just("9223372037".to_string()),
        Just("2147483647".to_string()),
        Just("-2147483648".to_string()),
        Just("4294967296".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just(".nan".to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<i32>().prop_map(|v| v.to_string()),
        (-3i64..120).prop_map(|v| v.to_string()),
    ]
}

/// A float as YAML text: NaN, infinities, subnormals, the ends of f32 and beyond.
pub fn float_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(".nan".to_string()),
        Just(".inf".to_string()),
        Just("-.inf".to_string()),
        Just("1e-30".to_string()),
        Just("1e-45".to_string()),
        Just("1e-300".to_string()),
        Just("3.4e38".to_string()),
        Just("1e39".to_string()),
        Just("1e300".to_string()),
        Just("-0.0".to_string()),
        any::<f64>().prop_map(|v| format!("{v:e}")),
        any::<f32>().prop_map(|v| format!("{v:e}")),
        (0.0f64..10_000.0).prop_map(|v| v.to_string()),
    ]
}

/// A Go duration as text, from ordinary to far beyond what an i64 of nanoseconds holds.
pub fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("9223372036854775807ns".to_string()),
        Just("9223372036854775808ns".to_string()),
        Just("2562047h47m16.854775807s".to_string()),
        Just("2562047h47m16.854775808s".to_string()),
        Just("2562048h".to_string()),
        Just("99999999999999999999h".to_string()),
        Just("-9223372036854775808ns".to_string()),
        Just("1e300s".to_string()),
        Just("0".to_string()),
        Just("-1ns".to_string()),
        Just("1.5h".to_string()),
        Just(".0000000001s".to_string()),
        (
            0u64..100,
            prop::sample::select(vec!["ns", "us", "ms", "s", "m", "h"])
        )
            .prop_map(|(v, u)| format!("{v}{u}")),
        "[-+0-9.a-z]{0,24}",
    ]
}

/// A quantity string: extreme named values, generated numeric forms, and noise.
pub fn quantity_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "8Ei", "16Ei", "100Pi", "999999999999E", "9223372036854775807", "9223372036854775808",
            "-8Ei", "-9223372036854775808", "0", "1", "1n", "1m", "100m", "2", "4", "32Gi", "1Gi",
            "110", "1e30", "1e-30", "0.000000001", "18446744073709551616Ki", "+1E", "1.5Ei",
        ])
        .prop_map(str::to_string),
        4 => numeric_form(),
        1 => "[-+0-9.eEinumkKMGTP]{0,30}",
    ]
}

/// `[sign]digits[.digits][suffix]` with every suffix the format knows.
pub fn numeric_form() -> impl Strategy<Value = String> {
    let suffix = prop_oneof![
        prop::sample::select(vec![
            "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E",
        ])
        .prop_map(str::to_string),
        (prop::sample::select(vec!["e", "E"]), -40i32..40).prop_map(|(e, x)| format!("{e}{x}")),
        (prop::sample::select(vec!["e", "E"]), any::<i64>()).prop_map(|(e, x)| format!("{e}{x}")),
    ];
    (
        prop::sample::select(vec!["", "+", "-"]),
        "[0-9]{0,45}",
        prop::option::of("[0-9]{0,45}"),
        suffix,
    )
        .prop_map(|(sign, int, frac, suffix)| match frac {
            Some(f) => format!("{sign}{int}.{f}{suffix}"),
            None => format!("{sign}{int}{suffix}"),
        })
}
