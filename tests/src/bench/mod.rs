//! `ferrosched-bench`: Ferrosched's scheduler against upstream kube-scheduler and a
//! no-logic binder (the limit), on a fresh local control plane per run, with upstream
//! scheduler_perf's workloads (issue #7). Not a test: run it with `hack/bench.sh`.
//!
//! [`suite`] runs the selected workloads × contestants ([`run`] is one of them) and writes
//! `results.json`, `results.md` ([`report`]) and `throughput.svg` ([`svg`]). [`idle`]
//! measures what a standby replica and an idle leader cost, [`growth`] the in-process cost
//! as the cluster grows.

pub mod binder;
pub mod bounds;
pub mod contestant;
pub mod growth;
pub mod histogram;
pub mod idle;
pub mod machine;
pub mod measures;
pub mod metrics;
pub mod populate;
pub mod procstat;
pub mod ratelimit;
pub mod repeats;
pub mod report;
pub mod result;
pub mod run;
pub mod stats;
pub mod suite;
pub mod svg;
pub mod watch;
pub mod workload;
