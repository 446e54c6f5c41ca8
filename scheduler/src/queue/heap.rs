//! A binary heap ordered by a comparator chosen at run time (the QueueSort plugin), with
//! removal and update by key, as the active and backoff queues need.

use rustc_hash::FxHashMap;

/// `less(a, b)`: whether `a` comes out before `b`.
pub type Less<T> = Box<dyn Fn(&T, &T) -> bool + Send + Sync>;

/// Min-heap by `less`, keyed by `String` for O(log n) removal and update.
pub struct KeyedHeap<T> {
    items: Vec<(String, T)>,
    index: FxHashMap<String, usize>,
    less: Less<T>,
}

impl<T> std::fmt::Debug for KeyedHeap<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedHeap")
            .field("len", &self.items.len())
            .finish()
    }
}

impl<T> KeyedHeap<T> {
    /// An empty heap ordered by `less`.
    pub fn new(less: Less<T>) -> Self {
        KeyedHeap {
            items: Vec::new(),
            index: FxHashMap::default(),
            less,
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `key` is in the heap.
    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// The item of `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.index.get(key).map(|&i| &self.items[i].1)
    }

    /// The first item.
    pub fn peek(&self) -> Option<&T> {
        self.items.first().map(|(_, v)| v)
    }

    /// Inserts or replaces the item of `key`.
    pub fn push(&mut self, key: String, value: T) {
        if let Some(&i) = self.index.get(&key) {
            self.items[i].1 = value;
            self.fix(i);
            return;
        }
        self.items.push((key.clone(), value));
        let i = self.items.len() - 1;
        self.index.insert(key, i);
        self.up(i);
    }

    /// Removes and returns the first item.
    pub fn pop(&mut self) -> Option<(String, T)> {
        if self.items.is_empty() {
            return None;
        }
        Some(self.remove_at(0))
    }

    /// Removes the item of `key`.
    pub fn remove(&mut self, key: &str) -> Option<T> {
        let i = *self.index.get(key)?;
        Some(self.remove_at(i).1)
    }

    /// Iterates in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &T)> {
        self.items.iter().map(|(k, v)| (k, v))
    }

    fn remove_at(&mut self, i: usize) -> (String, T) {
        let last = self.items.len() - 1;
        self.swap(i, last);
        let (key, value) = self.items.pop().expect("heap is not empty");
        self.index.remove(&key);
        if i < self.items.len() {
            self.fix(i);
        }
        (key, value)
    }

    fn fix(&mut self, i: usize) {
        if !self.up(i) {
            self.down(i);
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        self.items.swap(a, b);
        let ka = self.items[a].0.clone();
        let kb = self.items[b].0.clone();
        self.index.insert(ka, a);
        self.index.insert(kb, b);
    }

    fn up(&mut self, mut i: usize) -> bool {
        let start = i;
        while i > 0 {
            let parent = (i - 1) / 2;
            if (self.less)(&self.items[i].1, &self.items[parent].1) {
                self.swap(i, parent);
                i = parent;
            } else {
                break;
            }
        }
        i != start
    }

    fn down(&mut self, mut i: usize) {
        let n = self.items.len();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let child = if r < n && (self.less)(&self.items[r].1, &self.items[l].1) {
                r
            } else {
                l
            };
            if (self.less)(&self.items[child].1, &self.items[i].1) {
                self.swap(i, child);
                i = child;
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_order_and_supports_update_and_remove() {
        let mut h: KeyedHeap<i32> = KeyedHeap::new(Box::new(|a, b| a < b));
        for (k, v) in [("a", 5), ("b", 3), ("c", 8), ("d", 1), ("e", 4)] {
            h.push(k.to_string(), v);
        }
        h.push("c".into(), 0); // update moves c to the front
        assert_eq!(h.remove("b"), Some(3));
        let order: Vec<_> = std::iter::from_fn(|| h.pop()).map(|(k, _)| k).collect();
        assert_eq!(order, vec!["c", "d", "e", "a"]);
        assert!(h.is_empty());
    }
}
