//! The scheduling queue: active heap, backoff heap, unschedulable pool, gated pods.

mod clock;
mod heap;
mod scheduling_queue;
#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, SystemClock};
pub use heap::KeyedHeap;
pub use scheduling_queue::{
    IncomingObserver, PendingCounts, ProfileHooks, QueueOptions, QueuedPod, SchedulingQueue,
};
