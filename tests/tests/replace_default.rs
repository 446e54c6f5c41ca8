//! Replace-default mode for real: no kube-scheduler anywhere, Ferrosched as the cluster's
//! `default-scheduler`, run the way clusters run kube-scheduler: a static pod from the
//! shipped manifest `deploy/static-pod/ferrosched-scheduler.yaml`, started by the real
//! node's kubelet from its manifest directory with a `system:kube-scheduler` kubeconfig
//! (upstream's bootstrap RBAC only). It takes the Lease kube-system/kube-scheduler and
//! places ordinary pods (no `schedulerName`): a Deployment's on kwok nodes, one on the
//! real node where it runs, and the Ferrosched operator's own pod from `helm install`. A
//! stock kube-scheduler started next to it waits on that Lease rather than racing it.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use ferrosched_e2e::chart::{self, NAMESPACE, RELEASE};
use ferrosched_e2e::controlplane::{ControlPlaneOptions, NODE_NAME, NodeImage};
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::user_path::{self, pod_ready, project_image, split_reference};
use ferrosched_e2e::{TestEnv, operands};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, LogParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const MANIFEST: &str = "deploy/static-pod/ferrosched-scheduler.yaml";
/// Where the manifest mounts its kubeconfig, also its host path on a kubeadm node.
const KUBECONFIG_IN_POD: &str = "/etc/kubernetes/ferrosched-scheduler.conf";
const WORKLOAD_NS: &str = "work";
/// The nonroot user the image and the manifest run as.
const NONROOT: u32 = 65532;

/// The shipped manifest, as an administrator adapts it to one node: the image as the node
/// knows it and the host path of the kubeconfig (everything else as shipped).
fn static_pod(image: &str, kubeconfig_on_host: &std::path::Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(chart::repo().join(MANIFEST))?;
    let mut pod: Value = serde_saphyr::from_str(&text)?;
    let container = &mut pod["spec"]["containers"][0];
    anyhow::ensure!(
        container["command"][0] == "/usr/local/bin/ferrosched-scheduler",
        "{MANIFEST}: the container runs {}",
        container["command"][0]
    );
    container["image"] = json!(image);
    let volumes = pod["spec"]["volumes"]
        .as_array_mut()
        .ok_or_else(|| anyhow::anyhow!("{MANIFEST}: no volumes"))?;
    let kubeconfig = volumes
        .iter_mut()
        .find(|v| v["hostPath"]["path"] == KUBECONFIG_IN_POD)
        .ok_or_else(|| anyhow::anyhow!("{MANIFEST}: no hostPath {KUBECONFIG_IN_POD}"))?;
    kubeconfig["hostPath"]["path"] = json!(kubeconfig_on_host);
    Ok(pod)
}

/// An ordinary pod: no `schedulerName`, Pod Security `restricted`.
fn ordinary_pod(
    name: &str,
    node_selector: BTreeMap<&str, &str>,
    image: &str,
) -> anyhow::Result<Pod> {
    fixtures::restricted_pod(WORKLOAD_NS, name, None, &node_selector, image)
}

fn ordinary_deployment(name: &str, replicas: i32, image: &str) -> anyhow::Result<Deployment> {
    let pod = ordinary_pod(name, BTreeMap::from([("type", "kwok")]), image)?;
    Ok(serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": WORKLOAD_NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod.spec},
        },
    }))?)
}

