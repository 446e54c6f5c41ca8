//! The operator on a real control plane: every child with the right content, zero writes
//! in steady state, drift restored, deletion cleans up, invalid specs rejected at the door
//! (CEL) or reported without touching what runs, name conflicts, `kubectl scale`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrosched_crds::SchedulerProfile;
use ferrosched_e2e::fixtures::{self, MANAGER, NodeSpec};
use ferrosched_e2e::operands::free_port;
use ferrosched_e2e::operator::{NS, Scrape, condition, start, wait_rolled_out, writes};
use ferrosched_e2e::procs::{self, Spawned};
use ferrosched_e2e::{TestEnv, user_path};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding};
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams};

async fn setup(env: &TestEnv) -> anyhow::Result<(Spawned, Scrape)> {
    let specs: Vec<NodeSpec> = (0..3)
        .map(|i| NodeSpec::standard(&format!("node-{i}")))
        .collect();
    env.ready_nodes(&specs).await?;
    start(env, &[]).await
}

fn example(name: &str) -> anyhow::Result<SchedulerProfile> {
    let text =
        std::fs::read_to_string(format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR")))?;
    Ok(serde_saphyr::from_str(&text)?)
}

async fn apply(c: &kube::Client, p: &SchedulerProfile) -> anyhow::Result<()> {
    let name = p.metadata.name.clone().unwrap_or_default();
    Api::<SchedulerProfile>::all(c.clone())
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(p),
        )
        .await?;
    Ok(())
}

/// The Secret the Deployment's pods serve their certificate from.
fn deploy_tls_secret(d: &Deployment) -> Option<String> {
    d.spec
        .template
        .spec
        .as_ref()?
        .volumes
        .iter()
        .flatten()
        .find_map(|v| v.secret.as_ref()?.secret_name.clone())
}

/// The schedulers' serving certificate chain and the CA the operator publishes.
async fn serving_certificate(c: &kube::Client) -> anyhow::Result<(String, String)> {
    let secret = Api::<Secret>::namespaced(c.clone(), NS)
        .get("ferrosched-scheduler-tls")
        .await?;
    let chain = secret
        .data
        .as_ref()
        .and_then(|d| d.get("tls.crt"))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
    let bundle = Api::<ConfigMap>::namespaced(c.clone(), NS)
        .get("ferrosched-serving-ca")
        .await?;
    let ca = bundle.data.and_then(|d| d.get("ca.crt").cloned());
    chain
        .zip(ca)
        .ok_or_else(|| anyhow::anyhow!("no serving certificate or CA bundle yet"))
}

