//! Server-side apply of one child, with a fallback for drift SSA cannot undo (I/O).
//!
//! Server-side apply merges keyed lists: an entry another field manager added or took over
//! (say, a Service port someone patched) survives our apply, or makes it invalid (two ports
//! named `https`). When the applied object still differs from the desired one, or the
//! apply is rejected as invalid, the desired object is written again as a JSON merge patch,
//! which replaces lists wholesale.

use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{info, warn};

use crate::diff;
use crate::error::Error;
use crate::identity::FIELD_MANAGER;

/// Applies a namespaced object in its namespace (only checks it, writing nothing, with
/// `dry_run`); returns the number of writes made.
pub async fn namespaced<K>(client: &Client, obj: &K, dry_run: bool) -> Result<usize, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    let ns = obj.meta().namespace.clone().unwrap_or_default();
    apply(Api::namespaced(client.clone(), &ns), obj, dry_run).await
}

/// Applies a cluster-scoped object (or, with `dry_run`, only checks it); returns the
/// number of writes made.
pub async fn cluster<K>(client: &Client, obj: &K, dry_run: bool) -> Result<usize, Error>
where
    K: Resource<DynamicType = (), Scope = ClusterResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + std::fmt::Debug,
{
    apply(Api::all(client.clone()), obj, dry_run).await
}

/// The static kind name of `K`.
pub fn kind_of<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()) {
        std::borrow::Cow::Borrowed(k) => k,
        std::borrow::Cow::Owned(_) => "object",
    }
}

async fn apply<K>(api: Api<K>, obj: &K, dry_run: bool) -> Result<usize, Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let kind = kind_of::<K>();
    let name = obj.meta().name.clone().unwrap_or_default();
    let err = |source| Error::Apply {
        kind,
        name: name.clone(),
        source,
    };
    let mut ssa = PatchParams::apply(FIELD_MANAGER).force();
    ssa.dry_run = dry_run;
    let mut refused = None;
    let applied = match api.patch(&name, &ssa, &Patch::Apply(obj)).await {
        Ok(applied) => Some(applied),
        Err(kube::Error::Api(s)) if s.code == 422 => {
            if !dry_run {
                warn!(kind, %name, reason = %s.message, "apply rejected; replacing the drifted fields");
            }
            refused = Some(s);
            None
        }
        Err(source) => return Err(err(source)),
    };
    if let Some(applied) = &applied
        && !diff::needs_apply(obj, Some(applied))
    {
        if !dry_run {
            info!(kind, %name, "applied");
        }
        return Ok(usize::from(!dry_run));
    }
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        dry_run,
        ..PatchParams::default()
    };
    let have = match &applied {
        Some(a) => serde_json::to_value(a).ok(),
        None => api
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .and_then(|o| serde_json::to_value(o).ok()),
    };
    // Refused with nothing there: no other manager's fields to blame, the object itself
    // is invalid.
    if let (None, Some(s)) = (&have, refused) {
        return Err(err(kube::Error::Api(s)));
    }
    // Desired fields, plus nulls removing keys others added to maps we own whole.
    let patch = match (serde_json::to_value(obj), have) {
        (Ok(want), Some(have)) => diff::merge_patch(&want, &have),
        (Ok(want), None) => want,
        (Err(_), _) => serde_json::Value::Object(Default::default()),
    };
    api.patch(&name, &params, &Patch::Merge(&patch))
        .await
        .map_err(err)?;
    if dry_run {
        return Ok(0);
    }
    info!(kind, %name, "applied, then replaced fields other managers held");
    Ok(1 + usize::from(applied.is_some()))
}