#[tokio::test]
#[ignore = "needs root, the real node's packages and images, and hack/image.sh's image"]
async fn a_static_pod_ferrosched_is_the_only_scheduler_and_places_ordinary_pods()
-> anyhow::Result<()> {
    let image = project_image()?;
    let pause = NodeImage::load(&ControlPlaneOptions::default_node_images_dir(), "pause")?;
    let env = TestEnv::start_with(ControlPlaneOptions {
        real_node: true,
        with_default_scheduler: false,
        ..ControlPlaneOptions::default()
    })
    .await?;
    env.run(|env| async move {
        let c = env.client.clone();
        anyhow::ensure!(
            env.pid_of("kube-scheduler").await.is_none(),
            "kube-scheduler runs"
        );
        env.import_image(&image.archive).await?;
        env.import_image(&pause.archive).await?;
        let etc = env
            .node_etc_kubernetes()
            .await
            .ok_or_else(|| anyhow::anyhow!("no real node"))?;

        // 1. The administrator's two steps: the system:kube-scheduler credentials in a
        // file the nonroot user reads alone, and the manifest in kubelet's directory.
        let kubeconfig = etc
            .scheduler_kubeconfig
            .with_file_name("ferrosched-scheduler.conf");
        std::fs::copy(&etc.scheduler_kubeconfig, &kubeconfig)?;
        std::os::unix::fs::chown(&kubeconfig, Some(NONROOT), Some(NONROOT))?;
        std::fs::set_permissions(&kubeconfig, std::fs::Permissions::from_mode(0o600))?;
        let manifest = static_pod(&image.reference, &kubeconfig)?;
        // Written beside, then renamed: kubelet never reads half a file (it skips dot files).
        let staged = etc.manifests.join(".ferrosched-scheduler.yaml");
        std::fs::write(&staged, serde_json::to_string_pretty(&manifest)?)?;
        let written = Instant::now();
        std::fs::rename(&staged, etc.manifests.join("ferrosched-scheduler.yaml"))?;

        // 2. kubelet runs it without any scheduler; its mirror pod shows it Ready.
        let mirror = format!("ferrosched-scheduler-{NODE_NAME}");
        let system: Api<Pod> = Api::namespaced(c.clone(), "kube-system");
        let pod = env
            .wait_for("the static pod Ready", Duration::from_secs(120), || async {
                system.get_opt(&mirror).await.ok()?.filter(pod_ready)
            })
            .await?;
        println!(
            "figure: static pod manifest written to scheduler Ready: {:.1} s",
            written.elapsed().as_secs_f64()
        );
        let spec = pod.spec.clone().unwrap_or_default();
        assert_eq!(spec.node_name.as_deref(), Some(NODE_NAME));
        assert_eq!(spec.scheduler_name.as_deref(), Some("default-scheduler"));
        let leases: Api<Lease> = Api::namespaced(c.clone(), "kube-system");
        let holder = env
            .wait_for(
                "the Lease kube-system/kube-scheduler held",
                Duration::from_secs(60),
                || async {
                    leases
                        .get_opt("kube-scheduler")
                        .await
                        .ok()??
                        .spec?
                        .holder_identity
                        .filter(|h| !h.is_empty())
                },
            )
            .await?;
        println!("kube-system/kube-scheduler held by {holder}");

        // 3. Ordinary pods: a Deployment's on kwok nodes, one on the real node, running.
        fixtures::create_namespace(&c, WORKLOAD_NS, &fixtures::RESTRICTED).await?;
        let kwok: Vec<NodeSpec> = (0..3)
            .map(|i| NodeSpec::standard(&format!("kwok-{i}")))
            .collect();
        env.ready_nodes(&kwok).await?;
        let created = Instant::now();
        Api::<Deployment>::namespaced(c.clone(), WORKLOAD_NS)
            .create(
                &PostParams::default(),
                &ordinary_deployment("web", 6, &pause.reference)?,
            )
            .await?;
        let work: Api<Pod> = Api::namespaced(c.clone(), WORKLOAD_NS);
        let real_sel = BTreeMap::from([("kubernetes.io/hostname", NODE_NAME)]);
        work.create(
            &PostParams::default(),
            &ordinary_pod("real-pod", real_sel, &pause.reference)?,
        )
        .await?;
        let placed = env
            .wait_for("7 ordinary pods bound", Duration::from_secs(60), || async {
                let pods = work.list(&ListParams::default()).await.ok()?.items;
                let placed = fixtures::placements(&pods);
                (placed.len() == 7).then_some(placed)
            })
            .await?;
        println!(
            "figure: 7 ordinary pods created to bound by the static-pod Ferrosched: {:.1} s",
            created.elapsed().as_secs_f64()
        );
        for (pod, node) in &placed {
            assert_eq!(pod == "real-pod", node == NODE_NAME, "{pod} on {node}");
        }
        env.wait_for(
            "real-pod Running on the real node",
            Duration::from_secs(60),
            || async {
                let p = work.get("real-pod").await.ok()?;
                p.status?
                    .container_statuses?
                    .first()?
                    .state
                    .as_ref()?
                    .running
                    .as_ref()
                    .map(|_| ())
            },
        )
        .await?;
        let events: Api<Event> = Api::namespaced(c.clone(), WORKLOAD_NS);
        env.wait_for(
            "a Scheduled event from default-scheduler per pod",
            Duration::from_secs(30),
            || async {
                let events = events.list(&ListParams::default()).await.ok()?.items;
                placed
                    .keys()
                    .all(|name| {
                        events.iter().any(|e| {
                            e.reason.as_deref() == Some("Scheduled")
                                && e.reporting_controller.as_deref() == Some("default-scheduler")
                                && e.regarding.as_ref().and_then(|r| r.name.as_deref())
                                    == Some(name)
                        })
                    })
                    .then_some(())
            },
        )
        .await?;

        // 4. A stock kube-scheduler left running (leader election on, as kubeadm runs it)
        // waits on the same Lease instead of racing: more pods, still one leader.
        let config = env.dir.join("stock-kube-scheduler.yaml");
        std::fs::write(
            &config,
            format!(
                "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nclientConnection:\n  kubeconfig: {}\nleaderElection:\n  leaderElect: true\n",
                etc.scheduler_kubeconfig.display()
            ),
        )?;
        let stock = env.spawn(
            "stock-kube-scheduler",
            &ControlPlaneOptions::default_bin_dir().join("kube-scheduler"),
            &[
                format!("--config={}", config.display()),
                format!("--secure-port={}", operands::free_port()),
                "--bind-address=127.0.0.1".into(),
            ],
        )?;
        env.wait_for("kube-scheduler waiting for the Lease", Duration::from_secs(60), || async {
            let log = stock.log();
            let waiting = log.lines().any(|l| {
                l.contains("Attempting to acquire leader lease")
                    && l.contains("kube-system/kube-scheduler")
            });
            waiting.then_some(())
        })
        .await?;
        Api::<Deployment>::namespaced(c.clone(), WORKLOAD_NS)
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 10}})),
            )
            .await?;
        env.wait_for("11 ordinary pods bound", Duration::from_secs(60), || async {
            let pods = work.list(&ListParams::default()).await.ok()?.items;
            let bound = pods.iter().filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some());
            (bound.count() == 11).then_some(())
        })
        .await?;
        let still = leases.get("kube-scheduler").await?.spec.and_then(|s| s.holder_identity);
        assert_eq!(still.as_deref(), Some(holder.as_str()), "the Lease changed hands");
        let log = stock.log();
        assert!(
            !log.contains("Successfully acquired lease"),
            "the stock kube-scheduler led while Ferrosched held the Lease"
        );
        drop(stock);

        // 5. Ferrosched's own operator, from `helm install`, placed by Ferrosched.
        let (repository, tag) = split_reference(&image.reference);
        let values = json!({
            "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
            "operator": {"nodeSelector": {"kubernetes.io/hostname": NODE_NAME}},
        });
        let values_file = env.dir.join("operator-values.json");
        std::fs::write(&values_file, values.to_string())?;
        fixtures::create_namespace(&c, NAMESPACE, &fixtures::RESTRICTED).await?;
        let chart_dir = chart::chart_dir().display().to_string();
        let values_path = values_file.display().to_string();
        user_path::helm(
            &env.kubeconfig,
            &env.dir.join("helm"),
            &[
                "install",
                RELEASE,
                &chart_dir,
                "-n",
                NAMESPACE,
                "-f",
                &values_path,
            ],
        )?;
        let operator_pods: Api<Pod> = Api::namespaced(c.clone(), NAMESPACE);
        let operator = env
            .wait_for(
                "the operator pod Ready",
                Duration::from_secs(120),
                || async {
                    let pods = operator_pods.list(&ListParams::default()).await.ok()?.items;
                    pods.into_iter().find(pod_ready)
                },
            )
            .await?;
        assert_eq!(
            operator.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Some(NODE_NAME)
        );

        // 6. Upstream's system:kube-scheduler rights were enough: nothing was forbidden.
        let log = system.logs(&mirror, &LogParams::default()).await?;
        let forbidden: Vec<&str> = log.lines().filter(|l| l.contains("forbidden")).collect();
        assert!(
            forbidden.is_empty(),
            "the static-pod scheduler was refused:\n{}",
            forbidden.join("\n")
        );
        assert!(
            env.pid_of("kube-scheduler").await.is_none(),
            "kube-scheduler runs"
        );
        Ok(())
    })
    .await
}
