//! The profile's status (pure); the Events its transitions deserve are in [`crate::events`].

use ferrosched_crds::{
    SchedulerProfile, SchedulerProfileStatus, condition_reasons as reason, condition_types as ty,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::config_ref::ConfigRef;
use crate::identity;
use crate::rollout::Decision;
use crate::validate::Invalid;

/// How far reconciliation got.
#[derive(Clone, Debug)]
pub enum Outcome<'a> {
    /// Nothing is deployed for this spec: conflict or invalid configuration.
    Invalid(&'a Invalid),
    /// The children were (or are being) applied; this is the rollout decision.
    Deployed(&'a Decision),
}

/// What the status is computed from.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    /// The profile, with its current status.
    pub profile: &'a SchedulerProfile,
    /// The reconcile outcome.
    pub outcome: Outcome<'a>,
    /// The Deployment as it exists.
    pub deployment: Option<&'a Deployment>,
    /// The scheduler's Lease as it exists.
    pub lease: Option<&'a Lease>,
    /// The time to stamp on conditions that flip.
    pub now: jiff::Timestamp,
}

/// The desired status; conditions keep their lastTransitionTime unless their status flips.
pub fn status(o: &Observed<'_>) -> SchedulerProfileStatus {
    let profile = o.profile;
    let previous = profile.status.clone().unwrap_or_default();
    let p = identity::profile_name(profile);
    let generation = profile.metadata.generation;
    let replicas = profile.spec.replicas;
    let dep_status = o
        .deployment
        .and_then(|d| d.status.clone())
        .unwrap_or_default();
    let available = dep_status.available_replicas.unwrap_or(0);
    let lease = o.lease.and_then(|l| l.spec.as_ref());
    let leader = lease
        .and_then(|s| s.holder_identity.clone())
        .filter(|h| !h.is_empty());

    let (degraded, progressing) = match &o.outcome {
        Outcome::Invalid(invalid) => {
            let degraded = ("True", invalid.reason(), invalid.message());
            let progressing = match o.deployment {
                Some(_) => (
                    "False",
                    invalid.reason(),
                    "the running scheduler keeps its configuration".to_string(),
                ),
                None => (
                    "False",
                    invalid.reason(),
                    "nothing is deployed for this profile".to_string(),
                ),
            };
            (degraded, progressing)
        }
        Outcome::Deployed(d) => {
            let degraded = match &d.failure {
                Some(msg) => ("True", reason::ROLLOUT_FAILED, msg.clone()),
                None => (
                    "False",
                    reason::AS_EXPECTED,
                    "the scheduler configuration is valid".to_string(),
                ),
            };
            let progressing = if d.complete {
                (
                    "False",
                    reason::AS_EXPECTED,
                    format!("configuration {} is rolled out", d.deploy.hash),
                )
            } else {
                let updated = dep_status.updated_replicas.unwrap_or(0);
                (
                    "True",
                    reason::ROLLING_OUT,
                    format!(
                        "rolling out configuration {}: {updated} of {replicas} replicas updated",
                        d.deploy.hash
                    ),
                )
            };
            (degraded, progressing)
        }
    };
    let availability = if replicas == 0 {
        (
            "False",
            reason::SCALED_TO_ZERO,
            "the profile asks for 0 replicas".to_string(),
        )
    } else if available > 0 {
        let leader_note = leader
            .as_deref()
            .map_or_else(|| "no leader yet".to_string(), |l| format!("leader {l}"));
        (
            "True",
            reason::AS_EXPECTED,
            format!("{available} of {replicas} replicas available; {leader_note}"),
        )
    } else if let Outcome::Invalid(invalid) = &o.outcome
        && o.deployment.is_none()
    {
        (
            "False",
            invalid.reason(),
            "nothing is deployed for this profile".to_string(),
        )
    } else {
        (
            "False",
            reason::NO_READY_REPLICAS,
            format!("0 of {replicas} replicas available"),
        )
    };
    let condition = |type_: &str, (status, reason, message): (&str, &str, String)| {
        let kept = previous
            .conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == status);
        Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            message,
            observed_generation: generation,
            last_transition_time: kept
                .map_or_else(|| Time(o.now), |c| c.last_transition_time.clone()),
        }
    };
    let last_good = match &o.outcome {
        Outcome::Deployed(d) if d.complete => Some(d.deploy.clone()),
        _ => last_good(profile),
    };
    SchedulerProfileStatus {
        observed_generation: generation,
        scheduler_name: Some(identity::scheduler_name(profile)),
        conditions: vec![
            condition(ty::AVAILABLE, availability),
            condition(ty::PROGRESSING, progressing),
            condition(ty::DEGRADED, degraded),
        ],
        replicas: Some(dep_status.replicas.unwrap_or(0)),
        ready_replicas: Some(dep_status.ready_replicas.unwrap_or(0)),
        selector: Some(identity::selector_string(p)),
        leader,
        lease_transitions: lease.and_then(|s| s.lease_transitions),
        config_hash: last_good.as_ref().map(|g| g.hash.clone()),
        config_map_name: last_good.map(|g| g.config_map_name),
    }
}

/// The last configuration that became fully available, as recorded in the status.
pub fn last_good(profile: &SchedulerProfile) -> Option<ConfigRef> {
    let status = profile.status.as_ref()?;
    Some(ConfigRef {
        hash: status.config_hash.clone()?,
        config_map_name: status.config_map_name.clone()?,
        image: None,
    })
}
