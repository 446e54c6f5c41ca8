//! Command lines of the components. See `/work/shared/CONTROL_PLANE.md` for why each
//! non-default flag is there.

use std::path::Path;

use super::certs::{NodeIdentity, Pki};

/// Loopback ports chosen for one control plane.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// etcd client URL port.
    pub etcd_client: u16,
    /// etcd peer URL port.
    pub etcd_peer: u16,
    /// kube-apiserver secure port.
    pub apiserver: u16,
    /// kube-controller-manager secure (healthz/metrics) port.
    pub controller_manager: u16,
    /// kwok's health/metrics server port.
    pub kwok: u16,
}

/// Admission plugins enabled on top of the defaults (all valid names at v1.37).
pub const ADMISSION_PLUGINS: &str = "NamespaceLifecycle,LimitRanger,ServiceAccount,PodSecurity,\
TaintNodesByCondition,Priority,DefaultTolerationSeconds,DefaultStorageClass,\
StorageObjectInUseProtection,PersistentVolumeClaimResize,RuntimeClass,MutatingAdmissionWebhook,\
ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota";

/// The Service CIDR; its first IP is in the apiserver certificate.
pub const SERVICE_CIDR: &str = "10.0.0.0/24";

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// etcd: single member on loopback, no fsync (test data only), 8 GiB quota.
pub fn etcd(data_dir: &Path, ports: Ports) -> Vec<String> {
    let client = format!("http://127.0.0.1:{}", ports.etcd_client);
    let peer = format!("http://127.0.0.1:{}", ports.etcd_peer);
    vec![
        "--name=ferrosched".into(),
        format!("--data-dir={}", p(data_dir)),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=ferrosched={peer}"),
        "--initial-cluster-state=new".into(),
        "--unsafe-no-fsync".into(),
        "--quota-backend-bytes=8589934592".into(),
        "--log-level=warn".into(),
    ]
}

/// `FERROSCHED_APISERVER_PROFILING=1` turns on kube-apiserver's `/debug/pprof` (admin
/// only), to profile a benchmark run; off otherwise.
fn apiserver_profiling() -> bool {
    std::env::var("FERROSCHED_APISERVER_PROFILING").is_ok_and(|v| v == "1")
}

/// kube-apiserver: client-cert and static bearer-token authentication, Node+RBAC authorization, ES256
/// service-account tokens, no endpoint reconciler (loopback advertise address). With a real
/// `node`, it serves and advertises on the node's address instead (pods reach it there
/// through the `kubernetes` Service, whose endpoint the lease reconciler keeps), and calls
/// kubelets with its own client certificate.
pub fn apiserver(
    pki: &Pki,
    token_auth_file: &Path,
    ports: Ports,
    node: Option<&NodeIdentity>,
) -> Vec<String> {
    let (address, reconciler) = match node {
        Some(node) => (node.ip.to_string(), "lease"),
        None => ("127.0.0.1".to_owned(), "none"),
    };
    let mut args = vec![
        format!("--etcd-servers=http://127.0.0.1:{}", ports.etcd_client),
        format!("--secure-port={}", ports.apiserver),
        format!("--bind-address={address}"),
        format!("--advertise-address={address}"),
        format!("--tls-cert-file={}", p(&pki.apiserver.cert)),
        format!("--tls-private-key-file={}", p(&pki.apiserver.key)),
        format!("--client-ca-file={}", p(&pki.ca.cert)),
        format!("--token-auth-file={}", p(token_auth_file)),
        format!("--service-account-key-file={}", p(&pki.sa_pub)),
        format!("--service-account-signing-key-file={}", p(&pki.sa_key)),
        "--service-account-issuer=https://kubernetes.default.svc".into(),
        "--authorization-mode=Node,RBAC".into(),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        format!("--enable-admission-plugins={ADMISSION_PLUGINS}"),
        format!("--endpoint-reconciler-type={reconciler}"),
        "--allow-privileged=false".into(),
        format!("--profiling={}", apiserver_profiling()),
    ];
    if let Some(node) = &pki.node {
        args.extend([
            format!(
                "--kubelet-client-certificate={}",
                p(&node.apiserver_kubelet_client.cert)
            ),
            format!(
                "--kubelet-client-key={}",
                p(&node.apiserver_kubelet_client.key)
            ),
            format!("--kubelet-certificate-authority={}", p(&pki.ca.cert)),
            "--kubelet-preferred-address-types=InternalIP".into(),
        ]);
    }
    args
}

