//! Tests of the control plane harness against the real binaries.

use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, PostParams};

use super::{ControlPlane, ControlPlaneOptions, Error, process};

#[tokio::test]
#[ignore = "needs control plane binaries"]
async fn starts_stops_and_reports_a_killed_apiserver() {
    let cp = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .expect("start");
    let namespaces: Api<Namespace> = Api::all(cp.client().await);
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .expect("list namespaces")
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect();
    assert!(names.iter().any(|n| n == "kube-system"), "{names:?}");
    assert!(cp.kubeconfig_path().is_file());
    // The token kubeconfig is the same admin, authenticated by bearer token.
    let review = Api::<SelfSubjectReview>::all(cp.token_client().await.expect("token client"))
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .expect("self subject review with the token");
    let user = review.status.and_then(|s| s.user_info).unwrap_or_default();
    assert_eq!(user.username.as_deref(), Some("admin"));
    assert!(
        user.groups
            .unwrap_or_default()
            .iter()
            .any(|g| g == "system:masters"),
        "token user not in system:masters"
    );
    let token_kubeconfig = std::fs::read_to_string(cp.token_kubeconfig_path()).expect("read");
    assert!(token_kubeconfig.contains("tokenFile"), "{token_kubeconfig}");
    let work_dir = cp.work_dir().to_owned();
    cp.stop().await.expect("clean stop");
    assert!(!work_dir.join("etcd").exists(), "etcd data removed on stop");

    // Kill the apiserver behind the harness' back: check_alive must say so, with its log.
    let mut cp = ControlPlane::start(ControlPlaneOptions {
        with_kwok: false,
        ..Default::default()
    })
    .await
    .expect("start");
    let pids: Vec<u32> = ["etcd", "kube-apiserver", "kube-controller-manager"]
        .iter()
        .map(|n| cp.pid_of(n).expect("pid"))
        .collect();
    cp.check_alive().expect("all alive");
    process::signal_group(cp.apiserver_pid(), "KILL");
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = loop {
        match cp.check_alive() {
            Err(e) => break e,
            Ok(()) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Ok(()) => panic!("check_alive did not notice the killed kube-apiserver"),
        }
    };
    assert!(
        matches!(
            err,
            Error::Exited {
                component: "kube-apiserver",
                ..
            }
        ),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("kube-apiserver exited unexpectedly with"),
        "{message}"
    );
    assert!(message.contains("last log lines:"), "{message}");
    cp.stop().await.expect("stop the rest");
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} still exists"
        );
    }
}

#[tokio::test]
async fn missing_binaries_are_reported() {
    let opts = ControlPlaneOptions {
        bin_dir: "/nonexistent/bin".into(),
        ..Default::default()
    };
    let err = ControlPlane::start(opts).await.expect_err("no binaries");
    assert!(
        err.to_string().contains("/nonexistent/bin/etcd not found"),
        "{err}"
    );
}
