//! Where the Lease lives: the API server, or memory for tests.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, PostParams};

/// The cause of a [`StoreError`]: the API error, or a memory store's reason.
pub type StoreCause = Box<dyn std::error::Error + Send + Sync>;

/// Errors of a [`LeaseStore`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write lost an optimistic-concurrency race (stale `resourceVersion`).
    #[error("failed to write lease: conflict: {0}")]
    Conflict(#[source] StoreCause),
    /// The Lease to create exists already.
    #[error("failed to create lease: already exists: {0}")]
    AlreadyExists(#[source] StoreCause),
    /// The API server refused the request (`403`), e.g. a create without `create` on leases.
    #[error("lease request forbidden: {0}")]
    Forbidden(#[source] StoreCause),
    /// Any other failure (network, permissions, missing object on replace, ...).
    #[error("lease request failed: {0}")]
    Other(#[source] StoreCause),
}

/// Get / create / replace on Leases of one namespace.
pub trait LeaseStore: Send + Sync {
    /// The Lease named `name`, `None` when it does not exist.
    fn get(&self, name: &str) -> impl Future<Output = Result<Option<Lease>, StoreError>> + Send;
    /// Creates `lease`; returns the stored object.
    fn create(&self, lease: &Lease) -> impl Future<Output = Result<Lease, StoreError>> + Send;
    /// Replaces `lease` if its `resourceVersion` is current, else [`StoreError::Conflict`].
    fn replace(&self, lease: &Lease) -> impl Future<Output = Result<Lease, StoreError>> + Send;
}

/// A [`LeaseStore`] on the API server.
#[derive(Clone)]
pub struct ApiLeaseStore {
    api: Api<Lease>,
}

/// A [`LeaseStore`] for Leases in `namespace`.
#[must_use]
pub fn api_store(client: kube::Client, namespace: &str) -> ApiLeaseStore {
    ApiLeaseStore {
        api: Api::namespaced(client, namespace),
    }
}

fn map_kube_error(err: kube::Error) -> StoreError {
    match &err {
        kube::Error::Api(status) if status.is_conflict() => StoreError::Conflict(err.into()),
        kube::Error::Api(status) if status.is_already_exists() => {
            StoreError::AlreadyExists(err.into())
        }
        kube::Error::Api(status) if status.is_forbidden() => StoreError::Forbidden(err.into()),
        _ => StoreError::Other(err.into()),
    }
}

impl LeaseStore for ApiLeaseStore {
    async fn get(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.api.get_opt(name).await.map_err(map_kube_error)
    }

    async fn create(&self, lease: &Lease) -> Result<Lease, StoreError> {
        self.api
            .create(&PostParams::default(), lease)
            .await
            .map_err(map_kube_error)
    }

    async fn replace(&self, lease: &Lease) -> Result<Lease, StoreError> {
        let name = lease
            .metadata
            .name
            .as_deref()
            .ok_or_else(|| StoreError::Other("lease has no name".into()))?;
        self.api
            .replace(name, &PostParams::default(), lease)
            .await
            .map_err(map_kube_error)
    }
}

/// An in-memory [`LeaseStore`] with API-server-like `resourceVersion` checks and fault
/// injection; clones share the same objects, so several electors can compete on it.
#[derive(Clone, Default)]
pub struct MemoryLeaseStore {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Default)]
struct MemoryInner {
    leases: BTreeMap<String, Lease>,
    next_version: u64,
    unavailable: bool,
    hanging: bool,
    conflicts_to_inject: u32,
    forbid_creates: bool,
    write_after_get: Option<(String, LeaseSpec)>,
    gets: u32,
    creates: u32,
    replaces: u32,
}

impl MemoryInner {
    fn put(&mut self, name: &str, spec: LeaseSpec) {
        let mut lease = self.leases.get(name).cloned().unwrap_or_default();
        lease.metadata.name = Some(name.to_owned());
        lease.spec = Some(spec);
        let lease = self.stamp(lease);
        self.leases.insert(name.to_owned(), lease);
    }

    fn stamp(&mut self, mut lease: Lease) -> Lease {
        self.next_version += 1;
        lease.metadata.resource_version = Some(self.next_version.to_string());
        lease
    }

    fn check_available(&self) -> Result<(), StoreError> {
        if self.unavailable {
            Err(StoreError::Other("store unavailable".into()))
        } else {
            Ok(())
        }
    }
}

impl MemoryLeaseStore {
    fn lock(&self) -> MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn hang_if_asked(&self) {
        let hanging = self.lock().hanging;
        if hanging {
            std::future::pending::<()>().await;
        }
    }

    /// Stores a Lease named `name` with `spec`, as another writer (e.g. the operator or a
    /// competing candidate) would; bumps the `resourceVersion`.
    pub fn put(&self, name: &str, spec: LeaseSpec) {
        self.lock().put(name, spec);
    }

    /// Lets another writer [`put`](Self::put) `spec` right after the next read is served,
    /// so the reader's following write races and conflicts.
    pub fn write_after_next_get(&self, name: &str, spec: LeaseSpec) {
        self.lock().write_after_get = Some((name.to_owned(), spec));
    }

    /// The stored Lease named `name`.
    #[must_use]
    pub fn lease(&self, name: &str) -> Option<Lease> {
        self.lock().leases.get(name).cloned()
    }

    /// The stored spec of the Lease named `name` (default when absent).
    #[must_use]
    pub fn spec(&self, name: &str) -> LeaseSpec {
        self.lease(name).and_then(|l| l.spec).unwrap_or_default()
    }

    /// Makes every request fail (`true`) or succeed again (`false`).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// Makes every request hang forever (`true`), as with an unresponsive API server.
    pub fn set_hanging(&self, hanging: bool) {
        self.lock().hanging = hanging;
    }

    /// Makes every create fail with [`StoreError::Forbidden`] (`true`), as for a caller
    /// without `create` on leases, or succeed again (`false`).
    pub fn forbid_creates(&self, forbidden: bool) {
        self.lock().forbid_creates = forbidden;
    }

    /// Makes the next `n` replaces fail with a conflict.
    pub fn inject_conflicts(&self, n: u32) {
        self.lock().conflicts_to_inject = n;
    }

    /// Numbers of (gets, creates, replaces) served, failed ones included.
    #[must_use]
    pub fn calls(&self) -> (u32, u32, u32) {
        let inner = self.lock();
        (inner.gets, inner.creates, inner.replaces)
    }
}

impl LeaseStore for MemoryLeaseStore {
    async fn get(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.hang_if_asked().await;
        let mut inner = self.lock();
        inner.gets += 1;
        inner.check_available()?;
        let found = inner.leases.get(name).cloned();
        if let Some((name, spec)) = inner.write_after_get.take() {
            inner.put(&name, spec);
        }
        Ok(found)
    }

    async fn create(&self, lease: &Lease) -> Result<Lease, StoreError> {
        self.hang_if_asked().await;
        let mut inner = self.lock();
        inner.creates += 1;
        inner.check_available()?;
        if inner.forbid_creates {
            return Err(StoreError::Forbidden(
                "leases.coordination.k8s.io is forbidden: cannot create".into(),
            ));
        }
        let name = lease.metadata.name.clone().unwrap_or_default();
        if inner.leases.contains_key(&name) {
            return Err(StoreError::AlreadyExists(name.into()));
        }
        let stored = inner.stamp(lease.clone());
        inner.leases.insert(name, stored.clone());
        Ok(stored)
    }

    async fn replace(&self, lease: &Lease) -> Result<Lease, StoreError> {
        self.hang_if_asked().await;
        let mut inner = self.lock();
        inner.replaces += 1;
        inner.check_available()?;
        if inner.conflicts_to_inject > 0 {
            inner.conflicts_to_inject -= 1;
            return Err(StoreError::Conflict("injected".into()));
        }
        let name = lease.metadata.name.clone().unwrap_or_default();
        let Some(current) = inner.leases.get(&name) else {
            return Err(StoreError::Other(format!("lease {name} not found").into()));
        };
        if current.metadata.resource_version != lease.metadata.resource_version {
            return Err(StoreError::Conflict(
                format!("lease {name} was modified").into(),
            ));
        }
        let stored = inner.stamp(lease.clone());
        inner.leases.insert(name, stored.clone());
        Ok(stored)
    }
}
