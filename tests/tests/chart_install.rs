//! The chart and the plain manifests on a real control plane: every rendering accepted by
//! server-side dry-run; `helm install` → CRD established → the operator, run as the
//! chart's ServiceAccount with the chart's arguments, brings profiles to `Available`;
//! `helm uninstall` leaves nothing of the release; the plain manifests apply to a fresh
//! cluster, yield the chart's objects and show no diff when applied again; the image
//! policy makes the API server refuse profiles naming an image outside the allowlist.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrosched_crds::SchedulerProfile;
use ferrosched_e2e::chart::{self, NAMESPACE, RELEASE};
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::operands::free_port;
use ferrosched_e2e::{TestEnv, procs};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// Stands in for prometheus-operator's ServiceMonitor CRD (not available offline): the
/// API server checks apiVersion, kind and metadata of the rendered ServiceMonitors; their
/// spec is accepted as is.
const SERVICE_MONITOR_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
  "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
    "names": {"kind": "ServiceMonitor", "plural": "servicemonitors", "singular": "servicemonitor"},
    "versions": [{"name": "v1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}}"#;

/// Stands in for prometheus-operator's PrometheusRule CRD, as [`SERVICE_MONITOR_CRD`] does.
const PROMETHEUS_RULE_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
  "metadata": {"name": "prometheusrules.monitoring.coreos.com"},
  "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
    "names": {"kind": "PrometheusRule", "plural": "prometheusrules", "singular": "prometheusrule"},
    "versions": [{"name": "v1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}}"#;

/// `helm install` of the chart as release RELEASE in NAMESPACE with the values file.
fn install(env: &TestEnv, values: &str) -> anyhow::Result<String> {
    let chart = chart::chart_dir().display().to_string();
    helm(
        env,
        &[
            "install",
            RELEASE,
            &chart,
            "--namespace",
            NAMESPACE,
            "-f",
            values,
        ],
    )
}

fn kubectl(env: &TestEnv, args: &[&str]) -> anyhow::Result<String> {
    let mut all = vec![format!("--kubeconfig={}", env.kubeconfig.display())];
    all.extend(args.iter().map(|a| a.to_string()));
    chart::run(&chart::tool("kubectl"), &all, &[])
}

fn helm(env: &TestEnv, args: &[&str]) -> anyhow::Result<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.push(format!("--kubeconfig={}", env.kubeconfig.display()));
    chart::helm(&all, &env.dir.join("helm"))
}

fn write(env: &TestEnv, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    let path = env.dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

async fn established(env: &TestEnv, name: &str) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    env.wait_for(
        &format!("CRD {name} established"),
        Duration::from_secs(30),
        || async {
            let crd = crds.get_opt(name).await.ok()??;
            let ok = crd
                .status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            ok.then_some(())
        },
    )
    .await
}

async fn available(c: &kube::Client, name: &str) -> bool {
    let Ok(p) = Api::<SchedulerProfile>::all(c.clone()).get(name).await else {
        return false;
    };
    p.status.is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Available" && c.status == "True")
    })
}

/// The chart's operator Deployment's arguments, with the serving address made local and
/// `kubeconfig` added.
async fn operator_args(
    c: &kube::Client,
    kubeconfig: &Path,
    port: u16,
) -> anyhow::Result<Vec<String>> {
    let d = Api::<Deployment>::namespaced(c.clone(), NAMESPACE)
        .get(RELEASE)
        .await?;
    let pod = d.spec.template.spec.unwrap_or_default();
    let container = pod.containers.first().cloned().unwrap_or_default();
    let mut args: Vec<String> = container
        .args
        .unwrap_or_default()
        .into_iter()
        .filter(|a| !a.starts_with("--bind-address=") && !a.starts_with("--secure-port="))
        .collect();
    args.push("--bind-address=127.0.0.1".into());
    args.push(format!("--secure-port={port}"));
    args.push(format!("--kubeconfig={}", kubeconfig.display()));
    Ok(args)
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn helm_install_runs_profiles_as_the_charts_account_and_uninstall_leaves_nothing()
-> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            fixtures::create_namespace(&c, NAMESPACE, &fixtures::RESTRICTED).await?;
            let nodes: Vec<NodeSpec> = (0..3)
                .map(|i| NodeSpec::standard(&format!("node-{i}")))
                .collect();
            env.ready_nodes(&nodes).await?;

            // Install with two profiles; Helm installs the CRD from crds/ first.
            let values = chart::chart_dir()
                .join("ci/profiles-values.yaml")
                .display()
                .to_string();
            let started = Instant::now();
            install(&env, &values)?;
            established(&env, "schedulerprofiles.ferrosched.dev").await?;
            let rendered_text =
                chart::template(&["-f".into(), values.clone()], &env.dir.join("helm"))?;
            let rendered_file = write(&env, "profiles-rendered.yaml", &rendered_text)?;
            let rendered = chart::documents(&rendered_text)?;
            let compared = chart::assert_live_matches(&rendered_file, &env.kubeconfig, &rendered)?;
            println!(
                "figure: objects installed by the chart and matching their rendering: {compared}"
            );

            // Every value set's rendering passes server-side validation and admission.
            for text in [SERVICE_MONITOR_CRD, PROMETHEUS_RULE_CRD] {
                let crd: CustomResourceDefinition = serde_json::from_str(text)?;
                Api::<CustomResourceDefinition>::all(c.clone())
                    .create(&PostParams::default(), &crd)
                    .await?;
                established(&env, crd.metadata.name.as_deref().unwrap_or_default()).await?;
            }
            for (set, extra) in chart::value_sets()? {
                let mut args = extra.clone();
                args.push("--include-crds".into());
                let file = write(
                    &env,
                    &format!("{set}.yaml"),
                    &chart::template(&args, &env.dir.join("helm"))?,
                )?;
                let out = kubectl(
                    &env,
                    &[
                        "apply",
                        "--server-side",
                        "--dry-run=server",
                        "--force-conflicts",
                        "--field-manager=dry-run",
                        "-f",
                        &file.display().to_string(),
                    ],
                )?;
                let objects = out
                    .lines()
                    .filter(|l| l.contains("(server dry run)"))
                    .count();
                assert_eq!(
                    objects,
                    chart::documents(&std::fs::read_to_string(&file)?)?.len(),
                    "{set}: {out}"
                );
            }

            // The chart's pods pass Pod Security "restricted" admission (kwok runs them).
            let deployments = Api::<Deployment>::namespaced(c.clone(), NAMESPACE);
            env.wait_for(
                "the operator Deployment available",
                Duration::from_secs(60),
                || async {
                    let d = deployments.get(RELEASE).await.ok()?;
                    (d.status?.available_replicas? == 1).then_some(())
                },
            )
            .await?;

            // The operator as the chart's ServiceAccount, with the chart's arguments.
            let sa_dir = env.dir.join("sa");
            let kubeconfig = fixtures::service_account_kubeconfig(
                &c,
                &env.server,
                &env.ca_pem,
                NAMESPACE,
                RELEASE,
                &sa_dir,
            )
            .await?;
            let port = free_port();
            let args = operator_args(&c, &kubeconfig, port).await?;
            assert!(
                args.contains(&"--leader-elect=true".to_string()),
                "{args:?}"
            );
            let operator = env.spawn("operator", &procs::binary("ferrosched-operator"), &args)?;
            for p in ["second", "bin-packing"] {
                env.wait_for(
                    &format!("{p} Available"),
                    Duration::from_secs(120),
                    || async { available(&c, p).await.then_some(()) },
                )
                .await?;
            }
            println!(
                "figure: seconds from helm install to both profiles Available: {:.1}",
                started.elapsed().as_secs_f64()
            );
            let lease = Api::<Lease>::namespaced(c.clone(), NAMESPACE)
                .get("ferrosched-operator")
                .await?;
            assert!(
                lease.spec.and_then(|s| s.holder_identity).is_some(),
                "the operator leads on the chart's Lease"
            );

            // Its metrics: HTTPS, open health, /metrics for the chart's metrics-reader role only.
            let http = reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .build()?;
            let base = format!("https://127.0.0.1:{port}");
            assert_eq!(
                http.get(format!("{base}/readyz")).send().await?.status(),
                200
            );
            assert_eq!(
                http.get(format!("{base}/metrics")).send().await?.status(),
                403
            );
            let token = fixtures::bound_service_account_token(
                &c,
                NAMESPACE,
                "prometheus",
                "ferrosched-metrics-reader",
            )
            .await?;
            let body = env.metrics_with_token(&http, &base, &token).await?;
            assert!(
                body.contains("ferrosched_operator_reconciles_total{result=\"success\"}"),
                "{body}"
            );
            let log = operator.log();
            assert!(
                !log.to_lowercase().contains("forbidden"),
                "the chart's RBAC is enough: {log}"
            );
            grants_nothing_but_the_grant_roles(&c, &kubeconfig).await?;

            // Uninstall: the release's objects go, and the profiles' children through GC;
            // the namespace is left as a fresh one is (the test's reader removed first).
            let reader = format!("{NAMESPACE}-prometheus");
            kubectl(&env, &["delete", "clusterrolebinding", &reader])?;
            kubectl(
                &env,
                &["delete", "serviceaccount", "prometheus", "-n", NAMESPACE],
            )?;
            let uninstalled = Instant::now();
            helm(
                &env,
                &["uninstall", RELEASE, "--namespace", NAMESPACE, "--wait"],
            )?;
            let helm_secs = uninstalled.elapsed().as_secs_f64();
            let rendered_path = rendered_file.display().to_string();
            let kinds = [
                "deployments",
                "replicasets",
                "pods",
                "services",
                "serviceaccounts",
                "configmaps",
                "leases",
                "roles",
                "rolebindings",
                "poddisruptionbudgets",
            ]
            .join(",");
            let fresh = ["serviceaccount/default", "configmap/kube-root-ca.crt"];
            env.wait_for(
                "nothing of the release left",
                Duration::from_secs(60),
                || async {
                    let get = |args: &[&str]| kubectl(&env, args).ok();
                    let ours = get(&[
                        "get",
                        "-f",
                        &rendered_path,
                        "--ignore-not-found",
                        "-o",
                        "name",
                    ])?;
                    let left = get(&["get", &kinds, "-n", NAMESPACE, "-o", "name"])?;
                    let left: Vec<&str> = left.lines().filter(|l| !fresh.contains(l)).collect();
                    let cluster = get(&[
                        "get",
                        "clusterroles,clusterrolebindings,schedulerprofiles",
                        "-o",
                        "name",
                    ])?;
                    let system = get(&[
                        "get",
                        "roles,rolebindings",
                        "-n",
                        "kube-system",
                        "-o",
                        "name",
                    ])?;
                    let named = |text: &str| text.lines().any(|l| l.contains("ferrosched"));
                    let gone = ours.trim().is_empty()
                        && left.is_empty()
                        && !named(&cluster)
                        && !named(&system);
                    gone.then_some(())
                },
            )
            .await?;
            let secs = uninstalled.elapsed().as_secs_f64();
            println!(
                "figure: seconds from helm uninstall to its return: {helm_secs:.1}, to nothing \
                 left (garbage collection of the profiles' children included): {secs:.1}"
            );
            assert!(
                helm(&env, &["list", "--all", "--namespace", NAMESPACE, "-q"])?
                    .trim()
                    .is_empty(),
                "no release record"
            );
            // Helm never deletes a chart's crds/ (deleting them would delete every profile).
            assert!(
                Api::<CustomResourceDefinition>::all(c.clone())
                    .get_opt("schedulerprofiles.ferrosched.dev")
                    .await?
                    .is_some()
            );
            Ok(())
        })
        .await
}

