//! Every length the API allows: the CRD bounds the profile name (52, so Service
//! `ferrosched-<name>` fits 63) and the scheduler name (a DNS subdomain of at most 253),
//! at the door; at those maximum lengths every child is created, and the operator's and
//! the scheduler's Events are accepted.

use std::time::Duration;

use ferrosched_crds::SchedulerProfile;
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::operator::{NS, apply_spec, condition, start};
use ferrosched_e2e::{TestEnv, operands, procs};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

/// A DNS subdomain of exactly 253 characters: four 62-character labels and a 1-character one.
fn longest_scheduler_name() -> String {
    let label = |c: char| std::iter::repeat_n(c, 62).collect::<String>();
    format!(
        "{}.{}.{}.{}.e",
        label('a'),
        label('b'),
        label('c'),
        label('d')
    )
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn the_longest_names_allowed_deploy_and_their_events_are_accepted() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            env.ready_nodes(&[NodeSpec::standard("node-0")]).await?;
            let (_op, _scrape) = start(&env, &[]).await?;
            let name = format!("l{}", "o".repeat(50) + "n");
            assert_eq!(name.len(), 52);
            let scheduler = longest_scheduler_name();
            assert_eq!(scheduler.len(), 253);

            // One character more, or a name no pod could carry, is refused at the door.
            for (n, spec, field) in [
                (format!("{name}g"), json!({}), "metadata.name"),
                (
                    "ok".to_string(),
                    json!({"schedulerName": format!("{scheduler}x")}),
                    "spec.schedulerName",
                ),
                (
                    "ok".to_string(),
                    json!({"schedulerName": "Not_A_Name"}),
                    "spec.schedulerName",
                ),
            ] {
                let err = apply_spec(&c, &n, spec.clone())
                    .await
                    .expect_err(&format!("{n} {spec}"));
                assert!(err.to_string().contains(field), "{n} {spec}: {err}");
            }

            apply_spec(
                &c,
                &name,
                json!({"schedulerName": scheduler, "replicas": 1}),
            )
            .await?;
            let child = format!("ferrosched-{name}");
            env.wait_for(
                "every child at the longest names",
                Duration::from_secs(90),
                || async {
                    Api::<Deployment>::namespaced(c.clone(), NS)
                        .get_opt(&child)
                        .await
                        .ok()??;
                    Api::<Service>::namespaced(c.clone(), NS)
                        .get_opt(&child)
                        .await
                        .ok()??;
                    Api::<ClusterRoleBinding>::all(c.clone())
                        .get_opt(&format!("ferrosched:scheduler:{name}:base"))
                        .await
                        .ok()??;
                    Api::<RoleBinding>::namespaced(c.clone(), "kube-system")
                        .get_opt(&format!("{child}-auth-reader"))
                        .await
                        .ok()??;
                    let p = Api::<SchedulerProfile>::all(c.clone())
                        .get(&name)
                        .await
                        .ok()?;
                    p.status?.config_map_name
                },
            )
            .await?;
            let degraded = condition(&c, &name, "Degraded").await;
            assert_eq!(
                degraded.as_ref().map(|d| d.0.as_str()),
                Some("False"),
                "{degraded:?}"
            );
            let events: Api<Event> = Api::namespaced(c.clone(), "default");
            let on_profile = events
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|e| {
                    e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name.as_str())
                })
                .count();
            assert!(
                on_profile > 0,
                "the operator's Events on the profile were accepted"
            );

            // The scheduler, run with the operator's config and args, reports at those lengths.
            let operand = operands::prepare(
                &c,
                &env.server,
                &env.ca_pem,
                NS,
                &name,
                &env.dir.join("operand"),
            )
            .await?;
            let args = operand.args(&env.dir.join("certs"))?;
            let _sched = env.spawn("scheduler", &procs::binary("ferrosched-scheduler"), &args)?;
            let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
            pods.create(
                &PostParams::default(),
                &fixtures::pod("default", "fits", &scheduler, "100m", "100Mi"),
            )
            .await?;
            pods.create(
                &PostParams::default(),
                &fixtures::pod("default", "too-big", &scheduler, "64", "100Mi"),
            )
            .await?;
            for (pod, reason) in [("fits", "Scheduled"), ("too-big", "FailedScheduling")] {
                let e = env
                    .wait_for(
                        &format!("{reason} for {pod}"),
                        Duration::from_secs(60),
                        || async {
                            events
                                .list(&ListParams::default())
                                .await
                                .ok()?
                                .items
                                .into_iter()
                                .find(|e| {
                                    e.reason.as_deref() == Some(reason)
                                        && e.regarding.as_ref().and_then(|r| r.name.as_deref())
                                            == Some(pod)
                                })
                        },
                    )
                    .await?;
                let controller = e.reporting_controller.unwrap_or_default();
                let instance = e.reporting_instance.unwrap_or_default();
                assert!(
                    !controller.is_empty() && instance.len() <= 128,
                    "{controller} {instance}"
                );
            }
            Ok(())
        })
        .await
}
