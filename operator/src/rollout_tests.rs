//! Rollouts and rollbacks as the plan sees them: old configs kept until the new one is
//! available, a missed progress deadline rolled back to the last good config.

use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};

use crate::identity;
use crate::plan::{Child, Deletion};
use crate::test_support::*;

#[test]
fn a_config_change_keeps_the_old_config_map_until_the_rollout_is_available() {
    let mut p = minimal("demo");
    let mut snap = converged(&p);
    settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    let old = desired_ref(&p);
    p.spec.percentage_of_nodes_to_score = Some(40);
    let new = desired_ref(&p);
    assert_ne!(old.hash, new.hash);

    let plan = settle(&mut p, &snap, "2026-03-01T10:01:00Z");
    assert_eq!(kinds(&plan), ["ConfigMap", "Deployment"]);
    assert!(
        plan.deletes.is_empty(),
        "old config kept during the rollout"
    );
    assert_eq!(condition(&plan, "Progressing").0, "True");

    // The Deployment rolled and became available on the new template.
    let Some(Child::Deployment(d)) = plan
        .applies
        .iter()
        .find(|c| matches!(c, Child::Deployment(_)))
        .cloned()
    else {
        panic!("no deployment");
    };
    let Some(Child::ConfigMap(cm)) = plan.applies.first().cloned() else {
        panic!("no config map")
    };
    snap.children.deployment = Some(rolled_out(stored(&d), 2));
    snap.children.config_maps.push(stored(&cm));
    let done = settle(&mut p, &snap, "2026-03-01T10:02:00Z");
    assert!(done.applies.is_empty());
    assert_eq!(
        done.deletes,
        [Deletion::ConfigMap(old.config_map_name.clone())]
    );
    assert_eq!(
        p.status.as_ref().and_then(|s| s.config_hash.clone()),
        Some(new.hash)
    );
}

/// `p` converged, then edited; the edit's rollout stuck past its deadline. Returns the
/// good and bad configurations, the plan that follows and the snapshot it saw.
fn stuck_after_an_edit(
    p: &mut ferrosched_crds::SchedulerProfile,
) -> (
    crate::config_ref::ConfigRef,
    crate::config_ref::ConfigRef,
    crate::plan::Plan,
    crate::snapshot::Snapshot,
) {
    let mut snap = converged(p);
    settle(p, &snap, "2026-03-01T10:00:00Z");
    let good = desired_ref(p);
    p.spec.percentage_of_nodes_to_score = Some(40);
    let bad = desired_ref(p);
    let plan = settle(p, &snap, "2026-03-01T10:01:00Z");
    let (d, cm) = deployment_and_config_map(&plan);
    snap.children.config_maps.push(stored(&cm));
    snap.children.deployment = Some(stuck(&d));
    let plan = settle(p, &snap, "2026-03-01T10:04:00Z");
    (good, bad, plan, snap)
}

#[test]
fn the_rollback_names_the_progress_deadline_the_profile_set() {
    let mut p = minimal("demo");
    p.spec.progress_deadline_seconds = Some(30);
    let (good, bad, rollback, _) = stuck_after_an_edit(&mut p);
    let Some(Child::Deployment(back)) = rollback.applies.first() else {
        panic!("no rollback")
    };
    assert_eq!(back.spec.progress_deadline_seconds, Some(30));
    let (_, reason, message) = condition(&rollback, "Degraded");
    assert_eq!(reason, "RolloutFailed");
    assert_eq!(
        message,
        format!(
            "rollout of configuration {} missed its progress deadline (30s); rolled back to configuration {}",
            bad.hash, good.hash
        )
    );
}

