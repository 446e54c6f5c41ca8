//! Property ("fuzz") tests for issue #20, "no panic from any input": the config parser,
//! the quantity parser, and the default framework on snapshots with extreme quantities.
//! Every property must hold (and nothing may panic) for every generated case.
//!
//! CI runs [`CI_CASES`] cases per property (a few seconds in a debug build). For a long
//! run set `FERROSCHED_FUZZ_CASES` to the cases *per property* (there are five):
//!
//! ```text
//! FERROSCHED_FUZZ_CASES=200000 cargo test --release -p ferrosched-scheduler --lib fuzz
//! ```

mod config;
mod framework;
mod quantity;
mod strategies;

use proptest::test_runner::Config;

/// Cases per property when `FERROSCHED_FUZZ_CASES` is unset.
pub const CI_CASES: u32 = 400;

/// The proptest config of every property here: `FERROSCHED_FUZZ_CASES` or [`CI_CASES`]
/// cases, no regression files written into the source tree.
pub(crate) fn config() -> Config {
    let cases = std::env::var("FERROSCHED_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(CI_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
