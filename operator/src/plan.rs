//! The whole reconcile decision as a pure function: from the profile, the other profiles
//! and a snapshot of what exists, to the writes to make. With nothing changed the plan is
//! empty — that is what makes a second reconcile write nothing.

use std::time::Duration;

use ferrosched_crds::{SchedulerProfile, SchedulerProfileStatus};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;

use crate::children::{self, PlanCx};
pub use crate::children::{Child, Deletion};
use crate::config_ref::ConfigRef;
use crate::events::{self, Notice};
use crate::settings::Settings;
use crate::snapshot::Snapshot;
use crate::status::{self, Observed, Outcome};
use crate::{guard, identity, rollout, validate};

/// The writes one reconcile makes.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Objects to apply, in order (ConfigMap before the Deployment that mounts it).
    pub applies: Vec<Child>,
    /// Objects to delete.
    pub deletes: Vec<Deletion>,
    /// The profile annotation `ferrosched.dev/failed-config-hash`: `Some(Some(h))` set it,
    /// `Some(None)` remove it.
    pub failed_annotation: Option<Option<String>>,
    /// The new status, `None` when it is unchanged.
    pub status: Option<SchedulerProfileStatus>,
    /// Events to publish.
    pub events: Vec<Notice>,
    /// When to look again without a trigger.
    pub requeue: Duration,
}

impl Plan {
    /// Number of API writes the plan makes (Events included).
    pub fn writes(&self) -> usize {
        self.applies.len()
            + self.deletes.len()
            + usize::from(self.failed_annotation.is_some())
            + usize::from(self.status.is_some())
            + self.events.len()
    }
}

/// Requeue interval of a healthy profile (drift is caught by watches; this is a safety net).
pub const RESYNC: Duration = Duration::from_secs(300);
/// Requeue interval of a conflicting profile, in case the event that frees the name is missed.
pub const CONFLICT_RESYNC: Duration = Duration::from_secs(30);

/// Plans the reconcile of `profile`; `all` are every profile (for name conflicts).
pub fn plan(
    profile: &SchedulerProfile,
    all: &[SchedulerProfile],
    s: &Settings,
    snap: &Snapshot,
    now: jiff::Timestamp,
) -> Plan {
    let mut plan = Plan {
        requeue: RESYNC,
        ..Plan::default()
    };
    let valid = validate::validate(profile, all, &s.namespace)
        .and_then(|v| guard::check(profile, s, &v, snap).map(|()| v));
    let decision;
    let outcome = match &valid {
        Err(invalid) => {
            if matches!(
                invalid,
                validate::Invalid::Conflict { .. }
                    | validate::Invalid::NameConflict { .. }
                    | validate::Invalid::GrantRoleMissing { .. }
            ) {
                plan.requeue = CONFLICT_RESYNC;
            }
            Outcome::Invalid(invalid)
        }
        Ok(valid) => {
            decision = deploy(profile, s, valid, snap, &mut plan);
            Outcome::Deployed(&decision)
        }
    };
    set_status(&mut plan, profile, outcome, snap, now);
    plan
}

/// The plan after the API server refused one of `planned`'s children in a dry run: no
/// apply, no delete, only the status (Degraded, at the profile's generation) and its Events.
pub fn rejected(
    profile: &SchedulerProfile,
    invalid: &validate::Invalid,
    snap: &Snapshot,
    now: jiff::Timestamp,
) -> Plan {
    let mut plan = Plan {
        requeue: RESYNC,
        ..Plan::default()
    };
    set_status(&mut plan, profile, Outcome::Invalid(invalid), snap, now);
    plan
}

fn set_status(
    plan: &mut Plan,
    profile: &SchedulerProfile,
    outcome: Outcome<'_>,
    snap: &Snapshot,
    now: jiff::Timestamp,
) {
    let observed = Observed {
        profile,
        outcome,
        deployment: snap.children.deployment.as_ref(),
        lease: snap.children.lease.as_ref(),
        now,
    };
    let new_status = status::status(&observed);
    if profile.status.as_ref() != Some(&new_status) {
        plan.events
            .extend(events::transitions(profile.status.as_ref(), &new_status));
        plan.status = Some(new_status);
    }
}

