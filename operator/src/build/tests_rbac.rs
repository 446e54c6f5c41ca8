//! ClusterRole rules per plugin set, and the Lease and auth-reader bindings.

use ferrosched_crds::SchedulerProfile;

use super::*;
use crate::testing::{minimal, profile, settings};
use crate::validate::validate;

/// The rules as `group | resources | verbs` lines, in the builder's order (API group, then
/// verb set), the way they read in a review.
fn rules_of(p: &SchedulerProfile) -> Vec<String> {
    let v = match validate(p, std::slice::from_ref(p), "ferrosched-system") {
        Ok(v) => v,
        Err(e) => panic!("{}", e.message()),
    };
    cluster_role(p, &v.enabled_plugins)
        .rules
        .unwrap_or_default()
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
    let crb = cluster_role_binding(&p, &s);
    assert_eq!(
        (crb.role_ref.kind.as_str(), crb.role_ref.name.as_str()),
        ("ClusterRole", "ferrosched:scheduler:demo")
    );
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
