//! The scheduling queue: active heap, backoff heap, unschedulable pool, gated pods.

mod clock;
mod heap;
mod nominator;
mod scheduling_queue;
#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, SystemClock};
pub use heap::KeyedHeap;
pub use nominator::{Nominating, Nominator, status_nominated_node};
pub use scheduling_queue::{
    IncomingObserver, PendingCounts, ProfileHooks, QueueOptions, QueuedPod, SchedulingQueue,
};
