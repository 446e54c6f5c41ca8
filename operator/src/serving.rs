//! Keeping the serving certificates (I/O): the CA Secret (created once, never rewritten),
//! the schedulers' serving Secret and the CA bundle ConfigMap (the leader's), and the
//! operator's own certificate (every replica's, in memory).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use ferrosched_runtime::serving::tls::{self, CertKey};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::certs::{self, CA_CRT, Ca, CertError};
use crate::error::Error;
use crate::identity::{APP_NAME, FIELD_MANAGER, LABEL_MANAGED_BY, LABEL_NAME, OPERATOR_LEASE};
use crate::metrics::Metrics;
use crate::ssa;

/// How often the certificates are checked (three reads; a deleted Secret is back within it).
const CHECK_EVERY: Duration = Duration::from_secs(60);
/// How soon a failed check is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Where the certificates live and whom they name.
#[derive(Clone, Debug)]
pub struct ServingCerts {
    /// The operands' namespace: every Secret and the bundle ConfigMap are there.
    pub namespace: String,
    /// The CA's Secret, and the name of the ConfigMap with its public half (`ca.crt`).
    pub ca_name: String,
    /// The operator's own DNS names (its Service); none: it keeps its own certificate.
    pub own_names: Vec<String>,
}

/// The Secret every scheduler pod mounts (`tls.crt`, `tls.key`, `ca.crt`).
pub const SCHEDULER_SECRET: &str = "ferrosched-scheduler-tls";

/// The name the schedulers' certificate is for: one for every profile, so one
/// ServiceMonitor with one `serverName` verifies them all.
pub fn scheduler_dns_name(namespace: &str) -> String {
    format!("{APP_NAME}.{namespace}.svc")
}

fn meta(name: &str, namespace: &str, owner: Option<&OwnerReference>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(BTreeMap::from([
            (LABEL_NAME.to_string(), APP_NAME.to_string()),
            (LABEL_MANAGED_BY.to_string(), FIELD_MANAGER.to_string()),
        ])),
        owner_references: owner.map(|o| vec![o.clone()]),
        ..ObjectMeta::default()
    }
}

/// The operator's own Lease as the owner of the certificates: the chart renders it, so
/// `helm uninstall` removes it and garbage collection takes the certificates with it.
/// `None` while there is no Lease (an operator run without leader election).
pub async fn owner(client: &Client, namespace: &str) -> Result<Option<OwnerReference>, Error> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let lease = leases
        .get_opt(OPERATOR_LEASE)
        .await
        .map_err(read_err("Lease", OPERATOR_LEASE))?;
    Ok(lease.and_then(|l| {
        Some(OwnerReference {
            api_version: "coordination.k8s.io/v1".to_string(),
            kind: "Lease".to_string(),
            name: OPERATOR_LEASE.to_string(),
            uid: l.metadata.uid?,
            ..OwnerReference::default()
        })
    }))
}

fn read_err(kind: &'static str, name: &str) -> impl Fn(kube::Error) -> Error {
    let name = name.to_string();
    move |source| Error::Read {
        kind,
        name: name.clone(),
        source,
    }
}

fn cert_err(name: &str, e: CertError) -> Error {
    Error::Certificate {
        name: name.to_string(),
        source: e,
    }
}

/// The CA in Secret `ca_name`. Only the leader (`leading`) writes: it creates the CA when
/// there is none (a plain create, so a leader that raced a former one reads the winner's)
/// and gives it its owner; a standby waits for it (`None`), as only the leader writes.
pub async fn ca(
    client: &Client,
    c: &ServingCerts,
    owner: Option<&OwnerReference>,
    leading: bool,
) -> Result<Option<Ca>, Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &c.namespace);
    let read = read_err("Secret", &c.ca_name);
    if let Some(s) = secrets.get_opt(&c.ca_name).await.map_err(&read)? {
        let ca = Ca::from_secret(&s).map_err(|e| cert_err(&c.ca_name, e))?;
        // Made before the Lease existed: given its owner, never new contents.
        if let Some(o) = owner.filter(|_| leading)
            && s.metadata.owner_references.is_none_or(|r| r.is_empty())
        {
            let patch = serde_json::json!({"metadata": {"ownerReferences": [o]}});
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..PatchParams::default()
            };
            secrets
                .patch(&c.ca_name, &params, &Patch::Merge(&patch))
                .await
                .map_err(|source| Error::Apply {
                    kind: "Secret",
                    name: c.ca_name.clone(),
                    source,
                })?;
        }
        return Ok(Some(ca));
    }
    if !leading {
        return Ok(None);
    }
    let ca = Ca::generate(jiff::Timestamp::now()).map_err(|e| cert_err(&c.ca_name, e))?;
    let secret = Secret {
        metadata: meta(&c.ca_name, &c.namespace, owner),
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(ca.secret_data()),
        ..Secret::default()
    };
    let create = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PostParams::default()
    };
    match secrets.create(&create, &secret).await {
        Ok(_) => {
            info!(secret = %c.ca_name, "created the serving CA");
            Ok(Some(ca))
        }
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let s = secrets.get(&c.ca_name).await.map_err(&read)?;
            Ca::from_secret(&s)
                .map(Some)
                .map_err(|e| cert_err(&c.ca_name, e))
        }
        Err(source) => Err(Error::Apply {
            kind: "Secret",
            name: c.ca_name.clone(),
            source,
        }),
    }
}

