//! A real node (containerd, kubelet, kube-proxy) in the test control plane: it goes Ready,
//! runs a Pod Security `restricted` pod that reaches the API server through the
//! `kubernetes` Service with its ServiceAccount token, and stopping it leaves the machine
//! as it was: processes, mounts, iptables/nft state, interfaces, cgroups and sysctls are
//! measured before the start and after the stop.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrosched_e2e::TestEnv;
use ferrosched_e2e::controlplane::node::{self, NODE_NAME};
use ferrosched_e2e::controlplane::{ControlPlaneOptions, NodeImage};
use ferrosched_e2e::fixtures;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, ServiceAccount};
use kube::api::{Api, LogParams, PostParams};
use serde_json::json;

const NS: &str = "real-node";

/// The tests measure the whole machine: one at a time (the node lock would serialize the
/// nodes, not the measurements around them).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Process names (`/proc/<pid>/comm`, 15 bytes at most) a node runs.
const NODE_COMMS: &[&str] = &[
    "containerd",
    "containerd-shim",
    "kubelet",
    "kube-proxy",
    "runc",
    "pause",
    "probe",
];

/// Sysctls that change on their own (counters, randomness).
const VOLATILE_SYSCTL_PREFIXES: &[&str] = &[
    "kernel.random.",
    "kernel.ns_last_pid",
    "kernel.pty.nr",
    "fs.dentry-state",
    "fs.inode-nr",
    "fs.inode-state",
    "fs.file-nr",
    "fs.aio-nr",
    "fs.quota.",
    "net.netfilter.nf_conntrack_count",
    "vm.stat_refresh",
];

/// Host paths a node may create.
const HOST_PATHS: &[&str] = &[
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/cni",
    "/var/lib/kubelet",
    "/run/containerd",
    "/run/netns",
    "/opt/cni",
    "/etc/cni",
];

/// What a node could leave behind, measured independently of the harness's teardown
/// (except the netfilter listing, which is plain `*tables-save`).
#[derive(Debug, Clone, PartialEq)]
struct Machine {
    /// `pid comm args` of processes named like the node's.
    processes: BTreeSet<String>,
    mounts: BTreeSet<String>,
    chains: BTreeSet<String>,
    nft_tables: BTreeSet<String>,
    interfaces: BTreeSet<String>,
    sysctls: BTreeMap<String, String>,
    cgroups: BTreeSet<String>,
    paths: BTreeSet<String>,
}

fn read_sysctls(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            if name != "fs.binfmt_misc" {
                read_sysctls(&e.path(), &format!("{name}."), out);
            }
        } else if meta.permissions().mode() & 0o444 != 0
            && !VOLATILE_SYSCTL_PREFIXES.iter().any(|v| name.starts_with(v))
            && let Ok(value) = std::fs::read_to_string(e.path())
        {
            out.insert(name, value.trim().to_owned());
        }
    }
}

