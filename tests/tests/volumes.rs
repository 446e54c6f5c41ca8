//! The volume plugins on the real control plane, with kube-controller-manager's PV
//! controller doing the binding:
//! - a pod whose bound claim's PV is local to one node goes to that node;
//! - a WaitForFirstConsumer claim with a matching local PV: the scheduler writes the PV's
//!   claimRef, the PV controller binds it, the pod lands where the PV is;
//! - a WaitForFirstConsumer claim to provision: the scheduler writes the claim's
//!   selected-node annotation and waits in PreBind; the test plays the external
//!   provisioner; the pod is bound to the node it selected;
//! - pods the volume plugins reject (missing claim, unbound Immediate claim, PV node
//!   affinity, PV zone, nothing to bind, ReadWriteOncePod claim in use) get byte-for-byte
//!   the FailedScheduling message the upstream kube-scheduler writes for the same pod;
//! - a pod waiting for a missing claim is scheduled as soon as the claim appears (the
//!   PersistentVolumeClaim event requeues it, long before the 5-minute flush).

use std::time::Duration;

use ferrosched_e2e::TestEnv;
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::operands::free_port;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, PostParams};
use serde_json::json;

const NS: &str = "vols";
const SCHEDULER: &str = "ferro";
const WAIT: Duration = Duration::from_secs(90);

/// A pod of `scheduler` mounting the claims.
fn pod(name: &str, scheduler: &str, claims: &[&str]) -> anyhow::Result<Pod> {
    let mut p = fixtures::pod(NS, name, scheduler, "100m", "100Mi");
    let spec = p.spec.as_mut().ok_or_else(|| anyhow::anyhow!("pod spec"))?;
    spec.volumes = Some(
        claims
            .iter()
            .map(|c| {
                serde_json::from_value(
                    json!({"name": c, "persistentVolumeClaim": {"claimName": c}}),
                )
            })
            .collect::<Result<_, _>>()?,
    );
    Ok(p)
}

fn local_pv(
    name: &str,
    class: &str,
    node: &str,
    claim: Option<&str>,
) -> anyhow::Result<PersistentVolume> {
    let mut spec = json!({
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": class,
        "local": {"path": format!("/mnt/{name}")},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
    });
    if let Some(c) = claim {
        spec["claimRef"] = json!({"namespace": NS, "name": c});
    }
    Ok(serde_json::from_value(
        json!({"metadata": {"name": name}, "spec": spec}),
    )?)
}

fn claim(name: &str, class: &str, volume: Option<&str>) -> anyhow::Result<PersistentVolumeClaim> {
    let mut spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": class,
        "resources": {"requests": {"storage": "1Gi"}},
    });
    if let Some(v) = volume {
        spec["volumeName"] = json!(v);
    }
    Ok(serde_json::from_value(
        json!({"metadata": {"name": name, "namespace": NS}, "spec": spec}),
    )?)
}

fn class(name: &str, provisioner: &str, mode: &str) -> anyhow::Result<StorageClass> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode,
    }))?)
}

fn node_of(p: &Pod) -> Option<String> {
    p.spec.as_ref()?.node_name.clone()
}

