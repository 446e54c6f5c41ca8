//! Objects tests create: the CRD, fake nodes (kept Ready by kwok), pods, namespaces, and
//! kubeconfigs for ServiceAccounts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt};

/// Field manager tests write with.
pub const MANAGER: &str = "ferrosched-e2e";

/// Applies what the chart installs cluster-wide for an operator run as a process: the
/// schedulers' grant ClusterRoles (default prefix) and the SchedulerProfile CRD, waiting
/// until the CRD is established.
pub async fn install_crd(client: &Client) -> anyhow::Result<()> {
    install_grant_roles(client).await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = ferrosched_crds::SchedulerProfile::crd();
    let name = crd.metadata.name.clone().unwrap_or_default();
    crds.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await?;
    for _ in 0..100 {
        let c = crds.get(&name).await?;
        let established = c
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("CRD {name} not established in 10s")
}

/// The fixed grant ClusterRoles the chart ships (grant-roles.yaml), under the operator's
/// default prefix.
pub async fn install_grant_roles(client: &Client) -> anyhow::Result<()> {
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let prefix = ferrosched_operator::identity::DEFAULT_GRANT_ROLE_PREFIX;
    for role in ferrosched_operator::children::grant_roles(prefix) {
        let name = role.metadata.name.clone().unwrap_or_default();
        roles
            .patch(
                &name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&role),
            )
            .await?;
    }
    Ok(())
}

/// The ClusterRoleBindings the operator made for profile `p`, sorted by name.
pub async fn profile_bindings(client: &Client, p: &str) -> anyhow::Result<Vec<ClusterRoleBinding>> {
    let lp = ListParams::default().labels(&format!("ferrosched.dev/profile={p}"));
    let mut items = Api::<ClusterRoleBinding>::all(client.clone())
        .list(&lp)
        .await?
        .items;
    items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(items)
}

/// The cluster-wide rules profile `p`'s scheduler holds: those of every grant role its
/// bindings give it (bindings with subjects).
pub async fn profile_cluster_rules(client: &Client, p: &str) -> anyhow::Result<Vec<PolicyRule>> {
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let mut rules = Vec::new();
    for b in profile_bindings(client, p).await? {
        if b.subjects.as_ref().is_some_and(|s| !s.is_empty()) {
            rules.extend(roles.get(&b.role_ref.name).await?.rules.unwrap_or_default());
        }
    }
    Ok(rules)
}

/// Installs the CRD and creates the operands' namespace, Pod Security `restricted`
/// enforced and warned.
pub async fn install_with_restricted_namespace(
    client: &Client,
    namespace: &str,
) -> anyhow::Result<()> {
    install_crd(client).await?;
    create_namespace(client, namespace, &RESTRICTED).await
}

/// Labels of a namespace that enforces (and warns about) Pod Security `restricted`.
pub const RESTRICTED: [(&str, &str); 2] = [
    ("pod-security.kubernetes.io/enforce", "restricted"),
    ("pod-security.kubernetes.io/warn", "restricted"),
];

/// Creates a namespace with labels (e.g. [`RESTRICTED`]).
pub async fn create_namespace(
    client: &Client,
    name: &str,
    labels: &[(&str, &str)],
) -> anyhow::Result<()> {
    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}

/// A fake node: capacity, labels, managed by kwok (which keeps it Ready).
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Name.
    pub name: String,
    /// CPU capacity (`4`).
    pub cpu: String,
    /// Memory capacity (`32Gi`).
    pub memory: String,
    /// Pod capacity.
    pub pods: u32,
    /// Extra labels.
    pub labels: BTreeMap<String, String>,
}

impl NodeSpec {
    /// upstream scheduler_perf's node shape: 4 CPU, 32Gi, 110 pods.
    pub fn standard(name: &str) -> Self {
        NodeSpec {
            name: name.into(),
            cpu: "4".into(),
            memory: "32Gi".into(),
            pods: 110,
            labels: BTreeMap::new(),
        }
    }
}

/// Creates the nodes with their capacity in `status` (as a kubelet registers itself, so
/// kwok's initialisation keeps it instead of racing a later patch with its own defaults).
pub async fn create_nodes(client: &Client, nodes: &[NodeSpec]) -> anyhow::Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    for n in nodes {
        let mut labels = n.labels.clone();
        labels.insert("kubernetes.io/hostname".into(), n.name.clone());
        labels.insert("type".into(), "kwok".into());
        let cap = serde_json::json!({
            "cpu": n.cpu, "memory": n.memory, "pods": n.pods.to_string(), "ephemeral-storage": "100Gi",
        });
        let node: Node = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n.name, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake"}},
            "status": {"capacity": cap, "allocatable": cap},
        }))?;
        let created = api.create(&PostParams::default(), &node).await?;
        let kept = created
            .status
            .and_then(|s| s.allocatable)
            .is_some_and(|a| a.get("cpu").map(|q| q.0.as_str()) == Some(n.cpu.as_str()));
        if !kept {
            let status = serde_json::json!({"status": {"capacity": cap, "allocatable": cap}});
            api.patch_status(&n.name, &PatchParams::default(), &Patch::Merge(&status))
                .await?;
        }
    }
    Ok(())
}

