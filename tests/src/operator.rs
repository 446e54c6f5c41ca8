//! The operator as the end-to-end tests run it: a local process against the test control
//! plane, its profiles' conditions, and its API-write counter.

use std::time::Duration;

use ferrosched_crds::SchedulerProfile;
use kube::api::{Api, Patch, PatchParams};

use crate::TestEnv;
use crate::fixtures::{self, MANAGER};
use crate::operands::free_port;
use crate::procs::{self, Spawned};

/// Namespace of the operands in these tests.
pub const NS: &str = "ferrosched-system";

/// Where and how to read the operator's metrics (HTTPS, a token allowed `get /metrics`).
pub struct Scrape {
    /// The operator's secure port.
    pub port: u16,
    /// A bearer token allowed to read `/metrics`.
    pub token: String,
}

/// Installs the CRD and the restricted namespace, then starts the operator with image
/// `ferrosched:e2e`, no leader election, and `extra` flags (each replaces a default of the same name).
pub async fn start(env: &TestEnv, extra: &[String]) -> anyhow::Result<(Spawned, Scrape)> {
    let c = env.client.clone();
    fixtures::install_with_restricted_namespace(&c, NS).await?;
    let port = free_port();
    let mut args = vec![
        format!("--kubeconfig={}", env.kubeconfig.display()),
        format!("--namespace={NS}"),
        "--scheduler-image=ferrosched:e2e".into(),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        "--leader-elect=false".into(),
    ];
    let flag = |a: &String| a.split('=').next().unwrap_or_default().to_string();
    args.retain(|a| !extra.iter().any(|e| flag(e) == flag(a)));
    args.extend(extra.iter().cloned());
    let op = env.spawn("operator", &procs::binary("ferrosched-operator"), &args)?;
    let token = fixtures::metrics_reader_token(&c, NS).await?;
    Ok((op, Scrape { port, token }))
}

/// Server-side applies profile `name` with `spec`, as the tests' field manager.
pub async fn apply_spec(
    c: &kube::Client,
    name: &str,
    spec: serde_json::Value,
) -> anyhow::Result<()> {
    let p = serde_json::json!({"apiVersion": "ferrosched.dev/v1alpha1", "kind": "SchedulerProfile",
        "metadata": {"name": name}, "spec": spec});
    Api::<SchedulerProfile>::all(c.clone())
        .patch(
            name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&p),
        )
        .await?;
    Ok(())
}

/// Condition `type_` of profile `name`: status, reason, message.
pub async fn condition(
    c: &kube::Client,
    name: &str,
    type_: &str,
) -> Option<(String, String, String)> {
    let p = Api::<SchedulerProfile>::all(c.clone())
        .get(name)
        .await
        .ok()?;
    p.status?
        .conditions
        .into_iter()
        .find(|x| x.type_ == type_)
        .map(|x| (x.status, x.reason, x.message))
}

/// The operator's `ferrosched_operator_api_writes_total`, summed over kinds.
pub async fn writes(scrape: &Scrape) -> anyhow::Result<f64> {
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()?;
    let response = http
        .get(format!("https://127.0.0.1:{}/metrics", scrape.port))
        .bearer_auth(&scrape.token)
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 200,
        "operator /metrics answered {}",
        response.status()
    );
    let body = response.text().await?;
    Ok(body
        .lines()
        .filter(|l| l.starts_with("ferrosched_operator_api_writes_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// Waits until profile `name` is Available and rolled out (Progressing=False): only then is
/// its configuration recorded as the last good one in `status.configMapName`.
pub async fn wait_rolled_out(env: &TestEnv, c: &kube::Client, name: &str) -> anyhow::Result<()> {
    env.wait_for(
        &format!("{name} Available and rolled out"),
        Duration::from_secs(180),
        || async {
            condition(c, name, "Available")
                .await
                .filter(|(s, _, _)| s == "True")?;
            condition(c, name, "Progressing")
                .await
                .filter(|(s, _, _)| s == "False")
        },
    )
    .await
    .map(|_| ())
}
