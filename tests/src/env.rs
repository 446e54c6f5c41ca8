//! One test's world: its own control plane, an admin client, spawned processes, and
//! waiting that notices a dead API server instead of hanging.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::controlplane::{ControlPlane, ControlPlaneOptions};
use crate::procs::Spawned;

/// A test environment. Dropping it kills everything it started.
pub struct TestEnv {
    cp: Mutex<Option<ControlPlane>>,
    /// Admin client.
    pub client: kube::Client,
    /// Work dir of the control plane (logs of spawned processes go under `procs/`).
    pub dir: PathBuf,
    /// Processes the test spawned (printed on failure).
    pub procs: std::sync::Mutex<Vec<(String, PathBuf)>>,
    /// Admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// API server URL.
    pub server: String,
    /// CA bundle PEM.
    pub ca_pem: String,
}

impl TestEnv {
    /// Starts a fresh control plane (etcd, kube-apiserver, controller-manager, kwok,
    /// upstream kube-scheduler as default-scheduler).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(ControlPlaneOptions::default()).await
    }

    /// Like [`TestEnv::start`], with other control-plane options.
    pub async fn start_with(opts: ControlPlaneOptions) -> anyhow::Result<Self> {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,kube_client=warn")
            .with_test_writer()
            .try_init();
        let cp = ControlPlane::start(opts).await?;
        let client = cp.try_client()?;
        Ok(TestEnv {
            dir: cp.work_dir().to_path_buf(),
            kubeconfig: cp.kubeconfig_path().to_path_buf(),
            server: cp.server_url(),
            ca_pem: cp.ca_pem().to_string(),
            client,
            cp: Mutex::new(Some(cp)),
            procs: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Errors with the component's log tail if a control-plane process died.
    pub async fn check_alive(&self) -> anyhow::Result<()> {
        if let Some(cp) = self.cp.lock().await.as_mut() {
            cp.check_alive()?;
        }
        Ok(())
    }

    /// Restarts kube-apiserver (see [`ControlPlane::restart_apiserver`]).
    pub async fn restart_apiserver(&self) -> anyhow::Result<()> {
        match self.cp.lock().await.as_mut() {
            Some(cp) => Ok(cp.restart_apiserver().await?),
            None => anyhow::bail!("the control plane is stopped"),
        }
    }

    /// Imports an image archive into the real node's containerd (see
    /// [`ControlPlane::import_image`]); the control plane must run with `real_node: true`.
    pub async fn import_image(&self, archive: &std::path::Path) -> anyhow::Result<()> {
        match self.cp.lock().await.as_ref() {
            Some(cp) => Ok(cp.import_image(archive).await?),
            None => anyhow::bail!("the control plane is stopped"),
        }
    }

    /// The real node's name, if the control plane runs one.
    pub async fn real_node(&self) -> Option<String> {
        self.cp
            .lock()
            .await
            .as_ref()
            .and_then(|cp| cp.real_node().map(str::to_owned))
    }

    /// The real node's `/etc/kubernetes`, if the control plane runs one.
    pub async fn node_etc_kubernetes(&self) -> Option<crate::controlplane::node::EtcKubernetes> {
        self.cp
            .lock()
            .await
            .as_ref()
            .and_then(ControlPlane::node_etc_kubernetes)
    }

    /// PID of a control-plane component (`kube-apiserver`, ...).
    pub async fn pid_of(&self, name: &str) -> Option<u32> {
        self.cp.lock().await.as_ref().and_then(|cp| cp.pid_of(name))
    }

    /// Polls `check` every 200 ms until it returns `Some`, failing after `timeout` or as
    /// soon as a control-plane process dies.
    pub async fn wait_for<T, F, Fut>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: F,
    ) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()
                .await
                .map_err(|e| anyhow::anyhow!("while waiting for {what}: {e}"))?;
            if let Some(v) = check().await {
                return Ok(v);
            }
            if Instant::now() >= deadline {
                anyhow::bail!("timed out after {timeout:?} waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls `{base}/metrics` with a bearer `token` until it answers 200; returns the body.
    pub async fn metrics_with_token(
        &self,
        http: &reqwest::Client,
        base: &str,
        token: &str,
    ) -> anyhow::Result<String> {
        self.wait_for(
            &format!("{base}/metrics with a token allowed to read it"),
            Duration::from_secs(30),
            || async {
                let r = http
                    .get(format!("{base}/metrics"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .ok()?;
                if r.status() != 200 {
                    return None;
                }
                r.text().await.ok()
            },
        )
        .await
    }

    /// Creates `specs` as kwok nodes and waits until each is Ready, untainted and reports
    /// the capacity it was created with.
    pub async fn ready_nodes(&self, specs: &[crate::fixtures::NodeSpec]) -> anyhow::Result<()> {
        use k8s_openapi::api::core::v1::Node;
        crate::fixtures::create_nodes(&self.client, specs).await?;
        let api: kube::Api<Node> = kube::Api::all(self.client.clone());
        let want = specs.len();
        self.wait_for(
            &format!("{want} schedulable nodes"),
            Duration::from_secs(120),
            || async {
                let l = api.list(&Default::default()).await.ok()?;
                let ready = l
                    .items
                    .iter()
                    .filter(|n| {
                        let name = n.metadata.name.as_deref().unwrap_or_default();
                        specs.iter().any(|s| {
                            s.name == name
                                && crate::fixtures::node_schedulable(n)
                                && crate::fixtures::node_has_capacity(n, s)
                        })
                    })
                    .count();
                (ready == want).then_some(())
            },
        )
        .await
    }

    /// Runs `ferrosched-scheduler` as `name` with `config`, serving on 127.0.0.1:`port`
    /// with its own cert dir, plus `extra` flags.
    pub fn spawn_scheduler(
        &self,
        name: &str,
        config: &std::path::Path,
        port: u16,
        extra: &[&str],
    ) -> anyhow::Result<Spawned> {
        self.spawn_scheduler_with_env(name, config, port, extra, &[])
    }

    /// [`TestEnv::spawn_scheduler`] with environment variables.
    pub fn spawn_scheduler_with_env(
        &self,
        name: &str,
        config: &std::path::Path,
        port: u16,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Spawned> {
        let mut args = vec![
            format!("--config={}", config.display()),
            format!("--secure-port={port}"),
            "--bind-address=127.0.0.1".into(),
            format!(
                "--cert-dir={}",
                self.dir.join(format!("{name}-certs")).display()
            ),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        self.spawn_with_env(
            name,
            &crate::procs::binary("ferrosched-scheduler"),
            &args,
            env,
        )
    }

    /// Spawns a process whose log is reported if the test fails.
    pub fn spawn(
        &self,
        name: &str,
        bin: &std::path::Path,
        args: &[String],
    ) -> anyhow::Result<Spawned> {
        self.spawn_with_env(name, bin, args, &[])
    }

    /// [`TestEnv::spawn`] with environment variables.
    pub fn spawn_with_env(
        &self,
        name: &str,
        bin: &std::path::Path,
        args: &[String],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Spawned> {
        let s = Spawned::start(name, bin, args, &self.dir.join("procs"), env)?;
        self.procs.lock().unwrap_or_else(|e| e.into_inner()).push((
            name.to_string(),
            self.dir.join("procs").join(format!("{name}.log")),
        ));
        Ok(s)
    }

    /// Prints the tail of every spawned process's log (call on failure).
    pub fn dump_logs(&self) {
        for (name, path) in self.procs.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(60)..];
            eprintln!(
                "----- {name} (last {} lines) -----\n{}",
                tail.len(),
                tail.join("\n")
            );
        }
    }

    /// Stops the control plane cleanly.
    pub async fn stop(self) -> anyhow::Result<()> {
        if let Some(cp) = self.cp.lock().await.take() {
            cp.stop().await?;
        }
        Ok(())
    }

    /// Runs `body`; on an error or a panic prints every spawned process's log, then stops
    /// everything (a panic is resumed after the clean-up).
    pub async fn run<F, Fut>(self, body: F) -> anyhow::Result<()>
    where
        F: FnOnce(std::sync::Arc<TestEnv>) -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        use futures::FutureExt;
        let env = std::sync::Arc::new(self);
        let outcome = std::panic::AssertUnwindSafe(body(env.clone()))
            .catch_unwind()
            .await;
        let passed = matches!(outcome, Ok(Ok(())));
        if !passed {
            env.dump_logs();
        }
        let dir = env.dir.clone();
        match std::sync::Arc::try_unwrap(env) {
            Ok(env) => env.stop().await?,
            Err(_) => anyhow::bail!("test kept a reference to its environment"),
        }
        if passed {
            remove_default_work_dir(&dir);
        }
        match outcome {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Removes a passed test's control-plane work dir (logs, certificates, kubeconfigs) when
/// it is a default one (`<temp>/ferrosched-cp-*`); a failed test's stays for its logs, and
/// a dir the test chose is its own.
fn remove_default_work_dir(dir: &std::path::Path) {
    let default = dir.parent() == Some(std::env::temp_dir().as_path())
        && dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("ferrosched-cp-"));
    if default && let Err(e) = std::fs::remove_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "removing the test's work dir");
    }
}
