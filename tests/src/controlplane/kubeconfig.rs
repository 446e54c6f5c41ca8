//! Kubeconfig files for the admin and for each component, referring to PEM files by path.

use std::path::Path;

use serde_json::json;

use super::Error;
use super::certs::CertFiles;

/// Write a kubeconfig for `user` (client certificate `creds`) talking to `server`,
/// trusting the CA at `ca`. Paths are absolute, so the file works from any directory.
pub fn write(
    path: &Path,
    server: &str,
    ca: &Path,
    user: &str,
    creds: &CertFiles,
) -> Result<(), Error> {
    let auth = json!({ "client-certificate": creds.cert, "client-key": creds.key });
    write_user(path, server, ca, user, auth)
}

/// Write a kubeconfig for `user` authenticating with the bearer token in `token_file`
/// (kubeconfig's `tokenFile`, so the token itself is never in this file or a log).
pub fn write_token(
    path: &Path,
    server: &str,
    ca: &Path,
    user: &str,
    token_file: &Path,
) -> Result<(), Error> {
    write_user(path, server, ca, user, json!({ "tokenFile": token_file }))
}

/// Write a self-contained kubeconfig for `user`: the CA, certificate and key embedded
/// (`*-data`, as kubeadm's `scheduler.conf`), so it can be mounted alone into a pod.
/// Readable by the owner only.
pub fn write_embedded(
    path: &Path,
    server: &str,
    ca: &Path,
    user: &str,
    creds: &CertFiles,
) -> Result<(), Error> {
    let data = |file: &Path| -> Result<serde_json::Value, Error> {
        let bytes =
            std::fs::read(file).map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
        // ByteString serializes as standard base64, the encoding of kubeconfig `*-data`.
        serde_json::to_value(k8s_openapi::ByteString(bytes))
            .map_err(|e| Error::io("encoding", std::io::Error::other(e)))
    };
    let auth = json!({
        "client-certificate-data": data(&creds.cert)?,
        "client-key-data": data(&creds.key)?,
    });
    let cluster = json!({ "server": server, "certificate-authority-data": data(ca)? });
    write_config(path, cluster, user, auth)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(format!("chmod {}", path.display()), e))
}

fn write_user(
    path: &Path,
    server: &str,
    ca: &Path,
    user: &str,
    auth: serde_json::Value,
) -> Result<(), Error> {
    let cluster = json!({ "server": server, "certificate-authority": ca });
    write_config(path, cluster, user, auth)
}

fn write_config(
    path: &Path,
    cluster: serde_json::Value,
    user: &str,
    auth: serde_json::Value,
) -> Result<(), Error> {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "ferrosched",
            "cluster": cluster,
        }],
        "users": [{
            "name": user,
            "user": auth,
        }],
        "contexts": [{
            "name": "ferrosched",
            "context": { "cluster": "ferrosched", "user": user, "namespace": "default" },
        }],
        "current-context": "ferrosched",
        "preferences": {},
    });
    let yaml = serde_saphyr::to_string(&config).map_err(|e| {
        Error::io(
            "serializing kubeconfig",
            std::io::Error::other(e.to_string()),
        )
    })?;
    std::fs::write(path, yaml).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Load a kubeconfig written by [`write`] as a kube-rs client configuration.
pub async fn load(path: &Path) -> Result<kube::Config, Error> {
    let kubeconfig =
        kube::config::Kubeconfig::read_from(path).map_err(|e| Error::Client(e.to_string()))?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Client(e.to_string()))
}
