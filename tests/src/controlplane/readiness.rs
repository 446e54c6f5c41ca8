//! Readiness probes: poll every 100 ms up to a deadline, failing early (with the log
//! tail) if any component exits meanwhile.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};

use super::certs::Pki;
use super::{ControlPlane, Error};

const POLL_INTERVAL: Duration = Duration::from_millis(100);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
const ETCD_TIMEOUT: Duration = Duration::from_secs(30);
const APISERVER_TIMEOUT: Duration = Duration::from_secs(60);
const CONTROLLER_MANAGER_TIMEOUT: Duration = Duration::from_secs(60);
const KWOK_TIMEOUT: Duration = Duration::from_secs(30);
const KUBE_SCHEDULER_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) async fn poll<F, Fut>(
    cp: &mut ControlPlane,
    component: &'static str,
    waiting_for: &str,
    timeout: Duration,
    mut probe: F,
) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        cp.check_alive()?;
        let last_error = match tokio::time::timeout(PROBE_TIMEOUT, probe()).await {
            Ok(Ok(())) => {
                tracing::debug!(component, waiting_for, elapsed = ?started.elapsed(), "ready");
                return Ok(());
            }
            Ok(Err(e)) => e,
            Err(_) => format!("probe timed out after {PROBE_TIMEOUT:?}"),
        };
        if started.elapsed() >= timeout {
            cp.check_alive()?;
            let log_tail = cp
                .component(component)
                .map(|c| c.log_tail())
                .unwrap_or_default();
            return Err(Error::NotReady {
                component,
                waiting_for: waiting_for.to_owned(),
                timeout,
                last_error,
                log_tail,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// GET `url`; Ok if 200, else the status and body.
pub(super) async fn get_ok(http: &reqwest::Client, url: &str) -> Result<(), String> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    let failing: Vec<&str> = body.lines().filter(|l| l.starts_with("[-]")).collect();
    let detail = if failing.is_empty() {
        body.trim().to_owned()
    } else {
        failing.join("; ")
    };
    Err(format!("GET {url}: {status}: {detail}"))
}

fn plain_http() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(PROBE_TIMEOUT)
        .build()
        .map_err(|e| Error::Client(e.to_string()))
}

/// etcd's `/health` says `{"health":"true"}`.
pub async fn etcd(cp: &mut ControlPlane, port: u16) -> Result<(), Error> {
    let http = plain_http()?;
    let url = format!("http://127.0.0.1:{port}/health");
    poll(cp, "etcd", "/health", ETCD_TIMEOUT, || get_ok(&http, &url)).await
}

/// kube-apiserver's `/readyz` (as admin), then the `default` namespace exists.
pub async fn apiserver(cp: &mut ControlPlane, pki: &Pki) -> Result<(), Error> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| Error::io(format!("reading {}", p.display()), e))
    };
    let mut identity = read(&pki.admin.cert)?;
    identity.extend(read(&pki.admin.key)?);
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .timeout(PROBE_TIMEOUT)
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(pki.ca_pem.as_bytes())
                .map_err(|e| Error::Client(e.to_string()))?,
        )
        .identity(reqwest::Identity::from_pem(&identity).map_err(|e| Error::Client(e.to_string()))?)
        .build()
        .map_err(|e| Error::Client(e.to_string()))?;
    let url = format!("{}/readyz", cp.server_url);
    poll(cp, "kube-apiserver", "/readyz", APISERVER_TIMEOUT, || {
        get_ok(&http, &url)
    })
    .await?;

    let namespaces: Api<Namespace> = Api::all(cp.try_client()?);
    poll(
        cp,
        "kube-apiserver",
        "namespace default",
        APISERVER_TIMEOUT,
        || async {
            match namespaces.get_opt("default").await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err("namespace default does not exist yet".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await
}

/// With kube-controller-manager: wait until it has created ServiceAccount
/// `default/default`. Without it: create that ServiceAccount, else every pod create in
/// `default` waits for it in the ServiceAccount admission plugin and times out.
pub async fn default_service_account(
    cp: &mut ControlPlane,
    controller_manager: bool,
) -> Result<(), Error> {
    let accounts: Api<ServiceAccount> = Api::namespaced(cp.try_client()?, "default");
    if !controller_manager {
        let mut sa = ServiceAccount::default();
        sa.metadata.name = Some("default".to_owned());
        return match accounts.create(&PostParams::default(), &sa).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(Error::Client(format!(
                "creating ServiceAccount default/default: {e}"
            ))),
        };
    }
    poll(
        cp,
        "kube-controller-manager",
        "ServiceAccount default/default",
        CONTROLLER_MANAGER_TIMEOUT,
        || async {
            match accounts.get_opt("default").await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err("ServiceAccount default/default does not exist yet".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await
}

/// kwok's `/healthz` on its `--server-address`.
pub async fn kwok(cp: &mut ControlPlane, port: u16) -> Result<(), Error> {
    let http = plain_http()?;
    let url = format!("http://127.0.0.1:{port}/healthz");
    poll(cp, "kwok", "/healthz", KWOK_TIMEOUT, || get_ok(&http, &url)).await
}

/// kube-scheduler's `/readyz` on its secure port (self-signed serving certificate, an
/// always-allowed path). It passes once `sched-handler-sync` does: every informer has
/// listed and its handlers have run, so from then on the scheduler's cache takes objects
/// in the order of their watch events. Before that, objects created meanwhile arrive in the
/// initial list's order, which is not their creation order (the ImageLocality size an image
/// name gets depends on which node its cache saw first).
pub async fn kube_scheduler(cp: &mut ControlPlane, port: u16) -> Result<(), Error> {
    let https = reqwest::Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .timeout(PROBE_TIMEOUT)
        .danger_accept_invalid_certs(true)
        .build()
        .map_err(|e| Error::Client(e.to_string()))?;
    let url = format!("https://127.0.0.1:{port}/readyz");
    poll(
        cp,
        "kube-scheduler",
        "/readyz",
        KUBE_SCHEDULER_TIMEOUT,
        || get_ok(&https, &url),
    )
    .await
}