/// What the operator's own account may do with cluster RBAC: bind its profiles'
/// ServiceAccounts to the chart's grant roles, and nothing else. Each refusal is the
/// API server's 403; the allowed binding shows the account works.
async fn grants_nothing_but_the_grant_roles(
    c: &kube::Client,
    kubeconfig: &Path,
) -> anyhow::Result<()> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    let op = kube::Client::try_from(cfg)?;
    let roles_as_op: Api<ClusterRole> = Api::all(op.clone());
    let bindings_as_op: Api<ClusterRoleBinding> = Api::all(op.clone());
    // A ClusterRole someone else made, the chart's own grant role, a system role.
    let theirs: ClusterRole =
        serde_json::from_value(json!({"metadata": {"name": "someone-elses"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}))?;
    Api::<ClusterRole>::all(c.clone())
        .create(&PostParams::default(), &theirs)
        .await?;
    let widen = json!({"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]});
    let mut refused = Vec::new();
    let base = format!("{RELEASE}:grants:base");
    for name in ["someone-elses", base.as_str(), "system:kube-scheduler"] {
        let r = roles_as_op
            .patch(name, &PatchParams::default(), &Patch::Merge(&widen))
            .await;
        refused.push((format!("patch ClusterRole {name}"), r.map(|_| ())));
    }
    let create_role: ClusterRole =
        serde_json::from_value(json!({"metadata": {"name": "made-by-operator"},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]}))?;
    let r = roles_as_op
        .create(&PostParams::default(), &create_role)
        .await;
    refused.push(("create a ClusterRole".into(), r.map(|_| ())));
    let sa = json!([{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]);
    let to = |role: &str, name: &str| -> anyhow::Result<ClusterRoleBinding> {
        Ok(serde_json::from_value(json!({"metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": sa}))?)
    };
    let r = bindings_as_op
        .create(&PostParams::default(), &to("cluster-admin", "op-admin")?)
        .await;
    refused.push(("bind cluster-admin".into(), r.map(|_| ())));
    let r = bindings_as_op
        .patch(
            "system:kube-scheduler",
            &PatchParams::default(),
            &Patch::Merge(json!({"subjects": sa})),
        )
        .await;
    refused.push((
        "take over the system:kube-scheduler binding".into(),
        r.map(|_| ()),
    ));
    for (what, result) in &refused {
        match result {
            Err(kube::Error::Api(s)) if s.code == 403 => {}
            other => anyhow::bail!("{what}: expected 403 Forbidden, got {other:?}"),
        }
    }
    println!(
        "figure: cluster RBAC writes refused to the operator's account: {} of {}",
        refused.len(),
        refused.len()
    );
    // The one thing it may do.
    bindings_as_op
        .create(&PostParams::default(), &to(&base, "op-grant")?)
        .await?;
    Api::<ClusterRoleBinding>::all(c.clone())
        .delete("op-grant", &Default::default())
        .await?;
    Api::<ClusterRole>::all(c.clone())
        .delete("someone-elses", &Default::default())
        .await?;
    let untouched = Api::<ClusterRole>::all(c.clone()).get(&base).await?;
    assert!(
        !serde_json::to_string(&untouched.rules)?.contains('*'),
        "the grant role is as the chart made it"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh)"]
async fn plain_manifests_apply_to_a_fresh_cluster_and_yield_the_charts_objects()
-> anyhow::Result<()> {
    TestEnv::start().await?.run(|env| async move {
        let plain = chart::repo().join("deploy/ferrosched.yaml");
        let plain_path = plain.display().to_string();
        kubectl(&env, &["apply", "--server-side", "-f", &plain_path])?;
        established(&env, "schedulerprofiles.ferrosched.dev").await?;
        // The same objects `helm template` renders with the default values.
        let home = env.dir.join("helm");
        let rendered = chart::documents(&chart::template(&["--include-crds".into()], &home)?)?;
        let plain_docs = chart::documents(&std::fs::read_to_string(&plain)?)?;
        let from_chart: Vec<_> = plain_docs
            .iter()
            .filter(|d| d["kind"] != "Namespace")
            .cloned()
            .collect();
        assert_eq!(from_chart, rendered, "deploy/ferrosched.yaml is the chart's rendering");
        let compared = chart::assert_live_matches(&plain, &env.kubeconfig, &plain_docs)?;
        println!("figure: objects applied from deploy/ferrosched.yaml, matching the chart: {compared}");
        // GitOps: applying again changes nothing.
        let diff = kubectl(&env, &["diff", "--server-side", "-f", &plain_path]);
        assert!(diff.is_ok(), "no drift after apply: {diff:?}");
        Ok(())
    }).await
}

/// A profile named `name` with `spec.image` set to `image`, if any.
fn profile(name: &str, image: Option<&str>) -> anyhow::Result<SchedulerProfile> {
    let mut spec = serde_json::json!({ "replicas": 1 });
    if let Some(image) = image {
        spec["image"] = image.into();
    }
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "ferrosched.dev/v1alpha1",
        "kind": "SchedulerProfile",
        "metadata": { "name": name },
        "spec": spec,
    }))?)
}

