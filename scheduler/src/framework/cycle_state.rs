//! Per-cycle state, typed: a plugin stores its own struct and reads it back by type.

use std::any::{Any, TypeId};

use rustc_hash::FxHashMap;

/// A value kept in [`CycleState`]: any `Clone + Send + Sync` type (clonable so preemption
/// can try a node on a copy of the state).
pub trait StateData: Any + Send + Sync {
    /// Clones into a box.
    fn clone_box(&self) -> Box<dyn StateData>;
    /// Upcast for downcasting.
    fn as_any(&self) -> &dyn Any;
    /// Mutable upcast for downcasting.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone + Send + Sync> StateData for T {
    fn clone_box(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// State a plugin computes in PreFilter/PreScore and reads in Filter/Score for one pod.
///
/// Keyed by the stored type, so there are no string keys and no casts at call sites;
/// each plugin defines its own state type, which makes collisions impossible.
pub struct CycleState {
    /// Whether this cycle's plugin durations are recorded
    /// (`scheduler_plugin_execution_duration_seconds`): as upstream, a random
    /// [`PLUGIN_METRICS_SAMPLE_PERCENT`] of cycles, decided when the state is created.
    pub record_plugin_metrics: bool,
    slots: FxHashMap<TypeId, Box<dyn StateData>>,
    /// Slots only Filter/Score read, dropped when the scheduling cycle ends.
    cycle_only: Vec<TypeId>,
    /// Filter plugins that returned Skip in PreFilter.
    pub skip_filter_plugins: Vec<&'static str>,
    /// Score plugins that returned Skip in PreScore.
    pub skip_score_plugins: Vec<&'static str>,
}

/// Percentage of scheduling cycles whose plugin durations are recorded (upstream's
/// `pluginMetricsSamplePercent`).
pub const PLUGIN_METRICS_SAMPLE_PERCENT: u32 = 10;

impl Default for CycleState {
    fn default() -> Self {
        CycleState {
            record_plugin_metrics: rand::random_range(0..100) < PLUGIN_METRICS_SAMPLE_PERCENT,
            slots: FxHashMap::default(),
            cycle_only: Vec::new(),
            skip_filter_plugins: Vec::new(),
            skip_score_plugins: Vec::new(),
        }
    }
}

impl std::fmt::Debug for CycleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleState")
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState {
            record_plugin_metrics: self.record_plugin_metrics,
            slots: self
                .slots
                .iter()
                .map(|(k, v)| (*k, (**v).clone_box()))
                .collect(),
            cycle_only: self.cycle_only.clone(),
            skip_filter_plugins: self.skip_filter_plugins.clone(),
            skip_score_plugins: self.skip_score_plugins.clone(),
        }
    }
}

impl CycleState {
    /// Stores `value`, replacing a previous value of the same type.
    pub fn insert<T: Any + Clone + Send + Sync>(&mut self, value: T) {
        self.slots.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// Stores `value` for the scheduling cycle only: [`CycleState::end_scheduling_cycle`]
    /// drops it before the binding cycle. For PreFilter/PreScore state that shares
    /// copy-on-write data with a plugin's cache: a binding in flight would otherwise keep
    /// the data shared and make the next cycle copy it.
    pub fn insert_for_scheduling_cycle<T: Any + Clone + Send + Sync>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        if !self.cycle_only.contains(&id) {
            self.cycle_only.push(id);
        }
        self.slots.insert(id, Box::new(value));
    }

    /// Drops what was stored with [`CycleState::insert_for_scheduling_cycle`].
    pub fn end_scheduling_cycle(&mut self) {
        for id in self.cycle_only.drain(..) {
            self.slots.remove(&id);
        }
    }

    /// The stored value of type `T`, if a plugin stored one this cycle.
    pub fn get<T: Any + Clone + Send + Sync>(&self) -> Option<&T> {
        self.slots
            .get(&TypeId::of::<T>())
            .and_then(|b| b.as_ref().as_any().downcast_ref::<T>())
    }

    /// Mutable access to the stored value of type `T`.
    pub fn get_mut<T: Any + Clone + Send + Sync>(&mut self) -> Option<&mut T> {
        self.slots
            .get_mut(&TypeId::of::<T>())
            .and_then(|b| b.as_mut().as_any_mut().downcast_mut::<T>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Clone)]
    struct FitState(i64);
    #[derive(Debug, PartialEq, Clone)]
    struct OtherState(i64);

    #[test]
    fn values_are_keyed_by_type() {
        let mut s = CycleState::default();
        s.insert(FitState(1));
        s.insert(OtherState(2));
        assert_eq!(s.get::<FitState>(), Some(&FitState(1)));
        assert_eq!(s.get::<OtherState>(), Some(&OtherState(2)));
        if let Some(v) = s.get_mut::<FitState>() {
            v.0 = 3;
        }
        assert_eq!(s.get::<FitState>(), Some(&FitState(3)));
    }

    #[test]
    fn scheduling_cycle_values_end_with_the_cycle() {
        let mut s = CycleState::default();
        s.insert(FitState(1));
        s.insert_for_scheduling_cycle(OtherState(2));
        assert_eq!(s.clone().get::<OtherState>(), Some(&OtherState(2)));
        s.end_scheduling_cycle();
        assert_eq!(s.get::<OtherState>(), None);
        assert_eq!(s.get::<FitState>(), Some(&FitState(1)));
    }
}
