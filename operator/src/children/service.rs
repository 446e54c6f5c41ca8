//! The metrics Service in front of the scheduler pods' secure port (pure).

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::identity;
use crate::settings::Settings;

/// `ferrosched-<profile>`, port 10259 named `https`.
pub fn service(profile: &SchedulerProfile, s: &Settings) -> Service {
    let p = identity::profile_name(profile);
    Service {
        metadata: identity::child_meta(profile, identity::child_name(p), Some(&s.namespace)),
        spec: Some(ServiceSpec {
            selector: Some(identity::selector_labels(p)),
            ports: Some(vec![ServicePort {
                name: Some("https".to_string()),
                port: crate::scheduler_pod::SECURE_PORT,
                target_port: Some(IntOrString::Int(crate::scheduler_pod::SECURE_PORT)),
                protocol: Some("TCP".to_string()),
                ..ServicePort::default()
            }]),
            type_: Some("ClusterIP".to_string()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
