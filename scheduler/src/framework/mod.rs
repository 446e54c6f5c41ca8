//! The scheduling framework: extension-point traits, typed cycle state, statuses, the
//! plugin registry, and [`Framework`], one profile's instantiated plugins.

mod cycle_state;
pub mod events;
mod handle;
mod nominated;
mod registry;
mod runtime;
mod status;
mod timed;
mod traits;

pub use cycle_state::{CycleState, PLUGIN_METRICS_SAMPLE_PERCENT, StateData};
pub use handle::{BindContext, BindError, ClusterLister, EmptyLister, Handle, PodBinder};
pub use nominated::NominatedPods;
pub use registry::{Factory, Registry};
pub use runtime::{Framework, FrameworkError, ScorePluginRef};
pub use status::{Code, Status};
pub use timed::{PluginObserver, Timed};
pub use traits::{
    BindPlugin, FilterPlugin, NodeStatusMap, PermitPlugin, Plugin, PostBindPlugin,
    PostFilterContext, PostFilterPlugin, PostFilterResult, PreBindPlugin, PreEnqueuePlugin,
    PreFilterPlugin, PreFilterResult, PreScorePlugin, QueueSortPlugin, QueuedPodView,
    ReservePlugin, ScorePlugin,
};
