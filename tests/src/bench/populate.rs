//! Creating nodes and pods in bulk, a bounded number of requests in flight.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};

use super::workload::{NAMESPACE, Workload};

/// Requests in flight while populating the cluster.
pub const CONCURRENCY: usize = 32;

/// Retries a request a few times on errors the API server may return under load.
async fn retry<T, F, Fut>(what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = kube::Result<T>>,
{
    let mut attempt = 0u32;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(kube::Error::Api(s)) if s.code != 429 && s.code < 500 => {
                anyhow::bail!("{what}: {} ({})", s.message, s.code)
            }
            Err(e) if attempt >= 5 => anyhow::bail!("{what}: {e}"),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
    }
}

/// Creates the workload's nodes (status included) and removes the `not-ready` taint the
/// TaintNodesByCondition admission plugin adds on create (no node controller runs here).
pub async fn create_nodes(client: &Client, w: &Workload) -> anyhow::Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    let untaint = serde_json::json!({"spec": {"taints": []}});
    futures::stream::iter(0..w.nodes)
        .map(|i| {
            let (api, node, untaint) = (&api, w.node(i), &untaint);
            async move {
                let name = Workload::node_name(i);
                let (post, patch) = (PostParams::default(), PatchParams::default());
                let untaint = Patch::Merge(untaint);
                retry(&format!("creating node {name}"), || {
                    api.create(&post, &node)
                })
                .await?;
                retry(&format!("untainting node {name}"), || {
                    api.patch(&name, &patch, &untaint)
                })
                .await?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// Creates pods, [`CONCURRENCY`] at a time.
pub async fn create_pods(client: &Client, pods: Vec<Pod>) -> anyhow::Result<()> {
    create_pods_timed(client, pods).await.map(drop)
}

/// Creates pods, [`CONCURRENCY`] at a time; returns when each one's create request was
/// first sent (the start of the latency a user feels).
pub async fn create_pods_timed(
    client: &Client,
    pods: Vec<Pod>,
) -> anyhow::Result<HashMap<String, Instant>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    futures::stream::iter(pods)
        .map(|pod| {
            let api = &api;
            async move {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let post = PostParams::default();
                let sent = Instant::now();
                retry(&format!("creating pod {name}"), || api.create(&post, &pod)).await?;
                Ok::<_, anyhow::Error>((name, sent))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await
}
