//! The operator's own health and metrics endpoint: `/healthz`, `/readyz`, `/metrics`.
//!
//! Plain HTTP in this first version (no secrets are served; put it behind a NetworkPolicy
//! or scrape it from inside the cluster). The schedulers' endpoints are HTTPS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
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

/// The router, separate from the listener so it can be tested without a socket.
pub fn router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health)
}

/// Binds `addr`; the returned future serves until `shutdown` fires.
pub async fn bind(
    addr: SocketAddr,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> Result<impl Future<Output = Result<(), StartError>>, StartError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Serve { addr, source })?;
    Ok(async move {
        axum::serve(listener, router(health))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .map_err(|source| StartError::Serve { addr, source })
    })
}