/// The leader's part: the schedulers' serving Secret, issued again when
/// [`certs::needs_issue`] says so, and the CA bundle ConfigMap. Returns the writes made.
pub async fn publish(
    client: &Client,
    c: &ServingCerts,
    ca: &Ca,
    owner: Option<&OwnerReference>,
) -> Result<usize, Error> {
    let mut writes = 0;
    let now = jiff::Timestamp::now();
    let names = vec![scheduler_dns_name(&c.namespace)];
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &c.namespace);
    let current = secrets
        .get_opt(SCHEDULER_SECRET)
        .await
        .map_err(read_err("Secret", SCHEDULER_SECRET))?;
    let owned =
        |m: &ObjectMeta| m.owner_references.as_ref() == owner.map(|o| vec![o.clone()]).as_ref();
    let disowned = current.as_ref().is_some_and(|s| !owned(&s.metadata));
    if disowned || certs::needs_issue(current.as_ref(), ca, &names, now) {
        let leaf = ca
            .issue(&names, now)
            .map_err(|e| cert_err(SCHEDULER_SECRET, e))?;
        let secret = Secret {
            metadata: meta(SCHEDULER_SECRET, &c.namespace, owner),
            type_: Some("kubernetes.io/tls".to_string()),
            data: Some(certs::serving_data(ca, &leaf)),
            ..Secret::default()
        };
        writes += ssa::apply(client, &secret, false).await?;
        info!(
            secret = SCHEDULER_SECRET,
            "issued the schedulers' serving certificate"
        );
    }
    let bundle = ConfigMap {
        metadata: meta(&c.ca_name, &c.namespace, owner),
        data: Some(BTreeMap::from([(CA_CRT.to_string(), ca.cert_pem.clone())])),
        ..ConfigMap::default()
    };
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &c.namespace);
    let have = maps
        .get_opt(&c.ca_name)
        .await
        .map_err(read_err("ConfigMap", &c.ca_name))?;
    if have.is_none_or(|m| !owned(&m.metadata) || m.data != bundle.data) {
        writes += ssa::apply(client, &bundle, false).await?;
    }
    Ok(writes)
}

/// Keeps the certificates until `shutdown`: every replica loads the CA and serves its own
/// certificate from it on `own` when [`ServingCerts::own_names`] is set (a standby keeps
/// its first one until the leader has made the CA); while `leading`, it also creates the
/// CA and [`publish`]es. Checks every minute, sooner after a failure, and at once when
/// leadership is gained.
pub async fn maintain(
    client: Client,
    c: ServingCerts,
    own: Option<RustlsConfig>,
    mut leading: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut own_cert: Option<(Ca, certs::Leaf)> = None;
    loop {
        let result = async {
            let leading_now = *leading.borrow_and_update();
            let owner = owner(&client, &c.namespace).await?;
            let Some(ca) = ca(&client, &c, owner.as_ref(), leading_now).await? else {
                return Ok(false);
            };
            if let Some(config) = own.as_ref().filter(|_| !c.own_names.is_empty()) {
                let now = jiff::Timestamp::now();
                let stale = own_cert.as_ref().is_none_or(|(issuer, leaf)| {
                    let secret = Secret {
                        data: Some(certs::serving_data(issuer, leaf)),
                        ..Secret::default()
                    };
                    certs::needs_issue(Some(&secret), &ca, &c.own_names, now)
                });
                if stale {
                    let leaf = ca
                        .issue(&c.own_names, now)
                        .map_err(|e| cert_err("operator", e))?;
                    let pair = CertKey {
                        cert_pem: leaf.cert_pem.clone().into_bytes(),
                        key_pem: leaf.key_pem.clone().into_bytes(),
                    };
                    let server =
                        tls::server_config(&pair).map_err(|e| cert_err("operator", e.into()))?;
                    config.reload_from_config(server);
                    info!(names = ?c.own_names, "serving a certificate from the serving CA");
                    own_cert = Some((ca.clone(), leaf));
                }
            }
            if leading_now {
                let writes = publish(&client, &c, &ca, owner.as_ref()).await?;
                for _ in 0..writes {
                    metrics.count_write("certificate");
                }
            }
            Ok::<bool, Error>(true)
        }
        .await;
        let wait = match result {
            Ok(true) => CHECK_EVERY,
            // A standby before the leader made the CA.
            Ok(false) => RETRY_AFTER,
            Err(err) => {
                metrics.count_error(err.metric_label());
                warn!(%err, "serving certificates not in place yet; trying again");
                RETRY_AFTER
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            changed = leading.changed() => {
                if changed.is_err() {
                    // The election ended: only the shutdown is left to wait for.
                    shutdown.cancelled().await;
                    return;
                }
            }
            () = shutdown.cancelled() => return,
        }
    }
}
