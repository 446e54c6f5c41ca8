//! The kube-runtime Controller over SchedulerProfiles and the watches that trigger it.
//!
//! Children are watched by the `app.kubernetes.io/managed-by` label and mapped to their
//! owning profile by hand: kube-runtime's `owns` would give a cluster-scoped owner the
//! child's namespace and never find it. Each child watch backs off on its own and its
//! errors are logged, not passed on: kube-runtime backs off the *merged* trigger stream
//! on any error, so after an API-server restart (every watch answering 410 Gone in turn)
//! all triggers stalled for minutes, and a Deployment's rollout went unseen. The scheduler Leases are renewed every few
//! seconds, so only a change of holder, transitions, labels or owners (or a deletion)
//! triggers a reconcile.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use ferrosched_crds::SchedulerProfile;
use futures::{Stream, StreamExt, future};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding};
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, Resource};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::identity;
use crate::reconcile::{Context, error_policy, reconcile};

fn owner<K: Resource>(obj: K) -> Option<ObjectRef<SchedulerProfile>> {
    identity::owning_profile(obj.meta()).map(|n| ObjectRef::new(&n))
}

/// The other profiles claiming the same scheduler name: a change to one may free or
/// take the name for the others.
fn same_name(
    store: Store<SchedulerProfile>,
) -> impl Fn(SchedulerProfile) -> Vec<ObjectRef<SchedulerProfile>> {
    move |changed| {
        let wanted = identity::scheduler_name(&changed);
        let me = identity::profile_name(&changed).to_string();
        store
            .state()
            .iter()
            .filter(|p| identity::profile_name(p) != me && identity::scheduler_name(p) == wanted)
            .map(|p| ObjectRef::from_obj(p.as_ref()))
            .collect()
    }
}

/// The objects `api` touches, each watch with its own backoff; errors are logged and
/// dropped (the watch retries by itself), so one failing watch never stalls the others.
fn children<K>(
    api: Api<K>,
    wc: watcher::Config,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    watcher(api, wc)
        .default_backoff()
        .touched_objects()
        .filter_map(move |r| {
            future::ready(match r {
                Ok(obj) => Some(Ok(obj)),
                Err(err) => {
                    warn!(%kind, %err, "watch failed; retrying");
                    None
                }
            })
        })
}

/// What of a Lease the status and drift correction care about.
fn lease_fingerprint(lease: &Lease) -> u64 {
    let mut h = DefaultHasher::new();
    let spec = lease.spec.as_ref();
    spec.and_then(|s| s.holder_identity.clone()).hash(&mut h);
    spec.and_then(|s| s.lease_transitions).hash(&mut h);
    lease.metadata.labels.hash(&mut h);
    serde_json::to_string(&lease.metadata.owner_references)
        .unwrap_or_default()
        .hash(&mut h);
    h.finish()
}

/// One `()` per meaningful change of a managed Lease (the trigger to reconcile all profiles).
fn lease_changes(api: Api<Lease>, wc: watcher::Config) -> impl Stream<Item = ()> + Send {
    let mut seen: HashMap<String, u64> = HashMap::new();
    watcher(api, wc).default_backoff().filter_map(move |event| {
        let fire = match event {
            Ok(watcher::Event::Apply(l) | watcher::Event::InitApply(l)) => {
                let print = lease_fingerprint(&l);
                let name = l.metadata.name.unwrap_or_default();
                seen.insert(name, print) != Some(print)
            }
            Ok(watcher::Event::Delete(l)) => {
                seen.remove(&l.metadata.name.unwrap_or_default());
                true
            }
            Ok(watcher::Event::Init | watcher::Event::InitDone) => false,
            Err(err) => {
                warn!(%err, "lease watch failed");
                false
            }
        };
        future::ready(fire.then_some(()))
    })
}

/// Runs the controller until `shutdown` fires, then finishes in-flight reconciles.
pub async fn run(
    client: Client,
    build_ctx: impl FnOnce(Store<SchedulerProfile>) -> Context,
    shutdown: CancellationToken,
) {
    let profiles: Api<SchedulerProfile> = Api::all(client.clone());
    let controller = Controller::new(profiles.clone(), watcher::Config::default().any_semantic());
    let store = controller.store();
    let ctx = Arc::new(build_ctx(store.clone()));
    ctx.metrics.watch_profiles(store.clone());
    let ns = ctx.settings.namespace.clone();
    let managed = watcher::Config::default().labels(&identity::managed_selector());
    let c = &client;
    let w = |wc: &watcher::Config| wc.clone();
    controller
        .watches_stream(
            children(Api::<Deployment>::namespaced(c.clone(), &ns), w(&managed)),
            owner,
        )
        .watches_stream(
            children(Api::<ConfigMap>::namespaced(c.clone(), &ns), w(&managed)),
            owner,
        )
        .watches_stream(
            children(Api::<Service>::namespaced(c.clone(), &ns), w(&managed)),
            owner,
        )
        .watches_stream(
            children(
                Api::<ServiceAccount>::namespaced(c.clone(), &ns),
                w(&managed),
            ),
            owner,
        )
        .watches_stream(
            children(
                Api::<PodDisruptionBudget>::namespaced(c.clone(), &ns),
                w(&managed),
            ),
            owner,
        )
        .watches_stream(
            children(Api::<Role>::namespaced(c.clone(), &ns), w(&managed)),
            owner,
        )
        .watches_stream(
            children(Api::<RoleBinding>::namespaced(c.clone(), &ns), w(&managed)),
            owner,
        )
        .watches_stream(
            children(
                Api::<RoleBinding>::namespaced(c.clone(), identity::KUBE_SYSTEM),
                w(&managed),
            ),
            owner,
        )
        .watches_stream(
            children(Api::<ClusterRoleBinding>::all(c.clone()), w(&managed)),
            owner,
        )
        .watches_stream(
            children(profiles, watcher::Config::default()),
            same_name(store),
        )
        .reconcile_all_on(lease_changes(Api::namespaced(c.clone(), &ns), managed))
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            match result {
                Ok((obj, _)) => tracing::debug!(profile = %obj.name, "reconciled"),
                // Reconcile errors were logged by the error policy already.
                Err(kube::runtime::controller::Error::ReconcilerFailed(..)) => {}
                Err(err) => warn!(%err, "controller error"),
            }
            future::ready(())
        })
        .await;
    info!("controller stopped");
}
