//! Label sets. A node's labels are kept once, as shared strings sorted by key: topology
//! counters clone the atoms instead of allocating, and 5,000 nodes do not each carry a
//! `BTreeMap` leaf (over 500 bytes even for one label). Selectors match any [`LabelSet`].
//!
//! Keys are interned process-wide ([`intern_key`]): every node's `kubernetes.io/hostname`
//! is the same string in memory, so a lookup with an interned key (a topology key held by
//! a term or constraint) finds its label by comparing addresses, reading only the label
//! slice and never the key strings, which on a busy machine are cache misses.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};

use rustc_hash::FxHashSet;

/// Interned label keys; entries nothing else holds any more are swept when the set has
/// doubled since the last sweep, so keys that come and go do not accumulate.
struct KeySet {
    keys: FxHashSet<Arc<str>>,
    sweep_at: usize,
}

static KEYS: LazyLock<Mutex<KeySet>> = LazyLock::new(|| {
    Mutex::new(KeySet {
        keys: FxHashSet::default(),
        sweep_at: 1024,
    })
});

/// The process-wide shared copy of label key `key`.
pub fn intern_key(key: &str) -> Arc<str> {
    let mut set = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = set.keys.get(key) {
        return k.clone();
    }
    if set.keys.len() >= set.sweep_at {
        // Only the set holds these: no label set or term uses them.
        set.keys.retain(|k| Arc::strong_count(k) > 1);
        set.sweep_at = (set.keys.len() * 2).max(1024);
    }
    let k: Arc<str> = Arc::from(key);
    set.keys.insert(k.clone());
    k
}

/// Whatever labels can be looked up in: a pod's `BTreeMap` or a node's [`Labels`].
pub trait LabelSet {
    /// The value of `key`, if set.
    fn label(&self, key: &str) -> Option<&str>;
}

impl LabelSet for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// A label key and its value, shared.
pub type LabelAtom = (Arc<str>, Arc<str>);

/// An immutable label set, sorted by key; clones share it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Arc<[LabelAtom]>);

impl Labels {
    /// Copies `map` (already sorted by key).
    pub fn from_map(map: &BTreeMap<String, String>) -> Self {
        Labels(
            map.iter()
                .map(|(k, v)| (intern_key(k), Arc::from(v.as_str())))
                .collect(),
        )
    }

    /// The key and value of `key` as shared strings, if set. An interned `key` (see
    /// [`intern_key`]) is found by address; any other by comparing strings.
    pub fn atom(&self, key: &str) -> Option<&LabelAtom> {
        let same = |k: &Arc<str>| std::ptr::eq(k.as_ptr(), key.as_ptr()) && k.len() == key.len();
        if let Some(a) = self.0.iter().find(|(k, _)| same(k)) {
            return Some(a);
        }
        self.0
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| &self.0[i])
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.atom(key).map(|(_, v)| &**v)
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.atom(key).is_some()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every label, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    /// The atoms, sorted by key.
    pub fn atoms(&self) -> &[LabelAtom] {
        &self.0
    }
}

impl LabelSet for Labels {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key)
    }
}

impl From<&BTreeMap<String, String>> for Labels {
    fn from(map: &BTreeMap<String, String>) -> Self {
        Labels::from_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_match_the_map_it_came_from() {
        let map: BTreeMap<String, String> = [("zone", "a"), ("app", "web"), ("tier", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let l = Labels::from_map(&map);
        for key in ["zone", "app", "tier", "absent", ""] {
            assert_eq!(l.label(key), map.label(key), "{key}");
            assert_eq!(l.contains_key(key), map.contains_key(key), "{key}");
        }
        assert_eq!(
            l.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["app", "tier", "zone"]
        );
        assert!(!l.is_empty() && Labels::default().is_empty());
        assert_eq!(l, Labels::from_map(&map), "equal sets compare equal");
    }

    #[test]
    fn keys_are_shared_and_found_by_address_or_by_text() {
        let map: BTreeMap<String, String> = [("interned-zone", "a"), ("interned-app", "b")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (a, b) = (Labels::from_map(&map), Labels::from_map(&map));
        let key_of = |l: &Labels| l.atom("interned-zone").map(|(k, _)| k.clone());
        let (ka, kb) = (key_of(&a).expect("set"), key_of(&b).expect("set"));
        assert!(Arc::ptr_eq(&ka, &kb), "both sets hold the one interned key");
        assert!(Arc::ptr_eq(&ka, &intern_key("interned-zone")));
        let interned = intern_key("interned-app");
        assert_eq!(a.get(&interned), Some("b"), "by address");
        let copy = String::from("interned-app");
        assert_eq!(a.get(&copy), Some("b"), "by text");
        assert_eq!(a.get(&intern_key("interned-absent")), None);
    }
}
