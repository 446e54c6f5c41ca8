//! The configuration a Deployment runs ([`ConfigRef`]) and its hash (pure).

use ferrosched_crds::SchedulerProfile;

use crate::identity;
use crate::render::Rendered;
use crate::settings::{Settings, scheduler_image};

/// What a Deployment runs, the unit of a rollout and of a rollback: the scheduler
/// configuration and the image running it, under one hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigRef {
    /// Hash of the rendered configuration and the image (the pod template's
    /// `ferrosched.dev/config-hash`).
    pub hash: String,
    /// Name of the ConfigMap holding it.
    pub config_map_name: String,
    /// The image; `None` for a ConfigMap written before images were recorded (the
    /// profile's current image runs it).
    pub image: Option<String>,
}

impl ConfigRef {
    /// What a valid profile asks for: its rendered configuration and its image.
    pub fn desired(profile: &SchedulerProfile, s: &Settings, rendered: &Rendered) -> ConfigRef {
        let image = scheduler_image(profile, s);
        let hash = revision_hash(&rendered.text, &image);
        ConfigRef {
            config_map_name: identity::config_map_name(identity::profile_name(profile), &hash),
            hash,
            image: Some(image),
        }
    }
}

/// The hash of a configuration's text and the image running it.
pub fn revision_hash(config_text: &str, image: &str) -> String {
    crate::render::content_hash(&format!("{config_text}\n# image: {image}\n"))
}
