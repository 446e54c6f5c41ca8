//! The "nothing changed → no write" decision (pure): does what exists already carry every
//! field the operator wants?
//!
//! The desired object is compared as a *subset* of the existing one: fields the API server
//! or other controllers add (defaults, status, managedFields, extra labels) do not count;
//! a field the operator sets that is missing or different does. Lists must match element
//! by element (an edited or added container is drift). Quantities compare by value, and
//! null or empty-list desired values match absent ones, since the API server drops them.

use serde::Serialize;
use serde_json::Value;

use crate::quantity;

/// Whether `desired` must be applied given what exists (`None`: missing). The first
/// drifted field is logged at debug level.
pub fn needs_apply<T: Serialize>(desired: &T, existing: Option<&T>) -> bool {
    let Some(existing) = existing else {
        return true;
    };
    match (
        serde_json::to_value(desired),
        serde_json::to_value(existing),
    ) {
        (Ok(d), Ok(e)) => match difference(&e, &d) {
            Some(path) => {
                let kind = d.get("kind").and_then(Value::as_str).unwrap_or_default();
                let name = d
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                tracing::debug!(kind, name, field = %path, "child differs from the desired state");
                true
            }
            None => false,
        },
        _ => true,
    }
}

/// Whether `have` contains `want` in the sense described in the module docs.
pub fn contains(have: &Value, want: &Value) -> bool {
    difference(have, want).is_none()
}

/// Maps the operator owns whole: a key someone else added is drift too (a Service selector
/// with an extra key selects no scheduler pod).
pub const EXACT_MAPS: &[&str] = &["spec.selector", "spec.selector.matchLabels"];

/// The path of the first field of `want` that `have` lacks or holds differently.
pub fn difference(have: &Value, want: &Value) -> Option<String> {
    difference_at(have, want, "")
}

fn difference_at(have: &Value, want: &Value, path: &str) -> Option<String> {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => {
            let found = w.iter().find_map(|(k, wv)| {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match h.get(k) {
                    Some(hv) => difference_at(hv, wv, &here).map(|p| join(k, &p)),
                    None => (!is_empty(wv)).then(|| k.clone()),
                }
            });
            found.or_else(|| {
                EXACT_MAPS
                    .contains(&path)
                    .then(|| h.keys().find(|k| !w.contains_key(*k)).cloned())
                    .flatten()
            })
        }
        (Value::Array(w), Value::Array(h)) if w.len() == h.len() => w
            .iter()
            .zip(h)
            .enumerate()
            .find_map(|(i, (wv, hv))| difference(hv, wv).map(|p| join(&format!("[{i}]"), &p))),
        (Value::Array(w), Value::Null) if w.is_empty() => None,
        (Value::Null, _) => None,
        (Value::Number(w), Value::Number(h)) if w == h || w.as_f64() == h.as_f64() => None,
        (Value::String(w), Value::String(h)) if w == h || quantity::same(w, h) => None,
        (Value::Bool(w), Value::Bool(h)) if w == h => None,
        _ => Some(String::new()),
    }
}

/// A JSON merge patch that makes `have` equal `want`: `want` itself, plus `null` for keys
/// of the [`EXACT_MAPS`] that `have` holds and `want` does not.
pub fn merge_patch(want: &Value, have: &Value) -> Value {
    let mut patch = want.clone();
    for path in EXACT_MAPS {
        let pointer = format!("/{}", path.replace('.', "/"));
        let (Some(Value::Object(h)), Some(Value::Object(w))) =
            (have.pointer(&pointer), want.pointer(&pointer))
        else {
            continue;
        };
        let extra: Vec<String> = h.keys().filter(|k| !w.contains_key(*k)).cloned().collect();
        if let Some(Value::Object(target)) = patch.pointer_mut(&pointer) {
            for k in extra {
                target.insert(k, Value::Null);
            }
        }
    }
    patch
}

fn join(head: &str, tail: &str) -> String {
    match (
        head.starts_with('['),
        tail.is_empty(),
        tail.starts_with('['),
    ) {
        (_, true, _) => head.to_string(),
        (_, false, true) => format!("{head}{tail}"),
        _ => format!("{head}.{tail}"),
    }
}

/// Values the API server does not keep: null and empty lists. (An empty object such as
/// `emptyDir: {}` is kept and means something, so it must be there.)
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{contains, difference};

    #[test]
    fn server_added_fields_are_not_drift() {
        let want = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"ports": [{"port": 1}], "list": []}});
        let have = json!({"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}, "uid": "u"},
                          "spec": {"ports": [{"port": 1, "protocol": "TCP"}], "clusterIP": "10.0.0.1"}, "status": {}});
        assert!(contains(&have, &want));
    }

    #[test]
    fn extra_selector_keys_are_drift_and_patched_away() {
        let want = json!({"spec": {"selector": {"app": "s"}, "ports": [{"port": 1}]}});
        let have = json!({"spec": {"selector": {"app": "s", "other": "x"}, "ports": [{"port": 1}], "clusterIP": "10.0.0.9"}});
        assert_eq!(
            difference(&have, &want).as_deref(),
            Some("spec.selector.other")
        );
        let patch = super::merge_patch(&want, &have);
        assert_eq!(
            patch.pointer("/spec/selector/other"),
            Some(&serde_json::Value::Null)
        );
        assert_eq!(patch.pointer("/spec/selector/app"), Some(&json!("s")));
        // Extra keys elsewhere (defaults, other managers' labels) are not drift.
        let labelled = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        assert_eq!(
            difference(&labelled, &json!({"metadata": {"labels": {"a": "1"}}})),
            None
        );
    }

    #[test]
    fn the_first_drifted_field_is_named() {
        let want = json!({"spec": {"containers": [{"name": "s", "image": "a"}], "emptyDir": {}}});
        let edited = json!({"spec": {"containers": [{"name": "s", "image": "b"}], "emptyDir": {}}});
        assert_eq!(
            difference(&edited, &want).as_deref(),
            Some("spec.containers[0].image")
        );
        let extra = json!({"spec": {"containers": [{"name": "s", "image": "a"}, {"name": "t"}], "emptyDir": {}}});
        assert_eq!(
            difference(&extra, &want).as_deref(),
            Some("spec.containers")
        );
        let gone = json!({"spec": {"containers": [{"name": "s", "image": "a"}]}});
        assert_eq!(
            difference(&gone, &want).as_deref(),
            Some("spec.emptyDir"),
            "an empty object must exist"
        );
    }
}
