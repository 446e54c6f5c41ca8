//! What the scheduling-cycle tests share: a queue sorted by a framework's QueueSort, and
//! the parts of a scheduler with one profile (`default-scheduler`).

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use super::{OutcomeSink, SchedulerParts};
use crate::cache::Cache;
use crate::config::ExtensionPoint;
use crate::framework::{BindContext, Framework, PodBinder, QueuedPodView};
use crate::queue::{QueueOptions, SchedulingQueue, SystemClock};
use crate::serving::SchedulerMetrics;

/// A queue ordered by `fw`'s QueueSort plugin.
pub fn sorted_queue(fw: &Framework, opts: QueueOptions) -> SchedulingQueue {
    let sorter = fw.plugins(ExtensionPoint::QueueSort)[0].clone();
    let less = Arc::new(move |a: &QueuedPodView<'_>, b: &QueuedPodView<'_>| {
        sorter.as_queue_sort().is_some_and(|q| q.less(a, b))
    });
    SchedulingQueue::new(less, FxHashMap::default(), Arc::new(SystemClock), opts)
}

/// A scheduler's parts with `fw` as profile `default-scheduler`, one filter thread.
pub fn parts(
    fw: Arc<Framework>,
    cache: Arc<Mutex<Cache>>,
    queue: Arc<SchedulingQueue>,
    binder: Arc<dyn PodBinder>,
    outcomes: Arc<dyn OutcomeSink>,
    lease: ferrosched_runtime::leader::LeaseGuard,
) -> SchedulerParts {
    SchedulerParts {
        frameworks: FxHashMap::from_iter([("default-scheduler".to_string(), fw)]),
        cache,
        queue,
        bind: BindContext {
            binder,
            client: None,
        },
        outcomes: FxHashMap::from_iter([("default-scheduler".to_string(), outcomes)]),
        metrics: Arc::new(SchedulerMetrics::new()),
        percentage_of_nodes_to_score: None,
        parallelism: 1,
        lease,
    }
}
