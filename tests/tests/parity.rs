//! Upstream parity on a fresh control plane (issue #20): a scheduler started with
//! `--leader-elect=true` and no Lease creates `kube-system/kube-scheduler` (upstream's
//! default lock) and binds a pod; its secure port authenticates the control plane's admin
//! client certificate (CA from the `extension-apiserver-authentication` ConfigMap), turns
//! an unknown CA's certificate away and still takes tokens; `/metrics` carries the
//! leader gauge named `kube-scheduler` and the queue, cache and binding gauges.

use std::time::Duration;

use ferrosched_e2e::TestEnv;
use ferrosched_e2e::fixtures::{self, NodeSpec};
use ferrosched_e2e::operands::free_port;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

const SCHEDULER: &str = "parity";

/// No `leaderElection` section: upstream's defaults (lock `kube-system/kube-scheduler`).
fn config(kubeconfig: &std::path::Path) -> String {
    format!(
        "apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: {}
profiles:
- schedulerName: {SCHEDULER}
",
        kubeconfig.display()
    )
}

/// A client certificate `CN=admin, O=system:masters` from a CA the cluster never saw
/// (PEM certificate followed by its key).
fn stranger_identity() -> anyhow::Result<Vec<u8>> {
    let mut ca = CertificateParams::default();
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "stranger-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name.push(DnType::CommonName, "admin");
    leaf.distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate()?;
    let cert = leaf.signed_by(&key, &Issuer::from_params(&ca, &ca_key))?;
    Ok(format!("{}{}", cert.pem(), key.serialize_pem()).into_bytes())
}

/// An HTTPS client presenting `identity` (PEM cert + key), if any.
fn http(identity: Option<Vec<u8>>) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(5));
    if let Some(pem) = identity {
        b = b.identity(reqwest::Identity::from_pem(&pem)?);
    }
    Ok(b.build()?)
}

async fn get(http: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    let r = http.get(url).send().await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().await.ok()?))
}

#[tokio::test]
#[ignore = "needs the control plane binaries (hack/build-control-plane.sh) and the workspace binaries"]
async fn leader_elect_creates_the_lease_and_client_certs_authenticate() -> anyhow::Result<()> {
    TestEnv::start()
        .await?
        .run(|env| async move {
            let c = env.client.clone();
            env.ready_nodes(&[NodeSpec::standard("parity-node")])
                .await?;
            let leases: Api<Lease> = Api::namespaced(c.clone(), "kube-system");
            assert!(leases.get_opt("kube-scheduler").await?.is_none());

            let path = env.dir.join("parity-config.yaml");
            std::fs::write(&path, config(&env.kubeconfig))?;
            let port = free_port();
            let _sched = env.spawn_scheduler("parity", &path, port, &["--leader-elect=true"])?;

            // 1. The Lease is created and held, as kube-scheduler does it.
            let holder = env
                .wait_for(
                    "kube-system/kube-scheduler lease",
                    Duration::from_secs(60),
                    || {
                        let leases = leases.clone();
                        async move {
                            let l = leases.get_opt("kube-scheduler").await.ok()??;
                            l.spec?.holder_identity.filter(|h| !h.is_empty())
                        }
                    },
                )
                .await?;
            assert!(holder.contains('_'), "hostname_uuid identity: {holder}");

            // ... and the leader binds.
            let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
            let pod = fixtures::pod("default", "parity-pod", SCHEDULER, "100m", "100Mi");
            pods.create(&PostParams::default(), &pod).await?;
            let node = env
                .wait_for("parity-pod bound", Duration::from_secs(60), || {
                    let pods = pods.clone();
                    async move { pods.get("parity-pod").await.ok()?.spec?.node_name }
                })
                .await?;
            assert_eq!(node, "parity-node");
            // A pod no node fits, for scheduler_unschedulable_pods.
            let huge = fixtures::pod("default", "parity-huge", SCHEDULER, "1000", "100Mi");
            pods.create(&PostParams::default(), &huge).await?;

            // 2. The admin client certificate (CA from the ConfigMap) reads /metrics.
            let pki = env.dir.join("pki");
            let mut admin = std::fs::read(pki.join("admin.crt"))?;
            admin.extend(std::fs::read(pki.join("admin.key"))?);
            let as_admin = http(Some(admin))?;
            let base = format!("https://127.0.0.1:{port}");
            let metrics = format!("{base}/metrics");
            let want = [
                r#"leader_election_master_status{name="kube-scheduler"} 1"#,
                r#"scheduler_unschedulable_pods{plugin="NodeResourcesFit",profile="parity"} 1"#,
            ];
            let prefixes = [
                r#"scheduler_cache_size{type="nodes"} "#,
                r#"scheduler_cache_size{type="assumed_pods"} "#,
                r#"scheduler_goroutines{operation="binding"} "#,
            ];
            env.wait_for(
                "/metrics by client certificate",
                Duration::from_secs(60),
                || {
                    let (http, url) = (as_admin.clone(), metrics.clone());
                    async move {
                        let (status, body) = get(&http, &url).await?;
                        let has = |w: &str| body.lines().any(|l| l == w);
                        let starts = |p: &str| body.lines().any(|l| l.starts_with(p));
                        (status == 200
                            && want.iter().all(|w| has(w))
                            && prefixes.iter().all(|p| starts(p)))
                        .then_some(body)
                    }
                },
            )
            .await?;
            // scheduler_plugin_execution_duration_seconds appears only once a sampled cycle
            // (10 %, as upstream) has run: its unit tests cover it, not this handful of pods.
            let (status, _) = get(&as_admin, &format!("{base}/debug/pprof/"))
                .await
                .ok_or_else(|| anyhow::anyhow!("pprof request failed"))?;
            assert_eq!(status, 200, "enableProfiling defaults to true");
            // A real CPU profile, which Go's own pprof tool reads.
            // Symbolizing the stacks of a debug binary takes seconds more on a busy
            // machine (CI ran it over the client's 5 s): this request gets a minute.
            let profile = as_admin
                .get(format!("{base}/debug/pprof/profile?seconds=2"))
                .timeout(Duration::from_secs(60))
                .send()
                .await?;
            assert_eq!(profile.status(), 200);
            let file = env.dir.join("cpu.pprof");
            std::fs::write(&file, profile.bytes().await?)?;
            let raw = std::process::Command::new("go")
                .args(["tool", "pprof", "-raw"])
                .arg(&file)
                .output()?;
            let text = String::from_utf8_lossy(&raw.stdout);
            assert!(
                raw.status.success() && text.contains("PeriodType: cpu nanoseconds"),
                "go tool pprof -raw: {text}{}",
                String::from_utf8_lossy(&raw.stderr)
            );
            assert!(text.contains("samples/count cpu/nanoseconds"), "{text}");

            // 3. A certificate from an unknown CA is turned away.
            let (status, _) = get(&http(Some(stranger_identity()?))?, &metrics)
                .await
                .ok_or_else(|| anyhow::anyhow!("request with an unknown CA's cert failed"))?;
            assert!(status == 401 || status == 403, "unknown CA: {status}");
            // Without credentials: anonymous, forbidden.
            let (status, _) = get(&http(None)?, &metrics)
                .await
                .ok_or_else(|| anyhow::anyhow!("anonymous request failed"))?;
            assert_eq!(status, 403);

            // 4. Tokens still work.
            let token = fixtures::metrics_reader_token(&c, "default").await?;
            let body = env.metrics_with_token(&http(None)?, &base, &token).await?;
            assert!(body.contains("scheduler_schedule_attempts_total"));
            Ok(())
        })
        .await
}
