//! From flags and config to running informers, queue, scheduler thread and server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use ferrosched_runtime::leader::{
    LeaderElectionConfig, LeaderElector, LeaseGuard, SystemClock, api_store, default_identity,
};
use ferrosched_runtime::serving::DelegatedAuth;
use ferrosched_runtime::serving::auth::x509;
use ferrosched_runtime::shutdown::Signals;
use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::cli::Args;
use super::clients::Clients;
use crate::cache::Cache;
use crate::config::{ExtensionPoint, SchedulerConfig};
use crate::framework::{BindContext, Framework, Handle, QueuedPodView};
use crate::informers::{self, Sinks};
use crate::listers::{ApiLister, Needs};
use crate::queue::{ProfileHooks, QueueOptions, SchedulingQueue, SystemClock as QueueClock};
use crate::schedule::{ApiBinder, ApiOutcomes, InFlight, OutcomeSink, Scheduler, SchedulerParts};
use crate::serving::{self, Health, Queue, SchedulerMetrics, ServingOptions, ServingState};
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

/// Instantiates one framework per profile; with `plugin_metrics`, sampled cycles record
/// each plugin call's duration there.
pub fn build_frameworks(
    cfg: &SchedulerConfig,
    handle: &Handle,
    plugin_metrics: Option<&Arc<SchedulerMetrics>>,
) -> anyhow::Result<FxHashMap<String, Arc<Framework>>> {
    let registry = crate::plugins::registry();
    let mut out = FxHashMap::default();
    for p in &cfg.profiles {
        let fw = Framework::new(p, &registry, handle).map_err(|e| anyhow::anyhow!("{e}"))?;
        let fw = match plugin_metrics {
            Some(m) => {
                let (plugins, points) = (m.clone(), m.profile(&p.scheduler_name));
                fw.with_plugin_observer(Arc::new(move |plugin, point, status, secs| {
                    plugins.observe_plugin(plugin, point, status, secs);
                }))
                .with_point_observer(Arc::new(move |point, status, secs| {
                    points.observe_extension_point(point, status, secs);
                }))
            }
            None => fw,
        };
        out.insert(p.scheduler_name.clone(), Arc::new(fw));
    }
    Ok(out)
}

