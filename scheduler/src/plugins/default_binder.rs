//! DefaultBinder: binds the pod with a `pods/binding` call.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::config::PluginArgsSet;
use crate::framework::{BindContext, BindError, BindPlugin, CycleState, Handle, Plugin, Status};
use crate::model::PodInfo;

/// Registered name.
pub const NAME: &str = "DefaultBinder";

/// Upstream's `DefaultBinder`.
#[derive(Debug, Default)]
pub struct DefaultBinder;

/// Factory.
pub fn new(_: &PluginArgsSet, _: &Handle) -> Result<Arc<dyn Plugin>, String> {
    Ok(Arc::new(DefaultBinder))
}

impl Plugin for DefaultBinder {
    fn name(&self) -> &'static str {
        NAME
    }
    crate::serves!(bind);
}

/// The status a failed bind becomes (an error: the pod is retried with backoff, or
/// dropped by the runtime when it is gone).
pub fn bind_error_status(e: &BindError) -> Status {
    Status::error(e.to_string())
}

impl BindPlugin for DefaultBinder {
    fn bind<'a>(
        &'a self,
        ctx: &'a BindContext,
        _: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status> {
        Box::pin(async move {
            match ctx
                .binder
                .bind(pod.namespace(), pod.name(), &pod.uid, node)
                .await
            {
                Ok(()) => Status::success(),
                Err(e) => bind_error_status(&e),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::framework::{Code, PodBinder};
    use crate::test_support::{pinfo, simple_pod};

    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<String>>,
        fail: Option<BindError>,
    }

    impl PodBinder for Recorder {
        fn bind<'a>(
            &'a self,
            ns: &'a str,
            name: &'a str,
            uid: &'a str,
            node: &'a str,
        ) -> BoxFuture<'a, Result<(), BindError>> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{ns}/{name}/{uid}->{node}"));
            let r = self.fail.clone().map_or(Ok(()), Err);
            Box::pin(async move { r })
        }
    }

    #[test]
    fn binds_and_maps_errors() {
        let rec = Arc::new(Recorder::default());
        let ctx = BindContext {
            binder: rec.clone(),
            client: None,
        };
        let p = pinfo(&simple_pod("p", "", ""));
        let s =
            futures::executor::block_on(DefaultBinder.bind(&ctx, &CycleState::default(), &p, "n1"));
        assert!(s.is_success());
        assert_eq!(rec.calls.lock().unwrap().as_slice(), ["default/p/p->n1"]);
        let failing = Arc::new(Recorder {
            fail: Some(BindError::Conflict("x".into())),
            ..Default::default()
        });
        let ctx = BindContext {
            binder: failing,
            client: None,
        };
        let s =
            futures::executor::block_on(DefaultBinder.bind(&ctx, &CycleState::default(), &p, "n1"));
        assert_eq!(s.code(), Code::Error);
    }
}
