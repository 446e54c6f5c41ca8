//! The scheduler's secure (HTTPS-only) endpoint: `/healthz`, `/livez`, `/readyz`,
//! `/metrics` (and `/debug/pprof/`), behind `ferrosched_runtime::serving`'s guard.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrosched_runtime::serving::{
    self as runtime, ClientCerts, DelegatedAuth, ServingError, ServingOptions, text,
};
use http::{StatusCode, header};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::health::Health;
use super::metrics::{CONTENT_TYPE as METRICS_CONTENT_TYPE, SchedulerMetrics};

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
    let listener = runtime::bind(&opts)?;
    serve_on(listener, opts, state, shutdown).await.map(Some)
}

/// Serves HTTPS on an already bound `listener` (tests bind port 0 for a free port);
/// `opts.bind_address` and `opts.secure_port` are not used for binding. Client
/// certificates are requested, as kube-scheduler's secure serving does.
pub async fn serve_on<F>(
    listener: std::net::TcpListener,
    opts: ServingOptions,
    state: ServingState,
    shutdown: F,
) -> Result<Serving, ServingError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let app = router(state, opts.always_allow_paths.clone());
    let server = runtime::serve_on(listener, &opts, ClientCerts::Request, app, shutdown).await?;
    Ok((server.addr, server.task))
}

/// The routes, wrapped in authentication/authorization for paths not always allowed.
pub fn router(state: ServingState, always_allow_paths: Vec<String>) -> Router {
    let auth = state.auth.clone().unwrap_or_default();
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
    let routes = routes.fallback(not_found).with_state(Arc::new(state));
    runtime::guard(routes, auth, always_allow_paths)
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