/// The queue's hook running `fw`'s PreEnqueue plugins.
fn pre_enqueue_of(fw: &Arc<Framework>) -> crate::queue::PreEnqueue {
    let fw = fw.clone();
    Arc::new(move |pod| fw.run_pre_enqueue_plugins(pod))
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
    if !first.has_queue_sort() {
        anyhow::bail!("profile has no QueueSort plugin");
    }
    let sorter = first.clone();
    let less =
        Arc::new(move |a: &QueuedPodView<'_>, b: &QueuedPodView<'_>| sorter.queue_sort_less(a, b));
    let hooks = frameworks
        .iter()
        .map(|(name, fw)| {
            (
                name.clone(),
                ProfileHooks {
                    pre_enqueue: Some(pre_enqueue_of(fw)),
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

/// What the process started before its caches synced.
struct Started {
    cfg: SchedulerConfig,
    clients: Clients,
    frameworks: FxHashMap<String, Arc<Framework>>,
    metrics: Arc<SchedulerMetrics>,
    cache: Arc<Mutex<Cache>>,
    queue: Arc<SchedulingQueue>,
    synced: watch::Receiver<bool>,
    informers: tokio::task::AbortHandle,
}

/// Runs the scheduler until SIGTERM/SIGINT (exit 0 after releasing the Lease), until
/// leadership is lost, or until a worker it needs dies (both errors: the caller exits
/// non-zero, as kube-scheduler does, and the kubelet restarts the pod).
pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(&args)?;
    let clients = Clients::connect(&cfg, &args).await?;
    let health = Health::default();
    let (deaths_tx, mut deaths) = mpsc::unbounded_channel::<String>();
    let started = start_informers(cfg, clients, &health, &deaths_tx)?;
    let server = SecureServer::start(&args, &started, health.clone()).await?;
    let mut signals = Signals::new()?;
    if let Some(signal) = wait_for_sync(&started, &mut signals, &mut deaths).await? {
        tracing::info!(signal, "shutting down before caches synced");
        server.stop().await;
        started.informers.abort();
        return Ok(());
    }
    let mut running = start_scheduling(&started, &health, &deaths_tx)?;
    let outcome = wait_for_end(&mut signals, &mut running.elector_task, &mut deaths).await;
    shut_down(outcome, running, &started, server).await
}

/// Waits until every informer has listed, as upstream does before electing or
/// scheduling, so no decision is made on a partial view of the cluster. `Ok(None)`:
/// synced; `Ok(Some(signal))`: a termination signal came first; an error: a worker died.
async fn wait_for_sync(
    started: &Started,
    signals: &mut Signals,
    deaths: &mut mpsc::UnboundedReceiver<String>,
) -> anyhow::Result<Option<&'static str>> {
    let mut synced = started.synced.clone();
    tokio::select! {
        _ = synced.wait_for(|s| *s) => {
            tracing::info!("caches synced");
            Ok(None)
        }
        signal = signals.recv() => Ok(Some(signal)),
        Some(why) = deaths.recv() => bail!("{why}"),
    }
}

/// What runs once the caches are synced: the election, the scheduling thread and the
/// periodic flushes.
struct Running {
    /// Leader election settings (for the release timeout).
    le: crate::config::LeaderElection,
    /// Stops the elector (which then releases the Lease).
    elector_cancel: CancellationToken,
    /// The elector; it ends when cancelled or when leadership is lost.
    elector_task: ElectorTask,
    /// Asks the scheduling thread to stop.
    stop_tx: watch::Sender<bool>,
    /// The scheduling thread.
    sched_thread: SchedulingThread,
}

/// The elector's task (or the no-election stand-in).
type ElectorTask = tokio::task::JoinHandle<Result<(), ferrosched_runtime::leader::LeaderError>>;

/// Starts leader election, the scheduling thread (which schedules while leading) and
/// the periodic queue, cache and gauge upkeep.
fn start_scheduling(
    started: &Started,
    health: &Health,
    deaths_tx: &mpsc::UnboundedSender<String>,
) -> anyhow::Result<Running> {
    let le = started.cfg.leader_election.clone();
    let election = Election::start(&le, &started.clients, &started.metrics)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (sched_thread, binding_tasks) =
        spawn_scheduling(started, &election, stop_rx, health, deaths_tx)?;
    tokio::spawn(periodic(
        started.queue.clone(),
        started.cache.clone(),
        started.metrics.clone(),
        binding_tasks,
    ));
    let Election {
        cancel: elector_cancel,
        task: elector_task,
        ..
    } = election;
    Ok(Running {
        le,
        elector_cancel,
        elector_task,
        stop_tx,
        sched_thread,
    })
}

/// Runs until a termination signal (`Ok` with its name), the end of the elector (lost
/// leadership) or a worker's death (`Err` with the reason).
async fn wait_for_end(
    signals: &mut Signals,
    elector_task: &mut ElectorTask,
    deaths: &mut mpsc::UnboundedReceiver<String>,
) -> Result<&'static str, String> {
    tokio::select! {
        sig = signals.recv() => Ok(sig),
        r = elector_task => Err(lost_lease(r)),
        Some(why) = deaths.recv() => Err(why),
    }
}

/// Stops scheduling and closes the queue. After a signal: finishes the binds in flight
/// (30 s at most), releases the Lease, stops serving and the informers, `Ok`. After a
/// failure: releases the Lease at once (so a standby takes over now rather than after the
/// lease expires; the guard stops any write still on its way) and returns the error.
async fn shut_down(
    outcome: Result<&'static str, String>,
    running: Running,
    started: &Started,
    server: SecureServer,
) -> anyhow::Result<()> {
    let Running {
        le,
        elector_cancel,
        mut elector_task,
        stop_tx,
        sched_thread,
    } = running;
    let _ = stop_tx.send(true);
    started.queue.close();
    match outcome {
        Ok(sig) => {
            tracing::info!(signal = sig, "shutting down: finishing in-flight binds");
            finish_binds(sched_thread).await;
            elector_cancel.cancel();
            if le.leader_elect {
                // The elector releases the Lease (so a standby takes over at once) before returning.
                let _ = tokio::time::timeout(le.renew_deadline, &mut elector_task).await;
            }
            server.stop().await;
            started.informers.abort();
            Ok(())
        }
        Err(why) => {
            elector_cancel.cancel();
            if le.leader_elect {
                let _ = tokio::time::timeout(le.renew_deadline, &mut elector_task).await;
            }
            bail!("{why}")
        }
    }
}

/// Waits for the scheduling thread to return, then up to 30 s for the binds it left in
/// flight.
async fn finish_binds(sched_thread: SchedulingThread) {
    let in_flight = tokio::task::spawn_blocking(move || sched_thread.join())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    if let Some(f) = in_flight {
        let _ = tokio::time::timeout(Duration::from_secs(30), f.wait_idle()).await;
    }
}

/// Starts the listers, frameworks, cache, queue and the node and pod informers; a
/// watchdog reports the informers' end as a death.
fn start_informers(
    cfg: SchedulerConfig,
    clients: Clients,
    health: &Health,
    deaths: &mpsc::UnboundedSender<String>,
) -> anyhow::Result<Started> {
    let client = clients.main.clone();
    let needs = Needs::of(cfg.profiles.iter().flat_map(|p| {
        ExtensionPoint::ALL
            .iter()
            .flat_map(move |&point| p.plugins.at(point).iter().map(|r| r.name.as_str()))
    }));
    let lister = Arc::new(ApiLister::start(&client, needs));
    let handle = Handle {
        client: Some(client.clone()),
        lister: lister.clone(),
        nominator: Arc::default(),
        waiting: Arc::default(),
    };
    let metrics = Arc::new(SchedulerMetrics::new());
    let frameworks = build_frameworks(&cfg, &handle, Some(&metrics))?;
    let cache = Arc::new(Mutex::new(Cache::new(Duration::ZERO)));
    let queue = Arc::new(
        queue_for(&cfg, &frameworks, metrics.clone())?.with_nominator(handle.nominator.clone()),
    );
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
        waiting: handle.waiting.clone(),
    };
    // Synced once the node and pod informers and every lister the plugins use have listed.
    let (informers_tx, mut informers_rx) = watch::channel(false);
    let (synced_tx, synced) = watch::channel(false);
    let informers = tokio::spawn(informers::run(client, sinks, informers_tx));
    let abort = informers.abort_handle();
    watch_task("informers", informers, health.clone(), deaths.clone());
    tokio::spawn(async move {
        if informers_rx.wait_for(|s| *s).await.is_ok() {
            lister.wait_ready().await;
            let _ = synced_tx.send(true);
        }
    });
    Ok(Started {
        cfg,
        clients,
        frameworks,
        metrics,
        cache,
        queue,
        synced,
        informers: abort,
    })
}

/// Reports the end of a task that should run for the life of the process.
fn watch_task(
    name: &'static str,
    task: tokio::task::JoinHandle<()>,
    health: Health,
    deaths: mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let why = match task.await {
            Ok(()) => format!("{name} stopped"),
            Err(e) if e.is_cancelled() => return,
            Err(e) => format!("{name} panicked: {}", panic_message(e.into_panic())),
        };
        health.fail(name, &why);
        let _ = deaths.send(why);
    });
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The secure endpoint (none with `--secure-port 0`) and what stops it.
struct SecureServer {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), serving::ServingError>>>,
}

