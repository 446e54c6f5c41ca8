//! Extreme numbers (issue #20, "no panic from any input"): each is rejected with its field
//! path, or accepted with a documented meaning (docs/decisions.md).

use super::tests_bad::check_table;
use super::tests_good::HEAD;
use super::*;

const I64_MAX: &str = "9223372036854775807";

#[test]
fn backoffs_beyond_the_longest_duration_are_rejected() {
    let initial = format!("podInitialBackoffSeconds: {I64_MAX}\npodMaxBackoffSeconds: {I64_MAX}\n");
    let max = format!("podMaxBackoffSeconds: {I64_MAX}\n");
    check_table(&[
        (
            "both at i64::MAX",
            &initial,
            &[
                "podInitialBackoffSeconds: Invalid value: 9223372036854775807: must be less than or equal to 9223372036 (the longest duration, about 292 years)",
                "podMaxBackoffSeconds: Invalid value: 9223372036854775807: must be less than or equal to 9223372036 (the longest duration, about 292 years)",
            ],
        ),
        (
            "max at i64::MAX",
            &max,
            &[
                "podMaxBackoffSeconds: Invalid value: 9223372036854775807: must be less than or equal to 9223372036 (the longest duration, about 292 years)",
            ],
        ),
        (
            "initial far below zero",
            "podInitialBackoffSeconds: -9223372036854775808\n",
            &[
                "podInitialBackoffSeconds: Invalid value: -9223372036854775808: must be greater than 0",
            ],
        ),
    ]);
}

#[test]
fn the_longest_backoff_is_accepted() {
    let cfg = parse(&format!(
        "{HEAD}podInitialBackoffSeconds: 9223372036\npodMaxBackoffSeconds: 9223372036\n"
    ))
    .expect("the bound itself is valid");
    assert_eq!(cfg.pod_max_backoff.as_secs(), 9_223_372_036);
}

#[test]
fn bind_timeout_beyond_the_longest_duration_is_rejected() {
    let body = format!(
        "profiles:\n- pluginConfig:\n  - name: VolumeBinding\n    args: {{bindTimeoutSeconds: {I64_MAX}}}\n"
    );
    check_table(&[(
        "bindTimeoutSeconds at i64::MAX",
        &body,
        &[
            "profiles[0].pluginConfig[0].args.bindTimeoutSeconds: Invalid value: 9223372036854775807: must be less than or equal to 9223372036 (the longest duration, about 292 years)",
        ],
    )]);
}

#[test]
fn qps_that_is_not_a_number_is_rejected() {
    check_table(&[
        (
            "NaN",
            "clientConnection:\n  qps: .nan\n",
            &["clientConnection.qps: Invalid value: \"NaN\": must be a non-negative number"],
        ),
        (
            "infinity",
            "clientConnection:\n  qps: .inf\n",
            &["clientConnection.qps: Invalid value: \"inf\": must be a non-negative number"],
        ),
        (
            "beyond float32",
            "clientConnection:\n  qps: 1e300\n",
            &["clientConnection.qps: Invalid value: \"inf\": must be a non-negative number"],
        ),
    ]);
}

#[test]
fn a_tiny_qps_is_kept() {
    // Upstream accepts it; the client's rate window saturates (see app::wiring::rate_window).
    for qps in ["1e-30", "1e-300"] {
        let cfg = parse(&format!("{HEAD}clientConnection:\n  qps: {qps}\n")).expect("accepted");
        assert!(
            cfg.client_connection.qps > 0.0,
            "{qps} is a limit, not unlimited"
        );
    }
}
