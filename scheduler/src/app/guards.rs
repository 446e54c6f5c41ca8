//! Stand-ins for default plugins this build does not implement yet. They run at every
//! point the plugin table gives them, do nothing for ordinary pods, and keep pods that use
//! the missing feature pending with a clear message: such a pod is never placed as if the
//! field were absent. The plugins module's own implementation wins whenever it exists.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::cache::{NodeInfo, Snapshot};
use crate::framework::*;
use crate::model::PodInfo;

/// What a guard refuses.
#[derive(Clone, Copy)]
enum Feature {
    /// Nothing: a no-op stand-in.
    None,
    /// `spec.resourceClaims` (DynamicResources).
    ResourceClaims,
    /// PVC-backed or generic ephemeral volumes (VolumeBinding).
    ClaimVolumes,
}

struct Guard {
    name: &'static str,
    feature: Feature,
}

fn uses(feature: Feature, pod: &PodInfo) -> Option<&'static str> {
    let spec = pod.pod.spec.as_ref()?;
    match feature {
        Feature::None => None,
        Feature::ResourceClaims => spec
            .resource_claims
            .as_ref()
            .is_some_and(|c| !c.is_empty())
            .then_some("pod uses resourceClaims, which this scheduler does not support yet"),
        Feature::ClaimVolumes => spec
            .volumes
            .iter()
            .flatten()
            .any(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some())
            .then_some(
                "pod uses persistentVolumeClaim volumes, which this scheduler does not support yet",
            ),
    }
}

impl Plugin for Guard {
    fn name(&self) -> &'static str {
        self.name
    }
    fn as_pre_enqueue(&self) -> Option<&dyn PreEnqueuePlugin> {
        Some(self)
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilterPlugin> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
    fn as_reserve(&self) -> Option<&dyn ReservePlugin> {
        Some(self)
    }
    fn as_permit(&self) -> Option<&dyn PermitPlugin> {
        Some(self)
    }
    fn as_pre_bind(&self) -> Option<&dyn PreBindPlugin> {
        Some(self)
    }
    fn as_bind(&self) -> Option<&dyn BindPlugin> {
        Some(self)
    }
    fn as_post_bind(&self) -> Option<&dyn PostBindPlugin> {
        Some(self)
    }
}

impl PreEnqueuePlugin for Guard {
    fn pre_enqueue(&self, _: &PodInfo) -> Status {
        Status::success()
    }
}
impl PreFilterPlugin for Guard {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        match uses(self.feature, pod) {
            Some(msg) => (None, Status::unresolvable(msg)),
            None => (None, Status::skip()),
        }
    }
}
impl FilterPlugin for Guard {
    fn filter(&self, _: &CycleState, _: &PodInfo, _: &NodeInfo) -> Status {
        Status::success()
    }
}
impl PostFilterPlugin for Guard {
    fn post_filter(
        &self,
        _: &CycleState,
        _: &PodInfo,
        _: &PostFilterContext<'_>,
    ) -> (Option<PostFilterResult>, Status) {
        (None, Status::new(Code::Unschedulable, ""))
    }
}
impl PreScorePlugin for Guard {
    fn pre_score(&self, _: &mut CycleState, _: &PodInfo, _: &[Arc<NodeInfo>]) -> Status {
        Status::skip()
    }
}
impl ScorePlugin for Guard {
    fn score(&self, _: &CycleState, _: &PodInfo, _: &NodeInfo) -> Result<i64, Status> {
        Ok(0)
    }
}
impl ReservePlugin for Guard {
    fn reserve(&self, _: &mut CycleState, _: &PodInfo, _: &str) -> Status {
        Status::success()
    }
    fn unreserve(&self, _: &mut CycleState, _: &PodInfo, _: &str) {}
}
impl PermitPlugin for Guard {
    fn permit(&self, _: &mut CycleState, _: &PodInfo, _: &str) -> (Status, Duration) {
        (Status::success(), Duration::ZERO)
    }
}
impl PreBindPlugin for Guard {
    fn pre_bind<'a>(
        &'a self,
        _: &'a BindContext,
        _: &'a CycleState,
        _: &'a PodInfo,
        _: &'a str,
    ) -> BoxFuture<'a, Status> {
        Box::pin(async { Status::success() })
    }
}
impl BindPlugin for Guard {
    fn bind<'a>(
        &'a self,
        _: &'a BindContext,
        _: &'a CycleState,
        _: &'a PodInfo,
        _: &'a str,
    ) -> BoxFuture<'a, Status> {
        Box::pin(async { Status::skip() })
    }
}
impl PostBindPlugin for Guard {
    fn post_bind(&self, _: &CycleState, _: &PodInfo, _: &str) {}
}

macro_rules! guard_factory {
    ($fn:ident, $name:literal, $feature:expr) => {
        fn $fn(_: &crate::config::PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
            Ok(Arc::new(Guard {
                name: $name,
                feature: $feature,
            }))
        }
    };
}

guard_factory!(
    dynamic_resources,
    "DynamicResources",
    Feature::ResourceClaims
);
guard_factory!(volume_binding, "VolumeBinding", Feature::ClaimVolumes);
guard_factory!(volume_restrictions, "VolumeRestrictions", Feature::None);
guard_factory!(node_volume_limits, "NodeVolumeLimits", Feature::None);
guard_factory!(volume_zone, "VolumeZone", Feature::None);
guard_factory!(
    node_declared_features,
    "NodeDeclaredFeatures",
    Feature::None
);
guard_factory!(default_preemption, "DefaultPreemption", Feature::None);

/// The plugins module's registry, completed with guards for defaults it lacks.
pub fn registry_with_guards() -> Registry {
    let mut r = crate::plugins::registry();
    let fallbacks: [(&'static str, Factory); 7] = [
        ("DynamicResources", dynamic_resources),
        ("VolumeBinding", volume_binding),
        ("VolumeRestrictions", volume_restrictions),
        ("NodeVolumeLimits", node_volume_limits),
        ("VolumeZone", volume_zone),
        ("NodeDeclaredFeatures", node_declared_features),
        ("DefaultPreemption", default_preemption),
    ];
    for (name, factory) in fallbacks {
        if r.get(name).is_none() {
            r.register(name, factory);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_instantiates_with_guards() {
        let cfg = crate::config::parse(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n",
        )
        .expect("defaults");
        let fw = Framework::new(
            &cfg.profiles[0],
            &registry_with_guards(),
            &Handle::offline(),
        );
        assert!(fw.is_ok(), "{:?}", fw.err());
    }

    #[test]
    fn claim_volumes_are_refused_not_ignored() {
        let pod: k8s_openapi::api::core::v1::Pod = serde_saphyr::from_str(
            "metadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n  volumes: [{name: v, persistentVolumeClaim: {claimName: data}}]\n",
        )
        .expect("pod");
        let info = PodInfo::new(Arc::new(pod));
        let g = Guard {
            name: "VolumeBinding",
            feature: Feature::ClaimVolumes,
        };
        let (_, s) = g.pre_filter(&mut CycleState::default(), &info, &Snapshot::default());
        assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(
            s.message(),
            "pod uses persistentVolumeClaim volumes, which this scheduler does not support yet"
        );
    }
}
