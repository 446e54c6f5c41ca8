//! The PodDisruptionBudget, only when there is a standby to keep (pure).

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::identity;
use crate::settings::Settings;

/// `ferrosched-<profile>` as `spec.disruptionBudget` says; unset, minAvailable 1 when
/// replicas > 1 and none otherwise (a PDB on a single replica would block node drains
/// forever). `enabled: false` means none.
pub fn pdb(profile: &SchedulerProfile, s: &Settings) -> Option<PodDisruptionBudget> {
    let budget = profile.spec.disruption_budget.clone().unwrap_or_default();
    if budget.enabled == Some(false) {
        return None;
    }
    let (min_available, max_unavailable) = match (budget.min_available, budget.max_unavailable) {
        (None, None) if profile.spec.replicas <= 1 => return None,
        (None, None) => (Some(IntOrString::Int(1)), None),
        explicit => explicit,
    };
    let p = identity::profile_name(profile);
    Some(PodDisruptionBudget {
        metadata: identity::child_meta(profile, identity::child_name(p), Some(&s.namespace)),
        spec: Some(PodDisruptionBudgetSpec {
            min_available,
            max_unavailable,
            selector: Some(LabelSelector {
                match_labels: Some(identity::selector_labels(p)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}
