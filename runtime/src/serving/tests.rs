//! The guard over plain HTTP (the router alone) and the real HTTPS server in-process,
//! in front of a stand-in for a process's routes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use futures::future::BoxFuture;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::sync::oneshot;

use super::auth::{AuthError, TokenAuthenticator, UserInfo};
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

/// A stand-in for a process's routes: open health, `/metrics` to guard.
fn routes(auth: Option<DelegatedAuth>) -> Router {
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(|| async { "scheduler_schedule_attempts_total 1\n" }),
        );
    guard(
        routes,
        auth.unwrap_or_default(),
        ServingOptions::default().always_allow_paths,
    )
}

async fn serve_plain(auth: Option<DelegatedAuth>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = routes(auth);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn guards_everything_but_health_paths() {
    let auth = DelegatedAuth::new(Some(Arc::new(OneToken)), None);
    let addr = serve_plain(Some(auth.clone())).await;
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
    assert_eq!(plain_get(addr, "/nope", Some("bad")).await.status, 401);

    let addr = serve_plain(Some(auth.with_anonymous(false))).await;
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
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = bind(&opts).expect("bind");
    let Server { addr, task, .. } = serve_on(
        listener,
        &opts,
        ClientCerts::Request,
        routes(None),
        async move { drop(stopped.await) },
    )
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
async fn client_certificates_are_requested_not_required() {
    use super::auth::x509_tests::TestCa;
    let dir = temp_dir("x509");
    let opts = ServingOptions {
        bind_address: "127.0.0.1".parse().expect("ip"),
        cert_dir: Some(dir.clone()),
        ..ServingOptions::default()
    };
    tls::install_crypto_provider();
    let client_ca = TestCa::new("client-ca");
    let x509 = auth::X509Authenticator::from_pem(client_ca.pem.as_bytes()).expect("bundle");
    let auth = DelegatedAuth::new(Some(Arc::new(OneToken)), None).with_x509(Some(x509));
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let Server { addr, task, .. } = serve_on(
        listener,
        &opts,
        ClientCerts::Request,
        routes(Some(auth)),
        async move { drop(stopped.await) },
    )
    .await
    .expect("serve");
    let pem = std::fs::read(dir.join("kube-scheduler.crt")).expect("cert");
    let ca = CertificateDer::pem_slice_iter(&pem)
        .nth(1)
        .expect("CA")
        .expect("pem");
    let pair = |c: super::auth::x509_tests::TestClient| Some((c.cert_pem, c.key_pem));

    // A system:masters certificate from the client CA reads /metrics.
    let admin = client_ca.client("admin", &["system:masters"]);
    let reply = https_get_as(addr, ca.clone(), "/metrics", None, pair(admin)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("scheduler_schedule_attempts_total"));
    // Trusted but not allowed: 403 naming the certificate's CN.
    let jane = client_ca.client("jane", &[]);
    let reply = https_get_as(addr, ca.clone(), "/metrics", None, pair(jane)).await;
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains(r#"User \"jane\""#), "{}", reply.body);
    // A certificate from another CA completes the handshake and is 401.
    let stranger = TestCa::new("other-ca").client("admin", &["system:masters"]);
    let reply = https_get_as(addr, ca.clone(), "/metrics", None, pair(stranger)).await;
    assert_eq!(reply.status, 401);
    // No certificate: tokens still authenticate, health stays open.
    let reply = https_get(addr, ca.clone(), "/metrics", Some("good")).await;
    assert!(
        reply.body.contains(r#"User \"prometheus\""#),
        "{}",
        reply.body
    );
    assert_eq!(
        https_get(addr, ca.clone(), "/healthz", None).await.status,
        200
    );

    stop.send(()).expect("server running");
    task.await.expect("server task").expect("server result");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn renewed_certificate_files_are_served_without_a_restart() {
    tls::install_crypto_provider();
    let dir = temp_dir("reload");
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let ip = "127.0.0.1".parse().expect("ip");
    let first = tls::self_signed(ip).expect("first pair");
    let second = tls::self_signed(ip).expect("second pair");
    let write = |path: &PathBuf, bytes: &[u8]| std::fs::write(path, bytes).expect("write");
    write(&cert, &first.cert_pem);
    write(&key, &first.key_pem);
    let config = axum_server::tls_rustls::RustlsConfig::from_config(
        tls::server_config(&first).expect("config"),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    let server = tokio::spawn(
        axum_server::from_tcp_rustls(listener, config.clone())
            .expect("server")
            .serve(app.into_make_service()),
    );
    let ca = |p: &tls::CertKey| {
        CertificateDer::pem_slice_iter(&p.cert_pem)
            .nth(1)
            .expect("CA")
            .expect("pem")
    };
    assert_eq!(
        https_get(addr, ca(&first), "/healthz", None).await.status,
        200
    );

    let mut current = first.clone();
    let reload = |current: &mut tls::CertKey| {
        reload::reload_if_changed(&config, &cert, &key, current, tls::server_config)
    };
    assert!(!reload(&mut current), "unchanged files");
    // Half renewed (the new certificate, the old key): the old pair stays.
    write(&cert, &second.cert_pem);
    assert!(!reload(&mut current), "a mismatched pair is not served");
    assert_eq!(
        https_get(addr, ca(&first), "/healthz", None).await.status,
        200
    );
    write(&key, &second.key_pem);
    assert!(reload(&mut current), "the renewed pair");
    assert_eq!(
        https_get(addr, ca(&second), "/healthz", None).await.status,
        200
    );
    let old_ca = ca(&first);
    let stale = tokio::spawn(async move { https_get(addr, old_ca, "/healthz", None).await });
    assert!(stale.await.is_err(), "the old CA no longer verifies");
    server.abort();
    let _ = std::fs::remove_dir_all(dir);
}
