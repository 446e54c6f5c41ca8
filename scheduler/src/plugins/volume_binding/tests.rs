use super::*;
use crate::framework::Code;
use crate::plugins::volume_binding::binder::{
    ERR_REASON_BIND_CONFLICT, ERR_REASON_NODE_CONFLICT, ERR_REASON_NOT_ENOUGH_SPACE,
    ERR_REASON_PV_NOT_EXIST,
};
use crate::test_support::storage::Storage;
use crate::test_support::{ninfo, pinfo};

fn plugin(storage: Storage) -> Arc<dyn Plugin> {
    let handle = Handle {
        client: None,
        lister: Arc::new(storage),
        nominator: Arc::default(),
        waiting: Arc::default(),
    };
    new(&PluginArgsSet::default(), &handle).expect("plugin")
}

/// A pod using the named claims.
fn pod(claims: &[&str]) -> PodInfo {
    let vols: Vec<String> = claims
        .iter()
        .map(|c| format!("{{name: v-{c}, persistentVolumeClaim: {{claimName: {c}}}}}"))
        .collect();
    pinfo(&format!(
        "metadata: {{name: p, namespace: default, uid: pod-uid}}\nspec: {{containers: [], volumes: [{}]}}",
        vols.join(", ")
    ))
}

fn node(name: &str, zone: &str) -> NodeInfo {
    ninfo(
        &format!(
            "metadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}, topology.kubernetes.io/zone: {zone}}}}}"
        ),
        &[],
    )
}

fn bound_claim(name: &str, pv: &str) -> String {
    format!(
        "metadata: {{name: {name}, namespace: default, uid: uid-{name}, resourceVersion: '5', annotations: {{pv.kubernetes.io/bind-completed: 'yes'}}}}\nspec: {{volumeName: {pv}, storageClassName: ''}}\nstatus: {{phase: Bound}}"
    )
}

fn unbound_claim(name: &str, class: &str, size: &str) -> String {
    format!(
        "metadata: {{name: {name}, namespace: default, uid: uid-{name}, resourceVersion: '7'}}\nspec: {{storageClassName: {class}, accessModes: [ReadWriteOnce], resources: {{requests: {{storage: {size}}}}}}}\nstatus: {{phase: Pending}}"
    )
}

/// A PV of `class` and `size`, local to `host` ("" = no node affinity).
fn volume(name: &str, class: &str, size: &str, host: &str) -> String {
    let affinity = if host.is_empty() {
        String::new()
    } else {
        format!(
            ", nodeAffinity: {{required: {{nodeSelectorTerms: [{{matchExpressions: [{{key: kubernetes.io/hostname, operator: In, values: [{host}]}}]}}]}}}}"
        )
    };
    format!(
        "metadata: {{name: {name}, resourceVersion: '3'}}\nspec: {{storageClassName: {class}, accessModes: [ReadWriteOnce], capacity: {{storage: {size}}}{affinity}}}\nstatus: {{phase: Available}}"
    )
}

fn class(name: &str, mode: &str, provisioner: &str) -> String {
    format!("metadata: {{name: {name}}}\nprovisioner: {provisioner}\nvolumeBindingMode: {mode}")
}

/// PreFilter, then Filter on each node: the PreFilter status, or each node's status.
fn run(
    p: &Arc<dyn Plugin>,
    pod: &PodInfo,
    nodes: &[&NodeInfo],
) -> Result<(CycleState, Vec<Status>), Status> {
    let mut st = CycleState::default();
    let (_, pre) =
        p.as_pre_filter()
            .expect("pre-filter")
            .pre_filter(&mut st, pod, &Snapshot::default());
    if !pre.is_success() {
        return Err(pre);
    }
    let f = p.as_filter().expect("filter");
    let statuses = nodes.iter().map(|n| f.filter(&st, pod, n)).collect();
    Ok((st, statuses))
}

fn rejected(s: &Status, reasons: &[&str]) {
    assert_eq!(s.code(), Code::UnschedulableAndUnresolvable, "{s:?}");
    assert_eq!(s.reasons(), reasons);
}

