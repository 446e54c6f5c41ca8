//! ClusterRole rules per plugin set, and the Lease and auth-reader bindings.

use std::collections::BTreeSet;

use ferrosched_crds::SchedulerProfile;

use super::*;
use crate::test_support::{minimal, profile, settings};
use crate::validate::validate;

/// The rules as `group | resources | verbs` lines, in the builder's order (API group, then
/// verb set), the way they read in a review.
fn rules_of(p: &SchedulerProfile) -> Vec<String> {
    let v = match validate(p, std::slice::from_ref(p), "ferrosched-system") {
        Ok(v) => v,
        Err(e) => panic!("{}", e.message()),
    };
    cluster_rules(&v.enabled_plugins)
        .iter()
        .map(|r| {
            let group = r.api_groups.clone().unwrap_or_default().join(",");
            let resources = r.resources.clone().unwrap_or_default().join(",");
            format!("{group:?} | {resources} | {}", r.verbs.join(","))
        })
        .collect()
}

#[test]
fn default_plugins_get_upstreams_scheduler_rules() {
    let expected = [
        r#""" | namespaces,nodes,replicationcontrollers,services | get,list,watch"#,
        r#""" | persistentvolumeclaims,persistentvolumes | get,list,watch,update"#,
        r#""" | pods | get,list,watch,delete"#,
        r#""" | pods/binding | create"#,
        r#""" | pods/status | patch"#,
        r#""apps" | replicasets,statefulsets | get,list,watch"#,
        r#""authentication.k8s.io" | tokenreviews | create"#,
        r#""authorization.k8s.io" | subjectaccessreviews | create"#,
        r#""events.k8s.io" | events | create"#,
        r#""policy" | poddisruptionbudgets | get,list,watch"#,
        r#""resource.k8s.io" | deviceclasses,devicetaintrules,resourceclaims,resourceslices | get,list,watch"#,
        r#""storage.k8s.io" | csidrivers,csinodes,csistoragecapacities,storageclasses,volumeattachments | get,list,watch"#,
    ];
    assert_eq!(rules_of(&minimal("demo")), expected);
}

#[test]
fn a_lean_profile_gets_only_the_base_rules() {
    // Everything off but the plugins a scheduler cannot do without.
    let p = profile(
        r#"
apiVersion: ferrosched.dev/v1alpha1
kind: SchedulerProfile
metadata: {name: lean}
spec:
  plugins:
    multiPoint:
      disabled: [{name: "*"}]
      enabled:
      - name: PrioritySort
      - name: NodeResourcesFit
      - name: PodCapacityOfNode
      - name: DefaultBinder
"#,
    );
    let expected = [
        r#""" | nodes,pods | get,list,watch"#,
        r#""" | pods/binding | create"#,
        r#""" | pods/status | patch"#,
        r#""authentication.k8s.io" | tokenreviews | create"#,
        r#""authorization.k8s.io" | subjectaccessreviews | create"#,
        r#""events.k8s.io" | events | create"#,
    ];
    assert_eq!(rules_of(&p), expected);
}

#[test]
fn preemption_off_means_no_pod_delete_and_no_pdb_read() {
    let p = profile(
        r#"
apiVersion: ferrosched.dev/v1alpha1
kind: SchedulerProfile
metadata: {name: nopreempt}
spec:
  plugins:
    multiPoint:
      disabled: [{name: DefaultPreemption}, {name: DynamicResources}]
"#,
    );
    let rules = rules_of(&p);
    assert!(rules.iter().all(|r| !r.contains("delete")), "{rules:#?}");
    assert!(
        rules
            .iter()
            .all(|r| !r.contains("poddisruptionbudgets") && !r.contains("resource.k8s.io")),
        "{rules:#?}"
    );
    assert!(
        rules.iter().any(|r| r.contains("persistentvolumeclaims")),
        "volume plugins stay on"
    );
}

