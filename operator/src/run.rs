//! The operator process: client, start-up checks, health endpoint, leader election, the
//! controller, graceful shutdown.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ferrosched_crds::SchedulerProfile;
use ferrosched_runtime::leader::{LeaderElectionConfig, LeaderElector, SystemClock, api_store};
use ferrosched_runtime::serving::{DelegatedAuth, Server};
use ferrosched_runtime::shutdown::cancel_on_termination;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, Config};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::cli::Args;
use crate::controller;
use crate::error::StartError;
use crate::http::{self, Health};
use crate::identity::{FIELD_MANAGER, OPERATOR_LEASE};
use crate::metrics::Metrics;
use crate::reconcile::Context;
use crate::serving::{self, ServingCerts};
use crate::settings::Settings;

/// A client from `--kubeconfig`, else the usual places (KUBECONFIG, ~/.kube/config, in-cluster).
pub async fn client(args: &Args) -> Result<Client, StartError> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| StartError::Config(e.into()))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| StartError::Config(e.into()))?
        }
        None => Config::infer()
            .await
            .map_err(|e| StartError::Config(e.into()))?,
    };
    Client::try_from(config).map_err(|e| StartError::Config(e.into()))
}

/// Fails with a clear message when the API server is unreachable or the CRD is missing.
pub async fn check_api(client: &Client) -> Result<(), StartError> {
    let api: Api<SchedulerProfile> = Api::all(client.clone());
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        // A missing resource type is a bare 404 page, not a NotFound Status.
        Err(kube::Error::Api(s)) if s.code == 404 => Err(StartError::CrdMissing),
        Err(err @ kube::Error::Api(_)) => Err(StartError::Api(err)),
        Err(err) => Err(StartError::Unreachable(err)),
    }
}

/// The entries of a comma-separated flag that are not blank (`--allowed-images=` is none).
fn non_empty(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Waits for the task in `handle`; once it has finished the handle is taken out, so the
/// clean-up never awaits a finished task again (a tokio JoinHandle panics if polled after
/// completion). With no task it never completes.
async fn join<T>(handle: &mut Option<JoinHandle<T>>) -> Result<T, StartError> {
    let Some(h) = handle.as_mut() else {
        return std::future::pending().await;
    };
    let out = h.await.map_err(StartError::Task);
    *handle = None;
    out
}

/// Runs the operator until SIGTERM (then returns `Ok`) or a fatal error.
pub async fn run(args: Args) -> Result<(), StartError> {
    // Two rustls providers may be linked; pick ring explicitly (already set is fine).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = client(&args).await?;
    check_api(&client).await?;
    let shutdown = CancellationToken::new();
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health {
        ready: false.into(),
        metrics: metrics.clone(),
    });
    // Delegated authn/authz of /metrics through the operator's own connection.
    let auth = DelegatedAuth::from_clients(Some(client.clone()), Some(client.clone()));
    let Server {
        addr,
        task: server,
        tls: tls_config,
    } = http::serve(&args.serving(), health.clone(), auth, shutdown.clone()).await?;
    let mut server = Some(server);
    info!(%addr, namespace = %args.namespace, "ferrosched-operator started; serving health and metrics over HTTPS");
    health.ready.store(true, Ordering::Relaxed);
    cancel_on_termination(shutdown.clone());

    let (leading_tx, leading_rx) = watch::channel(false);
    let serving_secret = (!args.serving_ca_secret.trim().is_empty()).then(|| {
        let certs = ServingCerts {
            namespace: args.namespace.clone(),
            ca_name: args.serving_ca_secret.trim().to_string(),
            own_names: non_empty(&args.serving_dns_names),
        };
        // A certificate given on the command line stays; else one from the CA.
        let own = args.tls_cert_file.is_none().then_some(tls_config);
        tokio::spawn(serving::maintain(
            client.clone(),
            certs,
            own,
            leading_rx,
            metrics.clone(),
            shutdown.clone(),
        ));
        serving::SCHEDULER_SECRET.to_string()
    });

    let election_cancel = CancellationToken::new();
    let mut election = None;
    if args.leader_elect {
        let mut cfg = LeaderElectionConfig::new(&args.namespace, OPERATOR_LEASE);
        cfg.create_if_missing = true;
        let elector =
            LeaderElector::new(api_store(client.clone(), &args.namespace), SystemClock, cfg)?;
        let mut leading = elector.subscribe();
        election = Some(tokio::spawn(elector.run(election_cancel.clone())));
        tokio::select! {
            _ = leading.wait_for(|l| *l) => {}
            () = shutdown.cancelled() => {}
            res = join(&mut election) => return res?.map_err(StartError::from),
        }
    }
    let outcome = if shutdown.is_cancelled() {
        Ok(())
    } else {
        metrics.leader.set(1);
        leading_tx.send_replace(true);
        let settings = Settings {
            namespace: args.namespace.clone(),
            default_image: args.scheduler_image.clone(),
            allowed_images: non_empty(&args.allowed_images),
            reserved_names: non_empty(&args.reserved_names),
            grant_role_prefix: args.grant_role_prefix.clone(),
            serving_secret,
        };
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_string(),
            instance: Some(gethostname::gethostname().to_string_lossy().into_owned()),
        };
        let recorder = Recorder::new(client.clone(), reporter);
        let ctx = |profiles| Context {
            client: client.clone(),
            settings,
            recorder,
            metrics: metrics.clone(),
            profiles,
        };
        tokio::select! {
            () = controller::run(client.clone(), ctx, shutdown.clone()) => Ok(()),
            res = join(&mut election) => {
                error!("leadership lost; exiting so a standby takes over");
                res.and_then(|r| r.map_err(StartError::from))
            }
        }
    };
    metrics.leader.set(0);
    election_cancel.cancel();
    shutdown.cancel();
    if let Some(handle) = election.take() {
        let _ = handle.await;
    }
    if let Some(handle) = server.take()
        && let Ok(Err(err)) = handle.await
    {
        error!(%err, "health endpoint failed");
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::join;

    #[tokio::test]
    async fn a_joined_task_is_not_awaited_again() {
        let mut handle = Some(tokio::spawn(async { 7 }));
        assert_eq!(join(&mut handle).await.ok(), Some(7));
        assert!(handle.is_none(), "taken out once finished");
        // What the clean-up does: nothing left to await (awaiting it again panicked).
        if let Some(h) = handle.take() {
            let _ = h.await;
        }
        let mut none: Option<tokio::task::JoinHandle<()>> = None;
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(20), join(&mut none)).await;
        assert!(pending.is_err(), "no task: never completes");
    }
}
