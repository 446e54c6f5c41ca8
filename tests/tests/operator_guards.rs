//! The operator against profiles that would take what is not theirs or that the API
//! server refuses, on a real control plane: a profile never overwrites the operator's own
//! objects (a release's ServiceAccount, Role and Deployment, the operator's election Lease)
//! or anyone else's; an image outside the allowlist deploys nothing; a pod-template field
//! the API server refuses is caught by a dry run before any child is applied, and the
//! running scheduler is untouched.

use std::time::Duration;

use ferrosched_crds::SchedulerProfile;
use ferrosched_e2e::operator::{NS, apply_spec as apply, start};
use ferrosched_e2e::procs::Spawned;
use ferrosched_e2e::{TestEnv, fixtures};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::Role;
use kube::api::{Api, PostParams};
use serde_json::json;

async fn operator(env: &TestEnv) -> anyhow::Result<Spawned> {
    let extra = [
        "--allowed-images=ferrosched,registry.example/team/".to_string(),
        // Elect, so the operator's own Lease ferrosched-operator exists.
        "--leader-elect=true".to_string(),
    ];
    Ok(start(env, &extra).await?.0)
}

/// Waits for `Degraded=True` with `reason` at the profile's current generation; returns
/// the message.
async fn degraded(env: &TestEnv, name: &str, reason: &str) -> anyhow::Result<String> {
    let api: Api<SchedulerProfile> = Api::all(env.client.clone());
    env.wait_for(
        &format!("{name} Degraded={reason} at its generation"),
        Duration::from_secs(60),
        || async {
            let p = api.get(name).await.ok()?;
            let status = p.status?;
            (status.observed_generation == p.metadata.generation).then_some(())?;
            status
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Degraded" && c.status == "True" && c.reason == reason)
                .map(|c| c.message)
        },
    )
    .await
}

