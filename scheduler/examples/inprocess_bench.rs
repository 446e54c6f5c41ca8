//! In-process benchmark of the scheduling cycle (not a test):
//! `cargo run --release -p ferrosched-scheduler --example inprocess_bench -- [nodes] [pods] [anti-affinity|spreading]`.
//!
//! Upstream scheduler_perf's SchedulingBasic shape: nodes 4 CPU / 32Gi / 110 pods, pods
//! 100m / 500Mi, the default plugins, a no-op binder, one filter/score thread. Prints pods/s,
//! per-pod p50/p99 of the scheduling cycle and peak RSS.
//!
//! `spreading` is upstream's TopologySpreading shape: nodes labelled
//! `topology.kubernetes.io/zone` in 3 zones, `[pods]` unlabelled pods already bound (2 per
//! node round-robin, as the workload's init pods), and measured pods with one zone spread
//! constraint (maxSkew 5, DoNotSchedule) selecting their own label.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrosched_scheduler::cache::Cache;
use ferrosched_scheduler::framework::{BindContext, Framework, Handle, QueuedPodView};
use ferrosched_scheduler::model::{PodInfo, SlimNode};
use ferrosched_scheduler::queue::{QueueOptions, SchedulingQueue, SystemClock};
use ferrosched_scheduler::schedule::{
    NoOutcomes, NoopBinder, OutcomeSink, Scheduler, SchedulerParts,
};
use ferrosched_scheduler::serving::SchedulerMetrics;
use k8s_openapi::api::core::v1::{Node, Pod};
use rustc_hash::FxHashMap;

fn node(i: usize, zoned: bool) -> Node {
    let mut labels = serde_json::json!({"kubernetes.io/hostname": format!("node-{i}")});
    if zoned {
        labels["topology.kubernetes.io/zone"] = serde_json::json!(format!("moon-{}", i % 3 + 1));
    }
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("node-{i}"), "labels": labels},
        "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"}, "capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"}},
    }))
    .expect("node json")
}

/// Which workload shape the measured pods have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Basic,
    /// Upstream's SchedulingPodAntiAffinity (required anti-affinity to its own label on
    /// `kubernetes.io/hostname`).
    AntiAffinity,
    /// Upstream's TopologySpreading (a zone spread constraint, maxSkew 5, DoNotSchedule,
    /// selecting its own label).
    Spreading,
}

/// A measured pod of `shape`.
fn pod(i: usize, shape: Shape) -> Pod {
    let mut spec = serde_json::json!({"containers": [{"name": "c", "image": "pause", "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]});
    match shape {
        Shape::Basic => {}
        Shape::AntiAffinity => {
            spec["affinity"] = serde_json::json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"color": "green"}}, "topologyKey": "kubernetes.io/hostname"}]}});
        }
        Shape::Spreading => {
            spec["topologySpreadConstraints"] = serde_json::json!([{
                "maxSkew": 5, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"color": "green"}}}]);
        }
    }
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("pod-{i}"), "namespace": "bench", "uid": format!("uid-{i}"), "labels": {"color": "green"}},
        "spec": spec,
    }))
    .expect("pod json")
}

