//! What a profile may not take: reserved names, objects it does not control, images
//! outside the allowlist. Each ends with nothing applied and `Degraded` naming the cause.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::settings::Settings;
use crate::test_support::*;

fn degraded(p: &crate::plan::Plan) -> (String, String) {
    let (status, reason, message) = condition(p, "Degraded");
    assert_eq!(status, "True", "Degraded: {reason}: {message}");
    (reason, message)
}

#[test]
fn an_image_outside_the_allowlist_deploys_nothing() {
    let p = profile(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata:\n  name: demo\nspec:\n  image: evil.example/miner:1\n",
    );
    let out = plan_of(&p, &fresh());
    assert!(out.applies.is_empty(), "{:?}", kinds(&out));
    let (reason, message) = degraded(&out);
    assert_eq!(reason, "ImageNotAllowed");
    assert!(
        message.contains("spec.image") && message.contains("evil.example/miner"),
        "{message}"
    );
}

#[test]
fn reserved_names_deploy_nothing() {
    // `operator` would derive ferrosched-operator, the operator's own election Lease.
    let p = minimal("operator");
    let out = plan_of(&p, &fresh());
    assert!(out.applies.is_empty(), "{:?}", kinds(&out));
    let (reason, message) = degraded(&out);
    assert_eq!(reason, "NameConflict");
    assert!(
        message.contains("ferrosched-operator") && message.contains("reserved"),
        "{message}"
    );
    // A chart release's names, passed with --reserved-names.
    let s = Settings {
        reserved_names: vec!["ferrosched-prod".into()],
        ..settings()
    };
    let p = minimal("prod");
    let out = crate::plan::plan(
        &p,
        std::slice::from_ref(&p),
        &s,
        &fresh(),
        t("2026-03-01T10:00:00Z"),
    );
    assert!(out.applies.is_empty());
    assert_eq!(degraded(&out).0, "NameConflict");
}

#[test]
fn an_object_the_profile_does_not_control_is_never_taken_over() {
    let p = minimal("prod");
    let mut snap = converged(&p);
    // The operator's own ServiceAccount of a release "ferrosched-prod": no owner.
    let mut sa = ServiceAccount::default();
    sa.metadata.name = Some("ferrosched-prod".into());
    snap.children.service_account = Some(sa);
    let out = plan_of(&p, &snap);
    assert!(
        out.applies.is_empty() && out.deletes.is_empty(),
        "{:?}",
        kinds(&out)
    );
    let (reason, message) = degraded(&out);
    assert_eq!(reason, "NameConflict");
    assert!(
        message.contains("ServiceAccount ferrosched-prod"),
        "{message}"
    );

    // Controlled by an earlier profile of the same name (another UID): still not ours.
    let mut snap = converged(&p);
    if let Some(d) = snap.children.deployment.as_mut() {
        d.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "ferrosched.dev/v1alpha1".into(),
            kind: "SchedulerProfile".into(),
            name: "prod".into(),
            uid: "an-older-uid".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
    }
    let out = plan_of(&p, &snap);
    assert!(out.applies.is_empty());
    let (reason, message) = degraded(&out);
    assert_eq!(reason, "NameConflict");
    assert!(
        message.contains("Deployment ferrosched-prod") && message.contains("an-older-uid"),
        "{message}"
    );
}

#[test]
fn a_lease_the_profiles_own_scheduler_recreated_is_adopted_and_another_is_not() {
    let p = minimal("demo");
    let lease = |holder: &str| {
        let mut l = Lease::default();
        l.metadata.name = Some("ferrosched-demo".into());
        l.spec = Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            ..LeaseSpec::default()
        });
        l
    };
    let mut snap = converged(&p);
    snap.children.lease = Some(lease("ferrosched-demo-7d9f8-abcde_1234"));
    let out = plan_of(&p, &snap);
    assert_eq!(kinds(&out), ["Lease"], "re-owned, nothing else");
    snap.children.lease = Some(lease("some-other-app-0"));
    let out = plan_of(&p, &snap);
    assert!(out.applies.is_empty());
    assert_eq!(degraded(&out).0, "NameConflict");
}

#[test]
fn a_request_that_is_not_a_quantity_names_the_field() {
    let p = profile(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata:\n  name: demo\nspec:\n  resources:\n    requests:\n      cpu: lots\n",
    );
    let out = plan_of(&p, &fresh());
    assert!(out.applies.is_empty());
    let (reason, message) = degraded(&out);
    assert_eq!(reason, "InvalidConfig");
    assert!(
        message.contains("spec.resources.requests.cpu: Invalid value: \"lots\""),
        "{message}"
    );
}
