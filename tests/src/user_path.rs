//! What a user runs against a cluster with a real node: the project image `hack/image.sh`
//! built, `helm` and `kubectl` with the cluster's kubeconfig, and pod readiness as
//! `kubectl get pods` shows it.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;

use crate::chart;
use crate::controlplane::NodeImage;

/// The project image: `hack/test.sh` and `hack/demo.sh` pass the saved archive and the
/// image's reference in `FERROSCHED_IMAGE_ARCHIVE` and `FERROSCHED_IMAGE`.
pub fn project_image() -> anyhow::Result<NodeImage> {
    let var = |name: &str| {
        std::env::var(name).map_err(|_| {
            anyhow::anyhow!(
                "{name} is not set: build the image with hack/image.sh (hack/test.sh does)"
            )
        })
    };
    let archive = PathBuf::from(var("FERROSCHED_IMAGE_ARCHIVE")?);
    anyhow::ensure!(
        archive.is_file(),
        "{} not found: run hack/image.sh",
        archive.display()
    );
    Ok(NodeImage {
        archive,
        reference: var("FERROSCHED_IMAGE")?,
    })
}

/// `repository:tag` split at the last colon after the last slash.
pub fn split_reference(reference: &str) -> (&str, &str) {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (&reference[..slash + i], &reference[slash + i + 1..]),
        None => (reference, "latest"),
    }
}

/// `helm <args> --kubeconfig=<kubeconfig>`, helm's own files under `home`.
pub fn helm(kubeconfig: &Path, home: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.push(format!("--kubeconfig={}", kubeconfig.display()));
    chart::helm(&all, home)
}

/// `kubectl --kubeconfig=<kubeconfig> <args>`.
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut all = vec![format!("--kubeconfig={}", kubeconfig.display())];
    all.extend(args.iter().map(|a| a.to_string()));
    chart::run(&chart::tool("kubectl"), &all, &[])
}

/// The pod's Ready condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Seconds from the pod's creation to its Ready condition.
pub fn created_to_ready(pod: &Pod) -> Option<f64> {
    let created = pod.metadata.creation_timestamp.as_ref()?.0;
    let ready = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?
        .last_transition_time
        .as_ref()?
        .0;
    Some(ready.duration_since(created).as_secs_f64())
}

/// GETs `https://<server_name>:<port><path>` at `ip`, as a ServiceMonitor scrapes an
/// endpoint: the certificate verified against `ca_pem` (and nothing else) for
/// `server_name`. Returns the HTTP status; a certificate that does not verify is an error.
pub async fn https_verified(
    ip: &str,
    port: u16,
    server_name: &str,
    ca_pem: &str,
    path: &str,
) -> anyhow::Result<u16> {
    let addr = std::net::SocketAddr::new(ip.parse()?, port);
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes())?)
        .resolve(server_name, addr)
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let reply = client
        .get(format!("https://{server_name}:{port}{path}"))
        .send()
        .await?;
    Ok(reply.status().as_u16())
}

/// Whether the PEM chain `chain_pem` (leaf first) verifies for `server_name` against the
/// CA `ca_pem`, now, as a TLS client verifies a server.
pub fn certificate_verifies(chain_pem: &str, ca_pem: &str, server_name: &str) -> bool {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let Ok(ca) = CertificateDer::from_pem_slice(ca_pem.as_bytes()) else {
        return false;
    };
    if roots.add(ca).is_err() {
        return false;
    }
    let Ok(verifier) = rustls::client::WebPkiServerVerifier::builder(roots.into()).build() else {
        return false;
    };
    let Ok(chain) =
        CertificateDer::pem_slice_iter(chain_pem.as_bytes()).collect::<Result<Vec<_>, _>>()
    else {
        return false;
    };
    let (Some(leaf), Ok(name)) = (chain.first(), ServerName::try_from(server_name.to_string()))
    else {
        return false;
    };
    verifier
        .verify_server_cert(leaf, &chain[1..], &name, &[], UnixTime::now())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references_split_at_the_tag_not_the_registry_port() {
        assert_eq!(split_reference("ferrosched:0.1.0"), ("ferrosched", "0.1.0"));
        assert_eq!(
            split_reference("registry:5000/team/ferrosched:1.2"),
            ("registry:5000/team/ferrosched", "1.2")
        );
        assert_eq!(
            split_reference("registry:5000/ferrosched"),
            ("registry:5000/ferrosched", "latest")
        );
    }
}
