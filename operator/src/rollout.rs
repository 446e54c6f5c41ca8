//! Which configuration the Deployment should run, whether its rollout is done, and when to
//! roll back (pure).
//!
//! The last configuration that became fully available ("last good") is kept in the
//! profile's `status.configHash` / `status.configMapName`; a configuration whose rollout
//! missed the progress deadline is remembered in the profile annotation
//! `ferrosched.dev/failed-config-hash`, so it is not retried until the spec changes.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;

use crate::config_ref::{ConfigRef, revision_hash};
use crate::identity;
use crate::images::image_allowed;
use crate::scheduler_pod::{CONFIG_KEY, PROGRESS_DEADLINE_SECONDS};
use crate::settings::Settings;

/// The image recorded on a config ConfigMap, if it is the one its hash was made with
/// (the annotation can be edited, the data and the name's hash cannot) and the operator
/// allows it.
pub fn recorded_image(cm: &ConfigMap, hash: &str, s: &Settings) -> Option<String> {
    let image = cm
        .metadata
        .annotations
        .as_ref()?
        .get(identity::IMAGE_ANNOTATION)?;
    let text = cm.data.as_ref()?.get(CONFIG_KEY)?;
    (revision_hash(text, image) == hash
        && image_allowed(image, &s.allowed_images, &s.default_image))
    .then(|| image.clone())
}

/// What the rollout logic decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The configuration the Deployment should mount.
    pub deploy: ConfigRef,
    /// A failed rollout to report as `Degraded=True, reason RolloutFailed`.
    pub failure: Option<String>,
    /// A configuration whose rollout just failed, to remember on the profile.
    pub newly_failed: Option<String>,
    /// The remembered failed configuration no longer matters (another one is available).
    pub clear_failed: bool,
    /// The existing Deployment already runs `deploy` on every desired replica.
    pub complete: bool,
}

/// Inputs of [`decide`].
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    /// The configuration the spec asks for.
    pub desired: &'a ConfigRef,
    /// The last good configuration (from status), if any.
    pub last_good: Option<&'a ConfigRef>,
    /// The remembered failed configuration hash, if any.
    pub failed: Option<&'a str>,
    /// The Deployment as it exists.
    pub deployment: Option<&'a Deployment>,
    /// Desired replicas.
    pub replicas: i32,
    /// Whether a ConfigMap of this name exists.
    pub config_map_exists: &'a dyn Fn(&str) -> bool,
}

/// Decides the configuration to run; see the module docs.
pub fn decide(i: Inputs<'_>) -> Decision {
    let desired = i.desired;
    let fallback = i
        .last_good
        .filter(|g| g.hash != desired.hash && (i.config_map_exists)(&g.config_map_name));
    // The deadline the Deployment was given (and missed).
    let deadline = i
        .deployment
        .and_then(|d| d.spec.progress_deadline_seconds)
        .unwrap_or(PROGRESS_DEADLINE_SECONDS);
    let deadline = format!("{deadline}s");
    // One message for "just rolled back" and "still rolled back", so it reads the same
    // in the condition and raises one Event.
    let rolled_back = |good: &ConfigRef| {
        format!(
            "rollout of configuration {} missed its progress deadline ({deadline}); rolled back to configuration {}",
            desired.hash, good.hash
        )
    };
    let mut newly_failed = None;
    let (deploy, failure) = match fallback {
        Some(good) if i.failed == Some(desired.hash.as_str()) => {
            (good.clone(), Some(rolled_back(good)))
        }
        _ if i.deployment.is_some_and(|d| {
            template_hash(d) == Some(desired.hash.as_str()) && deadline_exceeded(d)
        }) =>
        {
            match fallback {
                Some(good) => {
                    newly_failed = Some(desired.hash.clone());
                    (good.clone(), Some(rolled_back(good)))
                }
                None => {
                    let msg = format!(
                        "rollout of configuration {} missed its progress deadline ({deadline}) and there is no earlier configuration to roll back to",
                        desired.hash
                    );
                    (desired.clone(), Some(msg))
                }
            }
        }
        _ => (desired.clone(), None),
    };
    let complete = i
        .deployment
        .is_some_and(|d| is_complete(d, &deploy.hash, i.replicas));
    // Forget a failure only once the spec asks for something else and that is available.
    let clear_failed =
        complete && i.failed.is_some_and(|f| f != desired.hash) && newly_failed.is_none();
    Decision {
        deploy,
        failure,
        newly_failed,
        clear_failed,
        complete,
    }
}

/// The configuration hash of the Deployment's pod template.
pub fn template_hash(d: &Deployment) -> Option<&str> {
    d.spec
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(identity::CONFIG_HASH_KEY)
        .map(String::as_str)
}

/// The Deployment controller has seen the current spec.
fn observed(d: &Deployment) -> bool {
    let observed = d.status.as_ref().and_then(|s| s.observed_generation);
    matches!((observed, d.metadata.generation), (Some(o), Some(g)) if o >= g)
}

/// The Deployment reports `Progressing=False, reason ProgressDeadlineExceeded` for its current spec.
pub fn deadline_exceeded(d: &Deployment) -> bool {
    observed(d)
        && d.status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .any(|c| {
                c.type_.as_deref() == Some("Progressing")
                    && c.status.as_deref() == Some("False")
                    && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
            })
}

/// Every one of `replicas` pods runs `hash` and is available, and no old pod is left.
pub fn is_complete(d: &Deployment, hash: &str, replicas: i32) -> bool {
    let Some(status) = d.status.as_ref() else {
        return false;
    };
    let spec_replicas = d.spec.replicas;
    observed(d)
        && template_hash(d) == Some(hash)
        && spec_replicas == Some(replicas)
        && status.replicas.unwrap_or(0) == replicas
        && status.updated_replicas.unwrap_or(0) == replicas
        && status.available_replicas.unwrap_or(0) == replicas
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
