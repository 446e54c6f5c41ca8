//! The path a user takes, on a real node: the image `hack/image.sh` built, imported into
//! the node's containerd; `helm install` into a namespace enforcing Pod Security
//! `restricted`; the operator and a two-replica profile's schedulers run as pods under a
//! real kubelet (HTTPS probes, read-only root, in-cluster config), every endpoint's
//! certificate verified against the CA the operator keeps, as a ServiceMonitor verifies it.
//! The schedulers bind pods to kwok nodes and one to the real node, where it runs; the
//! leader pod deleted, the standby leads; a config edit rolls the Deployment without ever
//! dropping to zero Ready replicas, also with the operator pod killed mid-rollout;
//! an image that cannot start is rolled back with its configuration; `helm uninstall`
//! leaves nothing of the release; the plain manifests
//! (`kubectl apply -k deploy/`) install the same operator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrosched_crds::SchedulerProfile;
use ferrosched_e2e::chart::{self, NAMESPACE, RELEASE};
use ferrosched_e2e::controlplane::{ControlPlaneOptions, NODE_NAME, NodeImage};
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::user_path::{
    self, created_to_ready, pod_ready as ready, project_image, split_reference,
};
use ferrosched_e2e::{TestEnv, operator};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

const PROFILE: &str = "real";
const SCHEDULER: &str = "ferrosched-real";
/// The profile's children (Deployment, Lease) are named `ferrosched-<profile>`.
const CHILD: &str = "ferrosched-real";
const WORKLOAD_NS: &str = "work";
/// The profile's `progressDeadlineSeconds` while it names an image that cannot start.
const BROKEN_DEADLINE_SECONDS: i32 = 30;

fn helm(env: &TestEnv, args: &[&str]) -> anyhow::Result<String> {
    user_path::helm(&env.kubeconfig, &env.dir.join("helm"), args)
}

fn kubectl(env: &TestEnv, args: &[&str]) -> anyhow::Result<String> {
    user_path::kubectl(&env.kubeconfig, args)
}

/// The release's values: the operator and a two-replica profile pinned to the real node;
/// `scheduler_image` sets the profile's `spec.image`.
fn values(image: &NodeImage, percentage: i32, scheduler_image: Option<&str>) -> String {
    let (repository, tag) = split_reference(&image.reference);
    let pin = json!({"kubernetes.io/hostname": NODE_NAME});
    let mut v = json!({
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "operator": {"nodeSelector": pin},
        "profiles": [{"name": PROFILE, "spec": {
            "schedulerName": SCHEDULER,
            "replicas": 2,
            "nodeSelector": pin,
            "imagePullPolicy": "Never",
            "percentageOfNodesToScore": percentage,
            "leaderElection": {"leaseDuration": "6s", "renewDeadline": "4s", "retryPeriod": "1s"},
        }}],
    });
    if let Some(i) = scheduler_image {
        v["profiles"][0]["spec"]["image"] = json!(i);
        // The image step is the one meant to fail: rolled back after 30 s without progress.
        v["profiles"][0]["spec"]["progressDeadlineSeconds"] = json!(BROKEN_DEADLINE_SECONDS);
    }
    v.to_string()
}

fn container_image(d: &Deployment) -> Option<String> {
    d.spec
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .clone()
}

async fn scheduler_pods(c: &kube::Client) -> anyhow::Result<Vec<Pod>> {
    let lp = ListParams::default().labels(&format!("app.kubernetes.io/instance={PROFILE}"));
    Ok(Api::<Pod>::namespaced(c.clone(), NAMESPACE)
        .list(&lp)
        .await?
        .items)
}

async fn holder(c: &kube::Client) -> Option<String> {
    Api::<Lease>::namespaced(c.clone(), NAMESPACE)
        .get_opt(CHILD)
        .await
        .ok()??
        .spec?
        .holder_identity
        .filter(|h| !h.is_empty())
}

/// A pod for the profile's scheduler, pinned by nodeSelector; `image` runs for real on the
/// real node (kwok only pretends).
fn workload(name: &str, node_selector: BTreeMap<&str, &str>, image: &str) -> anyhow::Result<Pod> {
    fixtures::restricted_pod(WORKLOAD_NS, name, Some(SCHEDULER), &node_selector, image)
}

