//! Upstream's `VolumeBinding`: bound claims need their PV's node affinity to match;
//! WaitForFirstConsumer claims are matched to available PVs or provisioned on the node
//! (class `allowedTopologies`, CSI storage capacity); Reserve assumes the choice, PreBind
//! writes it (PV `claimRef`, claim `volume.kubernetes.io/selected-node`) and waits until
//! the PV controller has bound every claim. Score is StorageCapacityScoring (beta, on at
//! 1.37) over the profile's `shape`.

mod binder;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, PostParams};
use rustc_hash::FxHashMap;

use crate::cache::{NodeInfo, Snapshot};
use crate::config::PluginArgsSet;
use crate::framework::events::{
    ClusterEventWithHint, EventObjects, EventResource, QueueingHint, action,
};
use crate::framework::{
    BindContext, ClusterLister, Code, CycleState, FilterPlugin, Handle, Plugin, PreBindPlugin,
    PreFilterPlugin, PreFilterResult, PreScorePlugin, ReservePlugin, ScorePlugin, Status,
};
use crate::model::{PodInfo, SlimNode};
use crate::plugins::node_resources::resource_allocation::broken_linear;
use crate::plugins::volume_binding::binder::{
    AssumeCache, ERR_REASON_UNBOUND_IMMEDIATE, PodClaims, PodVolumes, assume_pod_volumes,
    bindings_done, find_pod_volumes, pod_claims, pod_has_claims,
};
use crate::plugins::volume_util::{claim_class, claim_name, claim_request, volume_capacity};

/// Registered name.
pub const NAME: &str = "VolumeBinding";

/// How often PreBind looks at the listers while the PV controller binds.
const BIND_POLL: Duration = Duration::from_millis(100);

/// Upstream's `VolumeBinding`.
pub struct VolumeBinding {
    lister: Arc<dyn ClusterLister>,
    cache: Arc<AssumeCache>,
    /// Utilization → score (0..=100) points.
    shape: Vec<(i64, i64)>,
    bind_timeout: Duration,
}

/// Factory.
pub fn new(args: &PluginArgsSet, handle: &Handle) -> Result<Arc<dyn Plugin>, String> {
    let a = &args.volume_binding;
    Ok(Arc::new(VolumeBinding {
        lister: handle.lister.clone(),
        cache: Arc::new(AssumeCache::default()),
        shape: a
            .shape
            .iter()
            .map(|p| (i64::from(p.utilization), i64::from(p.score) * 10))
            .collect(),
        bind_timeout: Duration::from_secs(a.bind_timeout_seconds),
    }))
}

/// What each feasible node offers, with the node (PreBind checks its labels).
type ByNode = FxHashMap<String, (PodVolumes, Arc<SlimNode>)>;

#[derive(Clone, Default)]
struct State {
    claims: Option<Arc<PodClaims>>,
    by_node: Arc<Mutex<ByNode>>,
    has_static: Arc<AtomicBool>,
    chosen: Option<Arc<(PodVolumes, Arc<SlimNode>)>>,
}

impl State {
    fn for_node(&self, node: &str) -> Option<(PodVolumes, Arc<SlimNode>)> {
        self.by_node
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .cloned()
    }
}

