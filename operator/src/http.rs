//! The operator's own endpoint: HTTPS only, `/healthz`, `/livez` and `/readyz` open (the
//! probes), `/metrics` and everything else behind delegated authentication (TokenReview)
//! and authorization (SubjectAccessReview) — the schedulers' secure port, built from the
//! same blocks (`ferrosched_runtime::serving::{tls, auth}`).
//!
//! The certificate is `--tls-cert-file`/`--tls-private-key-file`, else a self-signed pair
//! generated in memory at start-up (nothing is written: the root file system is read-only).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_server::tls_rustls::RustlsConfig;
use ferrosched_runtime::serving::auth::{AuthOutcome, path_always_allowed};
use ferrosched_runtime::serving::{DelegatedAuth, ServingError, ServingOptions, reload, tls};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::StartError;
use crate::metrics::{CONTENT_TYPE, Metrics};

/// How long in-flight requests may run once shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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

struct Guard {
    auth: DelegatedAuth,
    always_allow_paths: Vec<String>,
}

async fn guard(State(g): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let outcome = if path_always_allowed(&g.always_allow_paths, path) {
        AuthOutcome::Allowed
    } else {
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        g.auth.check(request.method().as_str(), path, header).await
    };
    let mut response = match outcome {
        AuthOutcome::Allowed => next.run(request).await,
        AuthOutcome::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response(),
        AuthOutcome::Forbidden(message) => {
            (StatusCode::FORBIDDEN, format!("{message}\n")).into_response()
        }
        AuthOutcome::Failed(message) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{message}\n")).into_response()
        }
    };
    // Responses depend on the caller's credentials.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}

/// The routes, guarded by `auth` outside `always_allow_paths`; separate from the listener
/// so it can be tested without TLS.
pub fn router(health: Arc<Health>, auth: DelegatedAuth, always_allow_paths: Vec<String>) -> Router {
    let g = Arc::new(Guard {
        auth,
        always_allow_paths,
    });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health)
        .layer(middleware::from_fn_with_state(g, guard))
}

/// The operator's secure endpoint: its address, its task, and its TLS configuration (a
/// certificate from the serving CA replaces the first one through it).
pub type Served = (SocketAddr, JoinHandle<Result<(), StartError>>, RustlsConfig);

/// Binds `opts.bind_address:opts.secure_port` (`cert_dir` is not used: a generated pair
/// stays in memory) and serves HTTPS until `shutdown` fires. Given certificate files
/// are re-read while serving, as the scheduler does.
pub async fn serve(
    opts: &ServingOptions,
    health: Arc<Health>,
    auth: DelegatedAuth,
    shutdown: CancellationToken,
) -> Result<Served, StartError> {
    tls::install_crypto_provider();
    let pair = tls::load_or_generate(
        opts.tls_cert_file.as_deref(),
        opts.tls_private_key_file.as_deref(),
        None,
        opts.bind_address,
    )
    .map_err(StartError::Serve)?;
    let config = RustlsConfig::from_config(tls::server_config(&pair).map_err(StartError::Serve)?);
    let reloader = match (&opts.tls_cert_file, &opts.tls_private_key_file) {
        (Some(cert), Some(key)) => Some(reload::spawn(
            config.clone(),
            cert.clone(),
            key.clone(),
            pair.clone(),
            tls::server_config,
        )),
        _ => None,
    };
    let addr = SocketAddr::new(opts.bind_address, opts.secure_port);
    let bind_err = |e| StartError::Serve(ServingError::Bind(addr, e));
    let listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, config.clone())
        .map_err(bind_err)?
        .handle(handle.clone());
    let app = router(health, auth, opts.always_allow_paths.clone());
    let failed = |e| StartError::Serve(ServingError::Serve(e));
    let task = tokio::spawn(async move {
        let serving = server.serve(app.into_make_service());
        tokio::pin!(serving);
        let result = tokio::select! {
            result = &mut serving => result.map_err(failed),
            () = shutdown.cancelled() => {
                handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
                serving.await.map_err(failed)
            }
        };
        if let Some(r) = reloader {
            r.abort();
        }
        result
    });
    Ok((local, task, config))
}

#[cfg(test)]
mod tests {
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
        let (addr, _task, _tls) = serve(&opts, health.clone(), auth, stop.clone())
            .await
            .expect("serve");
        (addr, health, stop)
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
            body.contains(r#"User "system:anonymous" cannot get path "/metrics""#),
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