impl SecureServer {
    /// Serves health and metrics over HTTPS, behind delegated authn/authz.
    async fn start(args: &Args, started: &Started, health: Health) -> anyhow::Result<Self> {
        let serving_opts = ServingOptions {
            bind_address: args.bind_address,
            secure_port: args.secure_port,
            cert_dir: args.cert_dir.clone(),
            tls_cert_file: args.tls_cert_file.clone(),
            tls_private_key_file: args.tls_private_key_file.clone(),
            always_allow_paths: args.always_allow_paths.clone(),
        };
        let authn = &started.clients.authn;
        let x509 = x509::resolve(args.client_ca_file.as_deref(), Some(authn)).await?;
        let state = ServingState {
            ready: started.synced.clone(),
            metrics: started.metrics.clone(),
            health,
            auth: Some(
                DelegatedAuth::from_clients(
                    Some(authn.clone()),
                    Some(started.clients.authz.clone()),
                )
                .with_x509(x509),
            ),
            profiling: started.cfg.enable_profiling,
        };
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let server = serving::serve(
            serving_opts,
            state,
            async move { stopped.cancelled().await },
        )
        .await?;
        let task = server.map(|(addr, task)| {
            tracing::info!(%addr, "serving health and metrics over HTTPS");
            task
        });
        Ok(SecureServer { stop, task })
    }

