//! The Helm chart without a cluster: `helm lint --strict` and `helm template` over every
//! value set, the schema rejecting bad values by name, the operator's RBAC against the
//! rules it grants, the names the operator is told to keep clear of against the chart's
//! objects, the image policy, the plain manifests against the chart, the dashboard and
//! the alerts against the metrics the binaries export.

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
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// The alerts of the PrometheusRule, in order.
const ALERTS: &[&str] = &[
    "FerroschedProfileNoLeader",
    "FerroschedProfileDegraded",
    "FerroschedRolloutRolledBack",
    "FerroschedPendingPodsRising",
    "FerroschedSchedulerRestarting",
];

/// The rules of a PrometheusRule, all groups.
fn alerts(rule: &Value) -> Vec<&Value> {
    rule["spec"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .collect()
}

/// The value of `--<flag>=` in `args`, if passed.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let prefix = format!("--{flag}=");
    args.iter().find_map(|a| a.strip_prefix(prefix.as_str()))
}

/// The operator container's arguments.
fn operator_args(docs: &[Value]) -> Vec<String> {
    strings(&of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"])
}

/// `--reserved-names` must list exactly the chart's namespaced objects in the operands'
/// namespace (`--namespace`): a profile whose children took one would overwrite it.
fn check_reserved_names(set: &str, docs: &[Value]) {
    let args = operator_args(docs);
    let operands = flag(&args, "namespace").expect("--namespace");
    let reserved: BTreeSet<&str> = flag(&args, "reserved-names")
        .unwrap_or_else(|| panic!("{set}: no --reserved-names in {args:?}"))
        .split(',')
        .collect();
    let in_operands: BTreeSet<&str> = docs
        .iter()
        .filter(|d| d["metadata"]["namespace"] == operands)
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert_eq!(reserved, in_operands, "{set}: --reserved-names");
    assert!(
        reserved.contains(ferrosched_operator::identity::OPERATOR_LEASE),
        "{set}: the operator's Lease is reserved"
    );
}

/// The image policy and its binding, if rendered.
fn image_policy(docs: &[Value]) -> Option<(&Value, &Value)> {
    let vap = of_kind(docs, "ValidatingAdmissionPolicy");
    let binding = of_kind(docs, "ValidatingAdmissionPolicyBinding");
    assert_eq!(
        vap.len(),
        binding.len(),
        "a policy and its binding together"
    );
    Some((vap.first()?, binding.first()?))
}

/// The policy's allowed list (a CEL list literal written as JSON).
fn policy_allowed(vap: &Value) -> Vec<String> {
    let var = vap["spec"]["variables"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == "allowed")
        .expect("variable allowed");
    let list: Value = serde_json::from_str(var["expression"].as_str().unwrap_or_default())
        .expect("the allowed list is a JSON (and CEL) list of strings");
    strings(&list)
}

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
            // Secrets: `create` (the serving CA, once), and get/patch of the two
            // serving-certificate Secrets by name; nothing that reads any other.
            if strings(&rule["resources"]).contains(&"secrets".to_string()) {
                let verbs = strings(&rule["verbs"]);
                let names = strings(&rule["resourceNames"]);
                let create_only = verbs == ["create"];
                let named = names == ["ferrosched-serving-ca", "ferrosched-scheduler-tls"]
                    && verbs == ["get", "patch"];
                assert!(create_only || named, "{set}: secrets in {rule}");
            }
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
    check_reserved_names(set, docs);
    // The policy enforces what the operator is told: --allowed-images when passed.
    if let (Some((vap, _)), Some(allowed)) = (image_policy(docs), flag(&args, "allowed-images")) {
        assert_eq!(policy_allowed(vap).join(","), allowed, "{set}");
    }
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
        let rules = of_kind(&docs, "PrometheusRule");
        let policy = image_policy(&docs);
        match set.as_str() {
            "default" => {
                assert_eq!(image, "ferrosched:0.1.0", "image defaults to appVersion");
                assert!(
                    args.contains(&format!("--scheduler-image={image}")),
                    "{args:?}"
                );
                assert!(pdbs.is_empty() && monitors.is_empty() && profiles.is_empty());
                assert!(of_kind(&docs, "ConfigMap").is_empty(), "no dashboard");
                assert!(rules.is_empty() && policy.is_none());
                assert_eq!(
                    flag(&args, "allowed-images"),
                    None,
                    "the operator's default"
                );
                assert_eq!(
                    flag(&args, "reserved-names"),
                    Some("ferrosched,ferrosched-operator")
                );
            }
            "image-policy" => {
                assert_eq!(
                    flag(&args, "allowed-images"),
                    Some(
                        "registry.example.com/team/ferrosched,registry.example.com/mirror/,\
                         localhost:5000/ferrosched"
                    ),
                    "{args:?}"
                );
                let (vap, binding) = policy.expect("policy rendered");
                assert_eq!(binding["spec"]["policyName"], vap["metadata"]["name"]);
                assert_eq!(strings(&binding["spec"]["validationActions"]), ["Deny"]);
                assert_eq!(vap["spec"]["failurePolicy"], "Fail");
                let rule = &vap["spec"]["matchConstraints"]["resourceRules"][0];
                assert_eq!(strings(&rule["apiGroups"]), ["ferrosched.dev"]);
                assert_eq!(strings(&rule["resources"]), ["schedulerprofiles"]);
                assert_eq!(strings(&rule["operations"]), ["CREATE", "UPDATE"]);
                let v = &vap["spec"]["validations"][0];
                let expr = v["expression"].as_str().unwrap_or_default();
                assert!(
                    expr.contains("!has(object.spec.image)")
                        && expr.contains("variables.repository in variables.allowed")
                        && expr.contains("a.endsWith('/') && variables.repository.startsWith(a)"),
                    "{expr}"
                );
                let message = v["messageExpression"].as_str().unwrap_or_default();
                assert!(message.starts_with("'spec.image: "), "{message}");
                assert!(rules.is_empty());
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
                assert_eq!(rules.len(), 1, "alerts");
                assert_eq!(rules[0]["metadata"]["labels"]["release"], "prometheus");
                let names: Vec<&str> = alerts(rules[0])
                    .iter()
                    .filter_map(|r| r["alert"].as_str())
                    .collect();
                assert_eq!(names, ALERTS);
                for r in alerts(rules[0]) {
                    let url = r["annotations"]["runbook_url"].as_str().unwrap_or_default();
                    assert!(
                        url.starts_with("https://git.example.com/ferrosched/README.md#"),
                        "{url}"
                    );
                }
                assert_eq!(
                    flag(&args, "reserved-names"),
                    Some(
                        "ferrosched,ferrosched-dashboard,ferrosched-operator,ferrosched-schedulers"
                    )
                );
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
        (
            "metrics.prometheusRule.enabled=yes",
            "/metrics/prometheusRule/enabled",
        ),
        // A repository or a prefix: no tag, no digest.
        (
            "operands.allowedImages[0]=registry.example.com/ferrosched:1.0",
            "/operands/allowedImages/0",
        ),
        (
            "operands.allowedImages[0]=ferrosched@sha256:0123",
            "/operands/allowedImages/0",
        ),
        (
            "operands.imagePolicy.enforceAtAdmission=yes",
            "/operands/imagePolicy/enforceAtAdmission",
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
fn operator_rbac_is_what_it_does_and_binds_only_the_grant_roles() -> anyhow::Result<()> {
    let home = home();
    let docs = chart::documents(&chart::template(&[], &home)?)?;
    let role_named = |name: &str| {
        of_kind(&docs, "ClusterRole")
            .into_iter()
            .find(|r| r["metadata"]["name"] == name)
            .cloned()
    };
    let cluster_role = role_named("ferrosched").expect("operator ClusterRole");
    let have = grants(&cluster_role["rules"], false);
    assert!(grants(&cluster_role["rules"], true).is_empty());

    // Its own work (operator/src/{read,apply,controller,run,http}.rs), and nothing of
    // the schedulers': no ClusterRole write, no pods/binding, no PV update.
    let own: BTreeSet<Grant> = [
        grant(
            "ferrosched.dev",
            "schedulerprofiles",
            &["get", "list", "watch", "patch"],
        ),
        grant("ferrosched.dev", "schedulerprofiles/status", &["patch"]),
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
    assert_eq!(have, own, "the operator's cluster-wide rights");

    // One fixed ClusterRole per grant group, with the group's rules; together they hold
    // every rule a scheduler with every plugin enabled needs.
    let prefix = "ferrosched:grants:";
    let mut shipped = BTreeSet::new();
    let mut names = Vec::new();
    for group in ferrosched_operator::children::grant_groups() {
        let name = format!("{prefix}{}", group.name());
        let role = role_named(&name).unwrap_or_else(|| panic!("no ClusterRole {name}"));
        let want = grants(&serde_json::to_value(group.rules())?, false);
        assert_eq!(grants(&role["rules"], false), want, "{name}");
        shipped.extend(want);
        names.push(name);
    }
    let every_plugin: BTreeSet<String> = ferrosched_scheduler::plugins::registry()
        .names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let needed = serde_json::to_value(ferrosched_operator::children::cluster_rules(&every_plugin))?;
    assert_eq!(
        grants(&needed, false),
        shipped,
        "the grant roles hold what schedulers need"
    );

    // The operator may bind exactly those roles, and learn whether they exist.
    let grantor = role_named("ferrosched:grantor").expect("grantor ClusterRole");
    let rules = grantor["rules"].as_array().cloned().unwrap_or_default();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let mut listed = strings(&rules[0]["resourceNames"]);
    listed.sort();
    names.sort();
    assert_eq!(listed, names);
    assert_eq!(strings(&rules[0]["verbs"]), ["bind", "get"]);
    assert_eq!(strings(&rules[0]["resources"]), ["clusterroles"]);
    let binding = of_kind(&docs, "ClusterRoleBinding")
        .into_iter()
        .find(|b| b["metadata"]["name"] == "ferrosched:grantor")
        .expect("grantor binding");
    assert_eq!(binding["subjects"][0]["name"], "ferrosched");
    let deploy = of_kind(&docs, "Deployment");
    let args = strings(&deploy[0]["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert!(
        args.contains(&format!("--grant-role-prefix={prefix}")),
        "{args:?}"
    );

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
        [ferrosched_operator::identity::AUTH_READER_ROLE]
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

#[test]
#[ignore = "needs helm (hack/build-control-plane.sh)"]
fn image_policy_defaults_to_the_scheduler_images_repository() -> anyhow::Result<()> {
    let home = home();
    let on = "operands.imagePolicy.enforceAtAdmission=true";
    // (values, the policy's allowed list): the repository is the image without its
    // digest, then without its tag when the last ':' is after the last '/'.
    let cases: &[(&[&str], &[&str])] = &[
        (&[on], &["ferrosched"]),
        (
            &[on, "image.repository=registry.example/team/ferrosched"],
            &["registry.example/team/ferrosched"],
        ),
        (
            &[
                on,
                "operands.schedulerImage=host:5000/team/sched:1.2@sha256:0123abcd",
            ],
            &["host:5000/team/sched"],
        ),
        (
            &[on, "operands.schedulerImage=host:5000/sched"],
            &["host:5000/sched"],
        ),
        (
            &[
                on,
                "operands.schedulerImage=host:5000/sched",
                "operands.allowedImages={registry.example/a/,registry.example/b}",
            ],
            &["registry.example/a/", "registry.example/b"],
        ),
    ];
    for (values, want) in cases {
        let mut args = Vec::new();
        for v in *values {
            args.extend(["--set".to_string(), v.to_string()]);
        }
        let docs = chart::documents(&chart::template(&args, &home)?)?;
        let (vap, _) = image_policy(&docs).expect("policy rendered");
        assert_eq!(policy_allowed(vap), *want, "{values:?}");
        // The operator gets the list only when set; else it takes the same default.
        let passed = flag(&operator_args(&docs), "allowed-images").map(str::to_string);
        let set = values
            .iter()
            .any(|v| v.starts_with("operands.allowedImages"));
        assert_eq!(passed, set.then(|| want.join(",")), "{values:?}");
    }
    let _ = std::fs::remove_dir_all(home);
    Ok(())
}

#[test]
#[ignore = "needs helm (hack/build-control-plane.sh)"]
fn reserved_names_are_the_charts_objects_in_the_operands_namespace() -> anyhow::Result<()> {
    let home = home();
    let everything = [
        "operator.replicas=2",
        "metrics.serviceMonitor.enabled=true",
        "metrics.dashboard.enabled=true",
        "metrics.prometheusRule.enabled=true",
    ];
    // (release, values, the reserved names)
    let cases: &[(&str, &[&str], &str)] = &[
        // Profile "prod" would be given "ferrosched-prod": the operator's own name.
        (
            "ferrosched-prod",
            &[],
            "ferrosched-operator,ferrosched-prod",
        ),
        (
            "ferrosched",
            &everything,
            "ferrosched,ferrosched-dashboard,ferrosched-operator,ferrosched-schedulers",
        ),
        // Operands elsewhere: only the Role, RoleBinding and Lease are there.
        (
            "ferrosched",
            &[
                "operands.namespace=schedulers",
                everything[1],
                everything[2],
            ],
            // The ServiceMonitors go to the operands' namespace, next to the CA bundle.
            "ferrosched,ferrosched-operator,ferrosched-schedulers",
        ),
        (
            "ferrosched",
            &[
                "operands.namespace=schedulers",
                "metrics.dashboard.enabled=true",
                "metrics.dashboard.namespace=schedulers",
            ],
            "ferrosched,ferrosched-dashboard,ferrosched-operator",
        ),
    ];
    for (release, values, want) in cases {
        let mut args = vec![
            "template".to_string(),
            release.to_string(),
            chart::chart_dir().display().to_string(),
            format!("--namespace={NAMESPACE}"),
        ];
        for v in *values {
            args.extend(["--set".to_string(), v.to_string()]);
        }
        let docs = chart::documents(&chart::helm(&args, &home)?)?;
        let set = format!("{release} {values:?}");
        check_reserved_names(&set, &docs);
        assert_eq!(
            flag(&operator_args(&docs), "reserved-names"),
            Some(*want),
            "{set}"
        );
    }
    let _ = std::fs::remove_dir_all(home);
    Ok(())
}

/// kube-state-metrics' series the restart alert reads.
const KUBE_STATE_METRICS: &[&str] = &["kube_pod_container_status_restarts_total"];
/// Labels Prometheus adds to every scraped series (ServiceMonitor targets).
const TARGET_LABELS: &[&str] = &["namespace", "service", "pod", "job", "container"];

/// Every metric an alert reads is exported by the scheduler or the operator (or is one
/// of the listed kube-state-metrics series), with the labels it matches on;
/// every alert links a runbook section that exists in the chart's README.
#[test]
#[ignore = "needs helm (hack/build-control-plane.sh)"]
fn alerts_read_exported_metrics_and_link_their_runbooks() -> anyhow::Result<()> {
    use ferrosched_scheduler::serving::{AttemptResult, Queue, SchedulerMetrics};
    let home = home();
    let docs = chart::documents(&chart::template(
        &["--set".into(), "metrics.prometheusRule.enabled=true".into()],
        &home,
    )?)?;
    let rule = of_kind(&docs, "PrometheusRule");
    assert_eq!(rule.len(), 1);
    assert_eq!(rule[0]["metadata"]["namespace"], NAMESPACE);

    let sched = SchedulerMetrics::new();
    sched.observe_attempt(AttemptResult::Scheduled, "p", 0.01);
    for q in [
        Queue::Active,
        Queue::Backoff,
        Queue::Unschedulable,
        Queue::Gated,
    ] {
        sched.set_pending(q, 1);
    }
    sched.set_leader(true);
    let op = ferrosched_operator::metrics::Metrics::default();
    op.observe_reconcile(true, 0.1);
    op.leader.set(1);
    op.count_rollback("p");
    let profile: ferrosched_crds::SchedulerProfile = serde_json::from_value(serde_json::json!({
        "apiVersion": "ferrosched.dev/v1alpha1", "kind": "SchedulerProfile",
        "metadata": {"name": "p"}, "spec": {},
        "status": {"conditions": [{"type": "Degraded", "status": "True", "reason": "RolloutFailed",
            "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}))?;
    op.observe_profiles(&[std::sync::Arc::new(profile)]);
    let exported = format!("{}{}", sched.encode(), op.encode());
    let samples: Vec<&str> = exported.lines().filter(|l| !l.starts_with('#')).collect();

    let readme = std::fs::read_to_string(chart::chart_dir().join("README.md"))?;
    let rules = alerts(rule[0]);
    assert_eq!(
        rules
            .iter()
            .filter_map(|r| r["alert"].as_str())
            .collect::<Vec<_>>(),
        ALERTS
    );
    for r in rules {
        let alert = r["alert"].as_str().unwrap_or_default();
        let expr = r["expr"].as_str().unwrap_or_default();
        assert!(
            ["warning", "critical"].contains(&r["labels"]["severity"].as_str().unwrap_or_default()),
            "{alert}: severity"
        );
        for key in ["summary", "description"] {
            assert!(r["annotations"][key].is_string(), "{alert}: {key}");
        }
        // The runbook: "#<alert, lowercase>" of a "### <alert>" section of the README.
        let url = r["annotations"]["runbook_url"].as_str().unwrap_or_default();
        assert_eq!(
            url.rsplit_once('#').map(|(_, a)| a),
            Some(alert.to_lowercase().as_str()),
            "{alert}: {url}"
        );
        assert!(
            url.contains("charts/ferrosched/README.md"),
            "{alert}: {url}"
        );
        let section = readme
            .split(&format!("\n### {alert}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("README has no section ### {alert}"));
        let section = section.split("\n#").next().unwrap_or_default();
        for part in ["**Meaning.**", "**Diagnose.**", "**Fix.**", "kubectl "] {
            assert!(section.contains(part), "runbook of {alert}: no {part}");
        }

        // `metric{matchers}` occurrences.
        let mut metrics = 0;
        for (i, _) in expr.match_indices('{') {
            let name_start = expr[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(0, |j| j + 1);
            let name = &expr[name_start..i];
            if name.is_empty() || name == "up" {
                continue;
            }
            metrics += 1;
            let matchers = &expr[i + 1..i + expr[i..].find('}').expect("closing brace")];
            let labels: Vec<(&str, &str)> = matchers
                .split(", ")
                .filter_map(|m| {
                    let at = m.find(['=', '!'])?;
                    Some((m[..at].trim(), m[at..].trim_start_matches(['=', '!', '~'])))
                })
                .collect();
            if KUBE_STATE_METRICS.contains(&name) {
                continue;
            }
            let lines: Vec<&&str> = samples
                .iter()
                .filter(|l| {
                    l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))
                })
                .collect();
            assert!(!lines.is_empty(), "{alert}: {name} is not exported");
            let known_labels: Vec<String> = lines
                .iter()
                .flat_map(|l| {
                    l.split(['{', ','])
                        .filter_map(|kv| kv.split_once("=\"").map(|(k, _)| k.to_string()))
                })
                .collect();
            for (label, value) in labels {
                if TARGET_LABELS.contains(&label) {
                    continue;
                }
                assert!(
                    known_labels.iter().any(|k| k == label),
                    "{alert}: {name} has no label {label}"
                );
                // Exact matches on exported metrics: the value occurs.
                if !lines.is_empty() && !value.contains(['.', '*', '|']) {
                    assert!(
                        lines
                            .iter()
                            .any(|l| l.contains(&format!("{label}={value}"))),
                        "{alert}: {name} never has {label}={value}"
                    );
                }
            }
        }
        // Metrics named without matchers, too.
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| {
                ["scheduler_", "ferrosched_", "leader_election_", "kube_"]
                    .iter()
                    .any(|p| w.starts_with(p))
            })
        {
            let exported = samples
                .iter()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")));
            metrics += 1;
            assert!(
                exported || KUBE_STATE_METRICS.contains(&name),
                "{alert}: {name} is not exported"
            );
        }
        assert!(metrics > 0, "{alert}: no metric in {expr}");
    }
    let _ = std::fs::remove_dir_all(home);
    Ok(())
}
