//! Routing over plain HTTP (the router alone) and the real HTTPS server in-process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::sync::{oneshot, watch};

use ferrosched_runtime::serving::auth::{AuthError, TokenAuthenticator, UserInfo};
use ferrosched_runtime::serving::{AlwaysAllow, DelegatedAuth};

use super::*;

/// Accepts the token `good` as user `prometheus`.
struct OneToken;

impl TokenAuthenticator for OneToken {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>> {
        let user = (token == "good").then(|| UserInfo {
            name: "prometheus".into(),
            ..UserInfo::default()
        });
        Box::pin(async move { Ok(user) })
    }
}

fn serving_state(auth: Option<DelegatedAuth>) -> (ServingState, watch::Sender<bool>) {
    let (ready_tx, ready) = watch::channel(false);
    let metrics = Arc::new(SchedulerMetrics::new());
    metrics.observe_attempt(AttemptResult::Scheduled, "default-scheduler", 0.01);
    (
        ServingState {
            ready,
            metrics,
            health: Health::default(),
            auth,
            profiling: true,
        },
        ready_tx,
    )
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// One HTTP/1.1 request over any stream (plain or TLS), read until the server closes.
fn exchange(
    mut stream: impl Read + Write,
    path: &str,
    token: Option<&str>,
) -> std::io::Result<Reply> {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    // A peer closing without close_notify is fine once the response is complete.
    if let Err(e) = stream.read_to_end(&mut raw)
        && raw.is_empty()
    {
        return Err(e);
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Reply {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    })
}

async fn plain_get(addr: SocketAddr, path: &'static str, token: Option<&'static str>) -> Reply {
    tokio::task::spawn_blocking(move || exchange(TcpStream::connect(addr)?, path, token))
        .await
        .expect("request task")
        .expect("plain request")
}

async fn https_get(
    addr: SocketAddr,
    ca: CertificateDer<'static>,
    path: &'static str,
    token: Option<&'static str>,
) -> Reply {
    https_get_as(addr, ca, path, token, None).await
}

/// As [`https_get`], presenting the client certificate and key `client` (PEM) if given.
async fn https_get_as(
    addr: SocketAddr,
    ca: CertificateDer<'static>,
    path: &'static str,
    token: Option<&'static str>,
    client: Option<(String, String)>,
) -> Reply {
    tokio::task::spawn_blocking(move || {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).expect("CA is a valid trust anchor");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
        let config = match client {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("client cert");
                let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())
                    .expect("client key");
                config
                    .with_client_auth_cert(chain, key)
                    .expect("client auth")
            }
            None => config.with_no_client_auth(),
        };
        let name = ServerName::try_from("localhost").expect("server name");
        let conn =
            rustls::ClientConnection::new(Arc::new(config), name).expect("client connection");
        exchange(
            rustls::StreamOwned::new(conn, TcpStream::connect(addr)?),
            path,
            token,
        )
    })
    .await
    .expect("request task")
    .expect("https request")
}

