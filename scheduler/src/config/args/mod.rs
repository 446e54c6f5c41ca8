//! Plugin args: the typed, defaulted values (`types`), the decoding of `pluginConfig`
//! entries (`resolve`), and the checks of each plugin's args (`check`, `placement`).

mod check;
mod placement;
mod resolve;
mod types;

pub(crate) use resolve::resolve_plugin_config;
pub use types::*;