/// An unlabelled pod already bound to `node` (the TopologySpreading workload's init pods).
fn bound_pod(i: usize, node: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("init-{i}"), "namespace": "bench", "uid": format!("init-uid-{i}")},
        "spec": {"nodeName": format!("node-{node}"), "containers": [{"name": "c", "image": "pause", "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]},
    }))
    .expect("pod json")
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (n_nodes, n_pods) = (
        args.first().copied().unwrap_or(5000),
        args.get(1).copied().unwrap_or(10_000),
    );
    let shape = if std::env::args().any(|a| a == "anti-affinity") {
        Shape::AntiAffinity
    } else if std::env::args().any(|a| a == "spreading") {
        Shape::Spreading
    } else {
        Shape::Basic
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let cfg = ferrosched_scheduler::config::parse(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n",
    )?;
    let registry = ferrosched_scheduler::plugins::registry();
    let fw = Arc::new(Framework::new(
        &cfg.profiles[0],
        &registry,
        &Handle::offline(),
    )?);
    let sorter = fw.clone();
    let less =
        Arc::new(move |a: &QueuedPodView<'_>, b: &QueuedPodView<'_>| sorter.queue_sort_less(a, b));
    let queue = Arc::new(SchedulingQueue::new(
        less,
        FxHashMap::default(),
        Arc::new(SystemClock),
        QueueOptions::default(),
    ));
    let cache = Arc::new(Mutex::new(Cache::new(Duration::ZERO)));
    {
        let mut c = cache.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        for i in 0..n_nodes {
            c.upsert_node(Arc::new(SlimNode::new(&node(i, shape == Shape::Spreading))));
        }
        if shape == Shape::AntiAffinity {
            // The workload's 1,000 initial pods: the same pods, on distinct nodes.
            for i in 0..n_nodes.min(1000) {
                let mut p = pod(n_pods + i, shape);
                if let Some(spec) = p.spec.as_mut() {
                    spec.node_name = Some(format!("node-{i}"));
                }
                c.upsert_bound_pod(Arc::new(PodInfo::new(Arc::new(p))));
            }
        }
        if shape == Shape::Spreading && n_nodes > 0 {
            for i in 0..n_pods {
                c.upsert_bound_pod(Arc::new(PodInfo::new(Arc::new(bound_pod(i, i % n_nodes)))));
            }
        }
    }
    let mut frameworks = FxHashMap::default();
    frameworks.insert(fw.scheduler_name.clone(), fw.clone());
    let mut outcomes: FxHashMap<String, Arc<dyn OutcomeSink>> = FxHashMap::default();
    outcomes.insert(fw.scheduler_name.clone(), Arc::new(NoOutcomes));
    let parts = SchedulerParts {
        frameworks,
        cache: cache.clone(),
        queue: queue.clone(),
        bind: BindContext {
            binder: Arc::new(NoopBinder),
            client: None,
        },
        outcomes,
        metrics: Arc::new(SchedulerMetrics::new()),
        percentage_of_nodes_to_score: cfg.percentage_of_nodes_to_score,
        parallelism: 1,
        lease: ferrosched_runtime::leader::LeaseGuard::always(),
    };
    let mut scheduler = Scheduler::new(parts, rt.handle().clone())?;
    for i in 0..n_pods {
        queue.add(Arc::new(PodInfo::new(Arc::new(pod(i, shape)))));
    }
    let mut lat = Vec::with_capacity(n_pods);
    let start = Instant::now();
    // Cycles run on the filter pool's thread, as `Scheduler::run` runs them.
    scheduler.pool().install(|| {
        for _ in 0..n_pods {
            let Some((qp, cycle)) = rt.block_on(queue.pop()) else {
                break;
            };
            let t = Instant::now();
            scheduler.schedule_one(qp, cycle);
            lat.push(t.elapsed());
        }
    });
    rt.block_on(scheduler.in_flight.wait_idle());
    let total = start.elapsed();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let mut per_node: BTreeMap<usize, usize> = BTreeMap::new();
    {
        let c = cache.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        for i in 0..n_nodes {
            let n = c.node(&format!("node-{i}")).map_or(0, |n| n.pods.len());
            *per_node.entry(n).or_default() += 1;
        }
    }
    let prebound = match shape {
        Shape::Spreading if n_nodes > 0 => n_pods,
        Shape::AntiAffinity => n_nodes.min(1000),
        _ => 0,
    };
    let placed: usize = per_node.iter().map(|(k, v)| k * v).sum::<usize>() - prebound;
    let shape = match shape {
        Shape::Basic => "",
        Shape::AntiAffinity => ", required anti-affinity on kubernetes.io/hostname",
        Shape::Spreading => {
            ", zone spread maxSkew 5 DoNotSchedule over 3 zones, as many unlabelled pods pre-bound"
        }
    };
    println!(
        "in-process: {n_pods} pods onto {n_nodes} nodes (4 CPU / 32Gi / 110 pods; pods 100m / 500Mi{shape}), default plugins, no-op binder, 1 filter thread"
    );
    println!("placed: {placed}");
    println!(
        "throughput: {:.0} pods/s ({:.2} s)",
        n_pods as f64 / total.as_secs_f64(),
        total.as_secs_f64()
    );
    println!(
        "scheduling cycle per pod: p50 {:.1} us, p99 {:.1} us",
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6
    );
    println!("peak RSS: {:.1} MiB", peak_rss_mib());
    println!("pods per node -> nodes: {per_node:?}");
    Ok(())
}
