//! `ferrosched-operator`: parse the arguments, run until SIGTERM.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = ferrosched_operator::Args::parse();
    ferrosched_operator::telemetry::init(args.log_format, args.verbosity);
    ferrosched_operator::run(args).await.map_err(|err| {
        tracing::error!(%err, "ferrosched-operator failed");
        anyhow::Error::new(err)
    })
}