async fn serve_plain(state: ServingState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = router(state, ServingOptions::default().always_allow_paths);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn routes_health_readiness_and_metrics() {
    let open = DelegatedAuth::new(None, Some(Arc::new(AlwaysAllow)));
    let (state, ready) = serving_state(Some(open));
    let health = state.health.clone();
    let addr = serve_plain(state).await;

    for path in ["/healthz", "/livez"] {
        let reply = plain_get(addr, path, None).await;
        assert_eq!((reply.status, reply.body.as_str()), (200, "ok"), "{path}");
    }
    health.fail("scheduling-loop", "panicked");
    for (path, last) in [("/healthz", "healthz"), ("/livez", "livez")] {
        let reply = plain_get(addr, path, None).await;
        assert_eq!(reply.status, 500, "{path}");
        assert_eq!(
            reply.body,
            format!(
                "[+]ping ok\n[-]scheduling-loop failed: reason withheld\n{last} check failed\n"
            )
        );
    }
    let reply = plain_get(addr, "/readyz", None).await;
    assert_eq!(reply.status, 500);
    assert!(
        reply.body.contains("[-]informer-sync failed"),
        "{}",
        reply.body
    );
    ready.send_replace(true);
    assert_eq!(plain_get(addr, "/readyz", None).await.status, 200);

    let reply = plain_get(addr, "/metrics", None).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .head
            .contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(reply.body.contains(
        r#"scheduler_schedule_attempts_total{result="scheduled",profile="default-scheduler"} 1"#
    ));
    assert!(reply.body.ends_with("# EOF\n"));
    assert_eq!(plain_get(addr, "/nope", None).await.status, 404);
}

#[tokio::test]
async fn guards_everything_but_health_paths() {
    let auth = DelegatedAuth::new(Some(Arc::new(OneToken)), None);
    let (state, _ready) = serving_state(Some(auth.clone()));
    let addr = serve_plain(state).await;
    assert_eq!(plain_get(addr, "/healthz", Some("bad")).await.status, 200);
    assert_eq!(plain_get(addr, "/metrics", Some("bad")).await.status, 401);
    // Anonymous (upstream default) or authenticated without an authorizer: 403.
    let reply = plain_get(addr, "/metrics", None).await;
    assert_eq!(reply.status, 403);
    // Byte for byte what kube-scheduler v1.37.2 answers.
    let upstream = r#"{
  "kind": "Status",
  "apiVersion": "v1",
  "metadata": {},
  "status": "Failure",
  "message": "forbidden: User \"system:anonymous\" cannot get path \"/metrics\"",
  "reason": "Forbidden",
  "details": {},
  "code": 403
}"#;
    assert_eq!(reply.body, upstream);
    assert!(reply.head.contains("content-type: application/json"));
    let reply = plain_get(addr, "/metrics", Some("good")).await;
    assert!(
        reply
            .body
            .contains(r#"User \"prometheus\" cannot get path \"/metrics\""#)
    );
    // Unknown paths are guarded too.
    assert_eq!(
        plain_get(addr, "/debug/pprof", Some("bad")).await.status,
        401
    );

    let (state, _ready) = serving_state(Some(auth.with_anonymous(false)));
    let addr = serve_plain(state).await;
    let reply = plain_get(addr, "/metrics", None).await;
    assert_eq!(reply.status, 401);
    let upstream = r#"{
  "kind": "Status",
  "apiVersion": "v1",
  "metadata": {},
  "status": "Failure",
  "message": "Unauthorized",
  "reason": "Unauthorized",
  "code": 401
}"#;
    assert_eq!(reply.body, upstream);
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferrosched-{name}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn serves_https_with_generated_cert() {
    let dir = temp_dir("serving");
    let opts = ServingOptions {
        bind_address: "127.0.0.1".parse().expect("ip"),
        secure_port: 0,
        cert_dir: Some(dir.clone()),
        ..ServingOptions::default()
    };
    let (state, ready) = serving_state(None);
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let (addr, task) = serve_on(listener, opts, state, async move { drop(stopped.await) })
        .await
        .expect("serve");
    assert_ne!(addr.port(), 0);

    let pem = std::fs::read(dir.join("kube-scheduler.crt")).expect("generated cert written");
    assert!(dir.join("kube-scheduler.key").exists());
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .expect("pem");
    assert_eq!(chain.len(), 2, "leaf then CA, as upstream");
    let ca = chain[1].clone();

    let reply = https_get(addr, ca.clone(), "/healthz", None).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    assert_eq!(
        https_get(addr, ca.clone(), "/readyz", None).await.status,
        500
    );
    ready.send_replace(true);
    assert_eq!(
        https_get(addr, ca.clone(), "/readyz", None).await.status,
        200
    );
    // No authentication configured: anonymous, and no authorizer to allow it.
    assert_eq!(
        https_get(addr, ca.clone(), "/metrics", None).await.status,
        403
    );

    // Plain HTTP on the secure port never gets a 200.
    let plain =
        tokio::task::spawn_blocking(move || exchange(TcpStream::connect(addr)?, "/healthz", None));
    if let Ok(reply) = plain.await.expect("plain task") {
        assert_ne!(reply.status, 200);
    }

    stop.send(()).expect("server running");
    task.await.expect("server task").expect("server result");
    assert!(
        TcpStream::connect(addr).is_err(),
        "listener closed after shutdown"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn secure_port_zero_disables_serving() {
    // kube-scheduler's `--secure-port 0` turns secure serving off; it is not "any port".
    let dir = temp_dir("disabled");
    let opts = ServingOptions {
        bind_address: "127.0.0.1".parse().expect("ip"),
        secure_port: 0,
        cert_dir: Some(dir.clone()),
        ..ServingOptions::default()
    };
    let (state, _ready) = serving_state(None);
    let served = serve(opts, state, std::future::pending())
        .await
        .expect("no error");
    assert!(served.is_none(), "nothing is served on port 0");
    assert!(
        !dir.join("kube-scheduler.crt").exists(),
        "no certificate is generated either"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn profiling_paths_follow_enable_profiling_behind_auth() {
    let open = DelegatedAuth::new(None, Some(Arc::new(AlwaysAllow)));
    let (state, _ready) = serving_state(Some(open.clone()));
    let addr = serve_plain(state).await;
    let index = plain_get(addr, "/debug/pprof/", None).await;
    assert_eq!(index.status, 200);
    assert!(index.body.contains("cmdline") && index.body.contains("heap"));
    let cmdline = plain_get(addr, "/debug/pprof/cmdline", None).await;
    assert_eq!(cmdline.status, 200);
    assert!(!cmdline.body.is_empty());
    assert!(
        index.body.contains("profile: CPU profile"),
        "{}",
        index.body
    );
    for path in ["/debug/pprof/heap", "/debug/pprof/goroutine"] {
        let reply = plain_get(addr, path, None).await;
        assert_eq!(reply.status, 501, "{path}");
        assert!(reply.body.contains("Rust process"), "{}", reply.body);
    }
    // The CPU profile itself samples the whole process (e2e: tests/tests/parity.rs); here
    // only its bounds, which answer before any sampling starts.
    let reply = plain_get(addr, "/debug/pprof/profile?seconds=301", None).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(plain_get(addr, "/debug/pprof/nope", None).await.status, 404);

    // enableProfiling: false: the paths do not exist.
    let (mut state, _ready) = serving_state(Some(open));
    state.profiling = false;
    let addr = serve_plain(state).await;
    assert_eq!(plain_get(addr, "/debug/pprof/", None).await.status, 404);
    assert_eq!(
        plain_get(addr, "/debug/pprof/cmdline", None).await.status,
        404
    );

    // Behind authentication and authorization like everything but health.
    let guarded = DelegatedAuth::new(Some(Arc::new(OneToken)), None);
    let (state, _ready) = serving_state(Some(guarded));
    let addr = serve_plain(state).await;
    assert_eq!(plain_get(addr, "/debug/pprof/", None).await.status, 403);
    assert_eq!(
        plain_get(addr, "/debug/pprof/", Some("bad")).await.status,
        401
    );
}