/// Whether a changed claim is one the pod uses (upstream's PVC hint, shared by the
/// volume plugins).
pub fn claim_hint(pod: &PodInfo, objects: EventObjects<'_>) -> QueueingHint {
    let EventObjects::Claim { new: Some(pvc), .. } = objects else {
        return QueueingHint::Queue;
    };
    if pvc.metadata.namespace.as_deref() != Some(pod.namespace()) {
        return QueueingHint::Skip;
    }
    let used = pod.volumes().iter().any(|v| {
        claim_name(pod.name(), v)
            .is_some_and(|(n, _)| Some(n.as_str()) == pvc.metadata.name.as_deref())
    });
    if used {
        QueueingHint::Queue
    } else {
        QueueingHint::Skip
    }
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events_to_register(&self) -> Vec<ClusterEventWithHint> {
        vec![
            ClusterEventWithHint::new(EventResource::StorageClass, action::ADD | action::UPDATE),
            ClusterEventWithHint::with_hint(
                EventResource::PersistentVolumeClaim,
                action::ADD | action::UPDATE,
                claim_hint,
            ),
            ClusterEventWithHint::new(
                EventResource::PersistentVolume,
                action::ADD | action::UPDATE,
            ),
            ClusterEventWithHint::new(EventResource::Node, action::ADD | action::UPDATE_NODE_LABEL),
            ClusterEventWithHint::new(EventResource::CsiNode, action::ADD | action::UPDATE),
            ClusterEventWithHint::new(EventResource::CsiDriver, action::UPDATE),
            ClusterEventWithHint::new(
                EventResource::CsiStorageCapacity,
                action::ADD | action::UPDATE,
            ),
        ]
    }
    crate::serves!(pre_filter, filter, pre_score, score, reserve, pre_bind);
}

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        match pod_has_claims(&self.cache, &*self.lister, pod.pod()) {
            Err(m) => return (None, Status::unresolvable(m)),
            Ok(false) => return (None, Status::skip()),
            Ok(true) => {}
        }
        let claims = match pod_claims(&self.cache, &*self.lister, pod.pod()) {
            Ok(c) => c,
            Err(e) => return (None, Status::error(e)),
        };
        if !claims.immediate.is_empty() {
            return (None, Status::unresolvable(ERR_REASON_UNBOUND_IMMEDIATE));
        }
        state.insert(State {
            claims: Some(Arc::new(claims)),
            ..Default::default()
        });
        (None, Status::success())
    }
}

impl FilterPlugin for VolumeBinding {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(st) = state.get::<State>() else {
            return Status::error("reading VolumeBinding's PreFilter state: not found");
        };
        let (Some(claims), Some(n)) = (&st.claims, &node.node) else {
            return Status::success();
        };
        match find_pod_volumes(&self.cache, &*self.lister, claims, n) {
            Err(e) => Status::error(e),
            Ok((_, reasons)) if !reasons.is_empty() => {
                Status::with_reasons(Code::UnschedulableAndUnresolvable, reasons)
            }
            Ok((pv, _)) => {
                if !pv.static_bindings.is_empty() {
                    st.has_static.store(true, Ordering::Relaxed);
                }
                st.by_node
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(node.name.to_string(), (pv, n.clone()));
                Status::success()
            }
        }
    }
}

impl PreScorePlugin for VolumeBinding {
    fn pre_score(
        &self,
        state: &mut CycleState,
        _: &PodInfo,
        _: &Snapshot,
        _: &[&NodeInfo],
    ) -> Status {
        // StorageCapacityScoring is on: every pod with claims is scored.
        match state.get::<State>() {
            Some(st) if st.claims.is_some() => Status::success(),
            _ => Status::skip(),
        }
    }
}

/// Upstream's volume capacity scorer: each class's utilization through the shape,
/// averaged over the classes and rounded.
pub fn capacity_score(shape: &[(i64, i64)], classes: &FxHashMap<String, (i64, i64)>) -> i64 {
    if classes.is_empty() {
        return 0;
    }
    let total: i64 = classes
        .values()
        .map(|&(requested, capacity)| {
            if capacity == 0 || requested > capacity {
                broken_linear(shape, 100)
            } else {
                broken_linear(shape, requested * 100 / capacity)
            }
        })
        .sum();
    (total as f64 / classes.len() as f64).round() as i64
}

