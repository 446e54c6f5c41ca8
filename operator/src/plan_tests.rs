//! The reconcile decision end to end, without a cluster: nothing changed → no write,
//! drift → only the drifted child, invalid or conflicting → nothing but status and an Event.

use serde_json::{Value, json};

use crate::plan::plan;
use crate::test_support::*;

#[test]
fn a_new_profile_gets_every_child_in_order() {
    let mut p = minimal("demo");
    let plan = settle(&mut p, &fresh(), "2026-03-01T10:00:00Z");
    assert_eq!(
        kinds(&plan),
        [
            "ServiceAccount",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "RoleBinding",
            "Lease",
            "ConfigMap",
            "Service",
            "Deployment",
            "PodDisruptionBudget"
        ]
    );
    assert!(plan.deletes.is_empty());
    assert_eq!(condition(&plan, "Progressing").0, "True");
    assert_eq!(condition(&plan, "Available").1, "NoReadyReplicas");
    assert_eq!(condition(&plan, "Degraded").0, "False");
    let status = plan.status.as_ref().expect("status");
    assert_eq!(
        status.selector.as_deref(),
        Some("app.kubernetes.io/instance=demo,app.kubernetes.io/name=ferrosched-scheduler")
    );
    assert_eq!(
        status.config_hash, None,
        "set only once the rollout is available"
    );
    assert_eq!(
        plan.events
            .iter()
            .map(|e| e.reason.as_str())
            .collect::<Vec<_>>(),
        ["ConfigCreated"]
    );
}

#[test]
fn nothing_changed_means_no_write() {
    let mut p = minimal("demo");
    let snap = converged(&p);
    let first = settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    assert!(
        first.applies.is_empty(),
        "converged children need no apply: {:?}",
        kinds(&first)
    );
    assert_eq!(condition(&first, "Available").0, "True");
    assert_eq!(
        first.status.as_ref().and_then(|s| s.leader.as_deref()),
        Some("node-a_1234")
    );
    assert_eq!(
        first.status.as_ref().and_then(|s| s.config_hash.clone()),
        Some(desired_ref(&p).hash)
    );
    let again = settle(&mut p, &snap, "2026-03-01T10:05:00Z");
    assert_eq!(
        again.writes(),
        0,
        "second pass wrote: {:?} {:?} {:?}",
        kinds(&again),
        again.deletes,
        again.status
    );
}

#[test]
fn respelled_quantities_are_not_drift() {
    let yaml = "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata: {name: demo}\nspec:\n  resources:\n    requests: {cpu: '0.5', memory: 1Gi}\n";
    let mut p = profile(yaml);
    let mut snap = converged(&p);
    let mut d = serde_json::to_value(snap.children.deployment.take()).unwrap_or_default();
    d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"] =
        json!({"cpu": "500m", "memory": "1Gi"});
    snap.children.deployment = serde_json::from_value(d).ok();
    settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    assert_eq!(settle(&mut p, &snap, "2026-03-01T10:01:00Z").writes(), 0);
}

#[test]
fn drift_is_corrected_child_by_child() {
    let mut p = minimal("demo");
    let mut snap = converged(&p);
    settle(&mut p, &snap, "2026-03-01T10:00:00Z");

    let mut edited = snap.clone();
    if let Some(d) = edited.children.deployment.as_mut()
        && let Some(pod) = d.spec.template.spec.as_mut()
    {
        pod.containers[0].image = Some("evil:latest".into());
    }
    edited.children.service_account = None;
    if let Some(b) = edited.children.cluster_role_bindings.get_mut(3) {
        b.subjects = None;
    }
    let plan = plan(
        &p,
        std::slice::from_ref(&p),
        &settings(),
        &edited,
        t("2026-03-01T10:01:00Z"),
    );
    assert_eq!(
        kinds(&plan),
        ["ServiceAccount", "ClusterRoleBinding", "Deployment"]
    );

    // A label someone else added is not ours to remove: no write.
    if let Some(svc) = snap.children.service.as_mut() {
        svc.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("team".into(), "x".into());
    }
    assert_eq!(plan_of(&p, &snap).writes(), 0);
}

#[test]
fn an_invalid_edit_writes_nothing_but_status_and_an_event() {
    let mut p = minimal("demo");
    let snap = converged(&p);
    settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    let mut bad = p.clone();
    bad.spec.plugins =
        serde_json::from_value(json!({"score": {"enabled": [{"name": "Foo"}]}})).ok();
    bad.metadata.generation = Some(2);
    let plan = settle(&mut bad, &snap, "2026-03-01T10:01:00Z");
    assert!(plan.applies.is_empty() && plan.deletes.is_empty() && plan.failed_annotation.is_none());
    let (status, reason, message) = condition(&plan, "Degraded");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "InvalidConfig")
    );
    assert_eq!(
        message,
        r#"invalid scheduler configuration: spec.plugins.score.enabled[0].name: unknown plugin "Foo""#
    );
    assert_eq!(
        condition(&plan, "Available").0,
        "True",
        "the running scheduler is untouched"
    );
    let s = plan.status.as_ref().expect("status");
    assert_eq!(s.observed_generation, Some(2));
    assert_eq!(
        s.config_hash,
        Some(desired_ref(&p).hash),
        "last good config is kept"
    );
    assert_eq!(plan.events.len(), 1);
    assert!(plan.events[0].warning && plan.events[0].reason == "InvalidConfig");
    assert_eq!(
        settle(&mut bad, &snap, "2026-03-01T10:02:00Z").writes(),
        0,
        "the event is not repeated"
    );
}

