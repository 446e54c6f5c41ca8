//! The harness itself: a dead API server fails the run with a message instead of hanging,
//! and stopping leaves no process behind.

use std::time::Duration;

use ferrosched_e2e::TestEnv;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh)"]
async fn a_dead_api_server_fails_the_wait_with_a_message() -> anyhow::Result<()> {
    let env = TestEnv::start().await?;
    let pid = env
        .pid_of("kube-apiserver")
        .await
        .ok_or_else(|| anyhow::anyhow!("no apiserver pid"))?;
    let etcd = env
        .pid_of("etcd")
        .await
        .ok_or_else(|| anyhow::anyhow!("no etcd pid"))?;
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let started = std::time::Instant::now();
    let err = env
        .wait_for(
            "a namespace that never appears",
            Duration::from_secs(120),
            || async { namespaces.get("never").await.ok() },
        )
        .await
        .expect_err("the wait must fail");
    let text = err.to_string();
    assert!(
        text.contains("kube-apiserver exited unexpectedly"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "failed fast, not at the timeout"
    );
    env.stop().await.ok();
    // Every component is gone.
    let alive = std::path::Path::new(&format!("/proc/{etcd}")).exists();
    assert!(!alive, "etcd ({etcd}) still running after stop");
    Ok(())
}
