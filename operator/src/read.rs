//! Reading what exists of a profile's children (I/O).

use futures::future::try_join_all;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};

use crate::children::{self, Settings};
use kube::api::{Api, ListParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::identity;
use crate::plan::Snapshot;

async fn get<K>(api: Api<K>, name: String) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(&name).await.map_err(|source| Error::Read {
        kind: kind::<K>(),
        name,
        source,
    })
}

fn kind<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()) {
        std::borrow::Cow::Borrowed(k) => k,
        std::borrow::Cow::Owned(_) => "object",
    }
}

/// Reads every child of profile `p`, and which grant roles exist.
pub async fn snapshot(client: &Client, s: &Settings, p: &str) -> Result<Snapshot, Error> {
    let ns = s.namespace.as_str();
    let child = identity::child_name(p);
    let c = client;
    let groups: Vec<String> = children::grant_groups().iter().map(|g| g.name()).collect();
    let bindings = try_join_all(groups.iter().map(|g| {
        get(
            Api::<ClusterRoleBinding>::all(c.clone()),
            identity::grant_binding_name(p, g),
        )
    }));
    let roles = try_join_all(groups.iter().map(|g| {
        let name = children::grant_role_name(&s.grant_role_prefix, g);
        let api = Api::<ClusterRole>::all(c.clone());
        async move { get(api, name.clone()).await.map(|r| r.map(|_| name)) }
    }));
    let selector = identity::config_maps_selector(p);
    let config_maps = async {
        let api: Api<ConfigMap> = Api::namespaced(c.clone(), ns);
        api.list(&ListParams::default().labels(&selector))
            .await
            .map(|l| l.items)
            .map_err(|source| Error::Read {
                kind: "ConfigMap",
                name: selector.clone(),
                source,
            })
    };
    let (service_account, cluster_role_bindings, grant_roles, lease_role, lease_role_binding) = tokio::try_join!(
        get(
            Api::<ServiceAccount>::namespaced(c.clone(), ns),
            child.clone()
        ),
        bindings,
        roles,
        get(Api::<Role>::namespaced(c.clone(), ns), child.clone()),
        get(Api::<RoleBinding>::namespaced(c.clone(), ns), child.clone()),
    )?;
    let (auth_reader_binding, lease, config_maps, deployment, service, pdb) = tokio::try_join!(
        get(
            Api::<RoleBinding>::namespaced(c.clone(), identity::KUBE_SYSTEM),
            identity::auth_reader_binding_name(p)
        ),
        get(Api::<Lease>::namespaced(c.clone(), ns), child.clone()),
        config_maps,
        get(Api::<Deployment>::namespaced(c.clone(), ns), child.clone()),
        get(Api::<Service>::namespaced(c.clone(), ns), child.clone()),
        get(Api::<PodDisruptionBudget>::namespaced(c.clone(), ns), child),
    )?;
    Ok(Snapshot {
        service_account,
        cluster_role_bindings: cluster_role_bindings.into_iter().flatten().collect(),
        grant_roles: grant_roles.into_iter().flatten().collect(),
        lease_role,
        lease_role_binding,
        auth_reader_binding,
        lease,
        config_maps,
        deployment,
        service,
        pdb,
    })
}