#[test]
fn lease_role_allows_get_and_update_of_its_own_lease_only() {
    let p = minimal("demo");
    let role = lease_role(&p, &settings());
    assert_eq!(role.metadata.name.as_deref(), Some("ferrosched-demo"));
    let rules = role.rules.unwrap_or_default();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].api_groups,
        Some(vec!["coordination.k8s.io".to_string()])
    );
    assert_eq!(rules[0].resources, Some(vec!["leases".to_string()]));
    assert_eq!(
        rules[0].resource_names,
        Some(vec!["ferrosched-demo".to_string()])
    );
    assert_eq!(rules[0].verbs, ["get", "update"]);
}

#[test]
fn bindings_point_at_the_service_account() {
    let p = minimal("demo");
    let s = settings();
    let sa = service_account(&p, &s);
    assert_eq!(sa.metadata.name.as_deref(), Some("ferrosched-demo"));
    let v = validate(&p, std::slice::from_ref(&p), "ferrosched-system").expect("valid");
    let crbs = cluster_role_bindings(&p, &s, &v.enabled_plugins);
    let refs: Vec<(String, String)> = crbs
        .iter()
        .map(|b| {
            (
                b.metadata.name.clone().unwrap_or_default(),
                b.role_ref.name.clone(),
            )
        })
        .collect();
    let group = |g: &str| {
        (
            format!("ferrosched:scheduler:demo:{g}"),
            format!("ferrosched:grants:{g}"),
        )
    };
    assert_eq!(
        refs,
        [
            group("base"),
            group("default-preemption"),
            group("dynamic-resources"),
            group("inter-pod-affinity"),
            group("node-volume-limits"),
            group("pod-topology-spread"),
            group("volume-binding"),
            group("volume-restrictions"),
            group("volume-zone"),
        ]
    );
    let crb = crbs[0].clone();
    assert!(crbs.iter().all(|b| b.role_ref.kind == "ClusterRole"));
    let rb = lease_role_binding(&p, &s);
    assert_eq!(
        (rb.role_ref.kind.as_str(), rb.role_ref.name.as_str()),
        ("Role", "ferrosched-demo")
    );
    let auth = auth_reader_binding(&p, &s);
    assert_eq!(auth.metadata.namespace.as_deref(), Some("kube-system"));
    assert_eq!(
        auth.metadata.name.as_deref(),
        Some("ferrosched-demo-auth-reader")
    );
    assert_eq!(
        auth.role_ref.name,
        "extension-apiserver-authentication-reader"
    );
    for subjects in [crb.subjects, rb.subjects, auth.subjects] {
        let subject = &subjects.unwrap_or_default()[0];
        assert_eq!(
            (
                subject.kind.as_str(),
                subject.name.as_str(),
                subject.namespace.as_deref()
            ),
            (
                "ServiceAccount",
                "ferrosched-demo",
                Some("ferrosched-system")
            )
        );
    }
}

#[test]
fn a_lean_profile_is_bound_to_the_base_group_only() {
    let p = profile(
        r#"
apiVersion: ferrosched.dev/v1alpha1
kind: SchedulerProfile
metadata: {name: lean}
spec:
  plugins:
    multiPoint:
      disabled: [{name: "*"}]
      enabled: [{name: PrioritySort}, {name: NodeResourcesFit}, {name: DefaultBinder}]
"#,
    );
    let v = validate(&p, std::slice::from_ref(&p), "ferrosched-system").expect("valid");
    let crbs = cluster_role_bindings(&p, &settings(), &v.enabled_plugins);
    let roles: Vec<&str> = crbs.iter().map(|b| b.role_ref.name.as_str()).collect();
    assert_eq!(roles, ["ferrosched:grants:base"]);
}

