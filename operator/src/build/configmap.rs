//! The immutable ConfigMap holding the rendered configuration under a content-hashed name (pure).

use std::collections::BTreeMap;

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::core::v1::ConfigMap;

use super::Settings;
use crate::names;
use crate::render::Rendered;

/// `ferrosched-<profile>-config-<hash>` with `config.yaml`; a new content gets a new name.
pub fn config_map(profile: &SchedulerProfile, s: &Settings, rendered: &Rendered) -> ConfigMap {
    let p = names::profile_name(profile);
    let mut metadata = names::child_meta(
        profile,
        names::config_map_name(p, &rendered.hash),
        Some(&s.namespace),
    );
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(names::CONFIG_HASH_KEY.to_string(), rendered.hash.clone());
    ConfigMap {
        metadata,
        data: Some(BTreeMap::from([(
            names::CONFIG_KEY.to_string(),
            rendered.text.clone(),
        )])),
        immutable: Some(true),
        ..ConfigMap::default()
    }
}