/// Audit flags logging every request of `users` to `<work_dir>/audit.log` (the policy is
/// written next to it); none when `users` is empty.
pub fn audit(work_dir: &Path, users: &[String]) -> Result<Vec<String>, super::Error> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let policy = work_dir.join("audit-policy.yaml");
    let quoted: Vec<String> = users.iter().map(|u| format!("{u:?}")).collect();
    let text = format!(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\nrules:\n- level: Metadata\n  users: [{}]\n- level: None\n",
        quoted.join(", ")
    );
    std::fs::write(&policy, text).map_err(|e| super::Error::io("writing the audit policy", e))?;
    Ok(vec![
        format!("--audit-policy-file={}", p(&policy)),
        format!("--audit-log-path={}", p(&work_dir.join("audit.log"))),
        "--audit-log-format=json".into(),
    ])
}

/// kube-controller-manager: its own identity, per-controller service-account
/// credentials, the CA as cluster signer and client CA of its own secure port, no
/// leader election, higher client QPS so
/// ReplicaSets of thousands of pods are not throttled at the default 20 qps.
pub fn controller_manager(pki: &Pki, kubeconfig: &Path, ports: Ports) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", p(kubeconfig)),
        format!("--authentication-kubeconfig={}", p(kubeconfig)),
        format!("--authorization-kubeconfig={}", p(kubeconfig)),
        // No requestheader (front-proxy) CA exists: do not look up
        // kube-system/extension-apiserver-authentication (it logs errors forever).
        "--authentication-skip-lookup=true".into(),
        format!("--client-ca-file={}", p(&pki.ca.cert)),
        "--use-service-account-credentials=true".into(),
        format!("--service-account-private-key-file={}", p(&pki.sa_key)),
        format!("--root-ca-file={}", p(&pki.ca.cert)),
        format!("--cluster-signing-cert-file={}", p(&pki.ca.cert)),
        format!("--cluster-signing-key-file={}", p(&pki.ca.key)),
        format!("--secure-port={}", ports.controller_manager),
        "--bind-address=127.0.0.1".into(),
        "--leader-elect=false".into(),
        "--controllers=*".into(),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        "--kube-api-qps=200".into(),
        "--kube-api-burst=400".into(),
        "--profiling=false".into(),
    ]
}

/// kwok: manages only nodes annotated `kwok.x-k8s.io/node=fake` (and their pods).
pub fn kwok(kubeconfig: &Path, stages: &[std::path::PathBuf], ports: Ports) -> Vec<String> {
    let mut args = vec![
        format!("--kubeconfig={}", p(kubeconfig)),
        "--manage-all-nodes=false".into(),
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".into(),
        "--cidr=10.244.0.1/16".into(),
        "--node-ip=10.96.0.1".into(),
        // Without a KwokConfiguration file the lease default (40 s) is not applied and
        // kwok creates no node Leases; node-heartbeat-with-lease then relies on them.
        "--node-lease-duration-seconds=40".into(),
        format!("--server-address=127.0.0.1:{}", ports.kwok),
    ];
    args.extend(stages.iter().map(|s| format!("--config={}", p(s))));
    args
}

/// Stage files (relative to the kwok-stages directory) kwok is started with.
pub const KWOK_STAGES: &[&str] = &[
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
];

/// The reference kube-scheduler as the cluster's default scheduler (no leader election).
pub fn kube_scheduler(config: &Path, port: u16) -> Vec<String> {
    vec![
        format!("--config={}", p(config)),
        format!("--secure-port={port}"),
        "--bind-address=127.0.0.1".into(),
        "--profiling=false".into(),
    ]
}

/// Its KubeSchedulerConfiguration: admin connection, no leader election.
pub fn kube_scheduler_config(kubeconfig: &Path) -> String {
    format!(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nclientConnection:\n  kubeconfig: {}\n  qps: 200\n  burst: 400\nleaderElection:\n  leaderElect: false\n",
        p(kubeconfig)
    )
}