/// The API server's answer to creating `p`: `Ok` or the refusal's message.
async fn create(
    api: &Api<SchedulerProfile>,
    p: &SchedulerProfile,
    dry_run: bool,
) -> anyhow::Result<Result<(), String>> {
    let pp = PostParams {
        dry_run,
        ..PostParams::default()
    };
    match api.create(&pp, p).await {
        Ok(_) => Ok(Ok(())),
        Err(kube::Error::Api(s)) if s.code == 403 || s.code == 422 => Ok(Err(s.message)),
        Err(e) => Err(e.into()),
    }
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh)"]
async fn image_policy_refuses_profiles_naming_an_image_outside_the_allowlist() -> anyhow::Result<()>
{
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            fixtures::create_namespace(&c, NAMESPACE, &[]).await?;
            let values = chart::chart_dir()
                .join("ci/image-policy-values.yaml")
                .display()
                .to_string();
            install(&env, &values)?;
            established(&env, "schedulerprofiles.ferrosched.dev").await?;
            let api = Api::<SchedulerProfile>::all(c.clone());

            // The API server loads a new policy asynchronously: wait for the first refusal.
            let evil = profile("evil", Some("docker.io/someone/ferrosched:1.0"))?;
            let started = Instant::now();
            env.wait_for("the policy in force", Duration::from_secs(60), || async {
                create(&api, &evil, true).await.ok()?.err()
            })
            .await?;
            println!(
                "figure: seconds from helm install to the image policy refusing: {:.1}",
                started.elapsed().as_secs_f64()
            );

            let refused = [
                "docker.io/someone/ferrosched:1.0",
                // A repository's name as a prefix is not that repository.
                "registry.example.com/team/ferrosched-evil:1.0",
                "registry.example.com/team/ferrosched/sub:1.0",
                // The prefix entry is "registry.example.com/mirror/", with its slash.
                "registry.example.com/mirror",
                "registry.example.com/mirrorx/ferrosched:1.0",
                // Another port of the same host is another registry.
                "localhost:5001/ferrosched:1.0",
                "ferrosched:0.1.0",
            ];
            for (i, image) in refused.iter().enumerate() {
                let p = profile(&format!("refused-{i}"), Some(image))?;
                let msg = create(&api, &p, false)
                    .await?
                    .err()
                    .unwrap_or_else(|| panic!("{image} must be refused"));
                let repo = image
                    .rsplit_once(':')
                    .map_or(*image, |(r, t)| if t.contains('/') { image } else { r });
                assert!(
                    msg.contains(&format!(
                        "spec.image: repository \"{repo}\" is not in the allowed list"
                    )) && msg.contains("registry.example.com/team/ferrosched"),
                    "{image}: {msg}"
                );
            }
            let allowed = [
                None,
                Some("registry.example.com/team/ferrosched:0.2.0"),
                Some("registry.example.com/team/ferrosched"),
                Some(
                    "registry.example.com/team/ferrosched@sha256:\
                     0000000000000000000000000000000000000000000000000000000000000000",
                ),
                Some("registry.example.com/mirror/ferrosched:1.0"),
                Some("registry.example.com/mirror/deep/er/ferrosched:1.0"),
                Some("localhost:5000/ferrosched:1.0"),
                Some("localhost:5000/ferrosched"),
            ];
            for (i, image) in allowed.iter().enumerate() {
                let p = profile(&format!("allowed-{i}"), *image)?;
                if let Err(msg) = create(&api, &p, false).await? {
                    panic!("{image:?} must be accepted: {msg}");
                }
            }
            // Updates are checked too: an accepted profile cannot move to another image.
            let mut moved = api.get("allowed-1").await?;
            moved.spec.image = Some("docker.io/someone/ferrosched:1.0".into());
            let err = api
                .replace("allowed-1", &PostParams::default(), &moved)
                .await
                .expect_err("update to a refused image");
            assert!(err.to_string().contains("spec.image: repository"), "{err}");
            let mut unset = api.get("allowed-1").await?;
            unset.spec.image = None;
            api.replace("allowed-1", &PostParams::default(), &unset)
                .await?;
            Ok(())
        })
        .await
}
