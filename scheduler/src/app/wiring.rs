//! From flags and config to running informers, queue, scheduler thread and server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::cli::Args;
use crate::cache::Cache;
use crate::config::{ExtensionPoint, SchedulerConfig};
use crate::framework::{BindContext, Framework, Handle, QueuedPodView};
use crate::informers::{self, Sinks};
use crate::leader::{
    LeaderElectionConfig, LeaderElector, SystemClock, api_store, default_identity,
};
use crate::listers::{ApiLister, Needs};
use crate::queue::{ProfileHooks, QueueOptions, SchedulingQueue, SystemClock as QueueClock};
use crate::schedule::{ApiBinder, ApiOutcomes, OutcomeSink, Scheduler, SchedulerParts};
use crate::serving::{self, DelegatedAuth, Queue, SchedulerMetrics, ServingOptions, ServingState};
use crate::wire::{ContentType, Writer};

/// Reads and validates `--config` (upstream defaults when no file is given).
pub fn load_config(args: &Args) -> anyhow::Result<SchedulerConfig> {
    let text = match &args.config {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read --config {}", p.display()))?,
        None => "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
            .to_string(),
    };
    let mut cfg = crate::config::parse(&text).map_err(|e| {
        let origin = args
            .config
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        anyhow::anyhow!("invalid configuration {origin}:\n{e}")
    })?;
    apply_flag_overrides(&mut cfg, args)?;
    Ok(cfg)
}

/// Flags win over the file, as in kube-scheduler.
pub fn apply_flag_overrides(cfg: &mut SchedulerConfig, args: &Args) -> anyhow::Result<()> {
    let le = &mut cfg.leader_election;
    if let Some(v) = args.leader_elect {
        le.leader_elect = v;
    }
    if let Some(d) = args.lease_duration {
        le.lease_duration = d;
    }
    if let Some(d) = args.renew_deadline {
        le.renew_deadline = d;
    }
    if let Some(d) = args.retry_period {
        le.retry_period = d;
    }
    if let Some(l) = args.resource_lock.as_ref().filter(|l| *l != "leases") {
        bail!(
            "--leader-elect-resource-lock: Unsupported value: {l:?}: supported values: \"leases\""
        );
    }
    if let Some(n) = &args.resource_name {
        le.resource_name = n.clone();
    }
    if let Some(n) = &args.resource_namespace {
        le.resource_namespace = n.clone();
    }
    if let Some(k) = &args.kubeconfig {
        cfg.client_connection.kubeconfig = k.display().to_string();
    }
    Ok(())
}

/// Instantiates one framework per profile.
pub fn build_frameworks(
    cfg: &SchedulerConfig,
    handle: &Handle,
) -> anyhow::Result<FxHashMap<String, Arc<Framework>>> {
    let registry = crate::plugins::registry();
    let mut out = FxHashMap::default();
    for p in &cfg.profiles {
        let fw = Framework::new(p, &registry, handle).map_err(|e| anyhow::anyhow!("{e}"))?;
        out.insert(p.scheduler_name.clone(), Arc::new(fw));
    }
    Ok(out)
}

async fn client_from(path: &str, qps: f32, burst: u32) -> anyhow::Result<kube::Client> {
    let config = if path.is_empty() {
        kube::Config::infer()
            .await
            .context("no kubeconfig given and no in-cluster configuration found")?
    } else {
        let kc = kube::config::Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read kubeconfig {path}"))?;
        kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .with_context(|| format!("invalid kubeconfig {path}"))?
    };
    let builder =
        kube::client::ClientBuilder::try_from(config).context("cannot build API client")?;
    Ok(match rate_window(qps, burst) {
        // client-go's token bucket, approximated: at most `burst` requests per burst/qps window.
        Some((n, per)) => builder
            .with_layer(&tower::limit::RateLimitLayer::new(n, per))
            .build(),
        None => builder.build(),
    })
}

