//! `ferrosched-scheduler`: parse flags, set up logging, run.

use clap::Parser;
use ferrosched_scheduler::app::{self, Args};

fn main() -> std::process::ExitCode {
    ferrosched_scheduler::app::malloc::use_one_arena();
    let args = Args::parse();
    ferrosched_scheduler::logging::init(args.verbosity, &args.logging_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let line = ferrosched_runtime::report(e.as_ref());
            tracing::error!("{line}");
            eprintln!("error: {line}");
            std::process::ExitCode::FAILURE
        }
    }
}
