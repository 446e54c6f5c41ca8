//! Server-side apply of one child, with a fallback for drift SSA cannot undo (I/O).
//!
//! Server-side apply merges keyed lists: an entry another field manager added or took over
//! (say, a Service port someone patched) survives our apply, or makes it invalid (two ports
//! named `https`). When the applied object still differs from the desired one, or the
//! apply is rejected as invalid, the desired object is written again as a JSON merge patch,
//! which replaces lists wholesale.

use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use tracing::{info, warn};

use crate::children::kinds::{self, Object};
use crate::diff;
use crate::error::Error;
use crate::identity::FIELD_MANAGER;

/// Applies `obj` in its namespace (none for a cluster-scoped one), or with `dry_run`
/// only checks it, writing nothing; returns the number of writes made.
pub async fn apply<K: Object>(client: &Client, obj: &K, dry_run: bool) -> Result<usize, Error> {
    let ns = obj.meta().namespace.clone().unwrap_or_default();
    apply_to(kinds::api(client, &ns), obj, dry_run).await
}

async fn apply_to<K: Object>(api: Api<K>, obj: &K, dry_run: bool) -> Result<usize, Error> {
    let kind = kinds::kind_of::<K>();
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