impl Machine {
    fn measure() -> Machine {
        let mut processes = BTreeSet::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let comm = comm.trim();
            let args = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|a| String::from_utf8_lossy(&a).replace('\0', " "))
                .unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
            // Another job's docker engine runs its own containerd and shims: count only
            // those pointing into a node dir or running in the node's cgroups.
            let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            let ours = (args.contains("ferrosched-cp-") && args.contains("/node/"))
                || cgroup.contains(node::CGROUP_ROOT)
                || comm == "pause"
                || comm == "probe";
            if NODE_COMMS.contains(&comm) && !zombie && ours {
                processes.insert(format!("{pid} {comm} {}", args.trim()));
            }
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4).map(str::to_owned))
            .filter(|p| !p.starts_with("/var/lib/docker") && !p.starts_with("/run/docker"))
            .collect();
        let interfaces = std::fs::read_dir("/sys/class/net")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let mut sysctls = BTreeMap::new();
        read_sysctls(Path::new("/proc/sys"), "", &mut sysctls);
        let cgroups = std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .map(|h| h.path().join(node::CGROUP_ROOT.trim_start_matches('/')))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        let paths = HOST_PATHS
            .iter()
            .filter(|p| Path::new(p).exists())
            .map(|p| (*p).to_owned())
            .collect();
        Machine {
            processes,
            mounts,
            chains: node::netfilter_chains(),
            nft_tables: node::nft_tables(),
            interfaces,
            sysctls,
            cgroups,
            paths,
        }
    }

    /// What `after` has that `self` had not, and sysctls whose values differ.
    fn left_behind(&self, after: &Machine) -> Vec<String> {
        let new = |what: &str, before: &BTreeSet<String>, now: &BTreeSet<String>| {
            now.difference(before)
                .map(|x| format!("{what}: {x}"))
                .collect::<Vec<_>>()
        };
        let mut left = Vec::new();
        left.extend(new("process", &self.processes, &after.processes));
        left.extend(new("mount", &self.mounts, &after.mounts));
        left.extend(new("chain", &self.chains, &after.chains));
        left.extend(new("nft table", &self.nft_tables, &after.nft_tables));
        left.extend(new("interface", &self.interfaces, &after.interfaces));
        left.extend(new("cgroup", &self.cgroups, &after.cgroups));
        left.extend(new("path", &self.paths, &after.paths));
        for (key, before) in &self.sysctls {
            if let Some(now) = after.sysctls.get(key)
                && now != before
            {
                left.push(format!("sysctl {key}: {before} -> {now}"));
            }
        }
        left
    }
}

/// The probe pod: restricted-compliant (non-root with a fixed uid/gid, no privilege
/// escalation, no capabilities, RuntimeDefault seccomp, read-only root filesystem), on
/// the real node, with the locally imported image only.
fn probe_pod(image: &str) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": "probe", "namespace": NS },
        "spec": {
            "nodeSelector": { "kubernetes.io/hostname": NODE_NAME },
            "terminationGracePeriodSeconds": 5,
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 65532,
                "runAsGroup": 65532,
                "fsGroup": 65532,
                "seccompProfile": { "type": "RuntimeDefault" },
            },
            "containers": [{
                "name": "probe",
                "image": image,
                "imagePullPolicy": "Never",
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "capabilities": { "drop": ["ALL"] },
                },
                "resources": {
                    "requests": { "cpu": "10m", "memory": "16Mi" },
                    "limits": { "memory": "64Mi" },
                },
            }],
        },
    }))?)
}

fn images_dir() -> PathBuf {
    ControlPlaneOptions::default_node_images_dir()
}

