//! The knobs users need around the scheduler pods: the PodDisruptionBudget, pull secrets,
//! a single scheduler without election, the termination grace period, the progress
//! deadline.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::test_support::{desired, minimal, profile, settings};
use crate::validate::validate;

fn with_spec(spec: &str) -> ferrosched_crds::SchedulerProfile {
    profile(&format!(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata:\n  name: demo\nspec:\n{spec}"
    ))
}

#[test]
fn the_disruption_budget_is_configurable_or_off() {
    let default = desired(&minimal("demo"))
        .pdb
        .expect("two replicas get a PDB");
    let spec = default.spec.expect("spec");
    assert_eq!(spec.min_available, Some(IntOrString::Int(1)));
    assert_eq!(spec.max_unavailable, None);

    let p = with_spec("  replicas: 3\n  disruptionBudget: {maxUnavailable: 34%}\n");
    let spec = desired(&p).pdb.and_then(|p| p.spec).expect("pdb");
    assert_eq!(
        spec.max_unavailable,
        Some(IntOrString::String("34%".into()))
    );
    assert_eq!(spec.min_available, None);

    let p = with_spec("  disruptionBudget: {enabled: false}\n");
    assert!(desired(&p).pdb.is_none(), "enabled: false removes it");

    let p = with_spec("  replicas: 1\n");
    assert!(
        desired(&p).pdb.is_none(),
        "none on a single replica by default"
    );
    let p = with_spec("  replicas: 1\n  disruptionBudget: {minAvailable: 1}\n");
    assert!(
        desired(&p).pdb.is_some(),
        "an explicit budget is kept as asked"
    );
}

#[test]
fn pull_secrets_reach_the_pod() {
    let p = with_spec("  imagePullSecrets: [{name: regcred}]\n");
    let pod = desired(&p).deployment.spec.template.spec.expect("pod");
    let names: Vec<_> = pod
        .image_pull_secrets
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["regcred"]);
    let pod = desired(&minimal("demo"))
        .deployment
        .spec
        .template
        .spec
        .expect("pod");
    assert!(pod.image_pull_secrets.is_none());
}

#[test]
fn a_single_scheduler_without_election_stops_before_its_successor_starts() {
    let p = with_spec("  replicas: 1\n  leaderElection: {leaderElect: false}\n");
    let d = desired(&p);
    let (_, args) = crate::children::command(&p, &settings());
    assert!(
        args.contains(&"--leader-elect=false".to_string()),
        "{args:?}"
    );
    let cfg = d
        .config_map
        .data
        .as_ref()
        .and_then(|m| m.get("config.yaml"))
        .cloned()
        .unwrap_or_default();
    assert!(cfg.contains("leaderElect: false"), "{cfg}");
    let rolling = d
        .deployment
        .spec
        .strategy
        .and_then(|s| s.rolling_update)
        .expect("rolling");
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(0)));
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(1)));
    let (_, args) = crate::children::command(&minimal("demo"), &settings());
    assert!(args.contains(&"--leader-elect=true".to_string()));
}

#[test]
fn the_grace_period_covers_the_bind_drain_and_the_lease_release() {
    let grace = |p: &ferrosched_crds::SchedulerProfile| {
        desired(p)
            .deployment
            .spec
            .template
            .spec
            .and_then(|s| s.termination_grace_period_seconds)
    };
    assert_eq!(grace(&minimal("demo")), Some(30 + 10 + 5));
    let p = with_spec(
        "  leaderElection: {leaseDuration: 40s, renewDeadline: 20500ms, retryPeriod: 2s}\n",
    );
    assert_eq!(grace(&p), Some(30 + 21 + 5));
    let p = with_spec("  terminationGracePeriodSeconds: 120\n");
    assert_eq!(grace(&p), Some(120));
    let p = with_spec("  terminationGracePeriodSeconds: 20\n");
    let err = validate(&p, std::slice::from_ref(&p), &settings().namespace)
        .expect_err("too short to release the Lease");
    assert!(
        err.message()
            .contains("spec.terminationGracePeriodSeconds: Invalid value: 20: must be at least 40"),
        "{}",
        err.message()
    );
}

#[test]
fn the_progress_deadline_is_the_profiles_or_two_minutes() {
    let deadline = |p: &ferrosched_crds::SchedulerProfile| {
        desired(p).deployment.spec.progress_deadline_seconds
    };
    assert_eq!(deadline(&minimal("demo")), Some(120));
    assert_eq!(
        deadline(&with_spec("  progressDeadlineSeconds: 30\n")),
        Some(30)
    );
}
