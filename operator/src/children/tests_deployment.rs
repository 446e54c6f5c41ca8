//! The Deployment builder, from a profile as a user writes it.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::identity;
use crate::test_support::{FULL, desired, minimal, profile, settings, valid};

#[test]
fn deployment_of_a_minimal_profile() {
    let p = minimal("demo");
    let d = desired(&p).deployment;
    assert_eq!(d.metadata.name.as_deref(), Some("ferrosched-demo"));
    assert_eq!(d.metadata.namespace.as_deref(), Some("ferrosched-system"));
    let spec = &d.spec;
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(
        spec.selector.match_labels,
        Some(identity::selector_labels("demo"))
    );
    assert_eq!(spec.progress_deadline_seconds, Some(120));
    let rolling = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .expect("rolling update");
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    let meta = spec.template.metadata.as_ref().expect("template metadata");
    assert_eq!(meta.labels, Some(identity::labels("demo")));
    // The hash covers the configuration and the image.
    let hash = crate::config_ref::ConfigRef::desired(&p, &settings(), &valid(&p).rendered).hash;
    assert_ne!(hash, valid(&p).rendered.hash);
    assert_eq!(
        meta.annotations
            .as_ref()
            .and_then(|a| a.get("ferrosched.dev/config-hash")),
        Some(&hash)
    );

    let pod = spec.template.spec.as_ref().expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some("ferrosched-demo"));
    let psc = pod.security_context.as_ref().expect("pod security context");
    assert_eq!(
        (psc.run_as_non_root, psc.run_as_user),
        (Some(true), Some(65532))
    );
    assert_eq!(
        psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );
    let anti = pod
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .expect("default anti-affinity");
    let term = &anti
        .preferred_during_scheduling_ignored_during_execution
        .as_ref()
        .expect("preferred")[0];
    assert_eq!(
        term.pod_affinity_term.topology_key,
        "kubernetes.io/hostname"
    );

    let c = &pod.containers[0];
    assert_eq!(c.name, "scheduler");
    assert_eq!(c.image.as_deref(), Some("ferrosched:test"));
    assert_eq!(c.command, Some(vec!["ferrosched-scheduler".to_string()]));
    assert_eq!(
        c.args.clone().unwrap_or_default(),
        [
            "--config=/etc/ferrosched/config.yaml",
            "--leader-elect=true",
            "--secure-port=10259",
            "--tls-cert-file=/var/run/ferrosched/tls/tls.crt",
            "--tls-private-key-file=/var/run/ferrosched/tls/tls.key",
            "-v=0"
        ]
    );
    let tls = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "tls")
        .and_then(|v| v.secret.as_ref())
        .and_then(|s| s.secret_name.clone());
    assert_eq!(tls.as_deref(), Some("ferrosched-scheduler-tls"));
    let mounts = c.volume_mounts.clone().unwrap_or_default();
    assert!(
        mounts.iter().any(|m| m.name == "tls"
            && m.mount_path == "/var/run/ferrosched/tls"
            && m.read_only == Some(true)),
        "{mounts:?}"
    );
    // Without the operator's CA, the scheduler signs its own (in an emptyDir).
    let own = crate::settings::Settings {
        serving_secret: None,
        ..settings()
    };
    let (_, args) = crate::children::command(&minimal("demo"), &own);
    assert!(
        args.contains(&"--cert-dir=/var/run/ferrosched/certs".to_string()),
        "{args:?}"
    );
    assert!(!args.iter().any(|a| a.starts_with("--tls-")), "{args:?}");
    for (probe, path) in [
        (&c.liveness_probe, "/livez"),
        (&c.readiness_probe, "/readyz"),
    ] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("http probe");
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(get.scheme.as_deref(), Some("HTTPS"));
        assert_eq!(get.port, IntOrString::Int(10259));
    }
    let sc = c
        .security_context
        .as_ref()
        .expect("container security context");
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_string()])
    );
    let requests = c
        .resources
        .as_ref()
        .and_then(|r| r.requests.clone())
        .expect("requests");
    assert_eq!(requests.get("cpu").map(|q| q.0.as_str()), Some("100m"));
    assert_eq!(requests.get("memory").map(|q| q.0.as_str()), Some("128Mi"));
    assert!(c.resources.as_ref().is_some_and(|r| r.limits.is_none()));

    let mounts: Vec<(&str, &str, Option<bool>)> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.name.as_str(), m.mount_path.as_str(), m.read_only))
        .collect();
    assert_eq!(
        mounts,
        [
            ("config", "/etc/ferrosched", Some(true)),
            ("tmp", "/tmp", None),
            ("tls", "/var/run/ferrosched/tls", Some(true))
        ]
    );
    let volumes = pod.volumes.as_ref().expect("volumes");
    let cm = volumes[0].config_map.as_ref().expect("config volume");
    assert_eq!(cm.name, format!("ferrosched-demo-config-{hash}"));
    assert!(volumes[1].empty_dir.is_some() && volumes[2].secret.is_some());
}

#[test]
fn deployment_takes_placement_and_sizing_from_the_spec() {
    let p = profile(FULL);
    let d = desired(&p).deployment;
    assert_eq!(d.metadata.name.as_deref(), Some("ferrosched-packer"));
    assert_eq!(d.spec.replicas, Some(3));
    let pod = d.spec.template.spec.expect("pod spec");
    assert_eq!(
        pod.priority_class_name.as_deref(),
        Some("system-cluster-critical")
    );
    assert_eq!(pod.node_selector.map(|m| m.len()), Some(1));
    assert_eq!(pod.tolerations.map(|t| t.len()), Some(1));
    let affinity = pod.affinity.expect("affinity");
    assert!(
        affinity.node_affinity.is_some() && affinity.pod_anti_affinity.is_none(),
        "the user's affinity replaces the default"
    );
    let c = &pod.containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some("registry.example/ferrosched:1.2.3")
    );
    assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert!(c.args.iter().flatten().any(|a| a == "-v=4"));
    let resources = c.resources.as_ref().expect("resources");
    assert_eq!(
        resources
            .requests
            .as_ref()
            .and_then(|r| r.get("cpu"))
            .map(|q| q.0.as_str()),
        Some("200m")
    );
    assert_eq!(
        resources
            .limits
            .as_ref()
            .and_then(|r| r.get("memory"))
            .map(|q| q.0.as_str()),
        Some("512Mi")
    );
}