#[tokio::test]
#[ignore = "needs root, hack/node-packages.sh, hack/node-images.sh and the node binaries (hack/build-control-plane.sh)"]
async fn a_real_node_runs_a_restricted_pod_that_reaches_the_api_server_and_leaves_nothing_behind()
-> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let probe = NodeImage::load(&images_dir(), "probe")?;
    let before = Machine::measure();
    let started = Instant::now();
    let env = TestEnv::start_with(ControlPlaneOptions {
        real_node: true,
        ..ControlPlaneOptions::default()
    })
    .await?;
    let cold_start = started.elapsed();
    println!(
        "figure: real node cold start: {:.1} s (control plane start to Node Ready, binaries built)",
        cold_start.as_secs_f64()
    );
    let during = std::sync::Arc::new(std::sync::Mutex::new(None));
    let during_in_body = during.clone();
    env.run(|env| async move {
        let client = env.client.clone();
        assert_eq!(env.real_node().await.as_deref(), Some(NODE_NAME));
        let node = Api::<Node>::all(client.clone()).get(NODE_NAME).await?;
        assert!(fixtures::node_schedulable(&node), "{:?}", node.status);
        let annotations = node.metadata.annotations.clone().unwrap_or_default();
        assert!(
            !annotations.contains_key("kwok.x-k8s.io/node"),
            "kwok must not manage the real node: {annotations:?}"
        );
        let info = node
            .status
            .as_ref()
            .and_then(|s| s.node_info.clone())
            .ok_or_else(|| anyhow::anyhow!("no nodeInfo"))?;
        assert_eq!(info.kubelet_version, "v1.37.2");
        assert!(
            info.container_runtime_version.starts_with("containerd://"),
            "{}",
            info.container_runtime_version
        );

        // The `kubernetes` Service's endpoint is the host address the API server serves on.
        let endpoints = Api::<Endpoints>::namespaced(client.clone(), "default")
            .get("kubernetes")
            .await?;
        let host = env.server.trim_start_matches("https://");
        let endpoint = endpoints
            .subsets
            .iter()
            .flatten()
            .flat_map(|s| {
                let port = s.ports.iter().flatten().map(|p| p.port).next();
                s.addresses
                    .iter()
                    .flatten()
                    .map(move |a| format!("{}:{}", a.ip, port.unwrap_or_default()))
            })
            .next();
        assert_eq!(endpoint.as_deref(), Some(host), "{endpoints:?}");

        env.import_image(&probe.archive).await?;
        fixtures::create_namespace(
            &client,
            NS,
            &[
                ("pod-security.kubernetes.io/enforce", "restricted"),
                ("pod-security.kubernetes.io/warn", "restricted"),
            ],
        )
        .await?;
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), NS);
        env.wait_for(
            "ServiceAccount default in the probe's namespace",
            Duration::from_secs(60),
            || async { accounts.get_opt("default").await.ok().flatten() },
        )
        .await?;

        let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
        let created = Instant::now();
        pods.create(&PostParams::default(), &probe_pod(&probe.reference)?)
            .await?;
        let running = env
            .wait_for(
                "the probe pod Running",
                Duration::from_secs(120),
                || async {
                    let p = pods.get("probe").await.ok()?;
                    let phase = p.status.as_ref()?.phase.clone()?;
                    (phase == "Running").then_some(p)
                },
            )
            .await?;
        println!(
            "figure: real node pod created -> Running: {:.2} s (polled every 200 ms)",
            created.elapsed().as_secs_f64()
        );
        assert_eq!(
            running.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Some(NODE_NAME)
        );
        let pod_ip = running.status.as_ref().and_then(|s| s.pod_ip.clone());
        assert!(
            pod_ip
                .as_deref()
                .is_some_and(|ip| ip.starts_with(node::POD_CIDR.trim_end_matches("0/24"))),
            "pod IP {pod_ip:?} outside {}",
            node::POD_CIDR
        );

        // The log comes through the API server from the kubelet (webhook authn/authz).
        let log = env
            .wait_for(
                "the probe's GET /version answered 200",
                Duration::from_secs(60),
                || async {
                    let log = pods.logs("probe", &LogParams::default()).await.ok()?;
                    log.contains(": status 200: ").then_some(log)
                },
            )
            .await?;
        println!(
            "figure: real node pod created -> API server reached through the Service: {:.2} s",
            created.elapsed().as_secs_f64()
        );
        println!("probe log:\n{}", log.trim());
        *during_in_body.lock().expect("lock") = Some(Machine::measure());
        assert!(
            log.contains("https://10.0.0.1:443/version"),
            "through the Service's ClusterIP: {log}"
        );
        Ok(())
    })
    .await?;

    let after = Machine::measure();
    let during = during
        .lock()
        .expect("lock")
        .take()
        .ok_or_else(|| anyhow::anyhow!("not measured while running"))?;
    let appeared = before.left_behind(&during);
    println!(
        "while the node ran ({} changes), e.g.:\n  {}",
        appeared.len(),
        appeared
            .iter()
            .filter(|c| !c.starts_with("mount") && !c.starts_with("chain"))
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    let count = |prefix: &str| appeared.iter().filter(|c| c.starts_with(prefix)).count();
    println!(
        "while the node ran: {} processes, {} mounts, {} iptables chains, {} nft tables, {} interfaces, {} cgroup roots, {} sysctls changed",
        count("process"),
        count("mount"),
        count("chain"),
        count("nft table"),
        count("interface"),
        count("cgroup"),
        count("sysctl")
    );
    for (what, min) in [("process", 4), ("mount", 1), ("chain", 1), ("interface", 2)] {
        assert!(
            count(what) >= min,
            "the measurement sees the running node's {what}s: {appeared:#?}"
        );
    }
    let left = before.left_behind(&after);
    assert!(
        left.is_empty(),
        "the stopped node left behind:\n  {}",
        left.join("\n  ")
    );
    Ok(())
}

