//! Certificate files re-read while serving, as kube-scheduler's dynamic serving
//! certificate does: a renewed Secret reaches the mounted files, and the new pair is
//! served from then on, without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use tokio::task::JoinHandle;

use super::ServingError;
use super::tls::CertKey;

/// How often the files are compared with what is served (upstream watches the files and
/// also re-reads them every minute).
pub const RELOAD_PERIOD: Duration = Duration::from_secs(60);

/// Builds the server config of a pair.
pub type Build = fn(&CertKey) -> Result<Arc<ServerConfig>, ServingError>;

/// Reads `cert` and `key`; when they differ from `current` and make a valid config, serves
/// them from now on and returns `true`. Files that cannot be read or do not make a pair
/// (one renewed, the other not yet) keep the current pair, to be tried again.
pub fn reload_if_changed(
    config: &RustlsConfig,
    cert: &Path,
    key: &Path,
    current: &mut CertKey,
    build: Build,
) -> bool {
    let (Ok(cert_pem), Ok(key_pem)) = (std::fs::read(cert), std::fs::read(key)) else {
        return false;
    };
    if cert_pem == current.cert_pem && key_pem == current.key_pem {
        return false;
    }
    let next = CertKey { cert_pem, key_pem };
    match build(&next) {
        Ok(server_config) => {
            config.reload_from_config(server_config);
            *current = next;
            tracing::info!(cert = %cert.display(), "serving a renewed certificate");
            true
        }
        Err(err) => {
            tracing::warn!(cert = %cert.display(), %err, "changed certificate files do not load; serving the previous pair");
            false
        }
    }
}

/// Runs [`reload_if_changed`] every [`RELOAD_PERIOD`] until aborted.
pub fn spawn(
    config: RustlsConfig,
    cert: PathBuf,
    key: PathBuf,
    mut current: CertKey,
    build: Build,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RELOAD_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            reload_if_changed(&config, &cert, &key, &mut current, build);
        }
    })
}