#[test]
fn every_grant_group_has_rules_and_the_union_is_every_plugins() {
    let all: BTreeSet<&str> = grant_groups().iter().filter_map(|g| g.plugin).collect();
    let mut union: Vec<_> = grant_groups().iter().flat_map(GrantGroup::rules).collect();
    assert!(grant_groups().iter().all(|g| !g.rules().is_empty()));
    let per_group: usize = grant_groups().len();
    assert_eq!(
        per_group,
        all.len() + 1,
        "one group per plugin with grants, and base"
    );
    union.sort_by_key(|r| format!("{r:?}"));
    // Every rule of the union of all groups is held by some group, and vice versa.
    for rule in cluster_rules(&all) {
        for resource in rule.resources.iter().flatten() {
            for verb in &rule.verbs {
                assert!(
                    union.iter().any(|r| r.api_groups == rule.api_groups
                        && r.resources.iter().flatten().any(|x| x == resource)
                        && r.verbs.contains(verb)),
                    "{resource} {verb} held by no group"
                );
            }
        }
    }
}

/// The chart's copy of the grant roles, as [`grant_roles`] makes them.
fn chart_template() -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let list = |xs: &[String]| xs.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ");
    let mut out = String::from(
        "{{- /* Generated from operator/src/children/rbac.rs: do not edit. Regenerate with\n     \
         FERROSCHED_BLESS=1 cargo test -p ferrosched-operator --lib chart_ships_the_grant_roles */ -}}\n\
         {{- $fullname := include \"ferrosched.fullname\" . -}}\n\
         # The schedulers' rights: one fixed ClusterRole per grant group (`base`, and one per\n\
         # plugin that needs more). The operator binds each profile's ServiceAccount to the\n\
         # groups of its enabled plugins; it writes no ClusterRole and may bind only these.\n",
    );
    let mut names = Vec::new();
    for g in grant_groups() {
        let name = format!("{{{{ $fullname }}}}:grants:{}", g.name());
        let what = g.plugin.unwrap_or("every scheduler");
        out.push_str(&format!(
            "---\n# {what}\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n\
             metadata:\n  name: {name}\n  labels:\n    {{{{- include \"ferrosched.labels\" . | nindent 4 }}}}\n\
             rules:\n"
        ));
        for r in g.rules() {
            out.push_str(&format!(
                "  - apiGroups: [{}]\n    resources: [{}]\n    verbs: [{}]\n",
                list(r.api_groups.as_deref().unwrap_or_default()),
                list(r.resources.as_deref().unwrap_or_default()),
                list(&r.verbs),
            ));
        }
        names.push(name);
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    out.push_str(&format!(
        "---\n# What the operator may grant: `bind` on the roles above and nothing else (`get`\n\
         # to report a missing one as GrantRoleMissing).\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {{{{ $fullname }}}}:grantor\n\
         \x20 labels:\n    {{{{- include \"ferrosched.labels\" . | nindent 4 }}}}\nrules:\n\
         \x20 - apiGroups: [\"rbac.authorization.k8s.io\"]\n    resources: [\"clusterroles\"]\n\
         \x20   resourceNames:\n{}    verbs: [\"bind\", \"get\"]\n\
         ---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n\
         \x20 name: {{{{ $fullname }}}}:grantor\n  labels:\n    {{{{- include \"ferrosched.labels\" . | nindent 4 }}}}\n\
         roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {{{{ $fullname }}}}:grantor\n\
         subjects:\n  - kind: ServiceAccount\n    name: {{{{ $fullname }}}}\n    namespace: {{{{ .Release.Namespace }}}}\n",
        quoted.iter().map(|n| format!("      - {n}\n")).collect::<String>()
    ));
    out
}

#[test]
fn chart_ships_the_grant_roles() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/ferrosched/templates/grant-roles.yaml"
    );
    let want = chart_template();
    if std::env::var_os("FERROSCHED_BLESS").is_some() {
        std::fs::write(path, &want).expect("write the chart's grant roles");
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "{path} is not what operator/src/children/rbac.rs makes; regenerate it with\n\
         FERROSCHED_BLESS=1 cargo test -p ferrosched-operator --lib chart_ships_the_grant_roles"
    );
}