/// Config ConfigMaps kept during a rollout besides the ones in use (the deployed one, the
/// last good one, the one the Deployment's template mounts now): the newest few, so a
/// rollout stuck through several edits does not pile them up.
pub const SPARE_CONFIG_MAPS: usize = 1;

/// The config ConfigMaps to keep. Once the rollout is complete, only the deployed one;
/// during it, the ones in use plus the [`SPARE_CONFIG_MAPS`] newest others.
fn kept_config_maps(
    snap: &Snapshot,
    decision: &rollout::Decision,
    last_good: Option<&ConfigRef>,
) -> Vec<String> {
    let mut keep = vec![decision.deploy.config_map_name.clone()];
    if decision.complete {
        return keep;
    }
    keep.extend(last_good.map(|g| g.config_map_name.clone()));
    keep.extend(
        snap.children
            .deployment
            .as_ref()
            .and_then(mounted_config_map),
    );
    let mut others: Vec<_> = snap
        .children
        .config_maps
        .iter()
        .filter(|c| !keep.iter().any(|k| c.metadata.name.as_ref() == Some(k)))
        .collect();
    others.sort_by(|a, b| {
        let key = |c: &ConfigMap| {
            (
                c.metadata.creation_timestamp.clone().map(|t| t.0),
                c.metadata.name.clone(),
            )
        };
        key(b).cmp(&key(a))
    });
    keep.extend(
        others
            .into_iter()
            .take(SPARE_CONFIG_MAPS)
            .filter_map(|c| c.metadata.name.clone()),
    );
    keep
}

/// The config ConfigMap the Deployment's pod template mounts.
fn mounted_config_map(d: &Deployment) -> Option<String> {
    d.spec
        .template
        .spec
        .as_ref()?
        .volumes
        .iter()
        .flatten()
        .find_map(|v| v.config_map.as_ref().map(|c| c.name.clone()))
}

/// Adds the applies and deletes of a valid profile; returns the rollout decision.
fn deploy(
    profile: &SchedulerProfile,
    s: &Settings,
    valid: &validate::Valid,
    snap: &Snapshot,
    plan: &mut Plan,
) -> rollout::Decision {
    let desired_ref = ConfigRef::desired(profile, s, &valid.rendered);
    // The image of the last good configuration is on its ConfigMap.
    let last_good = status::last_good(profile).map(|mut g| {
        g.image = snap
            .children
            .config_maps
            .iter()
            .find(|c| c.metadata.name.as_ref() == Some(&g.config_map_name))
            .and_then(|c| rollout::recorded_image(c, &g.hash, s));
        g
    });
    let failed = profile
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(identity::FAILED_HASH_ANNOTATION));
    let cm_exists = |name: &str| {
        snap.children
            .config_maps
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some(name))
    };
    let decision = rollout::decide(rollout::Inputs {
        desired: &desired_ref,
        last_good: last_good.as_ref(),
        failed: failed.map(String::as_str),
        deployment: snap.children.deployment.as_ref(),
        replicas: profile.spec.replicas,
        config_map_exists: &cm_exists,
    });
    let cx = PlanCx {
        profile,
        desired: &desired_ref,
        write_config: decision.deploy == desired_ref,
    };
    let writes = children::build(profile, s, valid, &decision.deploy).plan(&snap.children, &cx);
    plan.applies.extend(writes.applies);
    plan.deletes.extend(writes.deletes);
    plan.events.extend(writes.events);
    let keep = kept_config_maps(snap, &decision, last_good.as_ref());
    for cm in &snap.children.config_maps {
        let name = cm.metadata.name.clone().unwrap_or_default();
        if !keep.contains(&name) && cm.metadata.deletion_timestamp.is_none() {
            plan.deletes.push(Deletion::ConfigMap(name));
        }
    }
    if let Some(hash) = &decision.newly_failed {
        plan.failed_annotation = Some(Some(hash.clone()));
    } else if decision.clear_failed {
        plan.failed_annotation = Some(None);
    }
    decision
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
