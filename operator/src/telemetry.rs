//! Logging with `tracing`.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// The log filter for `-v <verbosity>`.
pub fn filter_for(verbosity: u8) -> &'static str {
    match verbosity {
        0..=1 => "info",
        2..=3 => "info,ferrosched_operator=debug,ferrosched_scheduler=debug",
        4..=5 => "debug",
        _ => "trace",
    }
}

/// Installs the global subscriber; `RUST_LOG` overrides the verbosity when set.
pub fn init(format: LogFormat, verbosity: u8) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter_for(verbosity)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
