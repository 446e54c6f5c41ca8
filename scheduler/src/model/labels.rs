//! Label sets. A node's labels are kept once, as shared strings sorted by key: topology
//! counters clone the atoms instead of allocating, and 5,000 nodes do not each carry a
//! `BTreeMap` leaf (over 500 bytes even for one label). Selectors match any [`LabelSet`].

use std::collections::BTreeMap;
use std::sync::Arc;

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
                .map(|(k, v)| (Arc::from(k.as_str()), Arc::from(v.as_str())))
                .collect(),
        )
    }

    /// The key and value of `key` as shared strings, if set.
    pub fn atom(&self, key: &str) -> Option<&LabelAtom> {
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
}
