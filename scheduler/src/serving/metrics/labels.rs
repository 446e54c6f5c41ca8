//! Label values and label sets of the scheduler metric families.
//!
//! Fixed label values are `&'static str` and the profile name is a shared `Arc<str>`, so
//! building a label set to look a series up never allocates.

use std::fmt;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};

/// Result of one scheduling attempt (the `result` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// The pod was assigned to a node.
    Scheduled,
    /// No node fits the pod.
    Unschedulable,
    /// An internal scheduler problem.
    Error,
}

impl AttemptResult {
    /// Every result.
    pub const ALL: [AttemptResult; 3] = [Self::Scheduled, Self::Unschedulable, Self::Error];

    /// The label value upstream uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Unschedulable => "unschedulable",
            Self::Error => "error",
        }
    }
}

/// A scheduling queue (the `queue` label of `scheduler_pending_pods` and
/// `scheduler_queue_incoming_pods_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// activeQ.
    Active,
    /// backoffQ.
    Backoff,
    /// Pods that were attempted and found unschedulable.
    Unschedulable,
    /// Pods never attempted because of scheduling gates.
    Gated,
}

impl Queue {
    /// The label value upstream uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Backoff => "backoff",
            Self::Unschedulable => "unschedulable",
            Self::Gated => "gated",
        }
    }
}

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
pub(super) type LeaseName = [(&'static str, &'static str); 1];

/// Values of the `attempts` label of `scheduler_pod_scheduling_sli_duration_seconds`;
/// upstream caps the label at `15+` to bound cardinality.
const ATTEMPT_LABELS: [&str; 16] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15+",
];

/// The `attempts` label value for a pod scheduled after `attempts` attempts.
pub(super) fn attempts_label(attempts: u32) -> &'static str {
    ATTEMPT_LABELS[(attempts as usize).min(ATTEMPT_LABELS.len() - 1)]
}
