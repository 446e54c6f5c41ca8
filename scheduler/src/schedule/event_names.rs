//! Names and reporter fields of the events the scheduler writes, kept within what the
//! API server's events.k8s.io/v1 validation accepts for every scheduler and host name.
//!
//! Upstream names an event `<pod>.<unix nanoseconds in hex>`, reports as the scheduler's
//! name and from `<scheduler name>-<host name>`. With a long pod name, scheduler name or
//! host name those values break the API's limits (a DNS subdomain of at most 253
//! characters, a qualified name of at most 63, an instance of at most 128) and the API
//! server refuses the event. Each value here is upstream's when it fits, and otherwise
//! the longest valid prefix of it.

/// The API's limit on `metadata.name` (a DNS subdomain).
pub const MAX_NAME: usize = 253;
/// The API's limit on the name part of a qualified name (`reportingController`).
pub const MAX_CONTROLLER: usize = 63;
/// The API's limit on `reportingInstance`.
pub const MAX_INSTANCE: usize = 128;

/// Used when nothing of the scheduler name is a valid controller name.
const FALLBACK_CONTROLLER: &str = "ferrosched-scheduler";

/// `<pod>.<nanos in hex>`, the pod part cut so the whole fits [`MAX_NAME`] and ends in a
/// character a DNS label may end with.
pub fn event_name(pod: &str, nanos: i128) -> String {
    let suffix = format!(".{nanos:x}");
    let room = MAX_NAME.saturating_sub(suffix.len());
    let head = trim_end_to_alnum(cut(pod, room));
    format!("{head}{suffix}")
}

/// The scheduler name as `reportingController`: upstream's value when it is a valid
/// qualified name, otherwise its valid characters cut to [`MAX_CONTROLLER`].
pub fn reporting_controller(scheduler_name: &str) -> String {
    let cleaned: String = scheduler_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let start = cleaned.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let name = trim_end_to_alnum(cut(start, MAX_CONTROLLER));
    if name.is_empty() {
        FALLBACK_CONTROLLER.to_string()
    } else {
        name.to_string()
    }
}

/// `<controller>-<host>` as upstream forms it, cut to [`MAX_INSTANCE`].
pub fn reporting_instance(controller: &str, host: &str) -> String {
    cut(&format!("{controller}-{host}"), MAX_INSTANCE).to_string()
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn trim_end_to_alnum(s: &str) -> &str {
    s.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_dns_subdomain(s: &str) -> bool {
        s.len() <= MAX_NAME
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    }

    #[test]
    fn short_values_are_upstreams() {
        assert_eq!(event_name("web-1", 255), "web-1.ff");
        assert_eq!(reporting_controller("my-scheduler"), "my-scheduler");
        assert_eq!(
            reporting_instance("my-scheduler", "node-a"),
            "my-scheduler-node-a"
        );
    }

    #[test]
    fn a_pod_name_of_the_maximum_length_still_names_a_valid_event() {
        // 253 characters of labels of 63, as long as a pod name may be.
        let pod = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(pod.len(), 253);
        let name = event_name(&pod, i128::from(i64::MAX));
        assert!(name.len() <= MAX_NAME, "{} characters", name.len());
        assert!(is_dns_subdomain(&name), "{name}");
        assert!(name.ends_with(&format!(".{:x}", i64::MAX)));
        // A cut that would end on '-' or '.' is trimmed back to a letter or digit.
        let dashed = format!(
            "{}.{}-ee",
            ["a", "b", "c"].map(|c| c.repeat(63)).join("."),
            "d".repeat(58)
        );
        assert_eq!(dashed.len(), 253);
        let name = event_name(&dashed, 1);
        assert!(is_dns_subdomain(&name), "{name}");
        assert!(name.ends_with("dd.1"), "{name}");
    }

    #[test]
    fn controller_and_instance_fit_for_the_longest_names() {
        let scheduler = "s".repeat(253);
        let controller = reporting_controller(&scheduler);
        assert_eq!(controller.len(), MAX_CONTROLLER);
        let host = "h".repeat(64);
        let instance = reporting_instance(&controller, &host);
        assert!(instance.len() <= MAX_INSTANCE);
        assert!(instance.starts_with(&controller));
        let long = reporting_instance(&"x".repeat(120), &host);
        assert_eq!(long.len(), MAX_INSTANCE);
    }

    #[test]
    fn a_controller_name_keeps_only_what_a_qualified_name_allows() {
        assert_eq!(reporting_controller("team/my sched"), "team-my-sched");
        assert_eq!(reporting_controller("-.x.-"), "x");
        assert_eq!(reporting_controller("--"), FALLBACK_CONTROLLER);
        let cut_on_dash = format!("{}-{}", "a".repeat(62), "b");
        assert_eq!(reporting_controller(&cut_on_dash), "a".repeat(62));
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let s = "é".repeat(100);
        assert!(cut(&s, 129).len() <= 129);
        assert!(reporting_instance(&s, "h").len() <= MAX_INSTANCE);
    }
}
