//! [`Framework`]: one profile's plugins, instantiated once and listed per extension point,
//! and the `run_*` methods that run each point (upstream's `frameworkImpl`). The runs
//! live beside this file: `run_filter.rs`, `run_score.rs`, `run_binding.rs`.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::events::ClusterEventWithHint;
use super::handle::Handle;
use super::nominator::Nominator;
use super::points::{PointLists, implements};
use super::registry::Registry;
use super::traits::Plugin;
use super::waiting::WaitingPods;
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

/// Receives the time one extension point took for one pod: (point, status code label,
/// seconds), for `scheduler_framework_extension_point_duration_seconds`.
pub type PointObserver = Arc<dyn Fn(&'static str, &'static str, f64) + Send + Sync>;

/// Receives one plugin call's duration: (plugin, extension point, status code label,
/// seconds), for `scheduler_plugin_execution_duration_seconds`.
pub type PluginObserver = Arc<dyn Fn(&'static str, &'static str, &'static str, f64) + Send + Sync>;

/// One profile's plugins in the order each extension point runs them.
pub struct Framework {
    /// The scheduler name this profile serves.
    pub scheduler_name: String,
    /// Share of nodes to score for this profile (None: the global setting).
    pub percentage_of_nodes_to_score: Option<u32>,
    pub(super) lists: PointLists,
    events: Vec<(&'static str, ClusterEventWithHint)>,
    nominator: Arc<Nominator>,
    pub(super) waiting: Arc<WaitingPods>,
    point_observer: Option<PointObserver>,
    pub(super) plugin_observer: Option<PluginObserver>,
}

impl std::fmt::Debug for Framework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Framework")
            .field("scheduler_name", &self.scheduler_name)
            .finish()
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
        let mut lists = PointLists::default();
        let mut scored: Vec<Arc<dyn Plugin>> = Vec::new();
        for point in ExtensionPoint::ALL {
            for r in profile.plugins.at(point) {
                let plugin = match instances.get(&r.name) {
                    Some(p) => p.clone(),
                    None => {
                        let p = instantiate(profile, registry, handle, &r.name)?;
                        instances.insert(r.name.clone(), p.clone());
                        p
                    }
                };
                if !lists.add(point, &plugin, i64::from(r.weight.max(1))) {
                    return Err(FrameworkError::MissingPoint {
                        profile: profile.scheduler_name.clone(),
                        plugin: r.name.clone(),
                        point,
                    });
                }
                if point == ExtensionPoint::Score {
                    scored.push(plugin);
                }
            }
        }
        // A score plugin whose PreScore only precomputes what its Score needs gets that
        // PreScore even when the config enables it at `score` alone (upstream's Score then
        // computes the same thing per node).
        for p in scored {
            let has = lists.names(ExtensionPoint::PreScore).contains(&p.name());
            if !has && implements(p.as_ref(), ExtensionPoint::PreScore) {
                lists.add(ExtensionPoint::PreScore, &p, 0);
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
            lists,
            events,
            nominator: handle.nominator.clone(),
            waiting: handle.waiting.clone(),
            point_observer: None,
            plugin_observer: None,
        })
    }

    /// Reports each plugin call's duration to `observer` in sampled cycles
    /// ([`CycleState::record_plugin_metrics`](super::CycleState), a tenth of them, as
    /// upstream), with upstream's extension point labels (`ScoreExtensionNormalize`,
    /// `PreFilterExtensionAddPod`, …). Unsampled cycles pay one branch per call.
    #[must_use]
    pub fn with_plugin_observer(mut self, observer: PluginObserver) -> Self {
        self.plugin_observer = Some(observer);
        self
    }

    /// Runs one plugin call, timing it when `record` and an observer is set; `status`
    /// reads the outcome's status code label.
    #[inline]
    pub(super) fn timed<T>(
        &self,
        record: bool,
        plugin: &'static str,
        point: &'static str,
        call: impl FnOnce() -> T,
        status: impl FnOnce(&T) -> &'static str,
    ) -> T {
        time_call(
            self.plugin_observer.as_ref(),
            record,
            plugin,
            point,
            call,
            status,
        )
    }

    /// Reports each extension point's duration per pod to `observer`.
    #[must_use]
    pub fn with_point_observer(mut self, observer: PointObserver) -> Self {
        self.point_observer = Some(observer);
        self
    }

    /// Records that `point` took `started.elapsed()` and ended with `status` (a code label).
    pub fn observe_point(
        &self,
        point: &'static str,
        status: &'static str,
        started: std::time::Instant,
    ) {
        if let Some(o) = &self.point_observer {
            o(point, status, started.elapsed().as_secs_f64());
        }
    }

    /// The names of the plugins at `point`, in order.
    pub fn plugin_names(&self, point: ExtensionPoint) -> Vec<&'static str> {
        self.lists.names(point)
    }

    /// (plugin name, event) pairs every plugin registered.
    pub fn registered_events(&self) -> &[(&'static str, ClusterEventWithHint)] {
        &self.events
    }

    /// Pods nominated to nodes (upstream's `PodNominator` on the handle).
    pub fn nominator(&self) -> &Arc<Nominator> {
        &self.nominator
    }

    /// Pods waiting at Permit (shared by every profile of the process, as upstream's).
    pub fn waiting_pods(&self) -> &Arc<WaitingPods> {
        &self.waiting
    }
}

fn instantiate(
    profile: &Profile,
    registry: &Registry,
    handle: &Handle,
    name: &str,
) -> Result<Arc<dyn Plugin>, FrameworkError> {
    let factory = registry
        .get(name)
        .ok_or_else(|| FrameworkError::NotImplemented {
            profile: profile.scheduler_name.clone(),
            plugin: name.to_string(),
        })?;
    factory(&profile.plugin_args, handle).map_err(|message| FrameworkError::Factory {
        profile: profile.scheduler_name.clone(),
        plugin: name.to_string(),
        message,
    })
}

/// Runs `call`, reporting its duration to `observer` when there is one and `record`.
#[inline]
pub(super) fn time_call<T>(
    observer: Option<&PluginObserver>,
    record: bool,
    plugin: &'static str,
    point: &'static str,
    call: impl FnOnce() -> T,
    status: impl FnOnce(&T) -> &'static str,
) -> T {
    let Some(observer) = observer.filter(|_| record) else {
        return call();
    };
    let started = std::time::Instant::now();
    let out = call();
    observer(plugin, point, status(&out), started.elapsed().as_secs_f64());
    out
}
