//! The operator's own endpoint: HTTPS only, `/healthz`, `/livez` and `/readyz` open (the
//! probes), `/metrics` and everything else behind delegated authentication (TokenReview)
//! and authorization (SubjectAccessReview): the start-up and guard of the schedulers'
//! secure port, `ferrosched_runtime::serving`.
//!
//! The certificate is `--tls-cert-file`/`--tls-private-key-file`, else a self-signed pair
//! generated in memory at start-up (nothing is written: the root file system is read-only).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use ferrosched_runtime::serving::{self, ClientCerts, DelegatedAuth, Server, ServingOptions};
use tokio_util::sync::CancellationToken;

use crate::error::StartError;
use crate::metrics::{CONTENT_TYPE, Metrics};

/// What the endpoints report.
#[derive(Debug, Default)]
pub struct Health {
    /// Set once the API server and the CRD have been checked.
    pub ready: AtomicBool,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(h): State<Arc<Health>>) -> impl IntoResponse {
    if h.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics(State(h): State<Arc<Health>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], h.metrics.encode())
}

/// The routes, guarded by `auth` outside `always_allow_paths`; separate from the listener
/// so it can be tested without TLS.
pub fn router(health: Arc<Health>, auth: DelegatedAuth, always_allow_paths: Vec<String>) -> Router {
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health);
    serving::guard(routes, auth, always_allow_paths)
}

/// Binds `opts.bind_address:opts.secure_port` (port 0: any free port; `cert_dir` is not
/// used: a generated pair stays in memory) and serves HTTPS until `shutdown` fires. No
/// client certificate is asked for (tokens only). The returned [`Server`]'s TLS
/// configuration lets a certificate from the serving CA replace the first one.
pub async fn serve(
    opts: &ServingOptions,
    health: Arc<Health>,
    auth: DelegatedAuth,
    shutdown: CancellationToken,
) -> Result<Server, StartError> {
    let opts = ServingOptions {
        cert_dir: None,
        ..opts.clone()
    };
    let listener = serving::bind(&opts).map_err(StartError::Serve)?;
    let app = router(health, auth, opts.always_allow_paths.clone());
    serving::serve_on(listener, &opts, ClientCerts::Ignore, app, async move {
        shutdown.cancelled().await;
    })
    .await
    .map_err(StartError::Serve)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use ferrosched_runtime::serving::AlwaysAllow;

    use super::*;

    async fn get(client: &reqwest::Client, addr: SocketAddr, path: &str) -> (u16, String) {
        let r = client
            .get(format!("https://{addr}{path}"))
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    async fn start(auth: DelegatedAuth) -> (SocketAddr, Arc<Health>, CancellationToken) {
        let opts = ServingOptions {
            bind_address: "127.0.0.1".parse().expect("ip"),
            secure_port: 0,
            ..ServingOptions::default()
        };
        let health = Arc::new(Health::default());
        health.metrics.count_write("ConfigMap");
        let stop = CancellationToken::new();
        let server = serve(&opts, health.clone(), auth, stop.clone())
            .await
            .expect("serve");
        (server.addr, health, stop)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .expect("client")
    }

    #[tokio::test]
    async fn health_is_open_and_metrics_need_authorization() {
        // No authorizer: like a server without delegated authz, metrics are forbidden.
        let (addr, health, stop) = start(DelegatedAuth::default()).await;
        let http = client();
        assert_eq!(get(&http, addr, "/healthz").await, (200, "ok".into()));
        assert_eq!(get(&http, addr, "/livez").await.0, 200);
        assert_eq!(get(&http, addr, "/readyz").await.0, 503);
        health.ready.store(true, Ordering::Relaxed);
        assert_eq!(get(&http, addr, "/readyz").await.0, 200);
        let (code, body) = get(&http, addr, "/metrics").await;
        assert_eq!(code, 403);
        assert!(
            body.contains(r#"User \"system:anonymous\" cannot get path \"/metrics\""#),
            "{body}"
        );
        let plain = reqwest::get(format!("http://{addr}/healthz")).await;
        assert!(
            plain.map_or(true, |r| !r.status().is_success()),
            "no plain HTTP"
        );
        stop.cancel();
    }

    #[tokio::test]
    async fn authorized_callers_read_metrics() {
        let (addr, _health, stop) =
            start(DelegatedAuth::new(None, Some(Arc::new(AlwaysAllow)))).await;
        let (code, body) = get(&client(), addr, "/metrics").await;
        assert_eq!(code, 200);
        assert!(
            body.contains(r#"ferrosched_operator_api_writes_total{kind="ConfigMap"} 1"#),
            "{body}"
        );
        stop.cancel();
    }
}
