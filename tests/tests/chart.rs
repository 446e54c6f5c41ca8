//! The Helm chart without a cluster: `helm lint --strict` and `helm template` over every
//! value set, the schema rejecting bad values by name, the operator's RBAC against the
//! rules it grants, the plain manifests against the chart, the dashboard against the
//! metrics the binaries export.

use std::collections::BTreeSet;

use ferrosched_e2e::chart::{self, NAMESPACE};
use serde_json::Value;

fn home() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ferrosched-helm-{}", std::process::id()))
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

const CLUSTER_SCOPED: &[&str] = &[
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "Namespace",
    "SchedulerProfile",
];

/// What every rendering must satisfy, whatever the values.
fn check_common(set: &str, docs: &[Value]) {
    for d in docs {
        let scoped = CLUSTER_SCOPED.contains(&d["kind"].as_str().unwrap_or_default());
        assert_eq!(
            d["metadata"]["namespace"].is_string(),
            !scoped,
            "{set}: {} must name its namespace exactly when namespaced (plain manifests)",
            chart::id(d)
        );
    }
    // RBAC: no wildcards, no Secrets, no escalate/impersonate, `bind` only by name.
    for role in of_kind(docs, "ClusterRole")
        .into_iter()
        .chain(of_kind(docs, "Role"))
    {
        for rule in role["rules"].as_array().into_iter().flatten() {
            let all: Vec<String> = ["apiGroups", "resources", "verbs", "nonResourceURLs"]
                .iter()
                .flat_map(|k| strings(&rule[*k]))
                .collect();
            assert!(
                !all.iter().any(|s| s.contains('*')),
                "{set}: wildcard in {rule}"
            );
            assert!(
                !strings(&rule["resources"]).contains(&"secrets".to_string()),
                "{set}: secrets in {rule}"
            );
            let verbs = strings(&rule["verbs"]);
            assert!(
                !verbs.iter().any(|v| v == "escalate" || v == "impersonate"),
                "{set}: {rule}"
            );
            if verbs.contains(&"bind".to_string()) {
                assert!(
                    rule["resourceNames"].is_array(),
                    "{set}: bind without resourceNames: {rule}"
                );
            }
        }
    }
    // The operator's Deployment: Pod Security "restricted", read-only root, HTTPS probes,
    // the scheduler image defaulting to its own.
    let deploy = of_kind(docs, "Deployment");
    assert_eq!(deploy.len(), 1, "{set}: one Deployment");
    let pod = &deploy[0]["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{set}");
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
        "{set}"
    );
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{set}");
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{set}");
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{set}");
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["scheme"], "HTTPS", "{set}: {probe}");
    }
    let args = strings(&c["args"]);
    assert!(
        args.iter()
            .any(|a| a == &format!("--namespace={NAMESPACE}")),
        "{set}: {args:?}"
    );
    assert_eq!(
        pod["serviceAccountName"],
        of_kind(docs, "ServiceAccount")[0]["metadata"]["name"],
        "{set}: runs as the chart's ServiceAccount"
    );
    let svc = of_kind(docs, "Service");
    assert_eq!(svc[0]["spec"]["ports"][0]["name"], "https", "{set}");
}

