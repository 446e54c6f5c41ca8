//! Plugin name → factory. The config module's plugin table says which names exist; this
//! registry says which are built, and the framework refuses a profile naming one that is not.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::handle::Handle;
use super::traits::Plugin;
use crate::config::PluginArgsSet;

/// Builds a plugin from its profile's args.
pub type Factory = fn(&PluginArgsSet, &Handle) -> Result<Arc<dyn Plugin>, String>;

/// Name → factory.
#[derive(Clone, Default)]
pub struct Registry {
    factories: FxHashMap<&'static str, Factory>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `factory` under `name` (a later registration replaces an earlier one).
    pub fn register(&mut self, name: &'static str, factory: Factory) -> &mut Self {
        self.factories.insert(name, factory);
        self
    }

    /// The factory of `name`.
    pub fn get(&self, name: &str) -> Option<&Factory> {
        self.factories.get(name)
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.factories.keys().copied().collect();
        v.sort_unstable();
        v
    }
}
