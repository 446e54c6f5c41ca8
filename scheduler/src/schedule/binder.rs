//! `pods/binding` through the API, and stand-ins for tests and benchmarks.

use std::sync::Mutex;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Binding, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::framework::{BindError, PodBinder};
use crate::wire::Writer;

/// Binds through the API server.
#[derive(Clone)]
pub struct ApiBinder {
    writer: Writer,
}

impl ApiBinder {
    /// A binder writing through `writer`.
    pub fn new(writer: Writer) -> Self {
        ApiBinder { writer }
    }
}

impl PodBinder for ApiBinder {
    fn bind<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        uid: &'a str,
        node: &'a str,
    ) -> BoxFuture<'a, Result<(), BindError>> {
        Box::pin(async move {
            let binding = Binding {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some(namespace.into()),
                    uid: Some(uid.into()),
                    ..Default::default()
                },
                target: ObjectReference {
                    kind: Some("Node".into()),
                    name: Some(node.into()),
                    ..Default::default()
                },
            };
            let path = format!("/api/v1/namespaces/{namespace}/pods/{name}/binding");
            match self.writer.create(&path, &binding).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 => Err(BindError::Conflict(s.message)),
                Err(kube::Error::Api(s)) if s.code == 404 => Err(BindError::NotFound(s.message)),
                Err(e) => Err(BindError::Other(e.to_string())),
            }
        })
    }
}

/// Binds nothing and always succeeds (in-process benchmarks).
#[derive(Debug, Default)]
pub struct NoopBinder;

impl PodBinder for NoopBinder {
    fn bind<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), BindError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Records every bind (tests).
#[derive(Debug, Default)]
pub struct RecordingBinder {
    /// (namespace/name, node) in bind order.
    pub binds: Mutex<Vec<(String, String)>>,
}

impl PodBinder for RecordingBinder {
    fn bind<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        _: &'a str,
        node: &'a str,
    ) -> BoxFuture<'a, Result<(), BindError>> {
        Box::pin(async move {
            self.binds
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((format!("{namespace}/{name}"), node.to_string()));
            Ok(())
        })
    }
}
