//! Upstream's cache `imageStates`: per image name, how many nodes report it and the size
//! the cache saw **first** for that name.
//!
//! A mutable tag (`app:latest`) can be reported with different sizes by different nodes.
//! kube-scheduler keeps one summary per name, created with the size of the node that
//! reported the name when no node had it, and kept while any node still reports it, even
//! after that first node went away; the entry is dropped when the last node stops
//! reporting it, and the next node to report the name sets the size again. A node update
//! is a removal of its old images followed by an addition of its new ones, so a node that
//! is the only holder of a name and reports a new size resets the size. ImageLocality
//! scores every node holding the image with this one size, not the node's own.

use rustc_hash::FxHashMap;

/// One image name's summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageState {
    /// Nodes reporting the name.
    pub nodes: u32,
    /// The size recorded when the first of those nodes reported it (`sizeBytes`).
    pub size: i64,
}

/// Every image name any node reports, with its [`ImageState`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageStates(FxHashMap<String, ImageState>);

impl ImageStates {
    /// The summary of `name`, `None` when no node reports it.
    pub fn get(&self, name: &str) -> Option<ImageState> {
        self.0.get(name).copied()
    }

    /// Counts one more node reporting `images` (name to that node's size); a name no
    /// node reported yet takes this node's size.
    pub fn add_node(&mut self, images: &FxHashMap<String, i64>) {
        for (name, &size) in images {
            self.0
                .entry(name.clone())
                .and_modify(|s| s.nodes += 1)
                .or_insert(ImageState { nodes: 1, size });
        }
    }

    /// Counts one node fewer reporting `images`; a name no node reports any more is dropped.
    pub fn remove_node(&mut self, images: &FxHashMap<String, i64>) {
        for name in images.keys() {
            if let Some(s) = self.0.get_mut(name) {
                s.nodes = s.nodes.saturating_sub(1);
                if s.nodes == 0 {
                    self.0.remove(name);
                }
            }
        }
    }
}