    /// Stops serving (in-flight requests get a few seconds) and waits for the server.
    async fn stop(self) {
        self.stop.cancel();
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

/// Leadership: the elector task (or a permanent `true` without leader election), the
/// `leading` channel and the guard writers check.
struct Election {
    leading: watch::Receiver<bool>,
    guard: LeaseGuard,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ferrosched_runtime::leader::LeaderError>>,
}

impl Election {
    fn start(
        le: &crate::config::LeaderElection,
        clients: &Clients,
        metrics: &Arc<SchedulerMetrics>,
    ) -> anyhow::Result<Self> {
        let cancel = CancellationToken::new();
        let election = if le.leader_elect {
            let mut lcfg = LeaderElectionConfig::new(&le.resource_namespace, &le.resource_name);
            lcfg.identity = default_identity();
            lcfg.lease_duration = le.lease_duration;
            lcfg.renew_deadline = le.renew_deadline;
            lcfg.retry_period = le.retry_period;
            let elector = LeaderElector::new(
                api_store(clients.leader.clone(), &le.resource_namespace),
                SystemClock,
                lcfg,
            )?;
            Election {
                leading: elector.subscribe(),
                guard: elector.guard(),
                task: tokio::spawn(elector.run(cancel.clone())),
                cancel,
            }
        } else {
            let (tx, leading) = watch::channel(true);
            let cancelled = cancel.clone();
            Election {
                leading,
                guard: LeaseGuard::always(),
                // Holds the sender, so `leading` stays true, until cancelled.
                task: tokio::spawn(async move {
                    cancelled.cancelled().await;
                    drop(tx);
                    Ok(())
                }),
                cancel,
            }
        };
        {
            let metrics = metrics.clone();
            let mut rx = election.leading.clone();
            tokio::spawn(async move {
                loop {
                    metrics.set_leader(*rx.borrow_and_update());
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            });
        }
        Ok(election)
    }
}

/// Starts the scheduling thread; a watchdog reports its panic or unexpected return as a
/// death. The thread returns the binds in flight when it stops as asked.
fn spawn_scheduling(
    started: &Started,
    election: &Election,
    stop: watch::Receiver<bool>,
    health: &Health,
    deaths: &mpsc::UnboundedSender<String>,
) -> anyhow::Result<(SchedulingThread, Arc<InFlight>)> {
    let cfg = &started.cfg;
    let clients = &started.clients;
    let content_type =
        ContentType::parse(&cfg.client_connection.content_type).unwrap_or(ContentType::Protobuf);
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let event_writer = Writer::new(clients.events.clone(), content_type);
    let outcomes: FxHashMap<String, Arc<dyn OutcomeSink>> = started
        .frameworks
        .keys()
        .map(|n| {
            let sink = ApiOutcomes::new(clients.main.clone(), event_writer.clone(), n, &host);
            (n.clone(), Arc::new(sink) as Arc<dyn OutcomeSink>)
        })
        .collect();
    let parts = SchedulerParts {
        frameworks: started.frameworks.clone(),
        cache: started.cache.clone(),
        queue: started.queue.clone(),
        bind: BindContext {
            binder: Arc::new(ApiBinder::new(Writer::new(
                clients.main.clone(),
                content_type,
            ))),
            client: Some(clients.main.clone()),
        },
        outcomes,
        metrics: started.metrics.clone(),
        percentage_of_nodes_to_score: cfg.percentage_of_nodes_to_score,
        parallelism: cfg.parallelism as usize,
        lease: election.guard.clone(),
    };
    let scheduler = Scheduler::new(parts, tokio::runtime::Handle::current())?;
    let binding_tasks = scheduler.in_flight.clone();
    let leading = election.leading.clone();
    let (health, deaths) = (health.clone(), deaths.clone());
    let thread = std::thread::Builder::new()
        .name("scheduling".into())
        .spawn(move || {
            let stopped = stop.clone();
            let run = std::panic::AssertUnwindSafe(|| scheduler.run(leading, stop));
            let why = match std::panic::catch_unwind(run) {
                Ok(in_flight) if *stopped.borrow() => return Some(in_flight),
                Ok(_) => "scheduling loop stopped".to_string(),
                Err(p) => format!("scheduling loop panicked: {}", panic_message(p)),
            };
            health.fail("scheduling-loop", &why);
            let _ = deaths.send(why);
            None
        })?;
    Ok((thread, binding_tasks))
}

/// The scheduling thread; it returns the binds in flight when it stops as asked.
type SchedulingThread = std::thread::JoinHandle<Option<Arc<InFlight>>>;

/// Why the elector's task ended.
fn lost_lease(
    r: Result<Result<(), ferrosched_runtime::leader::LeaderError>, tokio::task::JoinError>,
) -> String {
    match r {
        Ok(Ok(())) => "leader election stopped unexpectedly".into(),
        Ok(Err(e)) => format!("leaderelection lost: {e}"),
        Err(e) => format!("leader election task failed: {e}"),
    }
}

/// Every second: flushes backoff (and every 30 s the unschedulable leftovers), expires
/// assumed pods, and refreshes the gauges sampled from queue, cache and binding tasks.
async fn periodic(
    queue: Arc<SchedulingQueue>,
    cache: Arc<Mutex<Cache>>,
    metrics: Arc<SchedulerMetrics>,
    binding_tasks: Arc<InFlight>,
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
        let (expired, sizes) = {
            let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
            (
                cache.cleanup_expired(std::time::Instant::now()),
                cache.sizes(),
            )
        };
        metrics.set_cache_size(sizes.0, sizes.1, sizes.2);
        metrics.set_unschedulable_pods(&queue.unschedulable_by_plugin());
        metrics.set_binding_tasks(binding_tasks.tasks());
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
