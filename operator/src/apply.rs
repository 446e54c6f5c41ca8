//! Carrying out a [`Plan`] (I/O): server-side apply under one field manager, deletes,
//! the profile's annotation and status, Events.

use ferrosched_crds::SchedulerProfile;
use futures::FutureExt;
use futures::future::BoxFuture;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::events::Recorder;
use kube::{Client, Resource};
use serde_json::json;
use tracing::info;

use crate::children::kinds::{self, ChildVisitor, KindVisitor, Object, Slot};
use crate::error::Error;
use crate::events;
use crate::identity::{self, FIELD_MANAGER};
use crate::metrics::Metrics;
use crate::plan::{Child, Plan};
use crate::ssa;
use crate::validate::Invalid;

/// Applies one child (only checks it with `dry`), returning its kind and the writes made.
struct Apply<'a> {
    client: &'a Client,
    dry: bool,
}

impl<'a> ChildVisitor<'a> for Apply<'a> {
    type Output = (&'static str, BoxFuture<'a, Result<usize, Error>>);
    fn visit<S: Slot>(self, obj: &'a S::K) -> Self::Output {
        (
            kinds::kind_of::<S::K>(),
            ssa::apply(self.client, obj, self.dry).boxed(),
        )
    }
}

async fn apply_child(
    client: &Client,
    child: &Child,
    dry: bool,
) -> Result<(&'static str, usize), Error> {
    let (kind, writes) = child.visit(Apply { client, dry });
    Ok((kind, writes.await?))
}

/// Applies every child with `dryRun=All` (the API server validates and admits each, and
/// stores nothing), before any real write. The first child the API server refuses as
/// invalid (400, 422) is returned with its message; other failures are errors to retry.
/// A 404 (a binding's role deleted since the snapshot showed it) is skipped: the real
/// apply decides, and the next reconcile reports the missing role.
pub async fn dry_run(client: &Client, applies: &[Child]) -> Result<Option<Invalid>, Error> {
    for child in applies {
        match apply_child(client, child, true).await {
            Ok(_) => {}
            Err(Error::Apply {
                kind,
                name,
                source: kube::Error::Api(s),
            }) if s.code == 400 || s.code == 422 => {
                return Ok(Some(Invalid::Rejected {
                    kind: kind.to_string(),
                    name,
                    message: s.message,
                }));
            }
            Err(Error::Apply {
                source: kube::Error::Api(s),
                ..
            }) if s.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Deletes one object of a kind in its home; a missing one is no error.
struct Delete<'a> {
    client: &'a Client,
    namespace: &'a str,
    name: &'a str,
}

impl<'a> KindVisitor for Delete<'a> {
    type Output = BoxFuture<'a, Result<(), Error>>;
    fn visit<S: Slot>(&mut self) -> Self::Output {
        let api = kinds::api::<S::K>(self.client, S::HOME.namespace(self.namespace));
        delete(api, self.name).boxed()
    }
}

async fn delete<K: Object>(api: Api<K>, name: &str) -> Result<(), Error> {
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {
            info!(kind = kinds::kind_of::<K>(), %name, "deleted");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(source) => Err(Error::Delete {
            kind: kinds::kind_of::<K>(),
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
    let name = identity::profile_name(profile).to_string();
    for child in &plan.applies {
        let (kind, writes) = apply_child(w.client, child, false).await?;
        for _ in 0..writes {
            w.metrics.count_write(kind);
        }
    }
    for deletion in &plan.deletes {
        let mut delete = Delete {
            client: w.client,
            namespace: w.namespace,
            name: deletion.name(),
        };
        deletion.visit(&mut delete).await?;
        w.metrics.count_write("delete");
    }
    let profiles: Api<SchedulerProfile> = Api::all(w.client.clone());
    let profile_err = |source| Error::Profile {
        name: name.clone(),
        source,
    };
    if let Some(Some(_)) = &plan.failed_annotation {
        w.metrics.count_rollback(&name);
    }
    if let Some(value) = &plan.failed_annotation {
        let patch = json!({"metadata": {"annotations": {identity::FAILED_HASH_ANNOTATION: value}}});
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
    events::publish(w.recorder, w.metrics, profile, &plan.events).await;
    Ok(())
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
