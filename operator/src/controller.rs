//! The kube-runtime Controller over SchedulerProfiles and the watches that trigger it.
//!
//! Children are watched by the `app.kubernetes.io/managed-by` label and mapped to their
//! owning profile by hand: kube-runtime's `owns` would give a cluster-scoped owner the
//! child's namespace and never find it. Each child watch backs off on its own and its
//! errors are logged, not passed on: kube-runtime backs off the *merged* trigger stream
//! on any error, so after an API-server restart (every watch answering 410 Gone in turn)
//! all triggers stalled for minutes, and a Deployment's rollout went unseen. Which kinds
//! are watched, where, and how ([`Watch`]) is the kinds table's
//! ([`crate::children::kinds`]); the scheduler Leases, renewed every few seconds, trigger
//! a reconcile only when their fingerprint changes.

use std::collections::HashMap;
use std::sync::Arc;

use ferrosched_crds::SchedulerProfile;
use futures::{Stream, StreamExt, future};
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, Resource};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::children::kinds::{self, KindVisitor, Object, Slot, Watch};
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

/// One `()` per change of a watched object's `fingerprint`, or deletion (the trigger to
/// reconcile all profiles).
fn changes<K: Object>(
    api: Api<K>,
    wc: watcher::Config,
    fingerprint: fn(&K) -> u64,
) -> impl Stream<Item = ()> + Send {
    let kind = kinds::kind_of::<K>();
    let mut seen: HashMap<String, u64> = HashMap::new();
    watcher(api, wc).default_backoff().filter_map(move |event| {
        let fire = match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                let print = fingerprint(&o);
                let name = o.meta().name.clone().unwrap_or_default();
                seen.insert(name, print) != Some(print)
            }
            Ok(watcher::Event::Delete(o)) => {
                seen.remove(&o.meta().name.clone().unwrap_or_default());
                true
            }
            Ok(watcher::Event::Init | watcher::Event::InitDone) => false,
            Err(err) => {
                warn!(%kind, %err, "watch failed");
                false
            }
        };
        future::ready(fire.then_some(()))
    })
}

/// Adds every kind's watch of the table to the controller.
struct Watches<'a> {
    controller: Option<Controller<SchedulerProfile>>,
    client: &'a Client,
    namespace: &'a str,
    managed: &'a watcher::Config,
}

impl KindVisitor for Watches<'_> {
    type Output = ();
    fn visit<S: Slot>(&mut self) {
        let api = kinds::api::<S::K>(self.client, S::HOME.namespace(self.namespace));
        let wc = self.managed.clone();
        self.controller = self.controller.take().map(|c| match S::WATCH {
            Watch::Owner => c.watches_stream(children(api, wc), owner),
            Watch::AllOnChange(fingerprint) => c.reconcile_all_on(changes(api, wc, fingerprint)),
        });
    }
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
    let controller = controller.watches_stream(
        children(profiles, watcher::Config::default()),
        same_name(store),
    );
    let mut watches = Watches {
        controller: Some(controller),
        client: &client,
        namespace: &ns,
        managed: &managed,
    };
    kinds::each_kind(&mut watches);
    // Each visit puts the controller back.
    let Some(controller) = watches.controller else {
        return;
    };
    controller
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
