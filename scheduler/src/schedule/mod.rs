//! Scheduling and binding cycles.

mod algorithm;
mod binder;
pub mod event_names;
pub mod event_writer;
mod nominating;
mod outcome;
#[cfg(test)]
mod permit_tests;
#[cfg(test)]
mod preemption_cycle_tests;
mod scheduler;
mod status_patcher;
#[cfg(test)]
mod test_parts;
#[cfg(test)]
mod tests;

pub use crate::framework::{Diagnosis, FitError};
pub use algorithm::{Algorithm, ScheduleError, ScheduleResult, num_feasible_nodes_to_find};
pub use binder::{ApiBinder, NoopBinder, RecordingBinder};
pub use outcome::{ApiOutcomes, NoOutcomes, OutcomeSink};
pub use scheduler::{InFlight, Scheduler, SchedulerParts, run_post_filter};
