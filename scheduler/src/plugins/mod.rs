//! Upstream's in-tree plugins and Ferrosched's own, registered by name.
//!
//! Each plugin lives in its own module and exposes `NAME` and a `new` factory;
//! [`registry`] maps the names to the factories.

mod count_cache;
pub mod default_binder;
pub mod default_preemption;
pub mod dynamic_resources;
pub mod helpers;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_declared_features;
pub mod node_name;
pub mod node_ports;
pub mod node_resources;
pub mod node_unschedulable;
pub mod node_volume_limits;
#[cfg(test)]
mod perf_tests;
pub mod pod_capacity;
pub mod pod_topology_spread;
pub mod queue_sort;
pub mod scheduling_gates;
pub mod taint_toleration;
pub mod volume_binding;
pub mod volume_restrictions;
pub mod volume_util;
pub mod volume_zone;

use crate::framework::Registry;

/// Every plugin this scheduler implements.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(queue_sort::NAME, queue_sort::new)
        .register(scheduling_gates::NAME, scheduling_gates::new)
        .register(node_name::NAME, node_name::new)
        .register(node_unschedulable::NAME, node_unschedulable::new)
        .register(taint_toleration::NAME, taint_toleration::new)
        .register(node_affinity::NAME, node_affinity::new)
        .register(node_ports::NAME, node_ports::new)
        .register(node_resources::fit::NAME, node_resources::fit::new)
        .register(
            node_resources::balanced_allocation::NAME,
            node_resources::balanced_allocation::new,
        )
        .register(image_locality::NAME, image_locality::new)
        .register(pod_capacity::NAME, pod_capacity::new)
        .register(default_binder::NAME, default_binder::new)
        .register(pod_topology_spread::NAME, pod_topology_spread::new)
        .register(inter_pod_affinity::NAME, inter_pod_affinity::new)
        .register(volume_restrictions::NAME, volume_restrictions::new)
        .register(node_volume_limits::NAME, node_volume_limits::new)
        .register(volume_binding::NAME, volume_binding::new)
        .register(volume_zone::NAME, volume_zone::new)
        .register(dynamic_resources::NAME, dynamic_resources::new)
        .register(node_declared_features::NAME, node_declared_features::new)
        .register(default_preemption::NAME, default_preemption::new);
    r
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{ExtensionPoint, PLUGINS};
    use crate::framework::{Framework, Handle};

    /// The default profile of a configuration that says nothing.
    /// The default profile, instantiated from this registry.
    pub(crate) fn default_framework() -> Framework {
        let cfg = crate::config::parse(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n",
        )
        .expect("default config parses");
        Framework::new(&cfg.profiles[0], &registry(), &Handle::offline())
            .expect("default profile instantiates")
    }

    #[test]
    fn every_known_plugin_is_registered_with_its_points() {
        let r = registry();
        let handle = Handle::offline();
        let args = crate::config::PluginArgsSet::default();
        for info in PLUGINS {
            let factory = r
                .get(info.name)
                .unwrap_or_else(|| panic!("{} is not registered", info.name));
            let p = factory(&args, &handle).unwrap();
            assert_eq!(p.name(), info.name);
            for point in ExtensionPoint::ALL {
                let has = crate::framework::implements(p.as_ref(), point);
                // ImageLocality's PreScore is ours (a per-pod precomputation the framework
                // runs for it); upstream's config does not list it at preScore.
                let internal =
                    point == ExtensionPoint::PreScore && info.name == image_locality::NAME;
                assert_eq!(
                    has,
                    info.implements(point) || internal,
                    "{} at {point}",
                    info.name
                );
            }
        }
    }

    #[test]
    fn default_profile_instantiates() {
        let fw = default_framework();
        assert!(!fw.registered_events().is_empty());
        // ImageLocality is enabled at score only, yet its PreScore runs.
        let pre_score = fw.plugin_names(ExtensionPoint::PreScore);
        assert!(pre_score.contains(&image_locality::NAME), "{pre_score:?}");
    }
}
