//! The last few PreFilter count sets, by key, kept across scheduling cycles
//! (PodTopologySpread and InterPodAffinity). An entry is taken out while it is brought up
//! to date, so counting runs without the lock, and put back as the most recently used.

use std::sync::{Mutex, PoisonError};

/// How many keys a cache keeps.
pub const CACHED_KEYS: usize = 8;

/// A cache entry knows the key it was counted for.
pub trait Keyed {
    /// What the counts depend on besides the nodes.
    type Key: PartialEq;
    /// The entry's key.
    fn key(&self) -> &Self::Key;
}

/// Entries with when each was last used.
#[derive(Debug)]
pub struct KeyedCache<E> {
    entries: Vec<(E, u64)>,
    clock: u64,
}

impl<E> Default for KeyedCache<E> {
    fn default() -> Self {
        KeyedCache {
            entries: Vec::new(),
            clock: 0,
        }
    }
}

impl<E: Keyed> KeyedCache<E> {
    /// Takes the entry for `key` out of the cache, if there is one.
    pub fn take(cache: &Mutex<Self>, key: &E::Key) -> Option<E> {
        let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
        let i = c.entries.iter().position(|(e, _)| e.key() == key)?;
        Some(c.entries.swap_remove(i).0)
    }

    /// Puts `entry` back as the most recently used (replacing one with the same key),
    /// dropping the least recently used beyond [`CACHED_KEYS`].
    pub fn put(cache: &Mutex<Self>, entry: E) {
        let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
        c.clock += 1;
        let now = c.clock;
        if let Some(i) = c.entries.iter().position(|(e, _)| e.key() == entry.key()) {
            c.entries[i] = (entry, now);
            return;
        }
        if c.entries.len() >= CACHED_KEYS
            && let Some(i) = c
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(i, _)| i)
        {
            c.entries.swap_remove(i);
        }
        c.entries.push((entry, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct E(u32, &'static str);
    impl Keyed for E {
        type Key = u32;
        fn key(&self) -> &u32 {
            &self.0
        }
    }

    #[test]
    fn keeps_the_most_recently_used_keys() {
        let c: Mutex<KeyedCache<E>> = Mutex::default();
        for k in 0..CACHED_KEYS as u32 {
            KeyedCache::put(&c, E(k, "first"));
        }
        // Using key 0 again makes key 1 the least recently used.
        let e = KeyedCache::take(&c, &0).expect("cached");
        assert!(KeyedCache::take(&c, &0).is_none(), "taken out");
        KeyedCache::put(&c, e);
        KeyedCache::put(&c, E(100, "new"));
        assert!(KeyedCache::take(&c, &1).is_none(), "evicted");
        assert_eq!(KeyedCache::take(&c, &0).map(|e| e.1), Some("first"));
        KeyedCache::put(&c, E(2, "replaced"));
        assert_eq!(KeyedCache::take(&c, &2).map(|e| e.1), Some("replaced"));
    }
}
