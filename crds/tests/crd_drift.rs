//! The committed CRD YAML is exactly what the Rust types generate.

#[test]
fn committed_crd_matches_the_types() {
    let committed = include_str!("../schedulerprofiles.yaml");
    assert!(
        committed == ferrosched_crds::crd_yaml(),
        "crds/schedulerprofiles.yaml is stale: run `{REGENERATE}`"
    );
}

#[test]
fn chart_crd_matches_the_types() {
    let committed = include_str!("../../charts/ferrosched/crds/schedulerprofiles.yaml");
    assert!(
        committed == ferrosched_crds::crd_yaml(),
        "charts/ferrosched/crds/schedulerprofiles.yaml is stale: run `{REGENERATE}`"
    );
}

const REGENERATE: &str = "cargo run -p ferrosched-crds --bin crdgen -- crds/schedulerprofiles.yaml charts/ferrosched/crds/schedulerprofiles.yaml";

#[test]
fn crd_is_cluster_scoped_with_scale_and_printer_columns() {
    use kube::CustomResourceExt;
    let crd = ferrosched_crds::SchedulerProfile::crd();
    assert_eq!(crd.spec.scope, "Cluster");
    let v = &crd.spec.versions[0];
    let scale = v
        .subresources
        .as_ref()
        .and_then(|s| s.scale.as_ref())
        .expect("scale subresource");
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    let cols: Vec<&str> = v
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        cols,
        [
            "Scheduler",
            "Desired",
            "Ready",
            "Leader",
            "Available",
            "Age"
        ]
    );
}
