//! What the scheduling-cycle tests share: a queue sorted by a framework's QueueSort, and
//! the parts of a scheduler with one profile (`default-scheduler`).

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use rustc_hash::FxHashMap;

use super::{OutcomeSink, SchedulerParts};
use crate::cache::Cache;
use crate::framework::{BindContext, Framework, PodBinder, QueuedPodView};
use crate::model::PodInfo;
use crate::queue::{QueueOptions, SchedulingQueue, SystemClock};
use crate::serving::SchedulerMetrics;

/// A queue ordered by `fw`'s QueueSort plugin.
pub fn sorted_queue(fw: &Arc<Framework>, opts: QueueOptions) -> SchedulingQueue {
    let sorter = fw.clone();
    let less =
        Arc::new(move |a: &QueuedPodView<'_>, b: &QueuedPodView<'_>| sorter.queue_sort_less(a, b));
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

/// Records what the scheduler reports: failures (pod, reason, message), the nomination
/// each failure writes, and placements.
#[derive(Default)]
pub struct RecordingOutcomes {
    pub failed: Mutex<Vec<(String, String, String)>>,
    /// The `status.nominatedNodeName` each failure writes (`None`: left as it is).
    pub nominations: Mutex<Vec<Option<String>>>,
    pub scheduled: Mutex<Vec<(String, String)>>,
}

impl OutcomeSink for RecordingOutcomes {
    fn scheduled<'a>(&'a self, pod: &'a PodInfo, node: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.scheduled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((pod.key.clone(), node.into()))
        })
    }
    fn failed<'a>(
        &'a self,
        pod: &'a PodInfo,
        reason: &'a str,
        message: &'a str,
        nominated: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.nominations
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(nominated.map(str::to_string));
            self.failed.lock().unwrap_or_else(|e| e.into_inner()).push((
                pod.key.clone(),
                reason.into(),
                message.into(),
            ))
        })
    }
    fn preempt<'a>(&'a self, _: &'a PodInfo, _: &'a PodInfo, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}
