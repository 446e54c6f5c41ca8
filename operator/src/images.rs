//! Image references (pure): their repository, and whether the operator's allowlist lets
//! one run.

/// The repository of an image reference: without `@digest`, and without `:tag` when the
/// last `:` comes after the last `/` (a registry port is not a tag).
pub fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match (image.rfind(':'), image.rfind('/')) {
        (Some(colon), Some(slash)) if colon > slash => &image[..colon],
        (Some(colon), None) => &image[..colon],
        _ => image,
    }
}

/// Whether `image` may run: its repository equals an entry, or starts with an entry that
/// ends in `/` (every repository under it). An empty list allows only `default_image`'s
/// repository. `default_image` itself is always allowed.
pub fn image_allowed(image: &str, allowed: &[String], default_image: &str) -> bool {
    if image == default_image {
        return true;
    }
    let repo = repository(image);
    if allowed.is_empty() {
        return repo == repository(default_image);
    }
    allowed.iter().any(|entry| {
        let entry = entry.trim();
        !entry.is_empty()
            && if entry.ends_with('/') {
                repo.starts_with(entry)
            } else {
                repo == entry
            }
    })
}

#[cfg(test)]
mod tests {
    use super::{image_allowed, repository};

    #[test]
    fn repositories_drop_the_tag_and_digest_but_not_a_registry_port() {
        for (image, repo) in [
            ("ferrosched", "ferrosched"),
            ("ferrosched:0.1.0", "ferrosched"),
            ("reg.example:5000/team/fs", "reg.example:5000/team/fs"),
            ("reg.example:5000/team/fs:v1", "reg.example:5000/team/fs"),
            ("reg.example/fs@sha256:abc", "reg.example/fs"),
            ("reg.example/fs:v1@sha256:abc", "reg.example/fs"),
        ] {
            assert_eq!(repository(image), repo, "{image}");
        }
    }

    #[test]
    fn the_allowlist_matches_repositories_and_slash_prefixes_only() {
        let default = "reg.example/ferrosched:1.0";
        assert!(image_allowed("reg.example/ferrosched:2.0", &[], default));
        assert!(image_allowed(
            "reg.example/ferrosched@sha256:0",
            &[],
            default
        ));
        assert!(!image_allowed(
            "reg.example/ferrosched-evil:1",
            &[],
            default
        ));
        assert!(!image_allowed("evil.example/ferrosched:1.0", &[], default));
        let list = vec![
            "reg.example/team/".to_string(),
            "other.example/fs".to_string(),
        ];
        assert!(image_allowed("reg.example/team/a/b:1", &list, default));
        assert!(image_allowed("other.example/fs:9", &list, default));
        assert!(!image_allowed("other.example/fs2:9", &list, default));
        assert!(!image_allowed("reg.example/teamx/a:1", &list, default));
        assert!(
            image_allowed(default, &list, default),
            "the default image itself always runs"
        );
    }
}
