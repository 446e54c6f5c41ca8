//! The scheduling framework: extension-point traits, typed cycle state, statuses, the
//! plugin registry, and [`Framework`], one profile's plugins listed per extension point
//! with the `run_*` methods that run each point (upstream's `frameworkImpl`).
//!
//! A pod's walk: `schedule` asks the framework to run each point; the framework calls
//! the plugins. Nothing outside `framework/` and `plugins/` reaches a plugin directly.

mod cycle_state;
pub mod events;
mod fit_error;
mod handle;
mod nominated;
mod nominator;
pub mod parallel;
mod points;
mod registry;
mod run_binding;
mod run_filter;
mod run_score;
mod runtime;
mod status;
#[cfg(test)]
mod timing_tests;
mod traits;
mod waiting;

pub use cycle_state::{CycleState, PLUGIN_METRICS_SAMPLE_PERCENT, StateData};
pub use fit_error::{Diagnosis, FitError};
pub use handle::{BindContext, BindError, ClusterLister, EmptyLister, Handle, PodBinder};
pub use nominated::NominatedPods;
pub use nominator::{Nominating, Nominator, status_nominated_node};
pub use points::implements;
pub use registry::{Factory, Registry};
pub use run_filter::ActiveFilters;
pub use run_score::NodeScores;
pub use runtime::{Framework, FrameworkError, PluginObserver, PointObserver};
pub use status::{Code, Status};
pub use traits::{
    BindPlugin, FilterPlugin, NodeStatusMap, PermitPlugin, Plugin, PostBindPlugin,
    PostFilterContext, PostFilterPlugin, PostFilterResult, PreBindPlugin, PreEnqueuePlugin,
    PreFilterPlugin, PreFilterResult, PreScorePlugin, QueueSortPlugin, QueuedPodView,
    ReservePlugin, ScorePlugin,
};
pub use waiting::{MAX_PERMIT_WAIT, WaitingPod, WaitingPods};
