//! `ferrosched-dev up`: run a control plane in the foreground and supervise it.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use super::{ControlPlane, ControlPlaneOptions};

/// How often `up` checks that every component is still running.
const SUPERVISE_INTERVAL: Duration = Duration::from_millis(250);

/// Options of `ferrosched-dev up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Work dir (certificates, kubeconfigs, logs, etcd data); `<work_dir>/ready` appears once ready.
    pub work_dir: PathBuf,
    /// Directory of the control-plane binaries (default: [`ControlPlaneOptions::default_bin_dir`]).
    pub bin_dir: Option<PathBuf>,
    /// Run kube-controller-manager.
    pub controller_manager: bool,
    /// Run kwok.
    pub kwok: bool,
}

/// Start the control plane, print `KUBECONFIG=<path>`, write `<work_dir>/ready`, then
/// supervise it. Returns the process exit code: 0 after SIGINT/SIGTERM and a clean stop,
/// 1 if the start failed, a component died (its log tail is printed) or stopping failed.
pub async fn up(opts: UpOptions) -> anyhow::Result<i32> {
    // Register before starting: the children live in their own process groups, so a
    // terminal's Ctrl-C reaches only us and we must forward it.
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let ready_file = opts.work_dir.join("ready");
    let _ = std::fs::remove_file(&ready_file);

    let cp_opts = ControlPlaneOptions {
        bin_dir: opts
            .bin_dir
            .unwrap_or_else(ControlPlaneOptions::default_bin_dir),
        work_dir: opts.work_dir.clone(),
        with_controller_manager: opts.controller_manager,
        with_kwok: opts.kwok,
        with_default_scheduler: true,
        default_scheduler_args: Vec::new(),
        audit_users: Vec::new(),
        real_node: false,
        node_images_dir: ControlPlaneOptions::default_node_images_dir(),
    };
    let mut cp = tokio::select! {
        result = ControlPlane::start(cp_opts) => match result {
            Ok(cp) => cp,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(1);
            }
        },
        // Dropping the start future SIGKILLs whatever it had started.
        _ = sigint.recv() => return Ok(0),
        _ = sigterm.recv() => return Ok(0),
    };

    let line = format!("KUBECONFIG={}", cp.kubeconfig_path().display());
    println!("{line}");
    std::io::stdout().flush()?;
    std::fs::write(&ready_file, format!("{line}\nSERVER={}\n", cp.server_url()))?;

    let mut tick = tokio::time::interval(SUPERVISE_INTERVAL);
    let mut code = 0;
    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = tick.tick() => {
                if let Err(e) = cp.check_alive() {
                    eprintln!("error: {e}");
                    code = 1;
                    break;
                }
            }
        }
    }
    let _ = std::fs::remove_file(&ready_file);
    tracing::info!("stopping the control plane");
    if let Err(e) = cp.stop().await {
        eprintln!("error: stopping the control plane: {e}");
        code = 1;
    }
    Ok(code)
}