/// resourceVersion of an object that must stay as it is.
fn rv(meta: &kube::api::ObjectMeta) -> String {
    meta.resource_version.clone().unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn a_profile_never_takes_the_operators_or_anyone_elses_objects() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            let _op = operator(&env).await?;
            let leases: Api<Lease> = Api::namespaced(c.clone(), NS);
            let op_lease = env
                .wait_for(
                    "the operator's Lease held",
                    Duration::from_secs(60),
                    || async {
                        let l = leases.get_opt("ferrosched-operator").await.ok()??;
                        l.spec.as_ref()?.holder_identity.as_ref()?;
                        Some(l)
                    },
                )
                .await?;

            // What `helm install ferrosched-prod` creates in the namespace, with no owner.
            let sa: ServiceAccount = serde_json::from_value(
                json!({"metadata": {"name": "ferrosched-prod", "namespace": NS}}),
            )?;
            let sa = Api::<ServiceAccount>::namespaced(c.clone(), NS)
                .create(&PostParams::default(), &sa)
                .await?;
            let role: Role = serde_json::from_value(
                json!({"metadata": {"name": "ferrosched-prod", "namespace": NS},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}),
            )?;
            let role = Api::<Role>::namespaced(c.clone(), NS)
                .create(&PostParams::default(), &role)
                .await?;
            let dep: Deployment = serde_json::from_value(
                json!({"metadata": {"name": "ferrosched-prod", "namespace": NS},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "operator"}},
                "template": {"metadata": {"labels": {"app": "operator"}},
                    "spec": {"containers": [{"name": "operator", "image": "ferrosched:e2e"}]}}}}),
            )?;
            let deploys: Api<Deployment> = Api::namespaced(c.clone(), NS);
            let dep = deploys.create(&PostParams::default(), &dep).await?;

            apply(&c, "prod", json!({})).await?;
            let message = degraded(&env, "prod", "NameConflict").await?;
            assert!(
                message.contains("ServiceAccount ferrosched-prod")
                    && message.contains("not controlled by this profile"),
                "{message}"
            );
            apply(&c, "operator", json!({})).await?;
            let message = degraded(&env, "operator", "NameConflict").await?;
            assert!(
                message.contains("ferrosched-operator") && message.contains("reserved"),
                "{message}"
            );

            // The image allowlist: outside it nothing is deployed; inside it deploys.
            apply(&c, "foreign", json!({"image": "evil.example/miner:1"})).await?;
            let message = degraded(&env, "foreign", "ImageNotAllowed").await?;
            assert!(
                message.contains("spec.image") && message.contains("evil.example/miner"),
                "{message}"
            );
            apply(
                &c,
                "allowed",
                json!({"image": "registry.example/team/fs:2"}),
            )
            .await?;
            let image = env
                .wait_for("allowed's Deployment", Duration::from_secs(60), || async {
                    let d = deploys.get_opt("ferrosched-allowed").await.ok()??;
                    let pod = d.spec.template.spec?;
                    pod.containers.first()?.image.clone()
                })
                .await?;
            assert_eq!(image, "registry.example/team/fs:2");

            // A reconcile of every profile has run since (allowed deployed after them): the
            // operator's objects are as they were, and nothing of the refused profiles exists.
            let sa_now = Api::<ServiceAccount>::namespaced(c.clone(), NS)
                .get("ferrosched-prod")
                .await?;
            assert_eq!(
                rv(&sa_now.metadata),
                rv(&sa.metadata),
                "ServiceAccount untouched"
            );
            assert!(sa_now.metadata.owner_references.is_none());
            let role_now = Api::<Role>::namespaced(c.clone(), NS)
                .get("ferrosched-prod")
                .await?;
            assert_eq!(rv(&role_now.metadata), rv(&role.metadata), "Role untouched");
            let dep_now = deploys.get("ferrosched-prod").await?;
            assert_eq!(
                dep_now.metadata.generation, dep.metadata.generation,
                "Deployment spec untouched"
            );
            assert!(dep_now.metadata.owner_references.is_none());
            let lease_now = leases.get("ferrosched-operator").await?;
            assert!(
                lease_now.metadata.owner_references.is_none(),
                "the operator's Lease is not adopted"
            );
            assert_eq!(lease_now.metadata.labels, op_lease.metadata.labels);
            for p in ["prod", "operator", "foreign"] {
                assert!(
                    fixtures::profile_bindings(&c, p).await?.is_empty(),
                    "no ClusterRoleBinding for {p}"
                );
            }
            assert!(deploys.get_opt("ferrosched-foreign").await?.is_none());

            // Once the clash is gone (the release uninstalled), the profile deploys.
            Api::<ServiceAccount>::namespaced(c.clone(), NS)
                .delete("ferrosched-prod", &Default::default())
                .await?;
            Api::<Role>::namespaced(c.clone(), NS)
                .delete("ferrosched-prod", &Default::default())
                .await?;
            deploys
                .delete("ferrosched-prod", &Default::default())
                .await?;
            env.wait_for(
                "prod deployed once the names are free",
                Duration::from_secs(90),
                || async {
                    let d = deploys.get_opt("ferrosched-prod").await.ok()??;
                    let owners = d.metadata.owner_references?;
                    owners
                        .iter()
                        .any(|o| o.kind == "SchedulerProfile" && o.name == "prod")
                        .then_some(())
                },
            )
            .await?;
            Ok(())
        })
        .await
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn a_refused_pod_template_field_applies_nothing() -> anyhow::Result<()> {
    TestEnv::start().await?.run(|env| async move {
        let c = env.client.clone();
        let _op = operator(&env).await?;
        let deploys: Api<Deployment> = Api::namespaced(c.clone(), NS);
        let profiles: Api<SchedulerProfile> = Api::all(c.clone());

        // A new profile: refused in the dry run, so not even its ServiceAccount exists.
        apply(&c, "fresh", json!({"tolerations": [{"key": "k", "operator": "Bogus"}]})).await?;
        let message = degraded(&env, "fresh", "Rejected").await?;
        assert!(message.contains("tolerations[0].operator") && message.contains("Bogus"), "{message}");
        assert!(Api::<ServiceAccount>::namespaced(c.clone(), NS).get_opt("ferrosched-fresh").await?.is_none());
        assert!(fixtures::profile_bindings(&c, "fresh").await?.is_empty());

        // A running profile: every bad edit leaves its Deployment and ConfigMaps alone.
        apply(&c, "run", json!({})).await?;
        let before = env.wait_for("run's Deployment", Duration::from_secs(60), || async {
            deploys.get_opt("ferrosched-run").await.ok()?
        }).await?;
        let config_maps: Api<ConfigMap> = Api::namespaced(c.clone(), NS);
        let selector = kube::api::ListParams::default().labels("ferrosched.dev/profile=run");
        let cms_before = config_maps.list(&selector).await?.items.len();
        let edits = [
            (json!({"tolerations": [{"key": "k", "operator": "Bogus"}]}), "Rejected", "tolerations[0].operator"),
            (json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Near"}]}]}}}}), "Rejected", "operator"),
            (json!({"resources": {"requests": {"cpu": "lots"}}}), "InvalidConfig", "spec.resources.requests.cpu"),
            (json!({"image": ""}), "InvalidConfig", "spec.image: Required value"),
            // A change of config too: its new ConfigMap must not be created either.
            (json!({"percentageOfNodesToScore": 40, "tolerations": [{"key": "k", "operator": "Bogus"}]}), "Rejected", "tolerations[0].operator"),
        ];
        for (spec, reason, field) in edits {
            apply(&c, "run", spec.clone()).await?;
            let message = degraded(&env, "run", reason).await.map_err(|e| anyhow::anyhow!("{spec}: {e}"))?;
            assert!(message.contains(field), "{spec}: {message}");
            let now = deploys.get("ferrosched-run").await?;
            assert_eq!(now.metadata.generation, before.metadata.generation, "{spec}: the running Deployment's spec is untouched");
            assert_eq!(config_maps.list(&selector).await?.items.len(), cms_before, "{spec}: no ConfigMap applied");
        }
        // Steady: no status rewrite loop while the bad spec stays.
        let rv = profiles.get("run").await?.metadata.resource_version;
        tokio::time::sleep(Duration::from_secs(12)).await; // longer than the 10 s error retry
        assert_eq!(profiles.get("run").await?.metadata.resource_version, rv, "no write while nothing changes");

        // A valid edit recovers.
        apply(&c, "run", json!({"percentageOfNodesToScore": 40})).await?;
        env.wait_for("run not Degraded", Duration::from_secs(60), || async {
            let p = profiles.get("run").await.ok()?;
            let s = p.status?;
            (s.observed_generation == p.metadata.generation).then_some(())?;
            s.conditions.iter().any(|c| c.type_ == "Degraded" && c.status == "False").then_some(())
        }).await?;
        Ok(())
    }).await
}
