//! One profile's plugins, instantiated and ordered per extension point.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::events::ClusterEventWithHint;
use super::handle::Handle;
use super::registry::Registry;
use super::traits::Plugin;
use crate::config::{ExtensionPoint, Profile};

/// A profile that cannot be instantiated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameworkError {
    /// The config names a plugin that has no factory in this build.
    #[error("profile {profile:?}: plugin {plugin:?} is not implemented by this scheduler")]
    NotImplemented {
        /// Profile (scheduler name).
        profile: String,
        /// Plugin name.
        plugin: String,
    },
    /// The factory refused its args.
    #[error("profile {profile:?}: plugin {plugin:?}: {message}")]
    Factory {
        /// Profile (scheduler name).
        profile: String,
        /// Plugin name.
        plugin: String,
        /// The factory's message.
        message: String,
    },
    /// The plugin object does not implement a point the config enables it at.
    #[error("profile {profile:?}: plugin {plugin:?} does not implement {point:?}")]
    MissingPoint {
        /// Profile (scheduler name).
        profile: String,
        /// Plugin name.
        plugin: String,
        /// Extension point.
        point: ExtensionPoint,
    },
}

/// A score plugin with its weight.
#[derive(Clone)]
pub struct ScorePluginRef {
    /// The plugin.
    pub plugin: Arc<dyn Plugin>,
    /// Its weight in the weighted sum.
    pub weight: i64,
}

/// One profile's plugins in the order each extension point runs them.
pub struct Framework {
    /// The scheduler name this profile serves.
    pub scheduler_name: String,
    /// Share of nodes to score for this profile (None: the global setting).
    pub percentage_of_nodes_to_score: Option<u32>,
    points: [Vec<Arc<dyn Plugin>>; 12],
    score: Vec<ScorePluginRef>,
    events: Vec<(&'static str, ClusterEventWithHint)>,
    nominator: Arc<crate::queue::Nominator>,
}

impl std::fmt::Debug for Framework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Framework")
            .field("scheduler_name", &self.scheduler_name)
            .finish()
    }
}

fn implements(p: &dyn Plugin, point: ExtensionPoint) -> bool {
    match point {
        ExtensionPoint::PreEnqueue => p.as_pre_enqueue().is_some(),
        ExtensionPoint::QueueSort => p.as_queue_sort().is_some(),
        ExtensionPoint::PreFilter => p.as_pre_filter().is_some(),
        ExtensionPoint::Filter => p.as_filter().is_some(),
        ExtensionPoint::PostFilter => p.as_post_filter().is_some(),
        ExtensionPoint::PreScore => p.as_pre_score().is_some(),
        ExtensionPoint::Score => p.as_score().is_some(),
        ExtensionPoint::Reserve => p.as_reserve().is_some(),
        ExtensionPoint::Permit => p.as_permit().is_some(),
        ExtensionPoint::PreBind => p.as_pre_bind().is_some(),
        ExtensionPoint::Bind => p.as_bind().is_some(),
        ExtensionPoint::PostBind => p.as_post_bind().is_some(),
    }
}

impl Framework {
    /// Instantiates `profile`'s plugins from `registry` (each plugin once, shared by points).
    pub fn new(
        profile: &Profile,
        registry: &Registry,
        handle: &Handle,
    ) -> Result<Self, FrameworkError> {
        let mut instances: FxHashMap<String, Arc<dyn Plugin>> = FxHashMap::default();
        let mut points: [Vec<Arc<dyn Plugin>>; 12] = Default::default();
        let mut score = Vec::new();
        for point in ExtensionPoint::ALL {
            for r in profile.plugins.at(point) {
                let plugin = match instances.get(&r.name) {
                    Some(p) => p.clone(),
                    None => {
                        let factory = registry.get(&r.name).ok_or_else(|| {
                            FrameworkError::NotImplemented {
                                profile: profile.scheduler_name.clone(),
                                plugin: r.name.clone(),
                            }
                        })?;
                        let p = factory(&profile.plugin_args, handle).map_err(|message| {
                            FrameworkError::Factory {
                                profile: profile.scheduler_name.clone(),
                                plugin: r.name.clone(),
                                message,
                            }
                        })?;
                        instances.insert(r.name.clone(), p.clone());
                        p
                    }
                };
                if !implements(plugin.as_ref(), point) {
                    return Err(FrameworkError::MissingPoint {
                        profile: profile.scheduler_name.clone(),
                        plugin: r.name.clone(),
                        point,
                    });
                }
                if point == ExtensionPoint::Score {
                    score.push(ScorePluginRef {
                        plugin: plugin.clone(),
                        weight: i64::from(r.weight.max(1)),
                    });
                }
                points[point.index()].push(plugin);
            }
        }
        // A score plugin whose PreScore only precomputes what its Score needs gets that
        // PreScore even when the config enables it at `score` alone (upstream's Score then
        // computes the same thing per node).
        for sp in &score {
            let pre = &mut points[ExtensionPoint::PreScore.index()];
            if sp.plugin.as_pre_score().is_some()
                && !pre.iter().any(|p| p.name() == sp.plugin.name())
            {
                pre.push(sp.plugin.clone());
            }
        }
        let mut names: Vec<&String> = instances.keys().collect();
        names.sort();
        let mut events = Vec::new();
        for name in names {
            let p = &instances[name];
            for e in p.events_to_register() {
                events.push((p.name(), e));
            }
        }
        Ok(Framework {
            scheduler_name: profile.scheduler_name.clone(),
            percentage_of_nodes_to_score: profile.percentage_of_nodes_to_score,
            points,
            score,
            events,
            nominator: handle.nominator.clone(),
        })
    }

