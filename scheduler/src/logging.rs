//! Logging set-up shared by the binaries: klog-style `-v` mapped to tracing levels.

use tracing_subscriber::EnvFilter;

/// `-v` 0–1 → info, 2–4 → debug, 5+ → trace; `RUST_LOG` wins when set. `format` is `text` or `json`.
pub fn init(verbosity: u8, format: &str) {
    let level = match verbosity {
        0..=1 => "info",
        2..=4 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{level},kube_client=warn,hyper=warn,rustls=warn"))
    });
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
