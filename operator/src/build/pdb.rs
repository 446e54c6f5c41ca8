//! The PodDisruptionBudget, only when there is a standby to keep (pure).

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Settings;
use crate::names;

/// `ferrosched-<profile>` with minAvailable 1 when replicas > 1, else `None` (a PDB on a
/// single replica would block node drains forever).
pub fn pdb(profile: &SchedulerProfile, s: &Settings) -> Option<PodDisruptionBudget> {
    if profile.spec.replicas <= 1 {
        return None;
    }
    let p = names::profile_name(profile);
    Some(PodDisruptionBudget {
        metadata: names::child_meta(profile, names::child_name(p), Some(&s.namespace)),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(names::selector_labels(p)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}