/// Longest request window: a qps so small that `burst` requests take longer than this
/// (e.g. `1e-30`) is held to `burst` requests per year, which is no different in practice
/// from the never-refilling bucket client-go would make of it.
pub const MAX_RATE_WINDOW: Duration = Duration::from_secs(365 * 24 * 3600);

/// `clientConnection.qps`/`burst` as a request window; None when unlimited (qps <= 0).
pub fn rate_window(qps: f32, burst: u32) -> Option<(u64, Duration)> {
    if qps <= 0.0 || !qps.is_finite() {
        return None;
    }
    let burst = u64::from(burst.max(1));
    // Saturating both ways: a window too long to represent (qps 1e-30) is capped, and one
    // that rounds to zero (qps near f32::MAX), which tower's `Rate` rejects, is 1ns.
    let window = Duration::try_from_secs_f64(burst as f64 / f64::from(qps))
        .unwrap_or(MAX_RATE_WINDOW)
        .clamp(Duration::from_nanos(1), MAX_RATE_WINDOW);
    Some((burst, window))
}

fn queue_for(
    cfg: &SchedulerConfig,
    frameworks: &FxHashMap<String, Arc<Framework>>,
    metrics: Arc<SchedulerMetrics>,
) -> anyhow::Result<SchedulingQueue> {
    let first = cfg
        .profiles
        .first()
        .and_then(|p| frameworks.get(&p.scheduler_name))
        .context("no profile")?;
    let sorter = first
        .plugins(ExtensionPoint::QueueSort)
        .first()
        .cloned()
        .context("profile has no QueueSort plugin")?;
    let less = Arc::new(move |a: &QueuedPodView<'_>, b: &QueuedPodView<'_>| {
        sorter.as_queue_sort().is_some_and(|q| q.less(a, b))
    });
    let hooks = frameworks
        .iter()
        .map(|(name, fw)| {
            (
                name.clone(),
                ProfileHooks {
                    pre_enqueue: fw.plugins(ExtensionPoint::PreEnqueue).to_vec(),
                    events: fw.registered_events().to_vec(),
                },
            )
        })
        .collect();
    let opts = QueueOptions {
        initial_backoff: cfg.pod_initial_backoff,
        max_backoff: cfg.pod_max_backoff,
        ..Default::default()
    };
    Ok(
        SchedulingQueue::new(less, hooks, Arc::new(QueueClock), opts).with_incoming_observer(
            Arc::new(move |queue, event, n| {
                let q = match queue {
                    "active" => Queue::Active,
                    "backoff" => Queue::Backoff,
                    "unschedulable" => Queue::Unschedulable,
                    _ => Queue::Gated,
                };
                metrics.inc_queue_incoming(q, event, n);
            }),
        ),
    )
}