#[test]
fn the_newer_claimant_of_a_name_gets_conflict_and_nothing_deployed() {
    let older = profile(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata: {name: first, creationTimestamp: '2026-01-01T00:00:00Z'}\nspec: {schedulerName: shared}\n",
    );
    let newer = profile(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata: {name: second, creationTimestamp: '2026-01-02T00:00:00Z'}\nspec: {schedulerName: shared}\n",
    );
    let all = [older.clone(), newer.clone()];
    let plan = plan(
        &newer,
        &all,
        &settings(),
        &fresh(),
        t("2026-03-01T10:00:00Z"),
    );
    assert!(plan.applies.is_empty());
    assert_eq!(plan.requeue, crate::plan::CONFLICT_RESYNC);
    let (status, reason, message) = condition(&plan, "Degraded");
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Conflict"));
    assert_eq!(
        message,
        "scheduler name shared is already served by SchedulerProfile first"
    );
    assert_eq!(condition(&plan, "Available").1, "Conflict");
    let winner = crate::plan::plan(
        &older,
        &all,
        &settings(),
        &fresh(),
        t("2026-03-01T10:00:00Z"),
    );
    assert_eq!(winner.applies.len(), 18);
}

#[test]
fn condition_times_change_only_when_the_status_flips() {
    let mut p = minimal("demo");
    let snap = converged(&p);
    settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    let before: Value = serde_json::to_value(&p.status).unwrap_or_default();
    p.metadata.generation = Some(3);
    settle(&mut p, &snap, "2026-03-01T11:00:00Z");
    let after: Value = serde_json::to_value(&p.status).unwrap_or_default();
    for i in 0..3 {
        assert_eq!(
            before["conditions"][i]["lastTransitionTime"],
            after["conditions"][i]["lastTransitionTime"]
        );
        assert_eq!(after["conditions"][i]["observedGeneration"], json!(3));
    }
}

#[test]
fn a_disabled_plugins_binding_is_emptied_not_deleted() {
    let mut p = minimal("demo");
    let snap = converged(&p);
    settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    let mut edited = profile(
        r#"
apiVersion: ferrosched.dev/v1alpha1
kind: SchedulerProfile
metadata: {name: demo}
spec:
  plugins:
    multiPoint:
      disabled: [{name: DefaultPreemption}]
"#,
    );
    edited.metadata.uid = p.metadata.uid.clone();
    edited.status = p.status.clone();
    let plan = plan_of(&edited, &snap);
    let bindings: Vec<_> = plan
        .applies
        .iter()
        .filter_map(|c| match c {
            crate::plan::Child::ClusterRoleBinding(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(bindings.len(), 1, "only the preemption binding changes");
    assert_eq!(
        bindings[0].metadata.name.as_deref(),
        Some("ferrosched:scheduler:demo:default-preemption")
    );
    assert_eq!(bindings[0].subjects.as_deref(), Some(&[][..]));
    assert!(plan.deletes.is_empty(), "the operator deletes no binding");

    // Once emptied, it is left alone.
    let mut after = snap.clone();
    for b in &mut after.children.cluster_role_bindings {
        if b.metadata.name == bindings[0].metadata.name {
            b.subjects = None;
        }
    }
    let again = plan_of(&edited, &after);
    assert!(
        !kinds(&again).contains(&"ClusterRoleBinding"),
        "{:?}",
        kinds(&again)
    );
}

#[test]
fn a_missing_grant_role_deploys_nothing_and_names_it() {
    let mut p = minimal("demo");
    let mut snap = fresh();
    snap.grant_roles.remove("ferrosched:grants:volume-binding");
    let plan = settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    assert!(plan.applies.is_empty(), "{:?}", kinds(&plan));
    let (status, reason, message) = condition(&plan, "Degraded");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "GrantRoleMissing")
    );
    assert!(
        message.contains("ClusterRole ferrosched:grants:volume-binding does not exist"),
        "{message}"
    );
}

#[test]
fn a_binding_of_the_same_name_owned_by_someone_else_is_not_taken() {
    let mut p = minimal("demo");
    let mut snap = fresh();
    let mut foreign = converged(&p).children.cluster_role_bindings[0].clone();
    foreign.metadata.owner_references = None;
    snap.children.cluster_role_bindings.push(foreign);
    let plan = settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    assert!(plan.applies.is_empty(), "{:?}", kinds(&plan));
    let (_, reason, message) = condition(&plan, "Degraded");
    assert_eq!(reason, "NameConflict");
    assert!(
        message.contains("ClusterRoleBinding ferrosched:scheduler:demo:base"),
        "{message}"
    );
}