#[test]
fn prefilter_rules() {
    let storage = Storage::default()
        .claim(&bound_claim("bound", "pv-a"))
        .claim(&unbound_claim("immediate", "fast", "1Gi"))
        .claim(&unbound_claim("no-class", "", "1Gi"))
        .claim("metadata: {name: lost, namespace: default}\nspec: {volumeName: gone}\nstatus: {phase: Lost}")
        .claim("metadata: {name: leaving, namespace: default, deletionTimestamp: '2026-01-01T00:00:00Z'}\nspec: {}")
        .claim("metadata: {name: p-scratch, namespace: default, ownerReferences: [{apiVersion: v1, kind: Pod, name: other, uid: other-uid, controller: true}]}\nspec: {}")
        .class(&class("fast", "Immediate", "csi.example.com"))
        .volume(&volume("pv-a", "", "1Gi", ""));
    let p = plugin(storage);
    let n = node("n1", "z1");
    let pre = |pod: &PodInfo| match run(&p, pod, &[&n]) {
        Err(s) => s,
        Ok(_) => panic!("not rejected in PreFilter"),
    };
    // No claims: skipped.
    let plain = pinfo(
        "metadata: {name: p, namespace: default}\nspec: {containers: [], volumes: [{name: e, emptyDir: {}}]}",
    );
    assert!(pre(&plain).is_skip());
    let s = pre(&pod(&["missing"]));
    assert_eq!(
        (s.code(), s.message().as_str()),
        (
            Code::UnschedulableAndUnresolvable,
            "persistentvolumeclaim \"missing\" not found"
        )
    );
    assert_eq!(
        pre(&pod(&["lost"])).message(),
        "persistentvolumeclaim \"lost\" bound to non-existent persistentvolume \"gone\""
    );
    assert_eq!(
        pre(&pod(&["leaving"])).message(),
        "persistentvolumeclaim \"leaving\" is being deleted"
    );
    let s = pre(&pod(&["bound", "immediate"]));
    assert_eq!(
        (s.code(), s.message().as_str()),
        (
            Code::UnschedulableAndUnresolvable,
            "pod has unbound immediate PersistentVolumeClaims"
        )
    );
    // A claim without a class binds immediately too.
    assert_eq!(
        pre(&pod(&["no-class"])).message(),
        "pod has unbound immediate PersistentVolumeClaims"
    );
    let eph = pinfo(
        "metadata: {name: p, namespace: default, uid: pod-uid}\nspec: {containers: [], volumes: [{name: scratch, ephemeral: {volumeClaimTemplate: {spec: {}}}}]}",
    );
    assert_eq!(
        pre(&eph).message(),
        "PVC default/p-scratch was not created for pod default/p (pod is not owner)"
    );
    let eph2 = pinfo(
        "metadata: {name: q, namespace: default, uid: q-uid}\nspec: {containers: [], volumes: [{name: scratch, ephemeral: {volumeClaimTemplate: {spec: {}}}}]}",
    );
    assert_eq!(
        pre(&eph2).message(),
        "waiting for ephemeral volume controller to create the persistentvolumeclaim \"q-scratch\""
    );
    // A bound claim passes PreFilter.
    assert!(run(&p, &pod(&["bound"]), &[&n]).is_ok());
}

#[test]
fn bound_claims_follow_pv_node_affinity() {
    let storage = Storage::default()
        .claim(&bound_claim("local", "pv-local"))
        .claim(&bound_claim("dangling", "pv-missing"))
        .volume(&volume("pv-local", "", "10Gi", "n1"));
    let p = plugin(storage);
    let (n1, n2) = (node("n1", "z1"), node("n2", "z1"));
    let (_, s) = run(&p, &pod(&["local"]), &[&n1, &n2]).expect("prefilter");
    assert!(s[0].is_success());
    rejected(&s[1], &[ERR_REASON_NODE_CONFLICT]);
    let (_, s) = run(&p, &pod(&["dangling"]), &[&n1]).expect("prefilter");
    rejected(&s[0], &[ERR_REASON_PV_NOT_EXIST]);
    // Upstream stops at the first bound claim that fails.
    let (_, s) = run(&p, &pod(&["local", "dangling"]), &[&n2]).expect("prefilter");
    rejected(&s[0], &[ERR_REASON_NODE_CONFLICT]);
    let (_, s) = run(&p, &pod(&["dangling", "local"]), &[&n2]).expect("prefilter");
    rejected(&s[0], &[ERR_REASON_PV_NOT_EXIST]);
}

