//! The `ferrosched-scheduler` process: flags, wiring, leader election, shutdown.

pub mod cli;
pub mod malloc;
mod wiring;

pub use cli::Args;
pub use wiring::{
    MAX_RATE_WINDOW, apply_flag_overrides, build_frameworks, load_config, rate_window, run,
};
