//! Reading what exists of a profile's children (I/O): every kind of the table
//! ([`crate::children::kinds`]) as its [`Lookup`] says, and which grant roles exist.

use futures::future::try_join_all;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::Client;
use kube::api::{Api, ListParams};

use crate::children::kinds::{self, Found, Lookup, Object, Reader, Slot};
use crate::children::{self, Existing};
use crate::error::Error;
use crate::settings::Settings;
use crate::snapshot::Snapshot;

async fn get<K: Object>(api: Api<K>, name: String) -> Result<Option<K>, Error> {
    api.get_opt(&name).await.map_err(|source| Error::Read {
        kind: kinds::kind_of::<K>(),
        name,
        source,
    })
}

/// Reads the kinds of profile `p`.
struct Children<'a> {
    client: &'a Client,
    settings: &'a Settings,
    p: &'a str,
}

impl Reader for Children<'_> {
    async fn read<S: Slot>(&self) -> Result<S::Existing, Error> {
        let ns = S::HOME.namespace(&self.settings.namespace);
        let api = || kinds::api::<S::K>(self.client, ns);
        let found = match S::lookup(self.p) {
            Lookup::Named(names) => try_join_all(names.into_iter().map(|n| get(api(), n)))
                .await?
                .into_iter()
                .flatten()
                .collect(),
            Lookup::Labelled(selector) => api()
                .list(&ListParams::default().labels(&selector))
                .await
                .map(|l| l.items)
                .map_err(|source| Error::Read {
                    kind: kinds::kind_of::<S::K>(),
                    name: selector,
                    source,
                })?,
        };
        Ok(S::Existing::from_found(found))
    }
}

/// Reads every child of profile `p`, and which grant roles exist.
pub async fn snapshot(client: &Client, s: &Settings, p: &str) -> Result<Snapshot, Error> {
    let roles = try_join_all(children::grant_groups().iter().map(|g| {
        let name = children::grant_role_name(&s.grant_role_prefix, &g.name());
        let api = Api::<ClusterRole>::all(client.clone());
        async move { get(api, name.clone()).await.map(|r| r.map(|_| name)) }
    }));
    let reader = Children {
        client,
        settings: s,
        p,
    };
    let (children, grant_roles) = tokio::try_join!(Existing::read(&reader), roles)?;
    Ok(Snapshot {
        children,
        grant_roles: grant_roles.into_iter().flatten().collect(),
    })
}