/// Imports the probe image, creates its restricted namespace and pod, and waits until it
/// runs (the failure-path test's part of the main test).
async fn probe_running(env: &TestEnv, probe: &NodeImage) -> anyhow::Result<()> {
    env.import_image(&probe.archive).await?;
    fixtures::create_namespace(
        &env.client,
        NS,
        &[("pod-security.kubernetes.io/enforce", "restricted")],
    )
    .await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(env.client.clone(), NS);
    env.wait_for(
        "ServiceAccount default",
        Duration::from_secs(60),
        || async { accounts.get_opt("default").await.ok().flatten() },
    )
    .await?;
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), NS);
    pods.create(&PostParams::default(), &probe_pod(&probe.reference)?)
        .await?;
    env.wait_for(
        "the probe pod Running",
        Duration::from_secs(120),
        || async {
            let p = pods.get("probe").await.ok()?;
            (p.status?.phase? == "Running").then_some(())
        },
    )
    .await
}

/// A test that fails or panics without stopping its environment drops it: the control
/// plane's `Drop` kills every process and tears the node down all the same.
#[tokio::test]
#[ignore = "needs root, hack/node-packages.sh, hack/node-images.sh and the node binaries (hack/build-control-plane.sh)"]
async fn a_dropped_environment_tears_its_real_node_down_too() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let probe = NodeImage::load(&images_dir(), "probe")?;
    let before = Machine::measure();
    let env = TestEnv::start_with(ControlPlaneOptions {
        real_node: true,
        ..ControlPlaneOptions::default()
    })
    .await?;
    probe_running(&env, &probe).await?;
    let during = Machine::measure();
    assert!(
        during.processes.iter().any(|p| p.contains(" probe ")),
        "the probe runs: {:?}",
        during.processes
    );
    let dropped = Instant::now();
    drop(env);
    println!(
        "figure: real node dropped without stop: killed and torn down in {:.2} s",
        dropped.elapsed().as_secs_f64()
    );
    let left = before.left_behind(&Machine::measure());
    assert!(
        left.is_empty(),
        "the dropped node left behind:\n  {}",
        left.join("\n  ")
    );
    Ok(())
}

/// Removes the iptables chain it names when dropped (also when the test fails).
struct TestChain(&'static str);

impl Drop for TestChain {
    fn drop(&mut self) {
        let _ = std::process::Command::new("iptables")
            .args(["-t", "filter", "-X", self.0])
            .status();
    }
}

#[tokio::test]
#[ignore = "needs root, hack/node-packages.sh, hack/node-images.sh and the node binaries (hack/build-control-plane.sh)"]
async fn a_real_node_refuses_a_host_where_another_node_left_its_chains() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    // Another node's kube-proxy would have left KUBE- chains; one empty chain stands in.
    let chain = TestChain("KUBE-FERROSCHED-FOREIGN");
    let created = std::process::Command::new("iptables")
        .args(["-t", "filter", "-N", chain.0])
        .status()?;
    anyhow::ensure!(created.success(), "iptables -N {}: {created}", chain.0);
    let before = Machine::measure();
    let result = TestEnv::start_with(ControlPlaneOptions {
        real_node: true,
        ..ControlPlaneOptions::default()
    })
    .await;
    let Err(e) = result else {
        anyhow::bail!("a real node started next to another node's chains");
    };
    let message = format!("{e:#}");
    assert!(
        message.contains("iptables chains of another Kubernetes node")
            && message.contains("filter/KUBE-FERROSCHED-FOREIGN"),
        "{message}"
    );
    // Nothing was started, and the chain it found is still there.
    let after = Machine::measure();
    assert_eq!(before, after, "the refused start changed the machine");
    assert!(
        after
            .chains
            .iter()
            .any(|c| c.ends_with("/filter/KUBE-FERROSCHED-FOREIGN"))
    );
    drop(chain);
    Ok(())
}
