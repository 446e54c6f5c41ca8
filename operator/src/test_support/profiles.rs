//! The operator's settings in tests, and profiles written as YAML, the way a user applies
//! them: validated and built.

use ferrosched_crds::SchedulerProfile;

use crate::children::{Desired, build};
use crate::config_ref::ConfigRef;
use crate::settings::Settings;
use crate::validate::{Valid, validate};

/// Settings of the tests: namespace `ferrosched-system`, image `ferrosched:test`.
pub fn settings() -> Settings {
    Settings {
        namespace: "ferrosched-system".to_string(),
        default_image: "ferrosched:test".to_string(),
        allowed_images: Vec::new(),
        reserved_names: vec!["ferrosched-operator".to_string()],
        grant_role_prefix: crate::identity::DEFAULT_GRANT_ROLE_PREFIX.to_string(),
        serving_secret: Some(crate::serving::SCHEDULER_SECRET.to_string()),
    }
}

/// A profile from YAML; server-set metadata (uid, generation, creationTimestamp) is filled
/// in when the YAML has none.
pub fn profile(yaml: &str) -> SchedulerProfile {
    let mut p: SchedulerProfile = match serde_saphyr::from_str(yaml) {
        Ok(p) => p,
        Err(e) => panic!("test profile does not parse: {e}\n{yaml}"),
    };
    let name = p.metadata.name.clone().unwrap_or_default();
    p.metadata.uid.get_or_insert_with(|| format!("uid-{name}"));
    p.metadata.generation.get_or_insert(1);
    p.metadata.creation_timestamp.get_or_insert_with(|| {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-01T00:00:00Z".parse().unwrap_or_default(),
        )
    });
    p
}

/// The smallest profile: `name`, everything defaulted.
pub fn minimal(name: &str) -> SchedulerProfile {
    profile(&format!(
        "apiVersion: ferrosched.dev/v1alpha1\nkind: SchedulerProfile\nmetadata:\n  name: {name}\nspec: {{}}\n"
    ))
}

/// `p` validated alone; panics when it is invalid.
pub fn valid(p: &SchedulerProfile) -> Valid {
    match validate(p, std::slice::from_ref(p), "ferrosched-system") {
        Ok(v) => v,
        Err(e) => panic!("profile should be valid: {}", e.message()),
    }
}

/// Every child of `p`, the Deployment running the desired configuration.
pub fn desired(p: &SchedulerProfile) -> Desired {
    let v = valid(p);
    let deployed = ConfigRef::desired(p, &settings(), &v.rendered);
    build(p, &settings(), &v, &deployed)
}

/// A profile using most of the spec.
pub const FULL: &str = r#"
apiVersion: ferrosched.dev/v1alpha1
kind: SchedulerProfile
metadata:
  name: packer
spec:
  schedulerName: bin-packer
  replicas: 3
  image: registry.example/ferrosched:1.2.3
  imagePullPolicy: IfNotPresent
  preset: HighNodeUtilization
  logLevel: 4
  resources:
    requests: {cpu: 200m, memory: 256Mi}
    limits: {memory: 512Mi}
  nodeSelector:
    node-role.kubernetes.io/control-plane: ""
  tolerations:
  - key: node-role.kubernetes.io/control-plane
    operator: Exists
    effect: NoSchedule
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - {key: kubernetes.io/os, operator: In, values: [linux]}
  priorityClassName: system-cluster-critical
  leaderElection: {leaseDuration: 30s, renewDeadline: 20s, retryPeriod: 4s}
  clientConnection: {qps: 100, burst: 200}
  percentageOfNodesToScore: 50
  podInitialBackoffSeconds: 2
  podMaxBackoffSeconds: 20
"#;