#[test]
fn wait_for_first_consumer_matches_static_volumes() {
    let storage = Storage::default()
        .class(&class(
            "local",
            "WaitForFirstConsumer",
            "kubernetes.io/no-provisioner",
        ))
        .claim(&unbound_claim("data", "local", "5Gi"))
        .volume(&volume("pv-small", "local", "1Gi", "n1"))
        .volume(&volume("pv-big", "local", "100Gi", "n1"))
        .volume(&volume("pv-mid", "local", "10Gi", "n1"))
        .volume(&volume("pv-other", "local", "10Gi", "n3"));
    let p = plugin(storage);
    let (n1, n2) = (node("n1", "z1"), node("n2", "z1"));
    let pod = pod(&["data"]);
    let (mut st, s) = run(&p, &pod, &[&n1, &n2]).expect("prefilter");
    assert!(s[0].is_success());
    // No PV on n2 and the class cannot provision.
    rejected(&s[1], &[ERR_REASON_BIND_CONFLICT]);
    // The smallest PV that is big enough is chosen, and scored by utilization: 5/10 → 50.
    let chosen = st
        .get::<State>()
        .and_then(|s| s.for_node("n1"))
        .expect("n1 volumes")
        .0;
    let names: Vec<_> = chosen
        .static_bindings
        .iter()
        .map(|(v, _)| v.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["pv-mid"]);
    assert!(
        p.as_pre_score()
            .expect("pre-score")
            .pre_score(&mut st, &pod, &Snapshot::default(), &[&n1])
            .is_success()
    );
    assert_eq!(p.as_score().expect("score").score(&st, &pod, &n1), Ok(50));
    assert_eq!(p.as_score().expect("score").score(&st, &pod, &n2), Ok(0));

    // Reserve assumes pv-mid for this claim: another pod's claim no longer gets it.
    let r = p.as_reserve().expect("reserve");
    assert!(r.reserve(&mut st, &pod, "n1").is_success());
    let assumed = &st
        .get::<State>()
        .and_then(|s| s.chosen.clone())
        .expect("chosen")
        .0;
    let claim_ref = assumed.static_bindings[0]
        .0
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.clone())
        .expect("claimRef");
    assert_eq!(
        (claim_ref.name.as_deref(), claim_ref.uid.as_deref()),
        (Some("data"), Some("uid-data"))
    );
    let (_, s) = run(&p, &pod, &[&n1]).expect("prefilter");
    assert!(s[0].is_success(), "the claim still gets its assumed volume");
    r.unreserve(&mut st, &pod, "n1");
    assert!(st.get::<State>().is_some_and(|s| s.chosen.is_none()));
}

#[test]
fn assumed_volumes_are_not_offered_twice() {
    let storage = Storage::default()
        .class(&class(
            "local",
            "WaitForFirstConsumer",
            "kubernetes.io/no-provisioner",
        ))
        .claim(&unbound_claim("a", "local", "5Gi"))
        .claim(&unbound_claim("b", "local", "5Gi"))
        .volume(&volume("pv-1", "local", "10Gi", "n1"));
    let p = plugin(storage);
    let n1 = node("n1", "z1");
    let (pa, pb) = (
        pod(&["a"]),
        pinfo(
            "metadata: {name: q, namespace: default, uid: q}\nspec: {containers: [], volumes: [{name: v, persistentVolumeClaim: {claimName: b}}]}",
        ),
    );
    let (mut st, s) = run(&p, &pa, &[&n1]).expect("prefilter");
    assert!(s[0].is_success());
    assert!(
        p.as_reserve()
            .expect("reserve")
            .reserve(&mut st, &pa, "n1")
            .is_success()
    );
    let (_, s) = run(&p, &pb, &[&n1]).expect("prefilter");
    rejected(&s[0], &[ERR_REASON_BIND_CONFLICT]);
    p.as_reserve()
        .expect("reserve")
        .unreserve(&mut st, &pa, "n1");
    let (_, s) = run(&p, &pb, &[&n1]).expect("prefilter");
    assert!(s[0].is_success());
}

