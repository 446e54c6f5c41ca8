//! Executing plans against a scripted API server: the exact requests, nothing more.

use ferrosched_crds::SchedulerProfile;
use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use serde_json::{Value, json};

use crate::apply::{Writer, execute};
use crate::metrics::Metrics;
use crate::plan::plan;
use crate::snapshot::Snapshot;
use crate::test_support::{fresh, minimal, settings};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// Answers every request with its own body (a fine stand-in for the stored object) and
/// records `METHOD path?query` lines, until the client is dropped.
async fn serve(mut handle: Handle) -> Vec<(String, Value)> {
    let mut seen = Vec::new();
    while let Some((req, respond)) = handle.next_request().await {
        let line = format!("{} {}", req.method(), req.uri());
        let bytes = req.into_body().collect_bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let mut reply = body.clone();
        if let Some(obj) = reply.as_object_mut() {
            obj.entry("metadata")
                .or_insert_with(|| json!({"name": "demo"}));
            obj.entry("spec").or_insert_with(|| json!({}));
        }
        respond.send_response(Response::new(Body::from(
            serde_json::to_vec(&reply).unwrap_or_default(),
        )));
        seen.push((line, body));
    }
    seen
}

async fn run_plan(profile: &SchedulerProfile, snap: &Snapshot) -> Vec<(String, Value)> {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(serve(handle));
    {
        let client = Client::new(service, "default");
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "ferrosched-operator".into(),
                instance: Some("test".into()),
            },
        );
        let metrics = Metrics::default();
        let writer = Writer {
            client: &client,
            namespace: "ferrosched-system",
            recorder: &recorder,
            metrics: &metrics,
        };
        let plan = plan(
            profile,
            std::slice::from_ref(profile),
            &settings(),
            snap,
            jiff::Timestamp::UNIX_EPOCH,
        );
        if let Err(e) = execute(&writer, profile, &plan).await {
            panic!("execute failed: {e}");
        }
    }
    server.await.unwrap_or_default()
}

const SSA: &str = "?&force=true&fieldManager=ferrosched-operator";

#[tokio::test]
async fn a_new_profile_is_applied_server_side_under_one_field_manager() {
    let requests = run_plan(&minimal("demo"), &fresh()).await;
    let lines: Vec<&str> = requests.iter().map(|(l, _)| l.as_str()).collect();
    let ns = "/namespaces/ferrosched-system";
    let groups = [
        "base",
        "default-preemption",
        "dynamic-resources",
        "inter-pod-affinity",
        "node-volume-limits",
        "pod-topology-spread",
        "volume-binding",
        "volume-restrictions",
        "volume-zone",
    ];
    let bindings = groups.iter().map(|g| {
        format!(
            "PATCH /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ferrosched:scheduler:demo:{g}{SSA}"
        )
    });
    let mut expected = vec![format!(
        "PATCH /api/v1{ns}/serviceaccounts/ferrosched-demo{SSA}"
    )];
    expected.extend(bindings);
    expected.extend([
        format!("PATCH /apis/rbac.authorization.k8s.io/v1{ns}/roles/ferrosched-demo{SSA}"),
        format!("PATCH /apis/rbac.authorization.k8s.io/v1{ns}/rolebindings/ferrosched-demo{SSA}"),
        format!(
            "PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings/ferrosched-demo-auth-reader{SSA}"
        ),
        format!("PATCH /apis/coordination.k8s.io/v1{ns}/leases/ferrosched-demo{SSA}"),
    ]);
    assert_eq!(
        lines[..expected.len()],
        expected.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    let rest: Vec<&str> = lines[expected.len()..]
        .iter()
        .map(|l| l.split('?').next().unwrap_or_default())
        .collect();
    assert!(
        rest[0].starts_with(&format!(
            "PATCH /api/v1{ns}/configmaps/ferrosched-demo-config-"
        )),
        "{rest:?}"
    );
    assert_eq!(
        rest[1..],
        [
            format!("PATCH /api/v1{ns}/services/ferrosched-demo").as_str(),
            &format!("PATCH /apis/apps/v1{ns}/deployments/ferrosched-demo"),
            &format!("PATCH /apis/policy/v1{ns}/poddisruptionbudgets/ferrosched-demo"),
            "PATCH /apis/ferrosched.dev/v1alpha1/schedulerprofiles/demo/status",
            "POST /apis/events.k8s.io/v1/namespaces/default/events",
        ]
    );
    let (_, status) = &requests[expected.len() + 4];
    assert_eq!(status["kind"], "SchedulerProfile");
    assert_eq!(status["status"]["schedulerName"], "demo");
}

#[tokio::test]
async fn an_invalid_profile_only_gets_its_status_and_a_warning() {
    let mut p = minimal("demo");
    p.spec.plugin_config = vec![ferrosched_crds::PluginConfig {
        name: "Nope".into(),
        args: None,
    }];
    let requests = run_plan(&p, &fresh()).await;
    let lines: Vec<String> = requests
        .iter()
        .map(|(l, _)| l.split('?').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "PATCH /apis/ferrosched.dev/v1alpha1/schedulerprofiles/demo/status",
            "POST /apis/events.k8s.io/v1/namespaces/default/events"
        ]
    );
    let event = &requests[1].1;
    assert_eq!(
        (event["type"].as_str(), event["reason"].as_str()),
        (Some("Warning"), Some("InvalidConfig"))
    );
    assert_eq!(event["regarding"]["name"], "demo");
}