/// Runs the scheduler until SIGTERM/SIGINT (exit 0 after releasing the Lease) or until
/// leadership is lost (error: the caller exits non-zero).
pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(&args)?;
    let cc = &cfg.client_connection;
    let client = client_from(&cc.kubeconfig, cc.qps, cc.burst).await?;
    let needs = Needs::of(cfg.profiles.iter().flat_map(|p| {
        ExtensionPoint::ALL
            .iter()
            .flat_map(move |&point| p.plugins.at(point).iter().map(|r| r.name.as_str()))
    }));
    let lister = Arc::new(ApiLister::start(&client, needs));
    let handle = Handle {
        client: Some(client.clone()),
        lister: lister.clone(),
    };
    let frameworks = build_frameworks(&cfg, &handle)?;
    let metrics = Arc::new(SchedulerMetrics::new());
    let cache = Arc::new(Mutex::new(Cache::new(Duration::ZERO)));
    let queue = Arc::new(queue_for(&cfg, &frameworks, metrics.clone())?);
    {
        let queue = queue.clone();
        lister.set_event_sink(Arc::new(move |event, objects| {
            queue.on_event(event, objects);
        }));
    }
    let names: FxHashSet<String> = frameworks.keys().cloned().collect();
    let sinks = Sinks {
        cache: cache.clone(),
        queue: queue.clone(),
        scheduler_names: Arc::new(names),
    };
    // Synced once the node and pod informers and every lister the plugins use have listed.
    let (informers_tx, mut informers_rx) = watch::channel(false);
    let (synced_tx, synced_rx) = watch::channel(false);
    let informers = tokio::spawn(informers::run(client.clone(), sinks, informers_tx));
    {
        let lister = lister.clone();
        tokio::spawn(async move {
            if informers_rx.wait_for(|s| *s).await.is_ok() {
                lister.wait_ready().await;
                let _ = synced_tx.send(true);
            }
        });
    }

    let stop_serving = CancellationToken::new();
    let authn = match &args.authentication_kubeconfig {
        Some(p) => client_from(&p.display().to_string(), 50.0, 100).await?,
        None => client.clone(),
    };
    let authz = match &args.authorization_kubeconfig {
        Some(p) => client_from(&p.display().to_string(), 50.0, 100).await?,
        None => client.clone(),
    };
    let serving_opts = ServingOptions {
        bind_address: args.bind_address,
        secure_port: args.secure_port,
        cert_dir: args.cert_dir.clone(),
        tls_cert_file: args.tls_cert_file.clone(),
        tls_private_key_file: args.tls_private_key_file.clone(),
        always_allow_paths: args.always_allow_paths.clone(),
    };
    let state = ServingState {
        ready: synced_rx.clone(),
        metrics: metrics.clone(),
        auth: Some(DelegatedAuth::from_clients(Some(authn), Some(authz))),
    };
    let token = stop_serving.clone();
    let (addr, server) =
        serving::serve(serving_opts, state, async move { token.cancelled().await }).await?;
    tracing::info!(%addr, "serving health and metrics over HTTPS");

    let identity = default_identity();
    let le = &cfg.leader_election;
    let elector_cancel = CancellationToken::new();
    let (leading_rx, elector) = if le.leader_elect {
        let mut lcfg = LeaderElectionConfig::new(&le.resource_namespace, &le.resource_name);
        lcfg.identity = identity.clone();
        lcfg.lease_duration = le.lease_duration;
        lcfg.renew_deadline = le.renew_deadline;
        lcfg.retry_period = le.retry_period;
        let elector = LeaderElector::new(
            api_store(client.clone(), &le.resource_namespace),
            SystemClock,
            lcfg,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let rx = elector.subscribe();
        let cancel = elector_cancel.clone();
        (rx, Some(tokio::spawn(elector.run(cancel))))
    } else {
        let (_tx, rx) = watch::channel(true);
        std::mem::forget(_tx);
        (rx, None)
    };
    {
        let metrics = metrics.clone();
        let lease = format!("{}/{}", le.resource_namespace, le.resource_name);
        let mut rx = leading_rx.clone();
        tokio::spawn(async move {
            loop {
                metrics.set_leader(&lease, *rx.borrow_and_update());
                if rx.changed().await.is_err() {
                    break;
                }
            }
        });
    }

    let content_type =
        ContentType::parse(&cfg.client_connection.content_type).unwrap_or(ContentType::Protobuf);
    let writer = Writer::new(client.clone(), content_type);
    let outcomes: FxHashMap<String, Arc<dyn OutcomeSink>> = frameworks
        .keys()
        .map(|n| {
            (
                n.clone(),
                Arc::new(ApiOutcomes::new(
                    client.clone(),
                    writer.clone(),
                    n,
                    &format!("{n}-{identity}"),
                )) as Arc<dyn OutcomeSink>,
            )
        })
        .collect();
    let parts = SchedulerParts {
        frameworks,
        cache: cache.clone(),
        queue: queue.clone(),
        bind: BindContext {
            binder: Arc::new(ApiBinder::new(writer)),
            client: Some(client.clone()),
        },
        outcomes,
        metrics: metrics.clone(),
        percentage_of_nodes_to_score: cfg.percentage_of_nodes_to_score,
        parallelism: cfg.parallelism as usize,
    };
    let scheduler = Scheduler::new(parts, tokio::runtime::Handle::current())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut synced_wait = synced_rx.clone();
    let sched_leading = leading_rx.clone();
    let sched_thread = std::thread::Builder::new()
        .name("scheduling".into())
        .spawn(move || scheduler.run(sched_leading, stop_rx))?;
    tokio::spawn(periodic(queue.clone(), cache.clone(), metrics.clone()));
    let _ = synced_wait.wait_for(|s| *s).await;
    tracing::info!("caches synced");

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut elector_task = elector.unwrap_or_else(|| tokio::spawn(futures::future::pending()));
    let outcome = tokio::select! {
        _ = sigterm.recv() => Ok("SIGTERM"),
        _ = tokio::signal::ctrl_c() => Ok("SIGINT"),
        r = &mut elector_task => Err(r),
    };
    match outcome {
        Ok(sig) => {
            tracing::info!(signal = sig, "shutting down: finishing in-flight binds");
            let _ = stop_tx.send(true);
            queue.close();
            let in_flight = tokio::task::spawn_blocking(move || sched_thread.join())
                .await
                .ok()
                .and_then(Result::ok);
            if let Some(f) = in_flight {
                let _ = tokio::time::timeout(Duration::from_secs(30), f.wait_idle()).await;
            }
            elector_cancel.cancel();
            if le.leader_elect {
                // The elector releases the Lease (so a standby takes over at once) before returning.
                let _ = tokio::time::timeout(le.renew_deadline, &mut elector_task).await;
            }
            stop_serving.cancel();
            let _ = server.await;
            informers.abort();
            Ok(())
        }
        Err(r) => {
            let _ = stop_tx.send(true);
            queue.close();
            match r {
                Ok(Ok(())) => bail!("leader election stopped unexpectedly"),
                Ok(Err(e)) => bail!("leaderelection lost: {e}"),
                Err(e) => bail!("leader election task failed: {e}"),
            }
        }
    }
}

