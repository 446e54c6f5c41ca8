//! `ferrosched-operator`: parse the arguments, run until SIGTERM; a fatal error is logged
//! with its causes and the exit status is 1.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = ferrosched_operator::Args::parse();
    ferrosched_operator::telemetry::init(args.log_format, args.verbosity);
    match ferrosched_operator::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let line = ferrosched_runtime::report(&err);
            tracing::error!("ferrosched-operator failed: {line}");
            ExitCode::FAILURE
        }
    }
}
