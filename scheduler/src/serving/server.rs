//! The secure (HTTPS-only) endpoint: `/healthz`, `/livez`, `/readyz`, `/metrics`, behind
//! delegated authentication and authorization (see [`super::auth`]).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_server::tls::TlsInfo;
use axum_server::tls_rustls::RustlsConfig;
use http::{HeaderValue, StatusCode, header};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::auth::{AuthOutcome, DelegatedAuth, path_always_allowed};
use super::health::Health;
use super::metrics::{CONTENT_TYPE as METRICS_CONTENT_TYPE, SchedulerMetrics};
use super::tls;

/// kube-scheduler's default `--secure-port`.
pub const DEFAULT_SECURE_PORT: u16 = 10259;

/// How long in-flight requests may run once shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Errors of setting up or running the secure endpoint.
#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// Inconsistent serving options.
    #[error("invalid serving options: {0}")]
    Options(String),
    /// A certificate or key file could not be read.
    #[error("failed to read {0}: {1}")]
    ReadFile(PathBuf, #[source] std::io::Error),
    /// A generated certificate or key could not be written.
    #[error("failed to write {0}: {1}")]
    WriteFile(PathBuf, #[source] std::io::Error),
    /// A certificate or key is not valid PEM.
    #[error("failed to parse PEM {0}")]
    Pem(String),
    /// The self-signed certificate could not be generated.
    #[error("failed to generate self-signed certificate: {0}")]
    CertGeneration(#[from] rcgen::Error),
    /// rustls rejected the certificate or key.
    #[error("failed to build TLS config: {0}")]
    Tls(#[from] rustls::Error),
    /// The listening socket could not be opened.
    #[error("failed to listen on {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
    /// The server stopped with an I/O error.
    #[error("failed to serve: {0}")]
    Serve(#[source] std::io::Error),
}

/// Secure serving flags (`--bind-address`, `--secure-port`, `--cert-dir`, `--tls-*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServingOptions {
    /// Address to listen on (default `0.0.0.0`).
    pub bind_address: IpAddr,
    /// Port to listen on (default 10259; 0 disables secure serving, as upstream).
    pub secure_port: u16,
    /// Where a generated self-signed pair is kept (`kube-scheduler.crt`/`.key`); `None`:
    /// in memory.
    pub cert_dir: Option<PathBuf>,
    /// PEM certificate chain to serve (with `tls_private_key_file`).
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_private_key_file: Option<PathBuf>,
    /// Paths served without authentication or authorization (exact, or prefix with `*`).
    pub always_allow_paths: Vec<String>,
}

impl Default for ServingOptions {
    fn default() -> Self {
        Self {
            bind_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            secure_port: DEFAULT_SECURE_PORT,
            cert_dir: None,
            tls_cert_file: None,
            tls_private_key_file: None,
            always_allow_paths: ["/healthz", "/readyz", "/livez"].map(String::from).to_vec(),
        }
    }
}

/// What the endpoints report.
#[derive(Clone, Debug)]
pub struct ServingState {
    /// `true` once the informer caches are synced; drives `/readyz`.
    pub ready: watch::Receiver<bool>,
    /// Served on `/metrics`.
    pub metrics: Arc<SchedulerMetrics>,
    /// Drives `/livez` and `/healthz`: failed once a worker the process needs has died.
    pub health: Health,
    /// Delegated authn/authz. `None` behaves like kube-scheduler without
    /// authentication/authorization kubeconfigs: every request is anonymous and every
    /// path outside `always_allow_paths` is `403`. To open `/metrics` deliberately (tests),
    /// pass `DelegatedAuth::new(None, Some(Arc::new(AlwaysAllow)))`.
    pub auth: Option<DelegatedAuth>,
    /// `enableProfiling`: serve `/debug/pprof/` (see [`super::profiling`]); off: 404 there.
    pub profiling: bool,
}

/// A running secure endpoint.
pub type Serving = (SocketAddr, JoinHandle<Result<(), ServingError>>);

/// Binds `opts.bind_address:opts.secure_port` and serves HTTPS until `shutdown`
/// completes (then drains for a few seconds). Returns the bound address and the server
/// task, or `None` when `opts.secure_port` is 0: as kube-scheduler's `--secure-port 0`,
/// that disables secure serving (no health, readiness or metrics endpoint at all).
pub async fn serve<F>(
    opts: ServingOptions,
    state: ServingState,
    shutdown: F,
) -> Result<Option<Serving>, ServingError>
where
    F: Future<Output = ()> + Send + 'static,
{
    if opts.secure_port == 0 {
        tracing::info!("secure serving disabled (--secure-port 0)");
        return Ok(None);
    }
    let addr = SocketAddr::new(opts.bind_address, opts.secure_port);
    let listener = std::net::TcpListener::bind(addr).map_err(|e| ServingError::Bind(addr, e))?;
    serve_on(listener, opts, state, shutdown).await.map(Some)
}

/// Serves HTTPS on an already bound `listener` (tests bind port 0 for a free port);
/// `opts.bind_address` and `opts.secure_port` are not used for binding.
pub async fn serve_on<F>(
    listener: std::net::TcpListener,
    opts: ServingOptions,
    state: ServingState,
    shutdown: F,
) -> Result<Serving, ServingError>
where
    F: Future<Output = ()> + Send + 'static,
{
    tls::install_crypto_provider();
    let pair = tls::load_or_generate(
        opts.tls_cert_file.as_deref(),
        opts.tls_private_key_file.as_deref(),
        opts.cert_dir.as_deref(),
        opts.bind_address,
    )?;
    let config = RustlsConfig::from_config(tls::server_config_requesting_client_certs(&pair)?);
    let reloader = match (&opts.tls_cert_file, &opts.tls_private_key_file) {
        (Some(cert), Some(key)) => Some(super::reload::spawn(
            config.clone(),
            cert.clone(),
            key.clone(),
            pair.clone(),
            tls::server_config_requesting_client_certs,
        )),
        _ => None,
    };
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::new(opts.bind_address, opts.secure_port));
    listener
        .set_nonblocking(true)
        .map_err(|e| ServingError::Bind(addr, e))?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, config)
        .map_err(|e| ServingError::Bind(addr, e))?
        .handle(handle.clone());
    let app = router(state, opts.always_allow_paths);
    tracing::info!(address = %addr, "serving securely");
    let task = tokio::spawn(async move {
        let serving = server.serve(app.into_make_service());
        tokio::pin!(serving);
        let result = tokio::select! {
            result = &mut serving => result.map_err(ServingError::Serve),
            () = shutdown => {
                handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
                serving.await.map_err(ServingError::Serve)
            }
        };
        if let Some(r) = reloader {
            r.abort();
        }
        result
    });
    Ok((addr, task))
}

/// The routes, wrapped in authentication/authorization for paths not always allowed.
pub fn router(state: ServingState, always_allow_paths: Vec<String>) -> Router {
    let guard = Arc::new(Guard {
        auth: state.auth.clone().unwrap_or_default(),
        always_allow_paths,
    });
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    let routes = if state.profiling {
        routes.merge(super::profiling::routes())
    } else {
        routes
    };
    routes
        .fallback(not_found)
        .with_state(Arc::new(state))
        .layer(middleware::from_fn_with_state(guard, guard_request))
}

struct Guard {
    auth: DelegatedAuth,
    always_allow_paths: Vec<String>,
}

async fn guard_request(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let outcome = if path_always_allowed(&guard.always_allow_paths, path) {
        AuthOutcome::Allowed
    } else {
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let peer_certificates = request
            .extensions()
            .get::<Arc<TlsInfo>>()
            .map(|info| info.peer_certificates.as_slice())
            .unwrap_or_default();
        guard
            .auth
            .check_request(request.method().as_str(), path, header, peer_certificates)
            .await
    };
    let mut response = match outcome {
        AuthOutcome::Allowed => next.run(request).await,
        AuthOutcome::Unauthorized => {
            status_json(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
        }
        AuthOutcome::Forbidden(message) => {
            status_json(StatusCode::FORBIDDEN, "Forbidden", &message)
        }
        AuthOutcome::Failed(message) => {
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("{message}\n"))
        }
    };
    // As upstream's WithCacheControl: responses carry credentials-dependent content.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}

/// A `metav1.Status` failure body, byte for byte as kube-scheduler writes it for 401/403
/// (field order, two-space indentation, `details` only on 403).
fn status_json(code: StatusCode, reason: &str, message: &str) -> Response {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let details = if code == StatusCode::FORBIDDEN {
        "\n  \"details\": {},"
    } else {
        ""
    };
    let body = format!(
        "{{\n  \"kind\": \"Status\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": {{}},\n  \
         \"status\": \"Failure\",\n  \"message\": {},\n  \"reason\": {},{details}\n  \"code\": {}\n}}",
        quote(message),
        quote(reason),
        code.as_u16()
    );
    let headers = [
        (header::CONTENT_TYPE, "application/json"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (code, headers, body).into_response()
}

fn text(code: StatusCode, body: impl Into<String>) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (code, headers, body.into()).into_response()
}

async fn livez(State(state): State<Arc<ServingState>>) -> Response {
    alive(&state, "livez")
}

async fn healthz(State(state): State<Arc<ServingState>>) -> Response {
    alive(&state, "healthz")
}

fn alive(state: &ServingState, endpoint: &str) -> Response {
    match state.health.report(endpoint) {
        None => text(StatusCode::OK, "ok"),
        Some(body) => text(StatusCode::INTERNAL_SERVER_ERROR, body),
    }
}

async fn readyz(State(state): State<Arc<ServingState>>) -> Response {
    if *state.ready.borrow() {
        text(StatusCode::OK, "ok")
    } else {
        let body = "[+]ping ok\n[-]informer-sync failed: caches not synced\nreadyz check failed\n";
        text(StatusCode::INTERNAL_SERVER_ERROR, body)
    }
}

async fn metrics(State(state): State<Arc<ServingState>>) -> Response {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        state.metrics.encode(),
    )
        .into_response()
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "404 page not found\n")
}