async fn periodic(
    queue: Arc<SchedulingQueue>,
    cache: Arc<Mutex<Cache>>,
    metrics: Arc<SchedulerMetrics>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        queue.flush_backoff_completed();
        if n.is_multiple_of(30) {
            queue.flush_unschedulable_leftover();
        }
        let expired = cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cleanup_expired(std::time::Instant::now());
        for key in expired {
            tracing::warn!(pod = %key, "assumed pod expired without confirmation");
        }
        let p = queue.pending();
        metrics.set_pending(Queue::Active, p.active as i64);
        metrics.set_pending(Queue::Backoff, p.backoff as i64);
        metrics.set_pending(Queue::Unschedulable, p.unschedulable as i64);
        metrics.set_pending(Queue::Gated, p.gated as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_limits_become_a_request_window() {
        assert_eq!(rate_window(50.0, 100), Some((100, Duration::from_secs(2))));
        assert_eq!(
            rate_window(5000.0, 5000),
            Some((5000, Duration::from_secs(1)))
        );
        assert_eq!(rate_window(0.0, 100), None, "qps 0 means unlimited");
        assert_eq!(rate_window(-1.0, 100), None);
    }

    #[test]
    fn extreme_qps_gives_a_window_tower_accepts() {
        // Issue #20: 1e-30 made `Duration::from_secs_f64` panic; f32::MAX made a zero
        // window, which tower's `Rate::new` rejects with a panic.
        for (qps, burst) in [(1e-30, 100), (f32::MIN_POSITIVE, u32::MAX), (f32::MAX, 1)] {
            let (n, per) = rate_window(qps, burst).expect("limited");
            assert!(
                per > Duration::ZERO && per <= MAX_RATE_WINDOW,
                "{qps}: {per:?}"
            );
            let _ = tower::limit::RateLimitLayer::new(n, per);
        }
        assert_eq!(rate_window(f32::NAN, 100), None);
        assert_eq!(rate_window(f32::INFINITY, 100), None);
    }
}
