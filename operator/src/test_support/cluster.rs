//! Children as the API server stores them, and snapshots of a cluster: fresh (the chart
//! installed, no child yet) or converged (a finished reconcile, the rollout complete).

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
use k8s_openapi::api::coordination::v1::LeaseSpec;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::profiles::{settings, valid};
use crate::children::{Existing, build};
use crate::config_ref::ConfigRef;
use crate::snapshot::Snapshot;

/// `obj` as the API server would return it: server-set metadata, defaults, and (for
/// Deployments) defaulted pod fields.
pub fn stored<K: Serialize + DeserializeOwned>(obj: &K) -> K {
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

pub fn desired_ref(p: &SchedulerProfile) -> ConfigRef {
    ConfigRef::desired(p, &settings(), &valid(p).rendered)
}

/// A cluster where the chart is installed (every grant role exists) and the profile has
/// no child yet.
pub fn fresh() -> Snapshot {
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
pub fn converged(p: &SchedulerProfile) -> Snapshot {
    let d = build(p, &settings(), &valid(p), &desired_ref(p));
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

pub fn rolled_out(mut d: Deployment, replicas: i32) -> Deployment {
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
