//! The scheduler Deployment (pure): restricted pods, probes on the secure port, spread
//! across nodes, rolled without unavailability.

use std::collections::BTreeMap;

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    HTTPGetAction, PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Volume,
    VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::config_ref::ConfigRef;
use crate::identity;
use crate::scheduler_pod::{
    CERT_DIR, CONFIG_DIR, CONFIG_KEY, PROGRESS_DEADLINE_SECONDS, SECURE_PORT, TLS_DIR,
    grace_seconds, leader_elect, renew_deadline_seconds,
};
use crate::settings::Settings;

/// Name of the scheduler container.
pub const CONTAINER: &str = "scheduler";
/// Non-root UID and GID the scheduler runs as.
pub const RUN_AS: i64 = 65532;

/// The scheduler's command line: binary and flags. It serves the operator-issued
/// certificate when there is one (re-read when the Secret is renewed), else its own.
pub fn command(profile: &SchedulerProfile, s: &Settings) -> (Vec<String>, Vec<String>) {
    let mut args = vec![
        format!("--config={}/{}", CONFIG_DIR, CONFIG_KEY),
        format!("--leader-elect={}", leader_elect(profile)),
        format!("--secure-port={}", SECURE_PORT),
    ];
    match &s.serving_secret {
        Some(_) => args.extend([
            format!("--tls-cert-file={}/tls.crt", TLS_DIR),
            format!("--tls-private-key-file={}/tls.key", TLS_DIR),
        ]),
        None => args.push(format!("--cert-dir={}", CERT_DIR)),
    }
    args.push(format!("-v={}", profile.spec.log_level.unwrap_or(0)));
    (vec!["ferrosched-scheduler".to_string()], args)
}

/// `ferrosched-<profile>` running configuration `config`.
pub fn deployment(profile: &SchedulerProfile, s: &Settings, config: &ConfigRef) -> Deployment {
    let p = identity::profile_name(profile);
    Deployment {
        metadata: identity::child_meta(profile, identity::child_name(p), Some(&s.namespace)),
        spec: DeploymentSpec {
            replicas: Some(profile.spec.replicas),
            selector: LabelSelector {
                match_labels: Some(identity::selector_labels(p)),
                ..LabelSelector::default()
            },
            // With an election a new pod starts before an old one stops (it stands by
            // until it wins the Lease). Without one, two pods would both bind: the old
            // one stops first.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(if leader_elect(profile) {
                    RollingUpdateDeployment {
                        max_unavailable: Some(IntOrString::Int(0)),
                        max_surge: Some(IntOrString::Int(1)),
                    }
                } else {
                    RollingUpdateDeployment {
                        max_unavailable: Some(IntOrString::Int(1)),
                        max_surge: Some(IntOrString::Int(0)),
                    }
                }),
            }),
            progress_deadline_seconds: Some(
                profile
                    .spec
                    .progress_deadline_seconds
                    .unwrap_or(PROGRESS_DEADLINE_SECONDS),
            ),
            revision_history_limit: Some(5),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(identity::labels(p)),
                    annotations: Some(BTreeMap::from([(
                        identity::CONFIG_HASH_KEY.to_string(),
                        config.hash.clone(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(profile, s, config)),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

fn pod_spec(profile: &SchedulerProfile, s: &Settings, config: &ConfigRef) -> PodSpec {
    let p = identity::profile_name(profile);
    let spec = &profile.spec;
    let empty_dir = |name: &str| Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    };
    PodSpec {
        service_account_name: Some(identity::child_name(p)),
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            seccomp_profile: Some(runtime_default()),
            ..PodSecurityContext::default()
        }),
        containers: vec![container(profile, s, config)],
        volumes: Some(vec![
            Volume {
                name: "config".to_string(),
                config_map: Some(ConfigMapVolumeSource {
                    name: config.config_map_name.clone(),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
            empty_dir("tmp"),
            match &s.serving_secret {
                Some(secret) => Volume {
                    name: "tls".to_string(),
                    secret: Some(SecretVolumeSource {
                        secret_name: Some(secret.clone()),
                        ..SecretVolumeSource::default()
                    }),
                    ..Volume::default()
                },
                None => empty_dir("certs"),
            },
        ]),
        node_selector: spec.node_selector.clone(),
        tolerations: spec.tolerations.clone(),
        affinity: Some(
            spec.affinity
                .clone()
                .unwrap_or_else(|| spread_across_nodes(p)),
        ),
        priority_class_name: spec.priority_class_name.clone(),
        image_pull_secrets: (!spec.image_pull_secrets.is_empty())
            .then(|| spec.image_pull_secrets.clone()),
        termination_grace_period_seconds: Some(grace_seconds(
            profile,
            renew_deadline_seconds(profile),
        )),
        ..PodSpec::default()
    }
}

fn container(profile: &SchedulerProfile, s: &Settings, config: &ConfigRef) -> Container {
    let (command, args) = command(profile, s);
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    };
    Container {
        name: CONTAINER.to_string(),
        // The image recorded with the configuration: a rollback restores both.
        image: Some(
            config
                .image
                .clone()
                .unwrap_or_else(|| crate::settings::scheduler_image(profile, s)),
        ),
        image_pull_policy: profile.spec.image_pull_policy.clone(),
        command: Some(command),
        args: Some(args),
        ports: Some(vec![ContainerPort {
            name: Some("https".to_string()),
            container_port: SECURE_PORT,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(probe("/livez", 10, 15, 8)),
        // Probed every 2 s: a new replica counts as Ready (and a rollout moves on) about a
        // second after it serves, not up to 10 s later.
        readiness_probe: Some(probe("/readyz", 2, 2, 3)),
        resources: Some(
            profile
                .spec
                .resources
                .clone()
                .unwrap_or_else(default_resources),
        ),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_string()]),
                ..Capabilities::default()
            }),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            seccomp_profile: Some(runtime_default()),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            mount("config", CONFIG_DIR, true),
            mount("tmp", "/tmp", false),
            match s.serving_secret {
                Some(_) => mount("tls", TLS_DIR, true),
                None => mount("certs", CERT_DIR, false),
            },
        ]),
        ..Container::default()
    }
}

fn probe(path: &str, period_seconds: i32, timeout_seconds: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::Int(SECURE_PORT),
            scheme: Some("HTTPS".to_string()),
            ..HTTPGetAction::default()
        }),
        // A zero delay is not stored by the API server (omitempty), so leave it unset.
        initial_delay_seconds: (path == "/livez").then_some(10),
        period_seconds: Some(period_seconds),
        timeout_seconds: Some(timeout_seconds),
        success_threshold: Some(1),
        failure_threshold: Some(failure_threshold),
        ..Probe::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_string(),
        ..SeccompProfile::default()
    }
}

/// Requests cpu 100m, memory 128Mi; no limits.
pub fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("100m".to_string())),
            ("memory".to_string(), Quantity("128Mi".to_string())),
        ])),
        ..ResourceRequirements::default()
    }
}

/// Prefer one replica per node, so a node failure does not take every replica.
fn spread_across_nodes(p: &str) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(identity::selector_labels(p)),
                            ..LabelSelector::default()
                        }),
                        topology_key: "kubernetes.io/hostname".to_string(),
                        ..PodAffinityTerm::default()
                    },
                },
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}