/// The message of `PodScheduled=False` with reason Unschedulable.
fn unschedulable_message(p: &Pod) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })?
        .message
        .clone()
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh)"]
async fn volume_plugins_bind_provision_and_explain_like_upstream() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            fixtures::create_namespace(&c, NS, &[]).await?;
            let zoned = |name: &str, zone: &str| {
                let mut n = NodeSpec::standard(name);
                n.labels.insert("topology.kubernetes.io/zone".into(), zone.into());
                n
            };
            env.ready_nodes(&[zoned("node-a", "zone-a"), zoned("node-b", "zone-b")])
                .await?;
            let pp = PostParams::default();
            let pods: Api<Pod> = Api::namespaced(c.clone(), NS);
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(c.clone(), NS);
            let pvs: Api<PersistentVolume> = Api::all(c.clone());
            let classes: Api<StorageClass> = Api::all(c.clone());
            classes.create(&pp, &class("manual", "kubernetes.io/no-provisioner", "Immediate")?).await?;
            classes.create(&pp, &class("local", "kubernetes.io/no-provisioner", "WaitForFirstConsumer")?).await?;
            classes.create(&pp, &class("dynamic", "fake.example.com", "WaitForFirstConsumer")?).await?;
            classes.create(&pp, &class("slow", "example.com/absent", "Immediate")?).await?;

            let cfg = env.dir.join("volumes.yaml");
            std::fs::write(&cfg, fixtures::single_profile_config(&env.kubeconfig, SCHEDULER))?;
            let _scheduler = env.spawn_scheduler("scheduler", &cfg, free_port(), &[])?;

            // 1. A claim bound to a PV local to node-b: the pod goes to node-b.
            pvs.create(&pp, &local_pv("pv-bound", "manual", "node-b", Some("bound"))?).await?;
            claims.create(&pp, &claim("bound", "manual", Some("pv-bound"))?).await?;
            env.wait_for("claim `bound` bound by the PV controller", WAIT, || async {
                let pvc = claims.get("bound").await.ok()?;
                (pvc.status?.phase.as_deref() == Some("Bound")).then_some(())
            })
            .await?;
            pods.create(&pp, &pod("uses-bound", SCHEDULER, &["bound"])?).await?;
            let node = env
                .wait_for("pod with a bound claim placed", WAIT, || async {
                    node_of(&pods.get("uses-bound").await.ok()?)
                })
                .await?;
            assert_eq!(node, "node-b", "the PV's node affinity decides");

            // 2. WaitForFirstConsumer with a matching local PV on node-a.
            pvs.create(&pp, &local_pv("pv-local", "local", "node-a", None)?).await?;
            claims.create(&pp, &claim("late", "local", None)?).await?;
            pods.create(&pp, &pod("uses-late", SCHEDULER, &["late"])?).await?;
            let node = env
                .wait_for("pod with a WaitForFirstConsumer claim placed", WAIT, || async {
                    node_of(&pods.get("uses-late").await.ok()?)
                })
                .await?;
            assert_eq!(node, "node-a", "the only node with a matching PV");
            let pvc = claims.get("late").await?;
            assert_eq!(pvc.spec.and_then(|s| s.volume_name).as_deref(), Some("pv-local"));
            assert_eq!(pvc.status.and_then(|s| s.phase).as_deref(), Some("Bound"));

            // 3. WaitForFirstConsumer to provision: the scheduler selects a node, the test
            //    provisions there as an external provisioner would.
            claims.create(&pp, &claim("fresh", "dynamic", None)?).await?;
            pods.create(&pp, &pod("uses-fresh", SCHEDULER, &["fresh"])?).await?;
            let selected = env
                .wait_for("selected-node annotation on claim `fresh`", WAIT, || async {
                    let pvc = claims.get("fresh").await.ok()?;
                    pvc.metadata.annotations?.get("volume.kubernetes.io/selected-node").cloned()
                })
                .await?;
            assert!(
                node_of(&pods.get("uses-fresh").await?).is_none(),
                "the pod waits in PreBind until its claim is bound"
            );
            let uid = claims.get("fresh").await?.metadata.uid.unwrap_or_default();
            let mut pv: PersistentVolume = serde_json::from_value(json!({
                "metadata": {"name": "pv-fresh", "annotations": {"pv.kubernetes.io/provisioned-by": "fake.example.com"}},
                "spec": {
                    "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "dynamic",
                    "csi": {"driver": "fake.example.com", "volumeHandle": "fresh-1"},
                    "claimRef": {"namespace": NS, "name": "fresh", "uid": uid},
                    "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [selected]}]}]}},
                },
            }))?;
            pv.metadata.labels = None;
            pvs.create(&pp, &pv).await?;
            let node = env
                .wait_for("pod with a provisioned claim placed", WAIT, || async {
                    node_of(&pods.get("uses-fresh").await.ok()?)
                })
                .await?;
            assert_eq!(node, selected, "bound to the node it selected for provisioning");

            // 4. Rejections, next to the upstream kube-scheduler's for the same pod.
            pvs.create(&pp, &local_pv("pv-elsewhere", "manual", "node-gone", Some("elsewhere"))?).await?;
            claims.create(&pp, &claim("elsewhere", "manual", Some("pv-elsewhere"))?).await?;
            claims.create(&pp, &claim("waiting", "slow", None)?).await?;
            env.wait_for("claim `elsewhere` bound", WAIT, || async {
                let pvc = claims.get("elsewhere").await.ok()?;
                (pvc.status?.phase.as_deref() == Some("Bound")).then_some(())
            })
            .await?;
            // A PV on node-a labelled with another zone; a claim nothing can bind; a
            // ReadWriteOncePod claim already in use.
            let mut pv = local_pv("pv-zoned", "manual", "node-a", Some("zoned"))?;
            pv.metadata.labels = Some([("topology.kubernetes.io/zone".to_string(), "zone-x".to_string())].into());
            pvs.create(&pp, &pv).await?;
            claims.create(&pp, &claim("zoned", "manual", Some("pv-zoned"))?).await?;
            claims.create(&pp, &claim("stuck", "local", None)?).await?;
            let mut solo = local_pv("pv-solo", "manual", "node-b", Some("solo"))?;
            if let Some(spec) = solo.spec.as_mut() {
                spec.access_modes = Some(vec!["ReadWriteOncePod".into()]);
            }
            pvs.create(&pp, &solo).await?;
            let mut solo_claim = claim("solo", "manual", Some("pv-solo"))?;
            if let Some(spec) = solo_claim.spec.as_mut() {
                spec.access_modes = Some(vec!["ReadWriteOncePod".into()]);
            }
            claims.create(&pp, &solo_claim).await?;
            for name in ["zoned", "solo"] {
                env.wait_for(&format!("claim `{name}` bound"), WAIT, || async {
                    let pvc = claims.get(name).await.ok()?;
                    (pvc.status?.phase.as_deref() == Some("Bound")).then_some(())
                })
                .await?;
            }
            pods.create(&pp, &pod("solo-holder", SCHEDULER, &["solo"])?).await?;
            env.wait_for("the ReadWriteOncePod claim's holder placed", WAIT, || async {
                node_of(&pods.get("solo-holder").await.ok()?)
            })
            .await?;
            for (case, claim_names) in [
                ("missing", vec!["nope"]),
                ("immediate", vec!["waiting"]),
                ("affinity", vec!["elsewhere"]),
                ("zone", vec!["zoned"]),
                ("unbindable", vec!["stuck"]),
                ("in-use", vec!["solo"]),
            ] {
                let ours = format!("{case}-ferro");
                let theirs = format!("{case}-kube");
                pods.create(&pp, &pod(&ours, SCHEDULER, &claim_names)?).await?;
                pods.create(&pp, &pod(&theirs, "default-scheduler", &claim_names)?).await?;
                let (a, b) = env
                    .wait_for(&format!("both schedulers explain `{case}`"), WAIT, || async {
                        let a = unschedulable_message(&pods.get(&ours).await.ok()?)?;
                        let b = unschedulable_message(&pods.get(&theirs).await.ok()?)?;
                        Some((a, b))
                    })
                    .await?;
                eprintln!("{case}: {a}");
                assert_eq!(a, b, "FailedScheduling message for `{case}`");
            }

            // 5. The missing claim appears (bound to a PV on node-a): the claim's event
            //    requeues the pod.
            pvs.create(&pp, &local_pv("pv-nope", "manual", "node-a", Some("nope"))?).await?;
            claims.create(&pp, &claim("nope", "manual", Some("pv-nope"))?).await?;
            let node = env
                .wait_for("pod placed once its claim exists", Duration::from_secs(60), || async {
                    node_of(&pods.get("missing-ferro").await.ok()?)
                })
                .await?;
            assert_eq!(node, "node-a");
            Ok(())
        })
        .await
}
