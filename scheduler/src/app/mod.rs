//! The `ferrosched-scheduler` process: flags, wiring, leader election, shutdown.

pub mod cli;
pub mod clients;
pub mod malloc;
mod wiring;

pub use cli::Args;
pub use clients::{MAX_RATE_WINDOW, rate_window};
pub use wiring::{apply_flag_overrides, build_frameworks, load_config, run};