impl ScorePlugin for VolumeBinding {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let Some((pv, _)) = state.get::<State>().and_then(|s| s.for_node(&node.name)) else {
            return Ok(0);
        };
        let mut classes: FxHashMap<String, (i64, i64)> = FxHashMap::default();
        if !pv.static_bindings.is_empty() {
            for (v, c) in &pv.static_bindings {
                let class = crate::plugins::volume_util::volume_class(v).to_string();
                let e = classes.entry(class).or_default();
                e.0 += claim_request(c).unwrap_or(0);
                e.1 += volume_capacity(v);
            }
        } else {
            for (c, cap) in &pv.provisions {
                let Some(cap) = cap else { continue };
                let e = classes.entry(claim_class(c).to_string()).or_default();
                e.1 = cap
                    .capacity
                    .as_ref()
                    .map_or(0, crate::plugins::volume_util::quantity);
                e.0 += claim_request(c).unwrap_or(0);
            }
        }
        Ok(capacity_score(&self.shape, &classes))
    }
}

impl ReservePlugin for VolumeBinding {
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status {
        let Some(st) = state.get_mut::<State>() else {
            return Status::success();
        };
        let Some((chosen, n)) = st.for_node(node) else {
            return Status::success();
        };
        st.chosen = assume_pod_volumes(&self.cache, &*self.lister, pod.pod(), node, &chosen)
            .map(|pv| Arc::new((pv, n)));
        Status::success()
    }
    fn unreserve(&self, state: &mut CycleState, _: &PodInfo, _: &str) {
        if let Some(chosen) = state.get_mut::<State>().and_then(|s| s.chosen.take()) {
            self.cache.revert(&chosen.0);
        }
    }
}

impl VolumeBinding {
    /// Writes the choices (PV claimRefs, selected-node annotations), returning them as
    /// the API server stored them.
    async fn write(
        &self,
        client: &kube::Client,
        chosen: &PodVolumes,
    ) -> Result<PodVolumes, String> {
        let pp = PostParams::default();
        let mut out = PodVolumes::default();
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        for (pv, pvc) in &chosen.static_bindings {
            let name = pv.metadata.name.as_deref().unwrap_or("");
            let stored = pvs
                .replace(name, &pp, pv)
                .await
                .map_err(|e| format!("binding volumes: updating pv \"{name}\": {e}"))?;
            out.static_bindings.push((Arc::new(stored), pvc.clone()));
        }
        for (pvc, cap) in &chosen.provisions {
            let ns = pvc.metadata.namespace.as_deref().unwrap_or("");
            let name = pvc.metadata.name.as_deref().unwrap_or("");
            let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
            let stored = api
                .replace(name, &pp, pvc)
                .await
                .map_err(|e| format!("binding volumes: updating pvc \"{ns}/{name}\": {e}"))?;
            out.provisions.push((Arc::new(stored), cap.clone()));
        }
        Ok(out)
    }
}

impl PreBindPlugin for VolumeBinding {
    fn pre_bind<'a>(
        &'a self,
        ctx: &'a BindContext,
        state: &'a CycleState,
        _: &'a PodInfo,
        _: &'a str,
    ) -> BoxFuture<'a, Status> {
        Box::pin(async move {
            let Some(chosen) = state.get::<State>().and_then(|s| s.chosen.clone()) else {
                return Status::success();
            };
            let Some(client) = &ctx.client else {
                return Status::error("binding volumes: no API client");
            };
            let (ref pv, ref node) = *chosen;
            let written = match self.write(client, pv).await {
                Ok(w) => w,
                Err(e) => return Status::error(e),
            };
            let deadline = ferrosched_runtime::deadline::after(Instant::now(), self.bind_timeout);
            loop {
                match bindings_done(&*self.lister, node, &written) {
                    Ok(true) => return Status::success(),
                    Err(e) => return Status::error(format!("binding volumes: {e}")),
                    Ok(false) if Instant::now() >= deadline => {
                        return Status::error("binding volumes: context deadline exceeded");
                    }
                    Ok(false) => tokio::time::sleep(BIND_POLL).await,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
