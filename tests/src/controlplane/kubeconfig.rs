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

fn write_user(
    path: &Path,
    server: &str,
    ca: &Path,
    user: &str,
    auth: serde_json::Value,
) -> Result<(), Error> {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "ferrosched",
            "cluster": { "server": server, "certificate-authority": ca },
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
