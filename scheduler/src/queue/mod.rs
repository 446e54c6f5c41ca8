//! The scheduling queue: active heap, backoff heap, unschedulable pool, gated pods.

mod clock;
mod heap;
#[cfg(test)]
mod nominator_tests;
mod scheduling_queue;
#[cfg(test)]
mod tests;

pub use crate::framework::{Nominating, Nominator, status_nominated_node};
pub use clock::{Clock, ManualClock, SystemClock};
pub use heap::KeyedHeap;
pub use scheduling_queue::{
    IncomingObserver, PendingCounts, PreEnqueue, ProfileHooks, QueueOptions, QueuedPod,
    SchedulingQueue,
};
