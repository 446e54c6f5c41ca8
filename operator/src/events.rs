//! The Events the operator writes on profiles: what raises each one (reason, action,
//! note), decided purely, and the writer that publishes them (I/O).
//!
//! Every Event the operator writes is made here:
//! - `<Degraded reason>` (Warning, `Validate` or `Rollout`): Degraded turned True, or
//!   changed reason or message ([`transitions`]);
//! - [`AVAILABLE`] (Normal, `Rollout`): Available turned True ([`transitions`]);
//! - [`CONFIG_CREATED`] (Normal, `Apply`): a ConfigMap for a new configuration
//!   ([`config_created`]).

use ferrosched_crds::{
    SchedulerProfile, SchedulerProfileStatus, condition_reasons as reason, condition_types as ty,
};
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};
use tracing::warn;

use crate::metrics::Metrics;

/// Reason of the Event raised when Available turns True.
pub const AVAILABLE: &str = "Available";
/// Reason of the Event raised when the ConfigMap of a new configuration is created.
pub const CONFIG_CREATED: &str = "ConfigCreated";

/// Action of Events about applying children.
const APPLY: &str = "Apply";
/// Action of Events about a rollout.
const ROLLOUT: &str = "Rollout";
/// Action of Events about validating the profile.
const VALIDATE: &str = "Validate";

/// Events notes are limited to 1 kB.
const NOTE_LIMIT: usize = 1000;

/// An Event to publish on the profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// `Warning` rather than `Normal`.
    pub warning: bool,
    /// PascalCase reason (`InvalidConfig`, `Available`, ...).
    pub reason: String,
    /// What the operator was doing.
    pub action: String,
    /// Human-readable message.
    pub note: String,
}

/// The ConfigMap `config_map_name` was created for configuration `hash`.
pub fn config_created(config_map_name: &str, hash: &str) -> Notice {
    Notice {
        warning: false,
        reason: CONFIG_CREATED.to_string(),
        action: APPLY.to_string(),
        note: format!("created ConfigMap {config_map_name} for configuration {hash}"),
    }
}

/// Events for the transitions from `old` to `new`: Degraded turning True (or changing
/// reason or message) and Available turning True.
pub fn transitions(
    old: Option<&SchedulerProfileStatus>,
    new: &SchedulerProfileStatus,
) -> Vec<Notice> {
    let find = |s: Option<&SchedulerProfileStatus>, t: &str| {
        s.and_then(|s| s.conditions.iter().find(|c| c.type_ == t).cloned())
    };
    let mut out = Vec::new();
    if let Some(d) = find(Some(new), ty::DEGRADED)
        && d.status == "True"
    {
        let before = find(old, ty::DEGRADED);
        let same = before
            .is_some_and(|b| b.status == "True" && b.reason == d.reason && b.message == d.message);
        if !same {
            let action = if d.reason == reason::ROLLOUT_FAILED {
                ROLLOUT
            } else {
                VALIDATE
            };
            out.push(Notice {
                warning: true,
                reason: d.reason,
                action: action.to_string(),
                note: d.message,
            });
        }
    }
    if let Some(a) = find(Some(new), ty::AVAILABLE)
        && a.status == "True"
        && find(old, ty::AVAILABLE).is_none_or(|b| b.status != "True")
    {
        out.push(Notice {
            warning: false,
            reason: AVAILABLE.to_string(),
            action: ROLLOUT.to_string(),
            note: a.message,
        });
    }
    out
}

/// Publishes `notices` on `profile`, counting each write. A failed Event is logged and
/// counted as an error, not fatal.
pub async fn publish(
    recorder: &Recorder,
    metrics: &Metrics,
    profile: &SchedulerProfile,
    notices: &[Notice],
) {
    let name = crate::identity::profile_name(profile);
    let reference = profile.object_ref(&());
    for notice in notices {
        let event = Event {
            type_: if notice.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: notice.reason.clone(),
            note: Some(truncate(&notice.note, NOTE_LIMIT)),
            action: notice.action.clone(),
            secondary: None,
        };
        match recorder.publish(&event, &reference).await {
            Ok(()) => metrics.count_write("Event"),
            Err(err) => {
                metrics.count_error("event");
                warn!(profile = %name, %err, reason = %notice.reason, "failed to publish event");
            }
        }
    }
}

/// `s` cut to at most `max` bytes (on a character boundary), marked with `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééé", 3), "é…");
    }

    #[test]
    fn a_new_config_is_announced() {
        let n = config_created("ferrosched-demo-config-abc", "abc");
        assert_eq!(
            (n.warning, n.reason.as_str(), n.action.as_str()),
            (false, CONFIG_CREATED, "Apply")
        );
        assert_eq!(
            n.note,
            "created ConfigMap ferrosched-demo-config-abc for configuration abc"
        );
    }
}
