//! Label sets of the scheduler metric families.
//!
//! Fixed label values are `&'static str` and the profile name is a shared `Arc<str>`, so
//! building a label set to look a series up never allocates.

use std::fmt;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};

/// `{result, profile}` of `scheduler_schedule_attempts_total` and
/// `scheduler_scheduling_attempt_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(super) struct ResultProfile {
    pub result: &'static str,
    pub profile: Arc<str>,
}

impl EncodeLabelSet for ResultProfile {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        ("result", self.result).encode(encoder.encode_label())?;
        ("profile", &*self.profile).encode(encoder.encode_label())
    }
}

/// `{extension_point, status, profile}` of
/// `scheduler_framework_extension_point_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(super) struct ExtensionPointStatus {
    pub extension_point: &'static str,
    pub status: &'static str,
    pub profile: Arc<str>,
}

impl EncodeLabelSet for ExtensionPointStatus {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        ("extension_point", self.extension_point).encode(encoder.encode_label())?;
        ("status", self.status).encode(encoder.encode_label())?;
        ("profile", &*self.profile).encode(encoder.encode_label())
    }
}

/// A single fixed label, e.g. `{queue="active"}` or `{attempts="3"}`.
pub(super) type OneStatic = [(&'static str, &'static str); 1];

/// `{queue, event}` of `scheduler_queue_incoming_pods_total`.
pub(super) type QueueEvent = [(&'static str, &'static str); 2];

/// `{name}` of `leader_election_master_status`.
pub(super) type LeaseName = [(&'static str, String); 1];

/// Values of the `attempts` label of `scheduler_pod_scheduling_sli_duration_seconds`;
/// upstream caps the label at `15+` to bound cardinality.
const ATTEMPT_LABELS: [&str; 16] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15+",
];

/// The `attempts` label value for a pod scheduled after `attempts` attempts.
pub(super) fn attempts_label(attempts: u32) -> &'static str {
    ATTEMPT_LABELS[(attempts as usize).min(ATTEMPT_LABELS.len() - 1)]
}
