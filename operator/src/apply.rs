//! Carrying out a [`Plan`] (I/O): server-side apply under one field manager, deletes,
//! the profile's annotation and status, Events.

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::{info, warn};

use crate::error::Error;
use crate::metrics::Metrics;
use crate::names::{self, FIELD_MANAGER};
use crate::plan::{Child, Deletion, Plan};

/// Server-side applies a namespaced object in its namespace.
async fn ssa<K>(client: &Client, obj: &K) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let ns = obj.meta().namespace.clone().unwrap_or_default();
    ssa_with(Api::namespaced(client.clone(), &ns), obj).await
}

/// Server-side applies a cluster-scoped object.
async fn ssa_cluster<K>(client: &Client, obj: &K) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = ClusterResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    ssa_with(Api::all(client.clone()), obj).await
}

async fn ssa_with<K>(api: Api<K>, obj: &K) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(obj))
        .await
        .map_err(|source| Error::Apply {
            kind: kind_of::<K>(),
            name: name.clone(),
            source,
        })?;
    info!(kind = kind_of::<K>(), %name, "applied");
    Ok(())
}

fn kind_of<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()) {
        std::borrow::Cow::Borrowed(k) => k,
        std::borrow::Cow::Owned(_) => "object",
    }
}

async fn apply_child(client: &Client, child: &Child) -> Result<&'static str, Error> {
    match child {
        Child::ServiceAccount(o) => ssa(client, o).await.map(|()| "ServiceAccount"),
        Child::ClusterRole(o) => ssa_cluster(client, o).await.map(|()| "ClusterRole"),
        Child::ClusterRoleBinding(o) => ssa_cluster(client, o).await.map(|()| "ClusterRoleBinding"),
        Child::Role(o) => ssa(client, o).await.map(|()| "Role"),
        Child::RoleBinding(o) => ssa(client, o).await.map(|()| "RoleBinding"),
        Child::Lease(o) => ssa(client, o).await.map(|()| "Lease"),
        Child::ConfigMap(o) => ssa(client, o).await.map(|()| "ConfigMap"),
        Child::Service(o) => ssa(client, o).await.map(|()| "Service"),
        Child::Deployment(o) => ssa(client, o).await.map(|()| "Deployment"),
        Child::Pdb(o) => ssa(client, o).await.map(|()| "PodDisruptionBudget"),
    }
}

async fn delete<K>(api: Api<K>, name: &str) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {
            info!(kind = kind_of::<K>(), %name, "deleted");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(source) => Err(Error::Delete {
            kind: kind_of::<K>(),
            name: name.to_string(),
            source,
        }),
    }
}

/// Everything [`execute`] needs besides the plan.
pub struct Writer<'a> {
    /// API client.
    pub client: &'a Client,
    /// Operand namespace.
    pub namespace: &'a str,
    /// Event recorder.
    pub recorder: &'a Recorder,
    /// Where writes are counted.
    pub metrics: &'a Metrics,
}

/// Makes the writes of `plan` for `profile`, in order: applies, deletes, annotation,
/// status, Events. A failed Event is logged, not fatal.
pub async fn execute(w: &Writer<'_>, profile: &SchedulerProfile, plan: &Plan) -> Result<(), Error> {
    let name = names::profile_name(profile).to_string();
    for child in &plan.applies {
        let kind = apply_child(w.client, child).await?;
        w.metrics.count_write(kind);
    }
    for deletion in &plan.deletes {
        match deletion {
            Deletion::ConfigMap(n) => {
                delete(
                    Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(
                        w.client.clone(),
                        w.namespace,
                    ),
                    n,
                )
                .await?
            }
            Deletion::Pdb(n) => {
                delete(
                    Api::<k8s_openapi::api::policy::v1::PodDisruptionBudget>::namespaced(
                        w.client.clone(),
                        w.namespace,
                    ),
                    n,
                )
                .await?
            }
        }
        w.metrics.count_write("delete");
    }
    let profiles: Api<SchedulerProfile> = Api::all(w.client.clone());
    let profile_err = |source| Error::Profile {
        name: name.clone(),
        source,
    };
    if let Some(value) = &plan.failed_annotation {
        let patch = json!({"metadata": {"annotations": {names::FAILED_HASH_ANNOTATION: value}}});
        profiles
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(profile_err)?;
        w.metrics.count_write("SchedulerProfile");
    }
    if let Some(status) = &plan.status {
        let body = json!({
            "apiVersion": SchedulerProfile::api_version(&()),
            "kind": SchedulerProfile::kind(&()),
            "status": status,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        profiles
            .patch_status(&name, &params, &Patch::Apply(&body))
            .await
            .map_err(profile_err)?;
        w.metrics.count_write("SchedulerProfile/status");
    }
    let reference = profile.object_ref(&());
    for notice in &plan.events {
        let event = Event {
            type_: if notice.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: notice.reason.clone(),
            note: Some(truncate(&notice.note, 1000)),
            action: notice.action.clone(),
            secondary: None,
        };
        match w.recorder.publish(&event, &reference).await {
            Ok(()) => w.metrics.count_write("Event"),
            Err(err) => {
                w.metrics.count_error("event");
                warn!(profile = %name, %err, reason = %notice.reason, "failed to publish event");
            }
        }
    }
    Ok(())
}

/// Events notes are limited to 1 kB.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