/// Waits until every pod named is bound; returns name → node.
async fn bound(env: &TestEnv, names: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), WORKLOAD_NS);
    env.wait_for("workload pods bound", Duration::from_secs(60), || {
        let pods = pods.clone();
        async move {
            let mut out = BTreeMap::new();
            for n in names {
                let node = pods.get(n).await.ok()?.spec?.node_name?;
                out.insert(n.clone(), node);
            }
            Some(out)
        }
    })
    .await
}

#[tokio::test]
#[ignore = "needs root, the real node's packages and images, and hack/image.sh's image"]
async fn helm_install_runs_the_image_as_pods_on_a_real_node() -> anyhow::Result<()> {
    let image = project_image()?;
    let pause = NodeImage::load(&ControlPlaneOptions::default_node_images_dir(), "pause")?;
    let env = TestEnv::start_with(ControlPlaneOptions {
        real_node: true,
        ..ControlPlaneOptions::default()
    })
    .await?;
    env.run(|env| async move {
        let c = env.client.clone();
        env.import_image(&image.archive).await?;
        env.import_image(&pause.archive).await?;
        for ns in [NAMESPACE, WORKLOAD_NS] {
            fixtures::create_namespace(&c, ns, &fixtures::RESTRICTED).await?;
        }
        let kwok: Vec<NodeSpec> = (0..3)
            .map(|i| NodeSpec::standard(&format!("kwok-{i}")))
            .collect();
        env.ready_nodes(&kwok).await?;

        // 1. helm install: operator Ready through its HTTPS probes, profile Available.
        let values_file = env.dir.join("real-values.json");
        std::fs::write(&values_file, values(&image, 0, None))?;
        let values_path = values_file.display().to_string();
        let chart_dir = chart::chart_dir().display().to_string();
        let started = Instant::now();
        helm(
            &env,
            &["install", RELEASE, &chart_dir, "-n", NAMESPACE, "-f", &values_path],
        )?;
        let deployments: Api<Deployment> = Api::namespaced(c.clone(), NAMESPACE);
        env.wait_for("operator Ready", Duration::from_secs(120), || async {
            let d = deployments.get(RELEASE).await.ok()?;
            let want = d.spec.replicas.unwrap_or(1);
            (d.status?.ready_replicas? == want).then_some(())
        })
        .await?;
        println!(
            "figure: helm install to operator Ready (real node, HTTPS probes): {:.1} s",
            started.elapsed().as_secs_f64()
        );
        operator::wait_rolled_out(&env, &c, PROFILE).await?;
        println!(
            "figure: helm install to profile Available (2 scheduler pods Ready): {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let pods = scheduler_pods(&c).await?;
        assert_eq!(pods.len(), 2, "two scheduler replicas");
        for p in &pods {
            assert!(ready(p), "scheduler pod Ready: {:?}", p.status);
            assert_eq!(p.spec.as_ref().and_then(|s| s.node_name.as_deref()), Some(NODE_NAME));
            let secs = created_to_ready(p).ok_or_else(|| anyhow::anyhow!("no Ready time"))?;
            println!("figure: scheduler pod created to Ready: {secs:.1} s");
        }

        // 1b. Scraped as the chart's ServiceMonitors scrape: every endpoint verified against
        // the CA the operator publishes, for the names the ServiceMonitors expect.
        let bundles: Api<ConfigMap> = Api::namespaced(c.clone(), NAMESPACE);
        let bundle = format!("{RELEASE}-serving-ca");
        let ca = env
            .wait_for("the serving CA published", Duration::from_secs(60), || async {
                bundles.get_opt(&bundle).await.ok()??.data?.get("ca.crt").cloned()
            })
            .await?;
        let ip = |p: &Pod| p.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default();
        let scheduler_host = format!("ferrosched-scheduler.{NAMESPACE}.svc");
        let mut verified = 0;
        for p in &pods {
            let status = user_path::https_verified(&ip(p), 10259, &scheduler_host, &ca, "/healthz").await?;
            assert_eq!(status, 200, "scheduler {:?} verified", p.metadata.name);
            verified += 1;
            let other = format!("{CHILD}-elsewhere.{NAMESPACE}.svc");
            assert!(
                user_path::https_verified(&ip(p), 10259, &other, &ca, "/healthz").await.is_err(),
                "a name the certificate does not carry is refused"
            );
        }
        let operator_pod = Api::<Pod>::namespaced(c.clone(), NAMESPACE)
            .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={RELEASE}")))
            .await?
            .items
            .into_iter()
            .find(|p| p.metadata.name.as_deref().is_some_and(|n| n.starts_with(&format!("{RELEASE}-"))))
            .ok_or_else(|| anyhow::anyhow!("no operator pod"))?;
        let operator_host = format!("{RELEASE}.{NAMESPACE}.svc");
        let status = env
            .wait_for("the operator serves its certificate from the CA", Duration::from_secs(30), || async {
                user_path::https_verified(&ip(&operator_pod), 8443, &operator_host, &ca, "/readyz").await.ok()
            })
            .await?;
        assert_eq!(status, 200);
        verified += 1;
        println!("figure: endpoints verified against the operator's serving CA (no insecureSkipVerify): {verified} of {}", pods.len() + 1);

        // 2. Pods for the profile: four to kwok nodes, one to the real node, where it runs.
        let kwok_sel = BTreeMap::from([("type", "kwok")]);
        let real_sel = BTreeMap::from([("kubernetes.io/hostname", NODE_NAME)]);
        let work: Api<Pod> = Api::namespaced(c.clone(), WORKLOAD_NS);
        let mut names = Vec::new();
        for i in 0..4 {
            let name = format!("kwok-pod-{i}");
            work.create(&PostParams::default(), &workload(&name, kwok_sel.clone(), &pause.reference)?)
                .await?;
            names.push(name);
        }
        work.create(&PostParams::default(), &workload("real-pod", real_sel.clone(), &pause.reference)?)
            .await?;
        names.push("real-pod".into());
        let placed = bound(&env, &names).await?;
        for (pod, node) in &placed {
            let want_real = pod == "real-pod";
            assert_eq!(node == NODE_NAME, want_real, "{pod} on {node}");
        }
        env.wait_for("real-pod Running on the real node", Duration::from_secs(60), || async {
            let p = work.get("real-pod").await.ok()?;
            let running = p.status?.container_statuses?.first()?.state.as_ref()?.running.is_some();
            running.then_some(())
        })
        .await?;

        // 3. The leader pod deleted: the standby leads, status.leader follows.
        let leader = holder(&c).await.ok_or_else(|| anyhow::anyhow!("no Lease holder"))?;
        let leader_pod = leader.split('_').next().unwrap_or_default().to_string();
        assert!(
            pods.iter().any(|p| p.metadata.name.as_deref() == Some(&leader_pod)),
            "holder {leader} is one of the scheduler pods"
        );
        let deleted = Instant::now();
        Api::<Pod>::namespaced(c.clone(), NAMESPACE)
            .delete(&leader_pod, &DeleteParams::default())
            .await?;
        let new_leader = env
            .wait_for("the standby leads", Duration::from_secs(30), || async {
                holder(&c).await.filter(|h| !h.starts_with(&format!("{leader_pod}_")))
            })
            .await?;
        let failover = deleted.elapsed();
        println!(
            "figure: failover after the leader pod is deleted: {:.1} s (bound: leaseDuration 6 s + retryPeriod 1 s)",
            failover.as_secs_f64()
        );
        assert!(failover <= Duration::from_secs(7), "failover took {failover:?}");
        env.wait_for("status.leader follows", Duration::from_secs(30), || async {
            let p = Api::<SchedulerProfile>::all(c.clone()).get(PROFILE).await.ok()?;
            (p.status?.leader? == new_leader).then_some(())
        })
        .await?;
        for i in 4..8 {
            let name = format!("kwok-pod-{i}");
            work.create(&PostParams::default(), &workload(&name, kwok_sel.clone(), &pause.reference)?)
                .await?;
            names.push(name);
        }
        bound(&env, &names).await?;
        // Bound exactly once: one Scheduled event per pod (events are written after the
        // bind, asynchronously: waited for), never two.
        let scheduled = |events: &[Event], n: &str| {
            events
                .iter()
                .filter(|e| {
                    e.reason.as_deref() == Some("Scheduled")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(n)
                })
                .count()
        };
        let events_api = Api::<Event>::namespaced(c.clone(), WORKLOAD_NS);
        let events = env
            .wait_for("a Scheduled event per pod", Duration::from_secs(30), || async {
                let events = events_api.list(&ListParams::default()).await.ok()?.items;
                names
                    .iter()
                    .all(|n| scheduled(&events, n) >= 1)
                    .then_some(events)
            })
            .await?;
        for n in &names {
            assert_eq!(scheduled(&events, n), 1, "{n}: Scheduled events");
        }

        // 4. A config edit rolls the Deployment; Ready replicas never reach zero.
        // Every state of the Deployment is seen through a watch (errors retried): the
        // fewest Ready replicas, and the newest generation the watch saw.
        let before = deployments.get(CHILD).await?.metadata.generation.unwrap_or(0);
        let min_ready = Arc::new(Mutex::new((i32::MAX, 0_i64)));
        let seen = min_ready.clone();
        let watch_api = deployments.clone();
        let watch = tokio::spawn(async move {
            let cfg = watcher::Config::default().fields(&format!("metadata.name={CHILD}"));
            let mut stream = watcher::watcher(watch_api, cfg).boxed();
            while let Some(ev) = stream.next().await {
                if let Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) = ev {
                    let generation = d.metadata.generation.unwrap_or(0);
                    let ready = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
                    let mut m = seen.lock().unwrap_or_else(|e| e.into_inner());
                    *m = (m.0.min(ready), m.1.max(generation));
                }
            }
        });
        std::fs::write(&values_file, values(&image, 50, None))?;
        helm(
            &env,
            &["upgrade", RELEASE, &chart_dir, "-n", NAMESPACE, "-f", &values_path],
        )?;
        env.wait_for("Deployment edited", Duration::from_secs(60), || async {
            let g = deployments.get(CHILD).await.ok()?.metadata.generation?;
            (g > before).then_some(())
        })
        .await?;
        // The operator pod killed mid-rollout: its replacement finishes it.
        let operator_pods = |c: kube::Client| async move {
            let lp = ListParams::default().labels(&format!("app.kubernetes.io/instance={RELEASE}"));
            Api::<Pod>::namespaced(c, NAMESPACE).list(&lp).await.map(|l| l.items)
        };
        let old_operator = operator_pods(c.clone())
            .await?
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect::<Vec<_>>();
        anyhow::ensure!(!old_operator.is_empty(), "no operator pod found");
        for name in &old_operator {
            Api::<Pod>::namespaced(c.clone(), NAMESPACE)
                .delete(name, &DeleteParams::default())
                .await?;
        }
        env.wait_for("a new operator pod Ready", Duration::from_secs(120), || async {
            let pods = operator_pods(c.clone()).await.ok()?;
            pods.iter()
                .any(|p| {
                    let name = p.metadata.name.clone().unwrap_or_default();
                    !old_operator.contains(&name) && ready(p)
                })
                .then_some(())
        })
        .await?;
        operator::wait_rolled_out(&env, &c, PROFILE).await?;
        let rolled = deployments.get(CHILD).await?;
        let template_hash = rolled
            .spec
            .template
            .metadata
            .and_then(|m| m.annotations)
            .and_then(|a| a.get("ferrosched.dev/config-hash").cloned());
        let recorded = Api::<SchedulerProfile>::all(c.clone())
            .get(PROFILE)
            .await?
            .status
            .and_then(|s| s.config_hash);
        assert!(template_hash.is_some());
        assert_eq!(recorded, template_hash, "the new operator recorded the rolled-out config");
        env.wait_for("rollout complete", Duration::from_secs(120), || async {
            let d = deployments.get(CHILD).await.ok()?;
            let s = d.status?;
            let want = 2;
            (s.updated_replicas? == want && s.ready_replicas? == want && s.replicas? == want)
                .then_some(())
        })
        .await?;
        watch.abort();
        let (lowest, newest) = *min_ready.lock().unwrap_or_else(|e| e.into_inner());
        println!("figure: fewest Ready scheduler replicas during the rollout: {lowest}");
        assert!(newest > before, "the watch saw the edited Deployment (generation {newest})");
        assert!(lowest >= 1 && lowest != i32::MAX, "Ready replicas fell to {lowest}");

        // 5. An image that cannot start: the rollout misses its progress deadline and the
        // operator rolls back to the last good configuration and image, saying so.
        let good_image = container_image(&deployments.get(CHILD).await?);
        let broken = format!("{}-missing", image.reference);
        std::fs::write(&values_file, values(&image, 50, Some(&broken)))?;
        helm(
            &env,
            &["upgrade", RELEASE, &chart_dir, "-n", NAMESPACE, "-f", &values_path],
        )?;
        env.wait_for("the broken image deployed", Duration::from_secs(60), || async {
            let d = deployments.get(CHILD).await.ok()?;
            (container_image(&d) == Some(broken.clone())).then_some(())
        })
        .await?;
        let broke = Instant::now();
        let (_, _, message) = env
            .wait_for("rolled back", Duration::from_secs(240), || async {
                operator::condition(&c, PROFILE, "Degraded")
                    .await
                    .filter(|(s, r, _)| s == "True" && r == "RolloutFailed")
            })
            .await?;
        assert!(
            message.contains(&format!(
                "missed its progress deadline ({BROKEN_DEADLINE_SECONDS}s); rolled back to configuration"
            )),
            "{message}"
        );
        env.wait_for("the good image back, 2 Ready", Duration::from_secs(120), || async {
            let d = deployments.get(CHILD).await.ok()?;
            let ready = d.status.as_ref()?.ready_replicas? == 2;
            (ready && container_image(&d) == good_image).then_some(())
        })
        .await?;
        println!(
            "figure: an image that cannot start, deployed to rolled back: {:.1} s (progress deadline {BROKEN_DEADLINE_SECONDS} s)",
            broke.elapsed().as_secs_f64()
        );

        // 6. helm uninstall: nothing of the release is left.
        helm(&env, &["uninstall", RELEASE, "-n", NAMESPACE, "--wait"])?;
        env.wait_for("release gone", Duration::from_secs(120), || async {
            let left = Api::<Pod>::namespaced(c.clone(), NAMESPACE)
                .list(&ListParams::default())
                .await
                .ok()?
                .items;
            let profiles = Api::<SchedulerProfile>::all(c.clone())
                .list(&ListParams::default())
                .await
                .ok()?
                .items;
            (left.is_empty() && profiles.is_empty()).then_some(())
        })
        .await?;

        // 7. The plain manifests install the same operator: `kubectl apply -k deploy/`.
        // They name the image without a registry, as hack/image.sh tags it, and pin no
        // node: the kwok nodes are cordoned so the stock scheduler places the operator on
        // the real node.
        let manifests = std::fs::read_to_string(chart::repo().join("deploy/ferrosched.yaml"))?;
        anyhow::ensure!(
            manifests.contains(&format!("image: \"{}\"", image.reference)),
            "deploy/ferrosched.yaml does not run {} (hack/render-manifests.sh)",
            image.reference
        );
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(c.clone());
        for n in &kwok {
            nodes
                .patch(
                    &n.name,
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Merge(json!({"spec": {"unschedulable": true}})),
                )
                .await?;
        }
        let deploy_dir = chart::repo().join("deploy").display().to_string();
        let applied = Instant::now();
        kubectl(&env, &["apply", "--server-side", "-k", &deploy_dir])?;
        env.wait_for("operator Ready (plain manifests)", Duration::from_secs(120), || async {
            let d = deployments.get(RELEASE).await.ok()?;
            (d.status?.ready_replicas? >= 1).then_some(())
        })
        .await?;
        operator::apply_spec(
            &c,
            PROFILE,
            json!({"schedulerName": SCHEDULER, "replicas": 1, "imagePullPolicy": "Never",
                "nodeSelector": {"kubernetes.io/hostname": NODE_NAME}}),
        )
        .await?;
        operator::wait_rolled_out(&env, &c, PROFILE).await?;
        println!(
            "figure: kubectl apply -k deploy/ to profile Available: {:.1} s",
            applied.elapsed().as_secs_f64()
        );
        Ok(())
    })
    .await
}
