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