#[test]
#[ignore = "needs helm (hack/build-control-plane.sh)"]
fn chart_lints_and_renders_every_value_set() -> anyhow::Result<()> {
    let home = home();
    let sets = chart::value_sets()?;
    assert!(sets.len() >= 4, "defaults and at least three value sets");
    for (set, extra) in &sets {
        let mut lint = vec![
            "lint".to_string(),
            "--strict".into(),
            chart::chart_dir().display().to_string(),
        ];
        lint.extend(extra.iter().cloned());
        let out = chart::helm(&lint, &home)?;
        assert!(out.contains("0 chart(s) failed"), "{set}: {out}");

        let docs = chart::documents(&chart::template(extra, &home)?)?;
        check_common(set, &docs);
        let args = strings(
            &of_kind(&docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"],
        );
        let image =
            of_kind(&docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        let pdbs = of_kind(&docs, "PodDisruptionBudget");
        let monitors = of_kind(&docs, "ServiceMonitor");
        let profiles = of_kind(&docs, "SchedulerProfile");
        match set.as_str() {
            "default" => {
                assert_eq!(image, "ferrosched:0.1.0", "image defaults to appVersion");
                assert!(
                    args.contains(&format!("--scheduler-image={image}")),
                    "{args:?}"
                );
                assert!(pdbs.is_empty() && monitors.is_empty() && profiles.is_empty());
                assert!(of_kind(&docs, "ConfigMap").is_empty(), "no dashboard");
            }
            "ha" => {
                let d = of_kind(&docs, "Deployment")[0];
                assert_eq!(d["spec"]["replicas"], 3);
                assert!(args.contains(&"--leader-elect=true".to_string()));
                assert_eq!(pdbs.len(), 1);
                assert_eq!(pdbs[0]["spec"]["minAvailable"], 1);
                let pod = &d["spec"]["template"]["spec"];
                assert!(pod["affinity"]["podAntiAffinity"].is_object(), "spread");
                assert_eq!(pod["priorityClassName"], "system-cluster-critical");
                assert_eq!(pod["nodeSelector"]["kubernetes.io/os"], "linux");
                assert!(
                    args.contains(&"--log-format=text".to_string())
                        && args.contains(&"--v=2".to_string())
                );
            }
            "profiles" => {
                let names: Vec<&str> = profiles
                    .iter()
                    .filter_map(|p| p["metadata"]["name"].as_str())
                    .collect();
                assert_eq!(names, ["second", "bin-packing"]);
                assert_eq!(profiles[1]["spec"]["preset"], "HighNodeUtilization");
                assert!(
                    args.contains(
                        &"--scheduler-image=registry.example/ferrosched:0.1.0-custom".to_string()
                    ),
                    "{args:?}"
                );
            }
            "monitoring" => {
                assert_eq!(monitors.len(), 2, "operator and schedulers");
                for m in &monitors {
                    let ep = &m["spec"]["endpoints"][0];
                    assert_eq!(
                        (ep["scheme"].as_str(), ep["port"].as_str()),
                        (Some("https"), Some("https"))
                    );
                    assert_eq!(m["metadata"]["labels"]["release"], "prometheus");
                }
                let dash = of_kind(&docs, "ConfigMap");
                let json = dash[0]["data"]["ferrosched.json"]
                    .as_str()
                    .unwrap_or_default();
                let parsed: Value = serde_json::from_str(json)?;
                assert_eq!(parsed["title"], "Ferrosched");
                let readers = of_kind(&docs, "ClusterRoleBinding")
                    .into_iter()
                    .find(|b| b["roleRef"]["name"] == "ferrosched-metrics-reader")
                    .expect("reader binding");
                assert_eq!(readers["subjects"][0]["name"], "prometheus-k8s");
            }
            other => panic!("value set {other} has no checks: add them here"),
        }
    }
    let _ = std::fs::remove_dir_all(home);
    Ok(())
}

#[test]
#[ignore = "needs helm (hack/build-control-plane.sh)"]
fn bad_values_are_rejected_naming_the_value() -> anyhow::Result<()> {
    let home = home();
    let cases = [
        ("operator.logFormat=xml", "/operator/logFormat"),
        ("operator.replicas=-1", "/operator/replicas"),
        ("operator.replica=2", "'replica' not allowed"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("operands.namespace=Not_A_Namespace", "/operands/namespace"),
        ("profiles[0].name=Bad_Name", "/profiles/0/name"),
        (
            "operator.resources.requests.cpu=lots",
            "/operator/resources/requests/cpu",
        ),
        (
            "metrics.serviceMonitor.enabled=yes",
            "/metrics/serviceMonitor/enabled",
        ),
    ];
    for (set, named) in cases {
        let err = chart::template(&["--set".into(), set.into()], &home)
            .expect_err(&format!("--set {set} must be rejected"));
        let msg = err.to_string();
        assert!(
            msg.contains("values don't meet the specifications of the schema")
                && msg.contains(named),
            "--set {set}: message must name {named}: {msg}"
        );
    }
    let _ = std::fs::remove_dir_all(home);
    Ok(())
}

type Grant = (String, String, String);

fn grants(rules: &Value, with_names: bool) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for rule in rules.as_array().into_iter().flatten() {
        if rule["resourceNames"].is_array() != with_names {
            continue;
        }
        for g in strings(&rule["apiGroups"]) {
            for r in strings(&rule["resources"]) {
                for v in strings(&rule["verbs"]) {
                    out.insert((g.clone(), r.clone(), v));
                }
            }
        }
    }
    out
}

fn grant(g: &str, r: &str, verbs: &[&str]) -> Vec<Grant> {
    verbs
        .iter()
        .map(|v| (g.to_string(), r.to_string(), v.to_string()))
        .collect()
}

#[test]
#[ignore = "needs helm (hack/build-control-plane.sh)"]
fn operator_rbac_is_what_it_does_plus_what_it_grants() -> anyhow::Result<()> {
    let home = home();
    let docs = chart::documents(&chart::template(&[], &home)?)?;
    let cluster_role = of_kind(&docs, "ClusterRole")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "ferrosched")
        .expect("operator ClusterRole");
    let have = grants(&cluster_role["rules"], false);
    assert!(grants(&cluster_role["rules"], true).is_empty());

    // Every rule a scheduler's ClusterRole can hold, with every plugin enabled.
    let every_plugin: BTreeSet<String> = ferrosched_scheduler::plugins::registry()
        .names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let granted = serde_json::to_value(ferrosched_operator::build::cluster_rules(&every_plugin))?;
    let granted = grants(&granted, false);
    let missing: Vec<_> = granted.difference(&have).collect();
    assert!(missing.is_empty(), "the operator cannot grant {missing:?}");

    // Its own work (operator/src/{read,apply,controller,run,http}.rs).
    let own: BTreeSet<Grant> = [
        grant(
            "ferrosched.dev",
            "schedulerprofiles",
            &["get", "list", "watch", "patch"],
        ),
        grant("ferrosched.dev", "schedulerprofiles/status", &["patch"]),
        grant(
            "rbac.authorization.k8s.io",
            "clusterroles",
            &["get", "list", "watch", "create", "patch"],
        ),
        grant(
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            &["get", "list", "watch", "create", "patch"],
        ),
        grant("events.k8s.io", "events", &["create", "patch"]),
        grant("authentication.k8s.io", "tokenreviews", &["create"]),
        grant("authorization.k8s.io", "subjectaccessreviews", &["create"]),
    ]
    .concat()
    .into_iter()
    .collect();
    let needed: BTreeSet<Grant> = own.union(&granted).cloned().collect();
    let extra: Vec<_> = have.difference(&needed).collect();
    assert!(extra.is_empty(), "more than needed: {extra:?}");

    // kube-system: RoleBindings, and `bind` on the auth reader Role only.
    let kube_system = of_kind(&docs, "Role")
        .into_iter()
        .find(|r| r["metadata"]["namespace"] == "kube-system")
        .expect("kube-system Role");
    let named = grants(&kube_system["rules"], true);
    assert_eq!(
        named,
        grant("rbac.authorization.k8s.io", "roles", &["bind"])
            .into_iter()
            .collect()
    );
    let bind_rule = kube_system["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["resourceNames"].is_array())
        .expect("bind rule");
    assert_eq!(
        strings(&bind_rule["resourceNames"]),
        [ferrosched_operator::names::AUTH_READER_ROLE]
    );
    let _ = std::fs::remove_dir_all(home);
    Ok(())
}

#[test]
#[ignore = "needs helm (hack/build-control-plane.sh)"]
fn plain_manifests_are_the_chart_with_default_values() -> anyhow::Result<()> {
    let rendered = chart::run(
        std::path::Path::new("/bin/bash"),
        &[
            chart::repo()
                .join("hack/render-manifests.sh")
                .display()
                .to_string(),
            "-".into(),
        ],
        &[("HELM", &chart::tool("helm"))],
    )?;
    let committed = std::fs::read_to_string(chart::repo().join("deploy/ferrosched.yaml"))?;
    assert!(
        rendered == committed,
        "deploy/ferrosched.yaml is stale: run hack/render-manifests.sh"
    );
    let docs = chart::documents(&committed)?;
    let ns = of_kind(&docs, "Namespace");
    assert_eq!(ns[0]["metadata"]["name"], NAMESPACE);
    assert_eq!(
        ns[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    assert_eq!(of_kind(&docs, "CustomResourceDefinition").len(), 1);
    Ok(())
}

/// The metric names (and grouping labels) of the dashboard's queries exist in what the
/// operator and the scheduler export.
#[test]
fn dashboard_covers_the_required_panels_with_exported_metrics() -> anyhow::Result<()> {
    use ferrosched_scheduler::serving::{AttemptResult, Queue, SchedulerMetrics};
    let text = std::fs::read_to_string(chart::chart_dir().join("dashboards/ferrosched.json"))?;
    let dashboard: Value = serde_json::from_str(&text)?;
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["title"].as_str())
        .collect();
    for want in [
        "Scheduling throughput",
        "Scheduling attempts by result",
        "Scheduling attempt latency",
        "Pending pods by queue",
        "Current leader per profile",
        "Operator reconcile errors",
    ] {
        assert!(titles.contains(&want), "panel {want} missing: {titles:?}");
    }

    let sched = SchedulerMetrics::new();
    sched.observe_attempt(AttemptResult::Scheduled, "p", 0.01);
    sched.set_pending(Queue::Active, 1);
    sched.set_leader(true);
    let op = ferrosched_operator::metrics::Metrics::default();
    op.observe_reconcile(false, 0.1);
    op.count_error("apply");
    let exported = format!("{}{}", sched.encode(), op.encode());
    let samples: Vec<&str> = exported.lines().filter(|l| !l.starts_with('#')).collect();

    let mut quantiles = BTreeSet::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default();
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| {
                    w.starts_with("scheduler_")
                        || w.starts_with("ferrosched_")
                        || w.starts_with("leader_election_")
                })
                .collect();
            assert!(!names.is_empty(), "{expr}: no metric");
            for name in names {
                let lines: Vec<&&str> = samples
                    .iter()
                    .filter(|l| {
                        l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))
                    })
                    .collect();
                assert!(!lines.is_empty(), "{expr}: {name} is not exported");
                // Grouping labels must be labels of the metric (`pod` is Prometheus's own).
                if let Some(by) = expr.split("by (").nth(1).and_then(|s| s.split(')').next()) {
                    for label in by.split(',').map(str::trim).filter(|l| *l != "pod") {
                        assert!(
                            lines.iter().any(|l| l.contains(&format!("{label}=\""))),
                            "{expr}: {name} has no label {label}"
                        );
                    }
                }
            }
            if let Some(q) = expr.strip_prefix("histogram_quantile(") {
                quantiles.insert(q.split(',').next().unwrap_or_default().to_string());
            }
        }
    }
    assert_eq!(
        quantiles,
        BTreeSet::from(["0.5".to_string(), "0.99".to_string()]),
        "latency p50 and p99"
    );
    Ok(())
}