/// resourceVersions of every child the operator writes (not the ones controllers update).
async fn versions(c: &kube::Client, p: &str, cm: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let child = format!("ferrosched-{p}");
    let rv = |m: &kube::api::ObjectMeta| m.resource_version.clone().unwrap_or_default();
    let mut out = BTreeMap::new();
    out.insert(
        "sa".into(),
        rv(Api::<ServiceAccount>::namespaced(c.clone(), NS)
            .get(&child)
            .await?
            .meta()),
    );
    for b in fixtures::profile_bindings(c, p).await? {
        out.insert(
            format!("crb {}", b.metadata.name.clone().unwrap_or_default()),
            rv(b.meta()),
        );
    }
    out.insert(
        "role".into(),
        rv(Api::<Role>::namespaced(c.clone(), NS)
            .get(&child)
            .await?
            .meta()),
    );
    out.insert(
        "rb".into(),
        rv(Api::<RoleBinding>::namespaced(c.clone(), NS)
            .get(&child)
            .await?
            .meta()),
    );
    out.insert(
        "auth-reader".into(),
        rv(Api::<RoleBinding>::namespaced(c.clone(), "kube-system")
            .get(&format!("{child}-auth-reader"))
            .await?
            .meta()),
    );
    out.insert(
        "configmap".into(),
        rv(Api::<ConfigMap>::namespaced(c.clone(), NS)
            .get(cm)
            .await?
            .meta()),
    );
    out.insert(
        "service".into(),
        rv(Api::<Service>::namespaced(c.clone(), NS)
            .get(&child)
            .await?
            .meta()),
    );
    out.insert(
        "lease".into(),
        rv(Api::<Lease>::namespaced(c.clone(), NS)
            .get(&child)
            .await?
            .meta()),
    );
    Ok(out)
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn children_are_complete_idempotent_restored_and_collected() -> anyhow::Result<()> {
    TestEnv::start().await?.run(|env| async move {
        let c = env.client.clone();
        let (_op, scrape) = setup(&env).await?;
        let profile = example("bin-packing.yaml")?;
        let applied = Instant::now();
        apply(&c, &profile).await?;
        env.wait_for("bin-packing Available", Duration::from_secs(120), || async {
            condition(&c, "bin-packing", "Available").await.filter(|(s, _, _)| s == "True")
        }).await?;
        println!("figure: seconds from apply to Available: {:.1}", applied.elapsed().as_secs_f64());
        wait_rolled_out(&env, &c, "bin-packing").await?;

        // Content.
        let p = Api::<SchedulerProfile>::all(c.clone()).get("bin-packing").await?;
        let st = p.status.clone().unwrap_or_default();
        let cm_name = st.config_map_name.clone().unwrap_or_default();
        let cm = Api::<ConfigMap>::namespaced(c.clone(), NS).get(&cm_name).await?;
        assert_eq!(cm.immutable, Some(true));
        let text = cm.data.and_then(|d| d.get("config.yaml").cloned()).unwrap_or_default();
        let cfg = ferrosched_scheduler::config::parse(&text).map_err(|e| anyhow::anyhow!("rendered config invalid: {e}"))?;
        let prof = &cfg.profiles[0];
        assert_eq!(prof.scheduler_name, "bin-packing");
        assert_eq!(
            prof.plugin_args.node_resources_fit.scoring_strategy.strategy,
            ferrosched_scheduler::config::ScoringStrategyType::MostAllocated
        );
        assert!(!prof.plugins.is_enabled_at("NodeResourcesBalancedAllocation", ferrosched_scheduler::config::ExtensionPoint::Score));
        assert_eq!(cfg.leader_election.resource_name, "ferrosched-bin-packing");
        let rules = fixtures::profile_cluster_rules(&c, "bin-packing").await?;
        assert!(rules.iter().any(|r| r.resources.iter().flatten().any(|x| x == "pods/binding") && r.verbs.contains(&"create".to_string())));
        assert!(!rules.iter().any(|r| r.resources.iter().flatten().any(|x| x == "secrets" || x == "*")), "no secrets, no wildcards");
        let lease_role = Api::<Role>::namespaced(c.clone(), NS).get("ferrosched-bin-packing").await?;
        let lr = &lease_role.rules.unwrap_or_default()[0];
        assert_eq!(lr.resource_names.as_deref(), Some(&["ferrosched-bin-packing".to_string()][..]));
        assert!(!lr.verbs.contains(&"create".to_string()), "the Lease is created by the operator");
        let deploy = Api::<Deployment>::namespaced(c.clone(), NS).get("ferrosched-bin-packing").await?;
        assert_eq!(deploy.spec.replicas, Some(3));
        let pod = deploy.spec.template.spec.clone().unwrap_or_default();
        let ctr = &pod.containers[0];
        let sc = ctr.security_context.clone().unwrap_or_default();
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(ctr.liveness_probe.as_ref().and_then(|p| p.http_get.as_ref()).and_then(|h| h.scheme.clone()).as_deref(), Some("HTTPS"));
        let pdb = Api::<PodDisruptionBudget>::namespaced(c.clone(), NS).get("ferrosched-bin-packing").await?;
        assert!(pdb.spec.and_then(|s| s.min_available).is_some());
        let uid = p.metadata.uid.clone().unwrap_or_default();
        assert!(deploy.metadata.owner_references.unwrap_or_default().iter().any(|o| o.uid == uid && o.controller == Some(true)));

        // Steady state: no writes.
        env.wait_for("all 3 replicas ready", Duration::from_secs(120), || async {
            let st = Api::<SchedulerProfile>::all(c.clone()).get("bin-packing").await.ok()?.status?;
            (st.ready_replicas == Some(3)).then_some(())
        }).await?;
        let before = versions(&c, "bin-packing", &cm_name).await?;
        let w0 = writes(&scrape).await?;
        let window = Duration::from_secs(60);
        tokio::time::sleep(window).await; // measuring a quiet period, not waiting for a condition
        let w1 = writes(&scrape).await?;
        println!("figure: API writes by the operator in {}s of steady state: {}", window.as_secs(), w1 - w0);
        assert_eq!(w1 - w0, 0.0, "steady state makes no writes");
        assert_eq!(versions(&c, "bin-packing", &cm_name).await?, before, "no child changed");

        // The schedulers serve a certificate from the operator's CA, for the name the
        // chart's ServiceMonitor verifies.
        let tls_volume = deploy_tls_secret(&Api::<Deployment>::namespaced(c.clone(), NS).get("ferrosched-bin-packing").await?);
        assert_eq!(tls_volume.as_deref(), Some("ferrosched-scheduler-tls"));
        let (issued, ca) = serving_certificate(&c).await?;
        let host = format!("ferrosched-scheduler.{NS}.svc");
        assert!(user_path::certificate_verifies(&issued, &ca, &host), "verifies for {host}");
        assert!(!user_path::certificate_verifies(&issued, &ca, "ferrosched-bin-packing.elsewhere.svc"));

        // Drift: deleted and edited children come back.
        Api::<Secret>::namespaced(c.clone(), NS).delete("ferrosched-scheduler-tls", &DeleteParams::default()).await?;
        Api::<ConfigMap>::namespaced(c.clone(), NS).delete(&cm_name, &DeleteParams::default()).await?;
        let base_binding = "ferrosched:scheduler:bin-packing:base";
        Api::<ClusterRoleBinding>::all(c.clone()).delete(base_binding, &DeleteParams::default()).await?;
        let deploys: Api<Deployment> = Api::namespaced(c.clone(), NS);
        deploys.patch("ferrosched-bin-packing", &PatchParams::default(), &Patch::Strategic(serde_json::json!({
            "spec": {"template": {"spec": {"containers": [{"name": "scheduler", "image": "evil:1"}]}}}
        }))).await?;
        // The serving Secret is checked every minute: issued again from the same CA.
        let (reissued, same_ca) = env.wait_for("serving certificate issued again", Duration::from_secs(90), || async {
            serving_certificate(&c).await.ok()
        }).await?;
        assert_eq!(same_ca, ca, "the CA is kept");
        assert_ne!(reissued, issued, "a new certificate");
        assert!(user_path::certificate_verifies(&reissued, &ca, &host));
        env.wait_for("drift restored", Duration::from_secs(60), || async {
            let cm = Api::<ConfigMap>::namespaced(c.clone(), NS).get_opt(&cm_name).await.ok()??;
            let crb = Api::<ClusterRoleBinding>::all(c.clone()).get_opt(base_binding).await.ok()??;
            let d = deploys.get("ferrosched-bin-packing").await.ok()?;
            let image = d.spec.template.spec?.containers.first()?.image.clone()?;
            (cm.immutable == Some(true) && crb.subjects.is_some_and(|s| !s.is_empty()) && image == "ferrosched:e2e").then_some(())
        }).await?;

        // Scale through the scale subresource, as kubectl scale does.
        let kubectl = std::path::Path::new(&std::env::var("FERROSCHED_BIN_DIR").unwrap_or_else(|_| format!("{}/.cache/ferrosched/k8s-v1.37.2/bin", std::env::var("HOME").unwrap_or_default()))).join("kubectl");
        let out = std::process::Command::new(&kubectl).args(["--kubeconfig", &env.kubeconfig.display().to_string(), "scale", "schedulerprofile", "bin-packing", "--replicas=1"]).output()?;
        assert!(out.status.success(), "kubectl scale: {}", String::from_utf8_lossy(&out.stderr));
        env.wait_for("deployment scaled to 1 and PDB removed", Duration::from_secs(60), || async {
            let d = deploys.get("ferrosched-bin-packing").await.ok()?;
            let pdb = Api::<PodDisruptionBudget>::namespaced(c.clone(), NS).get_opt("ferrosched-bin-packing").await.ok()?;
            (d.spec.replicas == Some(1) && pdb.is_none()).then_some(())
        }).await?;

        // Pod Security restricted: the operands raise no warning.
        let out = std::process::Command::new(&kubectl).args(["--kubeconfig", &env.kubeconfig.display().to_string(), "label", "--dry-run=server", "--overwrite", "ns", NS, "pod-security.kubernetes.io/enforce=restricted"]).output()?;
        let warnings = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!warnings.to_lowercase().contains("warning"), "restricted warnings: {warnings}");

        // Deleting the profile removes every child, cluster-scoped and kube-system ones included.
        Api::<SchedulerProfile>::all(c.clone()).delete("bin-packing", &DeleteParams::foreground()).await?;
        env.wait_for("every child garbage-collected", Duration::from_secs(90), || async {
            let gone_crb = fixtures::profile_bindings(&c, "bin-packing").await.ok()?.is_empty();
            let gone_rb = Api::<RoleBinding>::namespaced(c.clone(), "kube-system").get_opt("ferrosched-bin-packing-auth-reader").await.ok()?.is_none();
            let gone_d = deploys.get_opt("ferrosched-bin-packing").await.ok()?.is_none();
            let gone_cm = Api::<ConfigMap>::namespaced(c.clone(), NS).list(&kube::api::ListParams::default().labels("ferrosched.dev/profile=bin-packing")).await.ok()?.items.is_empty();
            let gone_lease = Api::<Lease>::namespaced(c.clone(), NS).get_opt("ferrosched-bin-packing").await.ok()?.is_none();
            (gone_crb && gone_rb && gone_d && gone_cm && gone_lease).then_some(())
        }).await?;
        Ok(())
    }).await
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn invalid_specs_and_conflicts_touch_nothing_that_runs() -> anyhow::Result<()> {
    TestEnv::start().await?.run(|env| async move {
        let c = env.client.clone();
        let (_op, _scrape) = setup(&env).await?;
        let profiles: Api<SchedulerProfile> = Api::all(c.clone());

        // Rejected at the door by the schema and CEL rules.
        let bad: &[(&str, &str)] = &[
            ("replicas: -1", "spec.replicas"),
            ("leaderElection: {leaseDuration: 5s, renewDeadline: 10s}", "leaseDuration must be greater than renewDeadline"),
            ("leaderElection: {renewDeadline: 1s, retryPeriod: 2s}", "renewDeadline must be greater than retryPeriod"),
            ("podInitialBackoffSeconds: 20\n  podMaxBackoffSeconds: 5", "podMaxBackoffSeconds must be greater than or equal to podInitialBackoffSeconds"),
            ("plugins: {score: {enabled: [{name: NodeAffinity, weight: 101}]}}", "spec.plugins.score.enabled[0].weight"),
        ];
        for (spec, expect) in bad {
            let yaml = format!("apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata: {{name: bad}}\nspec:\n  {spec}\n");
            let p: SchedulerProfile = serde_saphyr::from_str(&yaml)?;
            let err = profiles.patch("bad", &PatchParams::apply(MANAGER), &Patch::Apply(&p)).await.expect_err(spec);
            assert!(err.to_string().contains(expect), "{spec}: {err}");
        }

        // A good profile runs; an invalid edit is reported and changes nothing that runs.
        apply(&c, &example("second-scheduler.yaml")?).await?;
        env.wait_for("ferrosched Available", Duration::from_secs(120), || async {
            condition(&c, "ferrosched", "Available").await.filter(|(s, _, _)| s == "True")
        }).await?;
        wait_rolled_out(&env, &c, "ferrosched").await?;
        let deploys: Api<Deployment> = Api::namespaced(c.clone(), NS);
        let rv = deploys.get("ferrosched-ferrosched").await?.metadata.resource_version;
        let cm_before = profiles.get("ferrosched").await?.status.and_then(|s| s.config_map_name);
        let edit = serde_json::json!({"apiVersion": "ferrosched.dev/v1alpha1", "kind": "SchedulerProfile", "metadata": {"name": "ferrosched"},
            "spec": {"plugins": {"score": {"enabled": [{"name": "Foo"}]}}}});
        profiles.patch("ferrosched", &PatchParams::apply(MANAGER).force(), &Patch::Apply(&edit)).await?;
        let (_, reason, message) = env.wait_for("Degraded=InvalidConfig", Duration::from_secs(30), || async {
            condition(&c, "ferrosched", "Degraded").await.filter(|(s, r, _)| s == "True" && r == "InvalidConfig")
        }).await?;
        assert_eq!(reason, "InvalidConfig");
        assert!(message.contains("plugins.score.enabled[0].name: unknown plugin \"Foo\""), "{message}");
        assert_eq!(deploys.get("ferrosched-ferrosched").await?.metadata.resource_version, rv, "running Deployment untouched");
        assert_eq!(profiles.get("ferrosched").await?.status.and_then(|s| s.config_map_name), cm_before, "config kept");

        // The schedulerName is immutable.
        let rename = serde_json::json!({"apiVersion": "ferrosched.dev/v1alpha1", "kind": "SchedulerProfile", "metadata": {"name": "ferrosched"},
            "spec": {"schedulerName": "other"}});
        let err = profiles.patch("ferrosched", &PatchParams::apply(MANAGER).force(), &Patch::Apply(&rename)).await.expect_err("immutable");
        assert!(err.to_string().contains("schedulerName is immutable"), "{err}");

        // A second profile claiming the name gets Conflict and nothing is deployed for it.
        let twin = serde_json::json!({"apiVersion": "ferrosched.dev/v1alpha1", "kind": "SchedulerProfile", "metadata": {"name": "twin"},
            "spec": {"schedulerName": "ferrosched"}});
        profiles.patch("twin", &PatchParams::apply(MANAGER), &Patch::Apply(&twin)).await?;
        let (_, _, msg) = env.wait_for("twin Conflict", Duration::from_secs(30), || async {
            condition(&c, "twin", "Degraded").await.filter(|(s, r, _)| s == "True" && r == "Conflict")
        }).await?;
        assert!(msg.contains("ferrosched"), "{msg}");
        assert!(deploys.get_opt("ferrosched-twin").await?.is_none(), "nothing deployed for the newer claim");
        Ok(())
    }).await
}

/// A comparable fingerprint of every child of profile `p` (the fields the operator owns).
async fn fingerprint(
    c: &kube::Client,
    p: &str,
) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    let child = format!("ferrosched-{p}");
    let mut out = BTreeMap::new();
    let sa = Api::<ServiceAccount>::namespaced(c.clone(), NS)
        .get(&child)
        .await?;
    out.insert("sa".into(), serde_json::to_value(sa.metadata.labels)?);
    let crbs: Vec<_> = fixtures::profile_bindings(c, p)
        .await?
        .into_iter()
        .map(|b| (b.metadata.name, b.role_ref, b.subjects))
        .collect();
    out.insert("crbs".into(), serde_json::to_value(crbs)?);
    let role = Api::<Role>::namespaced(c.clone(), NS).get(&child).await?;
    out.insert("role".into(), serde_json::to_value(role.rules)?);
    let rb = Api::<RoleBinding>::namespaced(c.clone(), NS)
        .get(&child)
        .await?;
    out.insert(
        "rb".into(),
        serde_json::to_value((rb.role_ref, rb.subjects))?,
    );
    let auth = Api::<RoleBinding>::namespaced(c.clone(), "kube-system")
        .get(&format!("{child}-auth-reader"))
        .await?;
    out.insert(
        "auth-reader".into(),
        serde_json::to_value((auth.role_ref, auth.subjects))?,
    );
    let lease = Api::<Lease>::namespaced(c.clone(), NS).get(&child).await?;
    out.insert(
        "lease".into(),
        serde_json::to_value(lease.metadata.owner_references)?,
    );
    let svc = Api::<Service>::namespaced(c.clone(), NS)
        .get(&child)
        .await?;
    out.insert(
        "service".into(),
        serde_json::to_value(svc.spec.map(|s| (s.ports, s.selector)))?,
    );
    let pdb = Api::<PodDisruptionBudget>::namespaced(c.clone(), NS)
        .get(&child)
        .await?;
    out.insert("pdb".into(), serde_json::to_value(pdb.spec)?);
    let d = Api::<Deployment>::namespaced(c.clone(), NS)
        .get(&child)
        .await?;
    out.insert(
        "deployment".into(),
        serde_json::to_value(
            d.spec
                .template
                .spec
                .map(|s| (s.containers, s.volumes, s.security_context)),
        )?,
    );
    Ok(out)
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn every_example_deploys_and_every_child_is_restored() -> anyhow::Result<()> {
    TestEnv::start().await?.run(|env| async move {
        let c = env.client.clone();
        let (_op, _scrape) = setup(&env).await?;
        let examples = ["second-scheduler.yaml", "bin-packing.yaml", "pod-capacity.yaml", "replace-default.yaml"];
        let mut names = Vec::new();
        for e in examples {
            let p = example(e)?;
            names.push(p.metadata.name.clone().unwrap_or_default());
            apply(&c, &p).await?;
        }
        for name in &names {
            wait_rolled_out(&env, &c, name).await?;
            let st = Api::<SchedulerProfile>::all(c.clone()).get(name).await?.status.unwrap_or_default();
            let cm = Api::<ConfigMap>::namespaced(c.clone(), NS).get(st.config_map_name.as_deref().unwrap_or_default()).await?;
            let text = cm.data.and_then(|d| d.get("config.yaml").cloned()).unwrap_or_default();
            let cfg = ferrosched_scheduler::config::parse(&text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            assert_eq!(Some(cfg.profiles[0].scheduler_name.clone()), st.scheduler_name, "{name}");
            fingerprint(&c, name).await?; // every child exists
        }
        // Example specifics.
        let pc = Api::<SchedulerProfile>::all(c.clone()).get("pod-capacity").await?.status.unwrap_or_default();
        let cm = Api::<ConfigMap>::namespaced(c.clone(), NS).get(pc.config_map_name.as_deref().unwrap_or_default()).await?;
        let cfg = ferrosched_scheduler::config::parse(&cm.data.and_then(|d| d.get("config.yaml").cloned()).unwrap_or_default()).map_err(|e| anyhow::anyhow!("{e}"))?;
        assert_eq!(cfg.profiles[0].plugins.score_weight("PodCapacityOfNode"), Some(5));
        let rd = Api::<Deployment>::namespaced(c.clone(), NS).get("ferrosched-default-scheduler").await?;
        let rd_pod = rd.spec.template.spec.unwrap_or_default();
        assert_eq!(rd_pod.priority_class_name.as_deref(), Some("system-cluster-critical"));
        assert!(rd_pod.tolerations.unwrap_or_default().iter().any(|t| t.key.as_deref() == Some("node-role.kubernetes.io/control-plane")));

        // A spec change rolls out: a new hashed ConfigMap, a new pod template, and the old
        // ConfigMap deleted once the new ReplicaSet is available.
        let profiles: Api<SchedulerProfile> = Api::all(c.clone());
        let old_cm = profiles.get("pod-capacity").await?.status.and_then(|s| s.config_map_name).unwrap_or_default();
        let edit = serde_json::json!({"apiVersion": "ferrosched.dev/v1alpha1", "kind": "SchedulerProfile", "metadata": {"name": "pod-capacity"},
            "spec": {"schedulerName": "pod-capacity", "plugins": {"score": {"enabled": [{"name": "PodCapacityOfNode", "weight": 7}]}}}});
        profiles.patch("pod-capacity", &PatchParams::apply(MANAGER).force(), &Patch::Apply(&edit)).await?;
        let new_cm = env.wait_for("rolled out to a new ConfigMap, old one deleted", Duration::from_secs(120), || async {
            let st = profiles.get("pod-capacity").await.ok()?.status?;
            let cm = st.config_map_name.clone()?;
            let old_gone = Api::<ConfigMap>::namespaced(c.clone(), NS).get_opt(&old_cm).await.ok()?.is_none();
            let available = st.conditions.iter().any(|x| x.type_ == "Available" && x.status == "True");
            (cm != old_cm && old_gone && available).then_some(cm)
        }).await?;
        let d = Api::<Deployment>::namespaced(c.clone(), NS).get("ferrosched-pod-capacity").await?;
        let volumes = serde_json::to_string(&d.spec.template.spec.and_then(|s| s.volumes))?;
        assert!(volumes.contains(&new_cm), "the pod template mounts {new_cm}: {volumes}");

        // Delete or edit every child of one profile; all come back as they were.
        let p = "pod-capacity";
        let child = format!("ferrosched-{p}");
        let cluster = format!("ferrosched:scheduler:{p}");
        let want = fingerprint(&c, p).await?;
        let dp = DeleteParams::default();
        Api::<ServiceAccount>::namespaced(c.clone(), NS).delete(&child, &dp).await?;
        Api::<ClusterRoleBinding>::all(c.clone()).delete(&format!("{cluster}:base"), &dp).await?;
        Api::<Role>::namespaced(c.clone(), NS).delete(&child, &dp).await?;
        Api::<RoleBinding>::namespaced(c.clone(), NS).delete(&child, &dp).await?;
        Api::<RoleBinding>::namespaced(c.clone(), "kube-system").delete(&format!("{child}-auth-reader"), &dp).await?;
        Api::<Lease>::namespaced(c.clone(), NS).delete(&child, &dp).await?;
        Api::<PodDisruptionBudget>::namespaced(c.clone(), NS).delete(&child, &dp).await?;
        let merge = |v: serde_json::Value| Patch::Merge(v);
        Api::<ClusterRoleBinding>::all(c.clone()).patch(&format!("{cluster}:volume-binding"), &PatchParams::default(), &merge(serde_json::json!({"subjects": [{"kind": "ServiceAccount", "name": "intruder", "namespace": NS}]}))).await?;
        Api::<Service>::namespaced(c.clone(), NS).patch(&child, &PatchParams::default(), &merge(serde_json::json!({"spec": {"selector": {"app": "elsewhere"}}}))).await?;
        Api::<Deployment>::namespaced(c.clone(), NS).patch(&child, &PatchParams::default(), &Patch::Strategic(serde_json::json!({
            "spec": {"template": {"spec": {"containers": [{"name": "scheduler", "args": ["--config=/tmp/other.yaml"]}]}}}
        }))).await?;
        let restored = env
            .wait_for("every child restored", Duration::from_secs(90), || async {
                let now = fingerprint(&c, p).await.ok()?;
                (now == want).then_some(())
            })
            .await;
        if let Err(e) = restored {
            let now = fingerprint(&c, p).await?;
            let differ: Vec<String> = want
                .iter()
                .filter(|(k, v)| now.get(*k) != Some(*v))
                .map(|(k, v)| format!("{k}: want {v} got {:?}", now.get(k)))
                .collect();
            anyhow::bail!("{e}; still different: {differ:#?}");
        }
        Ok(())
    }).await
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn operator_exits_clearly_without_crd_or_api() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let bin = procs::binary("ferrosched-operator");
            let common = |kc: &std::path::Path| {
                vec![
                    format!("--kubeconfig={}", kc.display()),
                    "--bind-address=127.0.0.1".to_string(),
                    format!("--secure-port={}", free_port()),
                    "--leader-elect=false".to_string(),
                ]
            };
            // No CRD installed.
            let mut p = env.spawn("operator-no-crd", &bin, &common(&env.kubeconfig))?;
            let code = p.wait(Duration::from_secs(30)).await?;
            assert_ne!(code, Some(0), "non-zero exit without the CRD");
            assert!(
                p.log().contains(
                    "the SchedulerProfile CRD (schedulerprofiles.ferrosched.dev) is not installed"
                ),
                "{}",
                p.log()
            );
            // API unreachable: the admin kubeconfig pointed at a closed port.
            let text = std::fs::read_to_string(&env.kubeconfig)?;
            let closed = format!("https://127.0.0.1:{}", free_port());
            let dead = env.dir.join("dead.kubeconfig");
            std::fs::write(&dead, text.replace(&env.server, &closed))?;
            let mut p = env.spawn("operator-no-api", &bin, &common(&dead))?;
            let code = p.wait(Duration::from_secs(60)).await?;
            assert_ne!(code, Some(0), "non-zero exit without an API server");
            assert!(p.log().contains("unreachable"), "{}", p.log());
            Ok(())
        })
        .await
}