#[test]
fn provisioning_checks_topology_and_capacity() {
    let storage = Storage::default()
        .class("metadata: {name: zonal}\nprovisioner: csi.example.com\nvolumeBindingMode: WaitForFirstConsumer\nallowedTopologies: [{matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [z1]}]}]")
        .class(&class("tracked", "WaitForFirstConsumer", "tracked.example.com"))
        .driver("metadata: {name: tracked.example.com}\nspec: {storageCapacity: true}")
        .capacity("metadata: {name: c1, namespace: kube-system}\nstorageClassName: tracked\ncapacity: 20Gi\nnodeTopology: {matchLabels: {topology.kubernetes.io/zone: z1}}")
        .capacity("metadata: {name: c2, namespace: kube-system}\nstorageClassName: tracked\ncapacity: 100Gi\nmaximumVolumeSize: 2Gi\nnodeTopology: {matchLabels: {topology.kubernetes.io/zone: z2}}")
        .claim(&unbound_claim("zonal", "zonal", "1Gi"))
        .claim(&unbound_claim("tracked", "tracked", "5Gi"))
        .class(&class("plain", "WaitForFirstConsumer", "csi.example.com"))
        .claim("metadata: {name: picked, namespace: default, annotations: {volume.kubernetes.io/selected-node: n2}}\nspec: {storageClassName: plain}");
    let p = plugin(storage);
    let (n1, n2) = (node("n1", "z1"), node("n2", "z2"));
    let (_, s) = run(&p, &pod(&["zonal"]), &[&n1, &n2]).expect("prefilter");
    assert!(s[0].is_success());
    rejected(&s[1], &[ERR_REASON_BIND_CONFLICT]);
    // 5Gi fits z1's 20Gi; z2's maximum volume size is 2Gi.
    let (st, s) = run(&p, &pod(&["tracked"]), &[&n1, &n2]).expect("prefilter");
    assert!(s[0].is_success());
    rejected(&s[1], &[ERR_REASON_NOT_ENOUGH_SPACE]);
    // Dynamic provisioning scores by the capacity that made the node fit: 5/20 → 75.
    assert_eq!(
        p.as_score()
            .expect("score")
            .score(&st, &pod(&["tracked"]), &n1),
        Ok(75)
    );
    // A claim already given to n2 fits n2 only.
    let (_, s) = run(&p, &pod(&["picked"]), &[&n1, &n2]).expect("prefilter");
    rejected(&s[0], &[ERR_REASON_BIND_CONFLICT]);
    assert!(s[1].is_success());
}

#[test]
fn reserve_marks_claims_to_provision() {
    let storage = Storage::default()
        .class(&class("wffc", "WaitForFirstConsumer", "csi.example.com"))
        .claim(&unbound_claim("data", "wffc", "1Gi"));
    let p = plugin(storage);
    let n1 = node("n1", "z1");
    let pod = pod(&["data"]);
    let (mut st, _) = run(&p, &pod, &[&n1]).expect("prefilter");
    assert!(
        p.as_reserve()
            .expect("reserve")
            .reserve(&mut st, &pod, "n1")
            .is_success()
    );
    let chosen = st
        .get::<State>()
        .and_then(|s| s.chosen.clone())
        .expect("chosen");
    let ann = chosen.0.provisions[0]
        .0
        .metadata
        .annotations
        .clone()
        .unwrap_or_default();
    assert_eq!(
        ann.get("volume.kubernetes.io/selected-node")
            .map(String::as_str),
        Some("n1")
    );
    // The assumed claim now names n1, so another cycle offers it n1 only.
    let n2 = node("n2", "z1");
    let (_, s) = run(&p, &pod, &[&n1, &n2]).expect("prefilter");
    assert!(s[0].is_success());
    rejected(&s[1], &[ERR_REASON_BIND_CONFLICT]);
}

#[test]
fn capacity_score_follows_the_shape() {
    let shape = [(0, 100), (100, 0)];
    let classes = |v: &[(&str, i64, i64)]| -> FxHashMap<String, (i64, i64)> {
        v.iter()
            .map(|(c, r, cap)| (c.to_string(), (*r, *cap)))
            .collect()
    };
    assert_eq!(capacity_score(&shape, &classes(&[])), 0);
    assert_eq!(capacity_score(&shape, &classes(&[("a", 30, 100)])), 70);
    // Over capacity or unknown capacity counts as full.
    assert_eq!(capacity_score(&shape, &classes(&[("a", 30, 0)])), 0);
    assert_eq!(
        capacity_score(&shape, &classes(&[("a", 30, 100), ("b", 45, 100)])),
        63
    );
}