#[test]
fn a_rollout_past_its_deadline_is_rolled_back_to_the_last_good_config() {
    let mut p = minimal("demo");
    let (good, bad, rollback, mut snap) = stuck_after_an_edit(&mut p);
    assert_eq!(kinds(&rollback), ["Deployment"]);
    let Some(Child::Deployment(back)) = rollback.applies.first() else {
        panic!()
    };
    let pod = back.spec.template.spec.as_ref().expect("pod");
    assert_eq!(
        pod.volumes
            .as_ref()
            .and_then(|v| v[0].config_map.as_ref())
            .map(|c| c.name.clone()),
        Some(good.config_map_name.clone())
    );
    assert_eq!(
        crate::rollout::template_hash(back),
        Some(good.hash.as_str())
    );
    assert_eq!(rollback.failed_annotation, Some(Some(bad.hash.clone())));
    let (status, reason, message) = condition(&rollback, "Degraded");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "RolloutFailed")
    );
    assert_eq!(
        message,
        format!(
            "rollout of configuration {} missed its progress deadline (120s); rolled back to configuration {}",
            bad.hash, good.hash
        )
    );
    assert!(
        rollback
            .events
            .iter()
            .any(|e| e.warning && e.reason == "RolloutFailed")
    );

    // With the failure remembered and the old template back, the bad config is not retried.
    p.metadata.annotations = Some(
        [(
            identity::FAILED_HASH_ANNOTATION.to_string(),
            bad.hash.clone(),
        )]
        .into(),
    );
    snap.children.deployment = Some(rolled_out(stored(back), 2));
    let after = settle(&mut p, &snap, "2026-03-01T10:05:00Z");
    assert!(after.applies.is_empty(), "{:?}", kinds(&after));
    assert_eq!(
        after.deletes,
        [Deletion::ConfigMap(bad.config_map_name.clone())]
    );
    assert_eq!(after.failed_annotation, None);
    assert_eq!(condition(&after, "Degraded").1, "RolloutFailed");
    assert!(
        after.events.iter().all(|e| e.reason != "RolloutFailed"),
        "reported once"
    );
}

#[test]
fn scaling_to_one_deletes_the_pdb_and_zero_is_reported() {
    let mut p = minimal("demo");
    let snap = converged(&p);
    settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    p.spec.replicas = 1;
    let plan = plan_of(&p, &snap);
    assert_eq!(kinds(&plan), ["Deployment"]);
    assert_eq!(plan.deletes, [Deletion::Pdb("ferrosched-demo".into())]);
    p.spec.replicas = 0;
    let zero = plan_of(&p, &snap);
    assert_eq!(condition(&zero, "Available").1, "ScaledToZero");
}

#[test]
fn a_remembered_failure_is_forgotten_once_a_new_config_is_available() {
    let mut p = minimal("demo");
    let snap = converged(&p);
    p.metadata.annotations = Some(
        [(
            identity::FAILED_HASH_ANNOTATION.to_string(),
            "0123456789".to_string(),
        )]
        .into(),
    );
    let plan = settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    assert_eq!(plan.failed_annotation, Some(None));
}

