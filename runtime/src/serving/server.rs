//! Start-up and graceful stop of the HTTPS endpoint, and the authentication/authorization
//! guard in front of its routes.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum_server::tls::TlsInfo;
use axum_server::tls_rustls::RustlsConfig;
use http::{HeaderValue, StatusCode, header};
use tokio::task::JoinHandle;

use super::auth::{AuthOutcome, DelegatedAuth, path_always_allowed};
use super::reload::Build;
use super::{reload, tls};

/// kube-scheduler's default `--secure-port`, the default of [`ServingOptions`].
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
    #[error("failed to parse PEM {what}: {source}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The PEM error.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate PEM holds no `CERTIFICATE` block.
    #[error("failed to parse PEM certificate: no CERTIFICATE block")]
    NoCertificate,
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
    /// Port to listen on (default [`DEFAULT_SECURE_PORT`]).
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

/// Whether the TLS handshake asks for a client certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCerts {
    /// Not asked for: only tokens authenticate.
    Ignore,
    /// Asked for, never required, as kube-scheduler's secure serving; verified per
    /// request by x509 authentication (see [`tls::server_config_requesting_client_certs`]).
    Request,
}

impl ClientCerts {
    fn build(self) -> Build {
        match self {
            ClientCerts::Ignore => tls::server_config,
            ClientCerts::Request => tls::server_config_requesting_client_certs,
        }
    }
}

/// A running secure endpoint.
#[derive(Debug)]
pub struct Server {
    /// The bound address.
    pub addr: SocketAddr,
    /// The server; it ends after shutdown and draining, or on an I/O error.
    pub task: JoinHandle<Result<(), ServingError>>,
    /// The served TLS configuration: reloading it swaps the certificate while serving.
    pub tls: RustlsConfig,
}

/// Binds `opts.bind_address:opts.secure_port` (port 0: any free port).
pub fn bind(opts: &ServingOptions) -> Result<std::net::TcpListener, ServingError> {
    let addr = SocketAddr::new(opts.bind_address, opts.secure_port);
    std::net::TcpListener::bind(addr).map_err(|e| ServingError::Bind(addr, e))
}

/// Serves `app` over HTTPS on an already bound `listener` until `shutdown` completes
/// (then drains for a few seconds); `opts.bind_address` and `opts.secure_port` are not
/// used for binding. The certificate is `opts.tls_cert_file`/`tls_private_key_file`
/// (re-read every minute), else the pair in `opts.cert_dir`, else one generated in
/// memory. Wrap `app` in [`guard`] for authentication and authorization.
pub async fn serve_on<F>(
    listener: std::net::TcpListener,
    opts: &ServingOptions,
    client_certs: ClientCerts,
    app: Router,
    shutdown: F,
) -> Result<Server, ServingError>
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
    let build = client_certs.build();
    let config = RustlsConfig::from_config(build(&pair)?);
    let reloader = match (&opts.tls_cert_file, &opts.tls_private_key_file) {
        (Some(cert), Some(key)) => Some(reload::spawn(
            config.clone(),
            cert.clone(),
            key.clone(),
            pair.clone(),
            build,
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
    let server = axum_server::from_tcp_rustls(listener, config.clone())
        .map_err(|e| ServingError::Bind(addr, e))?
        .handle(handle.clone());
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
    Ok(Server {
        addr,
        task,
        tls: config,
    })
}

/// `routes` behind authentication and authorization by `auth`, except for
/// `always_allow_paths`; every response gets `Cache-Control: no-cache, private`.
pub fn guard(routes: Router, auth: DelegatedAuth, always_allow_paths: Vec<String>) -> Router {
    let guard = Arc::new(Guard {
        auth,
        always_allow_paths,
    });
    routes.layer(middleware::from_fn_with_state(guard, guard_request))
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

/// A `text/plain` response with `X-Content-Type-Options: nosniff`, as Go's `http.Error`.
pub fn text(code: StatusCode, body: impl Into<String>) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (code, headers, body.into()).into_response()
}
