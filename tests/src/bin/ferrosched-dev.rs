//! `ferrosched-dev`: developer tools around Ferrosched's local control plane.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use ferrosched_e2e::controlplane::NodeImage;
use ferrosched_e2e::controlplane::dev::{UpOptions, up};

/// Developer tools around Ferrosched's local control plane.
#[derive(Debug, Parser)]
#[command(name = "ferrosched-dev", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run etcd, kube-apiserver, kube-controller-manager and kwok until SIGINT/SIGTERM.
    ///
    /// Prints `KUBECONFIG=<path>` and writes `<work-dir>/ready` once ready; exits 1 if a
    /// component dies.
    Up {
        /// Certificates, kubeconfigs, logs and etcd data go here.
        #[arg(long)]
        work_dir: PathBuf,
        /// Directory with the control-plane binaries.
        #[arg(long, env = "FERROSCHED_BIN_DIR")]
        bin_dir: Option<PathBuf>,
        /// Do not run kube-controller-manager.
        #[arg(long)]
        no_controller_manager: bool,
        /// Do not run kwok.
        #[arg(long)]
        no_kwok: bool,
    },
    /// The main job: use the cluster in --kubeconfig/$KUBECONFIG or start a local one,
    /// run the operator, apply a profile, run its schedulers, place demo pods. Ctrl-C stops.
    Demo {
        /// Cluster to use (default: $KUBECONFIG when it answers, else a local control plane).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Logs, certificates and the local control plane go here.
        #[arg(long, default_value = "/tmp/ferrosched-demo")]
        work_dir: PathBuf,
        /// The SchedulerProfile to apply.
        #[arg(long, default_value = "examples/second-scheduler.yaml")]
        profile: PathBuf,
        /// Demo pods to create.
        #[arg(long, default_value_t = 50)]
        pods: usize,
        /// The image archive `hack/image.sh` saved: with it (and --image) the operator and
        /// the schedulers run as pods on a real node of the local control plane.
        #[arg(long, env = "FERROSCHED_IMAGE_ARCHIVE")]
        image_archive: Option<PathBuf>,
        /// That image's reference (`hack/image.sh` prints it).
        #[arg(long, env = "FERROSCHED_IMAGE")]
        image: Option<String>,
        /// Run the operator and the schedulers as local processes, for this reason
        /// (`hack/demo.sh` passes why the machine cannot run a real node).
        #[arg(long)]
        processes_because: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let code = match Cli::parse().command {
        Command::Up {
            work_dir,
            bin_dir,
            no_controller_manager,
            no_kwok,
        } => {
            up(UpOptions {
                work_dir,
                bin_dir,
                controller_manager: !no_controller_manager,
                kwok: !no_kwok,
            })
            .await?
        }
        Command::Demo {
            kubeconfig,
            work_dir,
            profile,
            pods,
            image_archive,
            image,
            processes_because,
        } => {
            let node = match (processes_because, image_archive, image) {
                (Some(why), _, _) => Err(why),
                (None, Some(archive), Some(reference)) => Ok(NodeImage { archive, reference }),
                _ => Err("no image given (--image-archive and --image; hack/demo.sh builds one where the machine allows a real node)".into()),
            };
            ferrosched_e2e::demo::run(ferrosched_e2e::demo::DemoOptions {
                kubeconfig,
                work_dir,
                profile,
                pods,
                node,
            })
            .await?
        }
    };
    std::process::exit(code);
}