/// Whether the node reports the capacity it was created with (kwok did not replace it).
pub fn node_has_capacity(n: &Node, spec: &NodeSpec) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .is_some_and(|a| {
            a.get("cpu").map(|q| q.0.as_str()) == Some(spec.cpu.as_str())
                && a.get("memory").map(|q| q.0.as_str()) == Some(spec.memory.as_str())
        })
}

/// Whether a node is Ready and carries no NoSchedule taint (kwok and the node controller are done).
pub fn node_schedulable(n: &Node) -> bool {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let tainted = n
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.effect == "NoSchedule"));
    ready && !tainted
}

/// A KubeSchedulerConfiguration with one default profile named `scheduler`, leader
/// election off, talking to the cluster through `kubeconfig`.
pub fn single_profile_config(kubeconfig: &std::path::Path, scheduler: &str) -> String {
    format!(
        "apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: {}
leaderElection:
  leaderElect: false
profiles:
- schedulerName: {scheduler}
",
        kubeconfig.display()
    )
}

/// A pod with one container requesting `cpu` and `memory`, for `scheduler`.
pub fn pod(namespace: &str, name: &str, scheduler: &str, cpu: &str, memory: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedulerName": scheduler,
            "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": {"cpu": cpu, "memory": memory}}}],
            "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
        }
    }))
    .unwrap_or_default()
}

/// Writes a kubeconfig authenticating as `namespace/sa` with a bound token (TokenRequest).
pub async fn service_account_kubeconfig(
    client: &Client,
    server: &str,
    ca_pem: &str,
    namespace: &str,
    sa: &str,
    dir: &Path,
) -> anyhow::Result<PathBuf> {
    let token = service_account_token(client, namespace, sa).await?;
    std::fs::create_dir_all(dir)?;
    let ca = dir.join("ca.crt");
    std::fs::write(&ca, ca_pem)?;
    let path = dir.join(format!("{namespace}-{sa}.kubeconfig"));
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority: {}\nusers:\n- name: {sa}\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: {sa}\ncurrent-context: c\n",
        ca.display()
    );
    std::fs::write(&path, yaml)?;
    Ok(path)
}

/// A bound token (TokenRequest, one hour) of the ServiceAccount `namespace/sa`.
pub async fn service_account_token(
    client: &Client,
    namespace: &str,
    sa: &str,
) -> anyhow::Result<String> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let req = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let tr: TokenRequest = api
        .create_subresource("token", sa, &PostParams::default(), &req)
        .await?;
    let token = tr
        .status
        .and_then(|s| s.token)
        .ok_or_else(|| anyhow::anyhow!("TokenRequest for {namespace}/{sa} returned no token"))?;
    Ok(token)
}

/// Creates the ServiceAccount `namespace/name` and binds it to the ClusterRole `role`;
/// returns its token (e.g. a Prometheus allowed to `get /metrics`).
pub async fn bound_service_account_token(
    client: &Client,
    namespace: &str,
    name: &str,
    role: &str,
) -> anyhow::Result<String> {
    let sa: ServiceAccount = serde_json::from_value(
        serde_json::json!({"metadata": {"name": name, "namespace": namespace}}),
    )?;
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &sa)
        .await?;
    let binding: ClusterRoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("{namespace}-{name}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }))?;
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await?;
    service_account_token(client, namespace, name).await
}

/// A ServiceAccount allowed to `get /metrics` (ClusterRole `metrics-reader`, created
/// here); returns its token.
pub async fn metrics_reader_token(client: &Client, namespace: &str) -> anyhow::Result<String> {
    let role: ClusterRole = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "metrics-reader"},
        "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
    }))?;
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await?;
    bound_service_account_token(client, namespace, "metrics-reader", "metrics-reader").await
}

/// Pods of a namespace.
pub async fn list_pods(client: &Client, namespace: &str) -> anyhow::Result<Vec<Pod>> {
    Ok(Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&Default::default())
        .await?
        .items)
}

/// A Pod Security `restricted` pod running `image` (never pulled: imported into the real
/// node) as 65532, pinned by `node_selector`; `scheduler` sets `spec.schedulerName`
/// (unset: the cluster's default scheduler).
pub fn restricted_pod(
    namespace: &str,
    name: &str,
    scheduler: Option<&str>,
    node_selector: &BTreeMap<&str, &str>,
    image: &str,
) -> anyhow::Result<Pod> {
    let mut pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "nodeSelector": node_selector,
            "automountServiceAccountToken": false,
            "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "image": image, "imagePullPolicy": "Never",
                "resources": {"requests": {"cpu": "100m", "memory": "16Mi"}},
                "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                    "capabilities": {"drop": ["ALL"]}}}],
        },
    });
    if let Some(s) = scheduler {
        pod["spec"]["schedulerName"] = serde_json::json!(s);
    }
    Ok(serde_json::from_value(pod)?)
}

/// Pod name → node name, for the bound pods among `pods`.
pub fn placements(pods: &[Pod]) -> BTreeMap<String, String> {
    pods.iter()
        .filter_map(|p| {
            Some((
                p.metadata.name.clone()?,
                p.spec.as_ref()?.node_name.clone()?,
            ))
        })
        .collect()
}