#[test]
fn a_rollout_stuck_through_many_edits_keeps_a_bounded_set_of_config_maps() {
    let mut p = minimal("demo");
    let mut snap = converged(&p);
    settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    let good = desired_ref(&p);
    // Edits while the rollout never completes: each applies a new ConfigMap and template.
    let mut created = Vec::new();
    for (i, pct) in [10, 20, 30, 40, 50, 60].into_iter().enumerate() {
        p.spec.percentage_of_nodes_to_score = Some(pct);
        p.metadata.generation = Some(2 + i as i64);
        let plan = settle(&mut p, &snap, &format!("2026-03-01T10:0{}:00Z", i + 1));
        for child in &plan.applies {
            match child {
                Child::ConfigMap(cm) => {
                    let mut cm = stored(cm);
                    cm.metadata.creation_timestamp =
                        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t(
                            &format!("2026-03-01T10:0{}:00Z", i + 1),
                        )));
                    created.push(cm.metadata.name.clone().unwrap_or_default());
                    snap.children.config_maps.push(cm);
                }
                // Applied, but never rolled out: its new pods never become ready.
                Child::Deployment(d) => snap.children.deployment = Some(stored(d)),
                _ => {}
            }
        }
        let gone: Vec<String> = plan
            .deletes
            .iter()
            .filter_map(|d| match d {
                Deletion::ConfigMap(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        snap.children
            .config_maps
            .retain(|c| !gone.contains(&c.metadata.name.clone().unwrap_or_default()));
        assert!(
            !gone.contains(&good.config_map_name),
            "the last good config is kept"
        );
        let desired = desired_ref(&p).config_map_name;
        assert!(
            !gone.contains(&desired),
            "the config being rolled out is kept"
        );
    }
    // Last good + the one rolled out + the one the template mounted before + the spares.
    assert!(
        snap.children.config_maps.len() <= 3 + crate::plan::SPARE_CONFIG_MAPS,
        "{} ConfigMaps kept: {:?}",
        snap.children.config_maps.len(),
        snap.children
            .config_maps
            .iter()
            .map(|c| c.metadata.name.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(created.len(), 6, "every edit made its ConfigMap");
    let newest = created.last().cloned().unwrap_or_default();
    assert!(
        snap.children
            .config_maps
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some(newest.as_str()))
    );
}

/// `d` as stored, its rollout past the progress deadline (one new pod never available).
fn stuck(d: &k8s_openapi::api::apps::v1::Deployment) -> k8s_openapi::api::apps::v1::Deployment {
    let mut stuck = stored(d);
    stuck.metadata.generation = Some(2);
    stuck.status = Some(DeploymentStatus {
        observed_generation: Some(2),
        replicas: Some(3),
        updated_replicas: Some(1),
        available_replicas: Some(2),
        ready_replicas: Some(2),
        conditions: Some(vec![DeploymentCondition {
            type_: Some("Progressing".into()),
            status: Some("False".into()),
            reason: Some("ProgressDeadlineExceeded".into()),
            ..DeploymentCondition::default()
        }]),
        ..DeploymentStatus::default()
    });
    stuck
}

/// The Deployment and ConfigMap a plan applies.
fn deployment_and_config_map(
    plan: &crate::plan::Plan,
) -> (
    k8s_openapi::api::apps::v1::Deployment,
    k8s_openapi::api::core::v1::ConfigMap,
) {
    let d = plan.applies.iter().find_map(|c| match c {
        Child::Deployment(d) => Some(d.clone()),
        _ => None,
    });
    let cm = plan.applies.iter().find_map(|c| match c {
        Child::ConfigMap(cm) => Some(cm.clone()),
        _ => None,
    });
    (d.expect("no deployment"), cm.expect("no config map"))
}

fn image_of(d: &k8s_openapi::api::apps::v1::Deployment) -> Option<String> {
    d.spec
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .clone()
}

/// A profile rolled out on the default image, then given `ferrosched:broken`, whose
/// rollout misses its deadline; `edit` may change the stored ConfigMaps first. Returns the
/// rollback plan and the good configuration.
fn broken_image_rollback(
    edit: impl Fn(&mut Vec<k8s_openapi::api::core::v1::ConfigMap>),
) -> (crate::plan::Plan, crate::config_ref::ConfigRef) {
    let mut p = minimal("demo");
    let mut snap = converged(&p);
    settle(&mut p, &snap, "2026-03-01T10:00:00Z");
    let good = desired_ref(&p);
    assert_eq!(good.image.as_deref(), Some("ferrosched:test"));
    // Only the image changes: a new configuration all the same.
    p.spec.image = Some("ferrosched:broken".into());
    let bad = desired_ref(&p);
    assert_ne!(good.hash, bad.hash);
    let plan = settle(&mut p, &snap, "2026-03-01T10:01:00Z");
    let (d, cm) = deployment_and_config_map(&plan);
    assert_eq!(image_of(&d).as_deref(), Some("ferrosched:broken"));
    assert_eq!(
        cm.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(identity::IMAGE_ANNOTATION))
            .map(String::as_str),
        Some("ferrosched:broken")
    );
    snap.children.config_maps.push(stored(&cm));
    edit(&mut snap.children.config_maps);
    snap.children.deployment = Some(stuck(&d));
    (settle(&mut p, &snap, "2026-03-01T10:04:00Z"), good)
}

#[test]
fn an_image_that_never_starts_is_rolled_back_with_its_configuration() {
    let (rollback, good) = broken_image_rollback(|_| {});
    assert_eq!(kinds(&rollback), ["Deployment"]);
    let Some(Child::Deployment(back)) = rollback.applies.first() else {
        panic!()
    };
    assert_eq!(image_of(back).as_deref(), Some("ferrosched:test"));
    assert_eq!(
        crate::rollout::template_hash(back),
        Some(good.hash.as_str())
    );
    let (status, reason, _) = condition(&rollback, "Degraded");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "RolloutFailed")
    );
}

#[test]
fn a_rollback_ignores_an_image_annotation_edited_after_the_fact() {
    // Someone who may edit ConfigMaps in the operands' namespace (but not profiles)
    // rewrites the good configuration's image annotation: it no longer matches the hash.
    let (rollback, _) = broken_image_rollback(|cms| {
        for cm in cms.iter_mut() {
            if let Some(a) = cm.metadata.annotations.as_mut() {
                a.insert(
                    identity::IMAGE_ANNOTATION.into(),
                    "ferrosched:test-evil".into(),
                );
            }
        }
    });
    let Some(Child::Deployment(back)) = rollback.applies.first() else {
        panic!()
    };
    assert_ne!(image_of(back).as_deref(), Some("ferrosched:test-evil"));
}