    /// Wraps every plugin in [`Timed`](super::Timed), so sampled cycles report each
    /// plugin call's duration to `observer` (`scheduler_plugin_execution_duration_seconds`).
    /// A plugin serving several points stays one (wrapped) instance.
    #[must_use]
    pub fn with_plugin_observer(mut self, observer: super::PluginObserver) -> Self {
        let mut wrapped: FxHashMap<&'static str, Arc<dyn Plugin>> = FxHashMap::default();
        let mut wrap = |p: &Arc<dyn Plugin>| {
            wrapped
                .entry(p.name())
                .or_insert_with(|| super::Timed::wrap(p.clone(), observer.clone()))
                .clone()
        };
        for point in &mut self.points {
            for p in point.iter_mut() {
                *p = wrap(p);
            }
        }
        for s in &mut self.score {
            s.plugin = wrap(&s.plugin);
        }
        self
    }

    /// Plugins at `point`, in order.
    pub fn plugins(&self, point: ExtensionPoint) -> &[Arc<dyn Plugin>] {
        &self.points[point.index()]
    }

    /// Score plugins with weights.
    pub fn score_plugins(&self) -> &[ScorePluginRef] {
        &self.score
    }

    /// (plugin name, event) pairs every plugin registered.
    pub fn registered_events(&self) -> &[(&'static str, ClusterEventWithHint)] {
        &self.events
    }

    /// Pods nominated to nodes (upstream's `PodNominator` on the handle).
    pub fn nominator(&self) -> &Arc<crate::queue::Nominator> {
        &self.nominator
    }
}

impl Framework {
    /// The Filter plugins that run for this pod (those whose PreFilter did not say Skip),
    /// resolved once per cycle so the per-node loop compares nothing.
    pub fn active_filters(
        &self,
        state: &super::CycleState,
    ) -> Vec<(&'static str, &dyn super::FilterPlugin)> {
        self.plugins(ExtensionPoint::Filter)
            .iter()
            .filter(|p| !state.skip_filter_plugins.contains(&p.name()))
            .filter_map(|p| p.as_filter().map(|f| (p.name(), f)))
            .collect()
    }

    /// Runs `filters` (from [`Framework::active_filters`]) on `node`, stopping at the first
    /// rejection.
    pub fn run_active_filters(
        filters: &[(&'static str, &dyn super::FilterPlugin)],
        state: &super::CycleState,
        pod: &crate::model::PodInfo,
        node: &crate::cache::NodeInfo,
    ) -> super::Status {
        for (name, f) in filters {
            let status = f.filter(state, pod, node);
            if !status.is_success() {
                return status.with_plugin(name);
            }
        }
        super::Status::success()
    }

    /// Runs every Filter plugin on `node`, stopping at the first rejection (upstream's
    /// `RunFilterPlugins`); skipped plugins (PreFilter said Skip) do not run.
    pub fn run_filter_plugins(
        &self,
        state: &super::CycleState,
        pod: &crate::model::PodInfo,
        node: &crate::cache::NodeInfo,
    ) -> super::Status {
        for p in self.plugins(ExtensionPoint::Filter) {
            if state.skip_filter_plugins.contains(&p.name()) {
                continue;
            }
            let Some(f) = p.as_filter() else { continue };
            let status = f.filter(state, pod, node);
            if !status.is_success() {
                return status.with_plugin(p.name());
            }
        }
        super::Status::success()
    }

    /// Tells every PreFilter extension that `to_add` is (hypothetically) placed on `node`.
    pub fn run_pre_filter_add_pod(
        &self,
        state: &mut super::CycleState,
        pod: &crate::model::PodInfo,
        to_add: &Arc<crate::model::PodInfo>,
        node: &crate::cache::NodeInfo,
    ) -> super::Status {
        for p in self.plugins(ExtensionPoint::PreFilter) {
            if let Some(pf) = p.as_pre_filter().filter(|pf| pf.has_extensions()) {
                if state.skip_filter_plugins.contains(&p.name()) {
                    continue;
                }
                let s = pf.add_pod(state, pod, to_add, node);
                if !s.is_success() {
                    return s.with_plugin(p.name());
                }
            }
        }
        super::Status::success()
    }

    /// Tells every PreFilter extension that `to_remove` is (hypothetically) gone from `node`.
    pub fn run_pre_filter_remove_pod(
        &self,
        state: &mut super::CycleState,
        pod: &crate::model::PodInfo,
        to_remove: &Arc<crate::model::PodInfo>,
        node: &crate::cache::NodeInfo,
    ) -> super::Status {
        for p in self.plugins(ExtensionPoint::PreFilter) {
            if let Some(pf) = p.as_pre_filter().filter(|pf| pf.has_extensions()) {
                if state.skip_filter_plugins.contains(&p.name()) {
                    continue;
                }
                let s = pf.remove_pod(state, pod, to_remove, node);
                if !s.is_success() {
                    return s.with_plugin(p.name());
                }
            }
        }
        super::Status::success()
    }
}
