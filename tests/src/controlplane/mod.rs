//! A real local control plane for end-to-end tests: etcd, kube-apiserver,
//! kube-controller-manager and kwok (fake kubelets), on loopback ports, in a work dir;
//! optionally a real node (containerd, kubelet, kube-proxy; see [`node`]).
//!
//! Binaries come from `hack/build-control-plane.sh` (see `/work/shared/CONTROL_PLANE.md`).
//! Every child runs in its own process group with its output in `<work_dir>/<name>.log`;
//! [`ControlPlane::stop`] shuts them down in reverse order and `Drop` SIGKILLs whatever
//! is left, so a panicking test leaves no process behind.

mod certs;
pub mod dev;
mod error;
mod flags;
mod kubeconfig;
pub mod node;
mod options;
mod process;
mod readiness;
#[cfg(test)]
mod tests;
mod token;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use error::Error;
pub use flags::{ADMISSION_PLUGINS, SERVICE_CIDR};
pub use node::{NODE_NAME, NodeImage};
pub use options::ControlPlaneOptions;
use process::Component;

/// Time each component gets to exit after SIGTERM before it is SIGKILLed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running control plane. Stop it with [`ControlPlane::stop`]; dropping it SIGKILLs everything.
pub struct ControlPlane {
    work_dir: PathBuf,
    kubeconfig: PathBuf,
    token_kubeconfig: PathBuf,
    server_url: String,
    ca_pem: String,
    config: kube::Config,
    /// In start order: etcd, kube-apiserver, [kube-controller-manager], [kwok].
    components: Vec<Component>,
    /// How kube-apiserver was started, to start it again ([`ControlPlane::restart_apiserver`]).
    apiserver: Option<(PathBuf, Vec<String>, certs::Pki)>,
    /// The real node ([`ControlPlaneOptions::real_node`]): torn down after the components stop.
    node: Option<node::RealNode>,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("server_url", &self.server_url)
            .field("work_dir", &self.work_dir)
            .field("components", &self.components)
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// Start etcd → kube-apiserver (until `/readyz`) → kube-controller-manager (until the
    /// `default` ServiceAccount exists) → kwok (until its `/healthz`). On failure every
    /// started process is stopped and the error quotes the failing component's log tail.
    pub async fn start(opts: ControlPlaneOptions) -> Result<ControlPlane, Error> {
        let started = Instant::now();
        // kube-rs builds rustls configs from the process-wide provider; make sure it is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bin = |name: &str| -> Result<PathBuf, Error> {
            let path = opts.bin_dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error::MissingBinary(path))
            }
        };
        let (etcd_bin, apiserver_bin) = (bin("etcd")?, bin("kube-apiserver")?);
        let kcm_bin = opts
            .with_controller_manager
            .then(|| bin("kube-controller-manager"))
            .transpose()?;
        let kwok_bin = opts.with_kwok.then(|| bin("kwok")).transpose()?;
        let sched_bin = opts
            .with_default_scheduler
            .then(|| bin("kube-scheduler"))
            .transpose()?;
        let node_bins = opts
            .real_node
            .then(|| node::NodeBins::find(&opts.bin_dir))
            .transpose()?;
        let stages_dir = opts.bin_dir.join("../kwok-stages");
        let stages: Vec<PathBuf> = flags::KWOK_STAGES
            .iter()
            .map(|s| stages_dir.join(s))
            .collect();
        if opts.with_kwok
            && let Some(missing) = stages.iter().find(|s| !s.is_file())
        {
            return Err(Error::MissingBinary(missing.clone()));
        }

        let work_dir = std::path::absolute(&opts.work_dir)
            .map_err(|e| Error::io(format!("resolving {}", opts.work_dir.display()), e))?;
        std::fs::create_dir_all(&work_dir)
            .map_err(|e| Error::io(format!("creating {}", work_dir.display()), e))?;
        let etcd_dir = work_dir.join("etcd");
        if etcd_dir.exists() {
            std::fs::remove_dir_all(&etcd_dir)
                .map_err(|e| Error::io("removing stale etcd data", e))?;
        }
        // The machine lock first: a second real node waits here for the first to stop.
        let real_node = match opts.real_node {
            true => Some(node::prepare(&work_dir, &opts.node_images_dir).await?),
            false => None,
        };
        let identity = real_node.as_ref().map(|n| n.identity().clone());
        let pki = certs::generate(&work_dir.join("pki"), identity.as_ref())?;
        let [
            etcd_client,
            etcd_peer,
            apiserver,
            controller_manager,
            kwok,
            scheduler,
        ] = process::free_ports::<6>()?;
        let ports = flags::Ports {
            etcd_client,
            etcd_peer,
            apiserver,
            controller_manager,
            kwok,
        };
        let host = identity
            .as_ref()
            .map_or_else(|| "127.0.0.1".to_owned(), |n| n.ip.to_string());
        let server_url = format!("https://{host}:{apiserver}");
        let kubeconfig = work_dir.join("admin.kubeconfig");
        kubeconfig::write(&kubeconfig, &server_url, &pki.ca.cert, "admin", &pki.admin)?;
        let tokens = token::write_admin(&work_dir)?;
        let token_kubeconfig = work_dir.join("admin-token.kubeconfig");
        kubeconfig::write_token(
            &token_kubeconfig,
            &server_url,
            &pki.ca.cert,
            "admin",
            &tokens.token_file,
        )?;
        let kcm_kubeconfig = work_dir.join("kube-controller-manager.kubeconfig");
        let kcm_user = "system:kube-controller-manager";
        kubeconfig::write(
            &kcm_kubeconfig,
            &server_url,
            &pki.ca.cert,
            kcm_user,
            &pki.controller_manager,
        )?;
        let kwok_kubeconfig = work_dir.join("kwok.kubeconfig");
        kubeconfig::write(
            &kwok_kubeconfig,
            &server_url,
            &pki.ca.cert,
            "kwok",
            &pki.kwok,
        )?;
        let config = kubeconfig::load(&kubeconfig).await?;
        let kubeconfig_for_scheduler = kubeconfig.clone();

        let mut cp = ControlPlane {
            work_dir: work_dir.clone(),
            kubeconfig,
            token_kubeconfig,
            server_url,
            ca_pem: pki.ca_pem.clone(),
            config,
            components: Vec::new(),
            apiserver: None,
            node: real_node,
        };
        let server_url_for_node = cp.server_url.clone();
        let boot = async {
            cp.components.push(Component::spawn(
                "etcd",
                &etcd_bin,
                &flags::etcd(&etcd_dir, ports),
                &work_dir,
            )?);
            readiness::etcd(&mut cp, ports.etcd_client).await?;
            let apiserver_args = [
                flags::apiserver(&pki, &tokens.auth_file, ports, identity.as_ref()),
                flags::audit(&work_dir, &opts.audit_users)?,
            ]
            .concat();
            cp.components.push(Component::spawn(
                "kube-apiserver",
                &apiserver_bin,
                &apiserver_args,
                &work_dir,
            )?);
            cp.apiserver = Some((apiserver_bin.clone(), apiserver_args, pki.clone()));
            readiness::apiserver(&mut cp, &pki).await?;
            if let Some(kcm_bin) = &kcm_bin {
                let args = flags::controller_manager(&pki, &kcm_kubeconfig, ports);
                cp.components.push(Component::spawn(
                    "kube-controller-manager",
                    kcm_bin,
                    &args,
                    &work_dir,
                )?);
            }
            readiness::default_service_account(&mut cp, kcm_bin.is_some()).await?;
            if let Some(kwok_bin) = &kwok_bin {
                let args = flags::kwok(&kwok_kubeconfig, &stages, ports);
                cp.components
                    .push(Component::spawn("kwok", kwok_bin, &args, &work_dir)?);
                readiness::kwok(&mut cp, ports.kwok).await?;
            }
            if let Some(sched_bin) = &sched_bin {
                let cfg = work_dir.join("kube-scheduler.yaml");
                std::fs::write(
                    &cfg,
                    flags::kube_scheduler_config(&kubeconfig_for_scheduler),
                )
                .map_err(|e| Error::io("writing kube-scheduler config", e))?;
                let mut args = flags::kube_scheduler(&cfg, scheduler);
                args.extend(opts.default_scheduler_args.iter().cloned());
                cp.components.push(Component::spawn(
                    "kube-scheduler",
                    sched_bin,
                    &args,
                    &work_dir,
                )?);
                readiness::kube_scheduler(&mut cp, scheduler).await?;
            }
            if let Some(bins) = &node_bins {
                node::start(&mut cp, bins, &pki, &server_url_for_node).await?;
            }
            Ok::<(), Error>(())
        };
        match boot.await {
            Ok(()) => {
                tracing::info!(elapsed = ?started.elapsed(), server = %cp.server_url, "control plane ready");
                Ok(cp)
            }
            Err(e) => {
                let _ = cp.shutdown().await;
                Err(e)
            }
        }
    }

    /// Stops kube-apiserver (SIGTERM) and starts it again with the same flags on the same
    /// port, waiting until it is ready: every watch is dropped, and the new watch cache
    /// starts at etcd's current revision, so a client resuming an older one gets 410 Gone.
    pub async fn restart_apiserver(&mut self) -> Result<(), Error> {
        let Some((bin, args, pki)) = self.apiserver.clone() else {
            return Err(Error::Client("kube-apiserver was not started".into()));
        };
        let at = self
            .components
            .iter()
            .position(|c| c.name() == "kube-apiserver")
            .ok_or_else(|| Error::Client("no kube-apiserver component".into()))?;
        // A short grace: it waits for clients that do not read (a frozen one) otherwise.
        self.components[at].stop(Duration::from_secs(2)).await?;
        self.components[at] = Component::spawn("kube-apiserver", &bin, &args, &self.work_dir)?;
        readiness::apiserver(self, &pki).await
    }

    /// The admin kubeconfig (`<work_dir>/admin.kubeconfig`, client cert in `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The admin kubeconfig with a bearer token instead of a client certificate
    /// (`<work_dir>/admin-token.kubeconfig`, same user and groups). Upstream's
    /// scheduler_perf clients authenticate with the loopback bearer token, so the
    /// benchmark uses this one: the API server then verifies no certificate chain per request.
    pub fn token_kubeconfig_path(&self) -> &Path {
        &self.token_kubeconfig
    }

    /// The work dir holding certificates, kubeconfigs and `<component>.log` files.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// A new admin client. Panics only if the TLS configuration is unusable, which
    /// [`ControlPlane::start`] has already ruled out by using it.
    pub async fn client(&self) -> kube::Client {
        self.try_client()
            .expect("admin client for the local control plane")
    }

    /// A new admin client.
    pub fn try_client(&self) -> Result<kube::Client, Error> {
        kube::Client::try_from(self.config.clone()).map_err(|e| Error::Client(e.to_string()))
    }

    /// A new admin client authenticating with the bearer token of
    /// [`ControlPlane::token_kubeconfig_path`].
    pub async fn token_client(&self) -> Result<kube::Client, Error> {
        let config = kubeconfig::load(&self.token_kubeconfig).await?;
        kube::Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
    }

    /// `https://127.0.0.1:<port>` (with a real node: `https://<host address>:<port>`).
    pub fn server_url(&self) -> String {
        self.server_url.clone()
    }

    /// The cluster CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// kube-apiserver's pid (tests SIGSTOP/SIGCONT it).
    pub fn apiserver_pid(&self) -> u32 {
        self.component("kube-apiserver").map_or(0, Component::pid)
    }

    /// The pid of a component (`etcd`, `kube-apiserver`, `kube-controller-manager`, `kwok`).
    pub fn pid_of(&self, name: &str) -> Option<u32> {
        self.component(name).map(Component::pid)
    }

    /// The log file of a component.
    pub fn log_path(&self, name: &str) -> Option<&Path> {
        self.component(name).map(Component::log_path)
    }

    /// The real node's name, if [`ControlPlaneOptions::real_node`] started one.
    pub fn real_node(&self) -> Option<&str> {
        self.node.as_ref().map(|n| n.identity().name.as_str())
    }

    /// The real node's `/etc/kubernetes` (static pod manifests, the scheduler's kubeconfig).
    pub fn node_etc_kubernetes(&self) -> Option<node::EtcKubernetes> {
        self.node.as_ref().map(node::RealNode::etc_kubernetes)
    }

    /// Import an image archive (OCI layout or docker-archive tar) into the real node's
    /// containerd, for pods with `imagePullPolicy: Never` or `IfNotPresent`.
    pub async fn import_image(&self, archive: &Path) -> Result<(), Error> {
        let node = self
            .node
            .as_ref()
            .ok_or_else(|| Error::Node("no real node: start with real_node: true".into()))?;
        node::import_image(node.containerd_sock(), archive).await
    }

    fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name() == name)
    }

    /// `Err(Error::Exited)` (with the log tail) for the first component, in start
    /// order, that is no longer running.
    pub fn check_alive(&mut self) -> Result<(), Error> {
        self.components
            .iter_mut()
            .try_for_each(Component::check_alive)
    }

    /// Stop every component in reverse start order (the real node's kube-proxy, kubelet and
    /// containerd first; kube-scheduler, kwok, kube-controller-manager, kube-apiserver, etcd
    /// last): SIGTERM, SIGKILL after [`STOP_GRACE`], waiting for each. Then tear the real
    /// node down (containers, mounts, network, chains, cgroups, sysctls) and remove the
    /// etcd data dir.
    pub async fn stop(mut self) -> Result<(), Error> {
        self.shutdown().await
    }

    async fn shutdown(&mut self) -> Result<(), Error> {
        let mut result = Ok(());
        while let Some(mut c) = self.components.pop() {
            match c.stop(STOP_GRACE).await {
                Ok(status) => tracing::debug!(component = c.name(), %status, "stopped"),
                Err(e) => result = result.and(Err(e)),
            }
        }
        if let Some(node) = &mut self.node {
            result = result.and(node.teardown());
        }
        if result.is_ok() {
            let _ = std::fs::remove_dir_all(self.work_dir.join("etcd"));
        }
        result
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        for c in self.components.iter_mut().rev() {
            c.kill_now();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        for c in &mut self.components {
            c.reap_until(deadline);
        }
        // Its processes are dead: remove what they left and restore the host.
        drop(self.node.take());
    }
}
