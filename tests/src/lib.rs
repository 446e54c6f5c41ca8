//! Ferrosched's end-to-end harness: a local control plane and helpers for tests.

pub mod bench;
pub mod chart;
pub mod controlplane;
pub mod demo;
pub mod demo_run;
pub mod diff;
pub mod env;
pub mod fixtures;
pub mod operands;
pub mod operator;
pub mod procs;
pub mod user_path;

pub use env::TestEnv;
