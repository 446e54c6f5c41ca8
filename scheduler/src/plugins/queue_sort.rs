//! PrioritySort: the active queue pops higher-priority pods first, then the longest-waiting.

use std::sync::Arc;

use crate::config::PluginArgsSet;
use crate::framework::{Handle, Plugin, QueueSortPlugin, QueuedPodView};

/// Upstream's `PrioritySort`.
#[derive(Debug, Default)]
pub struct PrioritySort;

/// Registered name.
pub const NAME: &str = "PrioritySort";

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(PrioritySort))
}

impl Plugin for PrioritySort {
    fn name(&self) -> &'static str {
        NAME
    }
    crate::serves!(queue_sort);
}

impl QueueSortPlugin for PrioritySort {
    fn less(&self, a: &QueuedPodView<'_>, b: &QueuedPodView<'_>) -> bool {
        let (pa, pb) = (a.pod.priority, b.pod.priority);
        pa > pb || (pa == pb && a.timestamp < b.timestamp)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::test_support::pinfo;

    #[test]
    fn higher_priority_then_earlier() {
        let hi = pinfo("metadata: {name: hi}\nspec: {priority: 10, containers: []}");
        let lo = pinfo("metadata: {name: lo}\nspec: {priority: 1, containers: []}");
        let lo2 = pinfo("metadata: {name: lo2}\nspec: {priority: 1, containers: []}");
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let v = |p, t| QueuedPodView {
            pod: p,
            timestamp: t,
        };
        let ps = PrioritySort;
        assert!(ps.less(&v(&hi, t1), &v(&lo, t0)));
        assert!(!ps.less(&v(&lo, t0), &v(&hi, t1)));
        assert!(ps.less(&v(&lo, t0), &v(&lo2, t1)));
        assert!(!ps.less(&v(&lo2, t1), &v(&lo, t0)));
        assert!(!ps.less(&v(&lo, t0), &v(&lo, t0)));
    }
}
