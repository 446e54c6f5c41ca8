//! The immutable ConfigMap holding the rendered configuration, and naming the image that
//! runs it, under a name hashed from both (pure).

use std::collections::BTreeMap;

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::core::v1::ConfigMap;

use crate::config_ref::ConfigRef;
use crate::identity;
use crate::render::Rendered;
use crate::settings::Settings;

/// `ferrosched-<profile>-config-<hash>` with `config.yaml` and the image annotated; a new
/// configuration or image gets a new name.
pub fn config_map(
    profile: &SchedulerProfile,
    s: &Settings,
    rendered: &Rendered,
    desired: &ConfigRef,
) -> ConfigMap {
    let mut metadata =
        identity::child_meta(profile, desired.config_map_name.clone(), Some(&s.namespace));
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(identity::CONFIG_HASH_KEY.to_string(), desired.hash.clone());
    if let Some(image) = &desired.image {
        metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(identity::IMAGE_ANNOTATION.to_string(), image.clone());
    }
    ConfigMap {
        metadata,
        data: Some(BTreeMap::from([(
            crate::scheduler_pod::CONFIG_KEY.to_string(),
            rendered.text.clone(),
        )])),
        immutable: Some(true),
        ..ConfigMap::default()
    }
}
