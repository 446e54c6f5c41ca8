//! Fixtures for plan tests: children as the API server stores them, converged snapshots,
//! and a helper that records a planned status the way the API server would.

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
use k8s_openapi::api::coordination::v1::LeaseSpec;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::children::{Existing, build};
use crate::config_ref::ConfigRef;
use crate::plan::{Child, Plan, plan};
use crate::snapshot::Snapshot;
use crate::testing::settings;
use crate::validate::validate;
pub(crate) fn t(s: &str) -> jiff::Timestamp {
    s.parse().unwrap_or_default()
}

/// `obj` as the API server would return it: server-set metadata, defaults, and (for
/// Deployments) defaulted pod fields.
pub(crate) fn stored<K: Serialize + DeserializeOwned>(obj: &K) -> K {
    let mut v = serde_json::to_value(obj).unwrap_or_default();
    let meta = &mut v["metadata"];
    meta["resourceVersion"] = json!("42");
    meta["uid"] = json!("child-uid");
    meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    meta["managedFields"] = json!([{"manager": "ferrosched-operator", "operation": "Apply"}]);
    if v["kind"] == "Deployment" {
        v["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
        v["metadata"]["generation"] = json!(1);
        let pod = &mut v["spec"]["template"]["spec"];
        pod["restartPolicy"] = json!("Always");
        pod["dnsPolicy"] = json!("ClusterFirst");
        if pod["terminationGracePeriodSeconds"].is_null() {
            pod["terminationGracePeriodSeconds"] = json!(30);
        }
        pod["containers"][0]["terminationMessagePath"] = json!("/dev/termination-log");
        pod["volumes"][0]["configMap"]["defaultMode"] = json!(420);
    }
    if v["kind"] == "Service" {
        v["spec"]["clusterIP"] = json!("10.0.0.10");
        v["spec"]["sessionAffinity"] = json!("None");
    }
    serde_json::from_value(v).unwrap_or_else(|e| panic!("stored object does not deserialize: {e}"))
}

pub(crate) fn desired_ref(p: &SchedulerProfile) -> ConfigRef {
    let v = validate(p, std::slice::from_ref(p), "ferrosched-system")
        .unwrap_or_else(|e| panic!("{}", e.message()));
    ConfigRef::desired(p, &crate::testing::settings(), &v.rendered)
}

/// A cluster where the chart is installed (every grant role exists) and the profile has
/// no child yet.
pub(crate) fn fresh() -> Snapshot {
    let prefix = settings().grant_role_prefix;
    Snapshot {
        grant_roles: crate::children::grant_roles(&prefix)
            .into_iter()
            .filter_map(|r| r.metadata.name)
            .collect(),
        ..Snapshot::default()
    }
}

/// What a finished reconcile of `p` leaves in the cluster, with the rollout complete.
pub(crate) fn converged(p: &SchedulerProfile) -> Snapshot {
    let v = validate(p, std::slice::from_ref(p), "ferrosched-system")
        .unwrap_or_else(|e| panic!("{}", e.message()));
    let d = build(p, &settings(), &v, &desired_ref(p));
    let mut lease = stored(&d.lease);
    lease.spec = Some(LeaseSpec {
        holder_identity: Some("node-a_1234".into()),
        lease_transitions: Some(1),
        ..LeaseSpec::default()
    });
    Snapshot {
        children: Existing {
            service_account: Some(stored(&d.service_account)),
            cluster_role_bindings: d.cluster_role_bindings.iter().map(stored).collect(),
            lease_role: Some(stored(&d.lease_role)),
            lease_role_binding: Some(stored(&d.lease_role_binding)),
            auth_reader_binding: Some(stored(&d.auth_reader_binding)),
            lease: Some(lease),
            config_maps: vec![stored(&d.config_map)],
            deployment: Some(rolled_out(stored(&d.deployment), p.spec.replicas)),
            service: Some(stored(&d.service)),
            pdb: d.pdb.as_ref().map(stored),
        },
        grant_roles: fresh().grant_roles,
    }
}

pub(crate) fn rolled_out(mut d: Deployment, replicas: i32) -> Deployment {
    d.metadata.generation = Some(1);
    d.status = Some(DeploymentStatus {
        observed_generation: Some(1),
        replicas: Some(replicas),
        updated_replicas: Some(replicas),
        available_replicas: Some(replicas),
        ready_replicas: Some(replicas),
        ..DeploymentStatus::default()
    });
    d
}

/// Plans, then records the planned status on the profile as the API server would.
pub(crate) fn settle(p: &mut SchedulerProfile, snap: &Snapshot, now: &str) -> Plan {
    let all = [p.clone()];
    let plan = plan(p, &all, &settings(), snap, t(now));
    if let Some(s) = &plan.status {
        let mut v = serde_json::to_value(s).unwrap_or_default();
        // The API server stores times with second precision.
        for c in v["conditions"].as_array_mut().into_iter().flatten() {
            let secs = c["lastTransitionTime"]
                .as_str()
                .map(|x| format!("{}Z", &x[..19]))
                .unwrap_or_default();
            c["lastTransitionTime"] = json!(secs);
        }
        p.status = serde_json::from_value(v).ok();
    }
    plan
}

pub(crate) fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.applies.iter().map(Child::kind).collect()
}

pub(crate) fn condition(p: &Plan, type_: &str) -> (String, String, String) {
    let s = p.status.as_ref().expect("status written");
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .expect("condition");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

pub(crate) fn plan_of(p: &SchedulerProfile, snap: &Snapshot) -> Plan {
    plan(
        p,
        std::slice::from_ref(p),
        &settings(),
        snap,
        t("2026-03-01T10:02:00Z"),
    )
}
