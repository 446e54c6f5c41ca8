//! The scheduler's Lease, created by the operator so the scheduler needs no `create` (pure).

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::coordination::v1::Lease;

use crate::identity;
use crate::settings::Settings;

/// `ferrosched-<profile>` with no spec: the holder fields belong to the scheduler replicas,
/// so the operator's apply never owns (or fights over) them.
pub fn lease(profile: &SchedulerProfile, s: &Settings) -> Lease {
    let p = identity::profile_name(profile);
    Lease {
        metadata: identity::child_meta(profile, identity::child_name(p), Some(&s.namespace)),
        spec: None,
    }
}
