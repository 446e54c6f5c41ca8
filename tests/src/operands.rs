//! Running the schedulers the operator deployed as local processes: the operator's
//! rendered config, the Deployment's container arguments, the operator's ServiceAccount.

use std::path::{Path, PathBuf};

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};

use crate::fixtures;

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// What a local operand needs.
#[derive(Debug, Clone)]
pub struct Operand {
    /// The rendered KubeSchedulerConfiguration, written to a local file.
    pub config_path: PathBuf,
    /// Container args of the Deployment.
    pub deployment: Deployment,
    /// Kubeconfig of the operator-created ServiceAccount.
    pub kubeconfig: PathBuf,
}

/// Reads the profile's ConfigMap and Deployment and mints a token for its ServiceAccount.
pub async fn prepare(
    client: &Client,
    server: &str,
    ca_pem: &str,
    namespace: &str,
    profile: &str,
    dir: &Path,
) -> anyhow::Result<Operand> {
    let p = Api::<SchedulerProfile>::all(client.clone())
        .get(profile)
        .await?;
    let cm_name = p
        .status
        .and_then(|s| s.config_map_name)
        .ok_or_else(|| anyhow::anyhow!("profile {profile} has no status.configMapName yet"))?;
    let cm = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get(&cm_name)
        .await?;
    let text = cm
        .data
        .and_then(|d| d.get("config.yaml").cloned())
        .ok_or_else(|| anyhow::anyhow!("ConfigMap {cm_name} has no config.yaml"))?;
    std::fs::create_dir_all(dir)?;
    let config_path = dir.join(format!("{profile}-config.yaml"));
    std::fs::write(&config_path, text)?;
    let name = format!("ferrosched-{profile}");
    let deployment = Api::<Deployment>::namespaced(client.clone(), namespace)
        .get(&name)
        .await?;
    let kubeconfig = fixtures::service_account_kubeconfig(
        client,
        server,
        ca_pem,
        namespace,
        &name,
        &dir.join("sa"),
    )
    .await?;
    Ok(Operand {
        config_path,
        deployment,
        kubeconfig,
    })
}

impl Operand {
    /// The Deployment's scheduler args with the config, kubeconfig and serving flags made local.
    pub fn args(&self, cert_dir: &Path) -> anyhow::Result<Vec<String>> {
        let c = self
            .deployment
            .spec
            .template
            .spec
            .as_ref()
            .and_then(|p| p.containers.first())
            .ok_or_else(|| anyhow::anyhow!("deployment has no container"))?;
        let mut args = Vec::new();
        for a in c.args.iter().flatten() {
            match a.split('=').next().unwrap_or_default() {
                "--config" => args.push(format!("--config={}", self.config_path.display())),
                "--secure-port"
                | "--bind-address"
                | "--cert-dir"
                | "--tls-cert-file"
                | "--tls-private-key-file" => {}
                _ => args.push(a.clone()),
            }
        }
        args.push(format!("--kubeconfig={}", self.kubeconfig.display()));
        args.push(format!("--secure-port={}", free_port()));
        args.push("--bind-address=127.0.0.1".into());
        args.push(format!("--cert-dir={}", cert_dir.display()));
        Ok(args)
    }
}
