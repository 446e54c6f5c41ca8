//! Invalid specs and the exact messages their owners see; scheduler-name conflicts.

use crate::test_support::profile;
use crate::validate::{Invalid, name_holder, validate};

fn spec(body: &str) -> String {
    format!(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata:\n  name: demo\nspec:\n{body}"
    )
}

#[test]
fn invalid_specs_are_reported_with_the_field_that_is_wrong() {
    let cases: &[(&str, &str)] = &[
        (
            "  plugins:\n    score:\n      enabled:\n      - name: Foo\n",
            r#"spec.plugins.score.enabled[0].name: unknown plugin "Foo""#,
        ),
        (
            "  plugins:\n    filter:\n      enabled:\n      - name: ImageLocality\n",
            r#"spec.plugins.filter.enabled[0].name: plugin "ImageLocality" does not extend FilterPlugin plugin"#,
        ),
        (
            "  plugins:\n    score:\n      enabled:\n      - name: ImageLocality\n      - name: ImageLocality\n",
            r#"spec.plugins.score.enabled[1].name: Duplicate value: "ImageLocality""#,
        ),
        (
            "  pluginConfig:\n  - name: Bar\n    args: {}\n",
            r#"spec.pluginConfig[0].name: unknown plugin "Bar""#,
        ),
        (
            "  pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        type: Bogus\n",
            r#"spec.pluginConfig[0].args.scoringStrategy.type: Unsupported value: "Bogus": supported values: "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio""#,
        ),
        (
            "  pluginConfig:\n  - name: PodTopologySpread\n    args:\n      defaultingType: Nope\n",
            r#"spec.pluginConfig[0].args.defaultingType: Unsupported value: "Nope": supported values: "System", "List""#,
        ),
        (
            "  plugins:\n    multiPoint:\n      disabled:\n      - name: '*'\n",
            r#"spec.plugins.queueSort: only one queue sort plugin required for profile with scheduler name "demo", but got 0; spec.plugins.bind: at least one bind plugin is needed for profile with scheduler name "demo""#,
        ),
        (
            "  percentageOfNodesToScore: 101\n",
            "spec.percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]",
        ),
        (
            "  podInitialBackoffSeconds: 20\n  podMaxBackoffSeconds: 5\n",
            "spec.podMaxBackoffSeconds: Invalid value: 5: must be greater than or equal to PodInitialBackoffSeconds",
        ),
        (
            "  clientConnection:\n    qps: -1\n",
            r#"spec.clientConnection.qps: Invalid value: "-1": must be a non-negative number"#,
        ),
        (
            "  schedulerName: Bad_Name\n",
            r#"spec.schedulerName: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
        ),
    ];
    for (body, message) in cases {
        let p = profile(&spec(body));
        match validate(&p, std::slice::from_ref(&p), "ferrosched-system") {
            Ok(_) => panic!("accepted:\n{body}"),
            Err(e) => {
                assert_eq!(e.reason(), "InvalidConfig");
                assert_eq!(
                    e.message(),
                    format!("invalid scheduler configuration: {message}"),
                    "for\n{body}"
                );
            }
        }
    }
}

/// Issue #20: values that overflow the scheduler's arithmetic are rejected before rollout,
/// by the scheduler's own config code.
#[test]
fn extreme_numbers_are_rejected_with_their_field() {
    let bound = "must be less than or equal to 9223372036 (the longest duration, about 292 years)";
    let cases: Vec<(&str, String)> = vec![
        (
            "  podInitialBackoffSeconds: 9223372036854775807\n  podMaxBackoffSeconds: 9223372036854775807\n",
            format!(
                "spec.podInitialBackoffSeconds: Invalid value: 9223372036854775807: {bound}; spec.podMaxBackoffSeconds: Invalid value: 9223372036854775807: {bound}"
            ),
        ),
        (
            "  podMaxBackoffSeconds: 9223372036854775807\n",
            format!("spec.podMaxBackoffSeconds: Invalid value: 9223372036854775807: {bound}"),
        ),
        (
            "  pluginConfig:\n  - name: VolumeBinding\n    args:\n      bindTimeoutSeconds: 9223372036854775807\n",
            format!(
                "spec.pluginConfig[0].args.bindTimeoutSeconds: Invalid value: 9223372036854775807: {bound}"
            ),
        ),
        (
            "  clientConnection:\n    qps: .nan\n",
            r#"spec.clientConnection.qps: Invalid value: "NaN": must be a non-negative number"#
                .to_string(),
        ),
        (
            "  clientConnection:\n    qps: 1e300\n",
            r#"spec.clientConnection.qps: Invalid value: "inf": must be a non-negative number"#
                .to_string(),
        ),
    ];
    for (body, message) in cases {
        let p = profile(&spec(body));
        let e = validate(&p, std::slice::from_ref(&p), "ferrosched-system")
            .err()
            .unwrap_or_else(|| panic!("accepted:\n{body}"));
        assert_eq!(e.reason(), "InvalidConfig");
        assert_eq!(
            e.message(),
            format!("invalid scheduler configuration: {message}"),
            "for\n{body}"
        );
    }
}

#[test]
fn profile_names_that_would_make_invalid_children_are_rejected() {
    let long = "a".repeat(53);
    for name in ["my.profile", "9lives", long.as_str()] {
        let p = profile(&format!(
            "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata: {{name: {name:?}}}\nspec: {{schedulerName: ok}}\n"
        ));
        let err = validate(&p, std::slice::from_ref(&p), "ns")
            .map(|_| ())
            .expect_err(name);
        assert!(err.message().starts_with(&format!("invalid scheduler configuration: metadata.name: Invalid value: {name:?}: must be a DNS-1035 label")), "{}", err.message());
    }
    let ok = "a".repeat(52);
    let p = profile(&format!(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata: {{name: {ok}}}\nspec: {{}}\n"
    ));
    assert!(validate(&p, std::slice::from_ref(&p), "ns").is_ok());
}

fn claimant(name: &str, created: &str) -> ferrosched_crds::SchedulerProfile {
    profile(&format!(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata:\n  name: {name}\n  creationTimestamp: \"{created}\"\nspec:\n  schedulerName: shared\n"
    ))
}

#[test]
fn the_older_profile_keeps_a_contested_scheduler_name() {
    let older = claimant("zeta", "2026-01-01T00:00:00Z");
    let newer = claimant("alpha", "2026-02-01T00:00:00Z");
    let all = [newer.clone(), older.clone()];
    assert!(validate(&older, &all, "ns").is_ok());
    match validate(&newer, &all, "ns") {
        Err(e @ Invalid::Conflict { .. }) => {
            assert_eq!(e.reason(), "Conflict");
            assert_eq!(
                e.message(),
                "scheduler name shared is already served by SchedulerProfile zeta"
            );
        }
        other => panic!("expected a conflict, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn equal_ages_are_broken_by_name_and_deleted_profiles_claim_nothing() {
    let a = claimant("a", "2026-01-01T00:00:00Z");
    let b = claimant("b", "2026-01-01T00:00:00Z");
    let all = [b.clone(), a.clone()];
    assert_eq!(
        name_holder(&all, "shared")
            .and_then(|p| p.metadata.name.clone())
            .as_deref(),
        Some("a")
    );
    let mut gone = a.clone();
    gone.metadata.deletion_timestamp = b.metadata.creation_timestamp.clone();
    let all = [b.clone(), gone];
    assert!(
        validate(&b, &all, "ns").is_ok(),
        "a profile being deleted frees its name"
    );
}
