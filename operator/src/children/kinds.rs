//! The registry of child kinds: the one list of what a profile owns (pure).
//!
//! Each kind is a marker type in [`kind`] implementing [`ChildKind`]: its Kubernetes
//! type, where its objects live ([`Home`], [`ChildKind::lookup`]), how the controller
//! learns of changes ([`Watch`]), how it is built and how its objects are planned. The
//! [`table!`] below lists the kinds once, in apply order, and generates from that list
//! everything that must cover every kind: the typed slots of [`Existing`] (what the
//! snapshot read) and [`Desired`] (what the builders want), the [`Child`] and
//! [`Deletion`] enums the plan carries, and the loops over them ([`each_kind`],
//! [`Existing::read`], [`Desired::plan`], [`Child::visit`], [`Deletion::visit`]).
//! The I/O lives in `read`, `apply` and `controller`, behind [`Reader`],
//! [`ChildVisitor`] and [`KindVisitor`].
//!
//! Adding a kind: a row in the table, its `ChildKind` here (a line of [`one_object!`] for
//! a plain one-object kind), its builder.

use std::fmt::Debug;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};

use ferrosched_crds::SchedulerProfile;
use k8s_openapi::api::apps::v1::Deployment as K8sDeployment;
use k8s_openapi::api::coordination::v1::Lease as K8sLease;
use k8s_openapi::api::core::v1::{
    ConfigMap as K8sConfigMap, Service as K8sService, ServiceAccount as K8sServiceAccount,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding as K8sClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use kube::api::Api;
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    auth_reader_binding, cluster_role_bindings, config_map, deployment, emptied_binding,
    grant_groups, lease, lease_role, lease_role_binding, pdb, service, service_account,
};
use crate::config_ref::ConfigRef;
use crate::diff::needs_apply;
use crate::error::Error;
use crate::settings::Settings;
use crate::validate::Valid;
use crate::{events, identity};

/// What the operator needs of a child's Kubernetes type to read, apply, delete and watch it.
pub trait Object:
    Resource<DynamicType = (), Scope: Scope>
    + Clone
    + Serialize
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Object for K where
    K: Resource<DynamicType = (), Scope: Scope>
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static
{
}

/// A resource scope: how to address objects of that scope.
pub trait Scope {
    /// Cluster-scoped objects have no namespace.
    const CLUSTER: bool;
    /// The API of `K` objects in `namespace` (ignored for cluster-scoped ones).
    fn api<K: Resource<Scope = Self, DynamicType = ()>>(client: Client, namespace: &str) -> Api<K>;
}

impl Scope for NamespaceResourceScope {
    const CLUSTER: bool = false;
    fn api<K: Resource<Scope = Self, DynamicType = ()>>(client: Client, namespace: &str) -> Api<K> {
        Api::namespaced(client, namespace)
    }
}

impl Scope for ClusterResourceScope {
    const CLUSTER: bool = true;
    fn api<K: Resource<Scope = Self, DynamicType = ()>>(client: Client, _: &str) -> Api<K> {
        Api::all(client)
    }
}

/// The API of `K` objects in `namespace` (ignored for cluster-scoped kinds).
pub fn api<K: Object>(client: &Client, namespace: &str) -> Api<K> {
    <K::Scope as Scope>::api(client.clone(), namespace)
}

/// The static kind name of `K` (`Deployment`, ...).
pub fn kind_of<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()) {
        std::borrow::Cow::Borrowed(k) => k,
        std::borrow::Cow::Owned(_) => "object",
    }
}

/// Where a kind's objects live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Home {
    /// The operands' namespace.
    Operands,
    /// `kube-system` (delegated authentication).
    KubeSystem,
    /// Cluster-scoped.
    Cluster,
}

impl Home {
    /// The namespace, given the operands' (empty for cluster-scoped kinds).
    pub fn namespace(self, operands: &str) -> &str {
        match self {
            Home::Operands => operands,
            Home::KubeSystem => identity::KUBE_SYSTEM,
            Home::Cluster => "",
        }
    }
}

/// How a profile's objects of a kind are found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// By these names (each may be missing).
    Named(Vec<String>),
    /// Every object with this label selector.
    Labelled(String),
}

/// How the controller learns that a kind's objects changed.
#[derive(Clone, Copy, Debug)]
pub enum Watch<K> {
    /// Watched by the managed-by label; a change reconciles the owning profile.
    Owner,
    /// Watched by the managed-by label; a change of this fingerprint (or a deletion)
    /// reconciles every profile (for objects others recreate without an owner).
    AllOnChange(fn(&K) -> u64),
}

/// What a snapshot holds of one kind: `Option<K>` for one name, `Vec<K>` for several.
pub trait Found<K>: Clone + Debug + Default + Send {
    /// From the objects found.
    fn from_found(found: Vec<K>) -> Self;
}

impl<K: Clone + Debug + Send> Found<K> for Option<K> {
    fn from_found(found: Vec<K>) -> Self {
        found.into_iter().next()
    }
}

impl<K: Clone + Debug + Send> Found<K> for Vec<K> {
    fn from_found(found: Vec<K>) -> Self {
        found
    }
}

/// What the builders need.
#[derive(Clone, Copy, Debug)]
pub struct BuildCx<'a> {
    /// The profile.
    pub profile: &'a SchedulerProfile,
    /// Operator-wide settings.
    pub settings: &'a Settings,
    /// The validated profile.
    pub valid: &'a Valid,
    /// The configuration the spec asks for (its ConfigMap is built).
    pub desired: &'a ConfigRef,
    /// The configuration the Deployment runs (the desired one, or the last good one).
    pub deployed: &'a ConfigRef,
}

/// What planning a kind needs besides what exists and what is wanted.
#[derive(Clone, Copy, Debug)]
pub struct PlanCx<'a> {
    /// The profile.
    pub profile: &'a SchedulerProfile,
    /// The configuration the spec asks for.
    pub desired: &'a ConfigRef,
    /// Whether the desired configuration's ConfigMap is written (not during a rollback).
    pub write_config: bool,
}

/// The writes planning the children asks for (the plan carries them on).
#[derive(Clone, Debug, Default)]
pub struct ChildWrites {
    /// Objects to apply, in table order.
    pub applies: Vec<Child>,
    /// Objects to delete.
    pub deletes: Vec<Deletion>,
    /// Events to publish.
    pub events: Vec<events::Notice>,
}

/// One kind of child a profile owns. Implemented once per kind, below.
pub trait ChildKind: Sized + 'static {
    /// The Kubernetes type.
    type K: Object;
    /// What a snapshot holds of it.
    type Existing: Found<Self::K>;
    /// What the builders want of it.
    type Wanted: Clone + Debug;
    /// Where its objects live.
    const HOME: Home;
    /// How the controller watches it.
    const WATCH: Watch<Self::K> = Watch::Owner;
    /// How profile `p`'s objects of this kind are found.
    fn lookup(p: &str) -> Lookup;
    /// The wanted object(s) (pure).
    fn build(cx: &BuildCx<'_>) -> Self::Wanted;
    /// Adds to `writes` those that bring `have` to `want` (pure).
    fn plan(want: Self::Wanted, have: &Self::Existing, cx: &PlanCx<'_>, writes: &mut ChildWrites);
}

/// A kind's place in the table (implemented by [`table!`] for every row).
pub trait Slot: ChildKind {
    /// The field of the kind in [`Existing`].
    const SLOT: &'static str;
    /// `obj` as a [`Child`] to apply.
    fn child(obj: Self::K) -> Child;
    /// Object `name` of this kind as a [`Deletion`].
    fn deletion(name: String) -> Deletion;
}

/// Does something for a kind of the table (see [`each_kind`], [`Deletion::visit`]).
pub trait KindVisitor {
    /// What it gives back.
    type Output;
    /// Visits kind `S`.
    fn visit<S: Slot>(&mut self) -> Self::Output;
}

/// Does something with an object to apply (see [`Child::visit`]).
pub trait ChildVisitor<'a> {
    /// What it gives back.
    type Output;
    /// Visits `obj` of kind `S`.
    fn visit<S: Slot>(self, obj: &'a S::K) -> Self::Output;
}

/// Reads what exists of one kind (see [`Existing::read`]); implemented by `read` (I/O).
pub trait Reader: Sync {
    /// The objects of kind `S`.
    fn read<S: Slot>(&self) -> impl Future<Output = Result<S::Existing, Error>> + Send;
}

/// Generates, from one list of kinds (apply order), the marker types, the slots of
/// [`Existing`] and [`Desired`], [`Child`], [`Deletion`] and every loop over the kinds.
macro_rules! table {
    ($( $(#[$doc:meta])* $v:ident: $have:ident, $want:ident; )*) => {
        /// One marker type per child kind (see [`ChildKind`]).
        pub mod kind {
            $( $(#[$doc])* #[derive(Clone, Copy, Debug)] pub struct $v; )*
        }

        /// What exists of every kind (read by [`Existing::read`]).
        #[derive(Clone, Debug, Default)]
        pub struct Existing {
            $(
                #[doc = concat!("What exists of [`kind::", stringify!($v), "`].")]
                pub $have: <kind::$v as ChildKind>::Existing,
            )*
        }

        /// What a valid profile should have of every kind (built by [`Desired::build`]).
        #[derive(Clone, Debug)]
        pub struct Desired {
            $(
                #[doc = concat!("What is wanted of [`kind::", stringify!($v), "`].")]
                pub $want: <kind::$v as ChildKind>::Wanted,
            )*
        }

        /// One object to server-side apply.
        #[derive(Clone, Debug)]
        #[allow(clippy::large_enum_variant)] // built once per reconcile, never stored in bulk
        pub enum Child {
            $(
                #[doc = concat!("Of [`kind::", stringify!($v), "`].")]
                $v(<kind::$v as ChildKind>::K),
            )*
        }

        /// One object to delete, by name.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Deletion {
            $(
                #[doc = concat!("Of [`kind::", stringify!($v), "`].")]
                $v(String),
            )*
        }

        $(
            impl Slot for kind::$v {
                const SLOT: &'static str = stringify!($have);
                fn child(obj: Self::K) -> Child {
                    Child::$v(obj)
                }
                fn deletion(name: String) -> Deletion {
                    Deletion::$v(name)
                }
            }
        )*

        /// Visits every kind, in table (apply) order.
        pub fn each_kind<V: KindVisitor>(v: &mut V) -> Vec<V::Output> {
            vec![$(v.visit::<kind::$v>(),)*]
        }

        impl Existing {
            /// Reads every kind at once through `r`.
            pub async fn read<R: Reader>(r: &R) -> Result<Existing, Error> {
                let ($($have,)*) = tokio::try_join!($(r.read::<kind::$v>(),)*)?;
                Ok(Existing { $($have,)* })
            }
        }

        impl Desired {
            /// Builds every kind (pure).
            pub fn build(cx: &BuildCx<'_>) -> Desired {
                Desired { $($want: <kind::$v as ChildKind>::build(cx),)* }
            }

            /// The writes that bring every kind from `have` to what is wanted, in table
            /// order (pure).
            pub fn plan(self, have: &Existing, cx: &PlanCx<'_>) -> ChildWrites {
                let mut writes = ChildWrites::default();
                $(<kind::$v as ChildKind>::plan(self.$want, &have.$have, cx, &mut writes);)*
                writes
            }
        }

        impl Child {
            /// Hands the object, with its kind, to `v`.
            pub fn visit<'a, V: ChildVisitor<'a>>(&'a self, v: V) -> V::Output {
                match self {
                    $(Child::$v(obj) => v.visit::<kind::$v>(obj),)*
                }
            }

            /// The Kubernetes kind of the object.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Child::$v(_) => kind_of::<<kind::$v as ChildKind>::K>(),)*
                }
            }
        }

        impl Deletion {
            /// Visits the kind of the object to delete.
            pub fn visit<V: KindVisitor>(&self, v: &mut V) -> V::Output {
                match self {
                    $(Deletion::$v(_) => v.visit::<kind::$v>(),)*
                }
            }

            /// The name of the object to delete.
            pub fn name(&self) -> &str {
                match self {
                    $(Deletion::$v(name))|* => name,
                }
            }
        }
    };
}

table! {
    /// The scheduler pods' identity.
    ServiceAccount: service_account, service_account;
    /// Bindings of the ServiceAccount to the grant roles of the enabled plugins: in a
    /// snapshot, those under the names of every grant group (whoever controls them);
    /// wanted, those of the profile's groups, sorted by name.
    ClusterRoleBinding: cluster_role_bindings, cluster_role_bindings;
    /// get/update on the scheduler's Lease.
    LeaseRole: lease_role, lease_role;
    /// Binds the Lease Role.
    LeaseRoleBinding: lease_role_binding, lease_role_binding;
    /// kube-system binding to `extension-apiserver-authentication-reader`.
    AuthReaderBinding: auth_reader_binding, auth_reader_binding;
    /// The scheduler's Lease (metadata only).
    Lease: lease, lease;
    /// The config ConfigMaps: in a snapshot, every one of the profile; wanted, the one of
    /// the desired configuration (before the Deployment that mounts it).
    ConfigMap: config_maps, config_map;
    /// The metrics Service.
    Service: service, service;
    /// The Deployment, mounting the configuration chosen by the rollout logic.
    Deployment: deployment, deployment;
    /// The PDB, when there is a standby to keep.
    Pdb: pdb, pdb;
}

/// Applies `want` unless `have` already carries it.
fn apply_changed<S: Slot>(want: S::K, have: Option<&S::K>, writes: &mut ChildWrites) {
    if needs_apply(&want, have) {
        writes.applies.push(S::child(want));
    }
}

/// The objects named after the profile in the operands' namespace (`ferrosched-<profile>`).
fn child_named(p: &str) -> Lookup {
    Lookup::Named(vec![identity::child_name(p)])
}

/// The kube-system binding of profile `p`.
fn auth_reader_named(p: &str) -> Lookup {
    Lookup::Named(vec![identity::auth_reader_binding_name(p)])
}

/// A kind of one object per profile, built from the profile and the settings, owner
/// watched, applied when what exists differs.
macro_rules! one_object {
    ($($v:ident: $k:ty, $home:ident, $lookup:ident, $build:ident;)*) => {$(
        impl ChildKind for kind::$v {
            type K = $k;
            type Existing = Option<$k>;
            type Wanted = $k;
            const HOME: Home = Home::$home;
            fn lookup(p: &str) -> Lookup {
                $lookup(p)
            }
            fn build(cx: &BuildCx<'_>) -> $k {
                $build(cx.profile, cx.settings)
            }
            fn plan(want: $k, have: &Option<$k>, _: &PlanCx<'_>, writes: &mut ChildWrites) {
                apply_changed::<Self>(want, have.as_ref(), writes);
            }
        }
    )*};
}

one_object! {
    ServiceAccount: K8sServiceAccount, Operands, child_named, service_account;
    LeaseRole: Role, Operands, child_named, lease_role;
    LeaseRoleBinding: RoleBinding, Operands, child_named, lease_role_binding;
    AuthReaderBinding: RoleBinding, KubeSystem, auth_reader_named, auth_reader_binding;
    Service: K8sService, Operands, child_named, service;
}

impl ChildKind for kind::ClusterRoleBinding {
    type K = K8sClusterRoleBinding;
    type Existing = Vec<K8sClusterRoleBinding>;
    type Wanted = Vec<K8sClusterRoleBinding>;
    const HOME: Home = Home::Cluster;
    fn lookup(p: &str) -> Lookup {
        let names = grant_groups().into_iter().map(|g| g.name());
        Lookup::Named(names.map(|g| identity::grant_binding_name(p, &g)).collect())
    }
    fn build(cx: &BuildCx<'_>) -> Self::Wanted {
        cluster_role_bindings(cx.profile, cx.settings, &cx.valid.enabled_plugins)
    }
    /// First empties the profile's bindings of groups it no longer needs (they still
    /// grant), then applies the wanted ones.
    fn plan(want: Self::Wanted, have: &Self::Existing, cx: &PlanCx<'_>, writes: &mut ChildWrites) {
        for existing in have {
            let needed = want
                .iter()
                .any(|b| b.metadata.name == existing.metadata.name);
            let grants = existing.subjects.as_ref().is_some_and(|s| !s.is_empty());
            if !needed && grants && identity::controlled_by(&existing.metadata, cx.profile) {
                let emptied = emptied_binding(cx.profile, existing);
                writes.applies.push(Self::child(emptied));
            }
        }
        for binding in want {
            let existing = have
                .iter()
                .find(|b| b.metadata.name == binding.metadata.name);
            apply_changed::<Self>(binding, existing, writes);
        }
    }
}

/// What of a Lease the status and drift correction care about. The scheduler replicas
/// renew it every few seconds, so only a change of holder, transitions, labels or owners
/// (or a deletion) triggers a reconcile.
pub fn lease_fingerprint(lease: &K8sLease) -> u64 {
    let mut h = DefaultHasher::new();
    let spec = lease.spec.as_ref();
    spec.and_then(|s| s.holder_identity.clone()).hash(&mut h);
    spec.and_then(|s| s.lease_transitions).hash(&mut h);
    lease.metadata.labels.hash(&mut h);
    serde_json::to_string(&lease.metadata.owner_references)
        .unwrap_or_default()
        .hash(&mut h);
    h.finish()
}

impl ChildKind for kind::Lease {
    type K = K8sLease;
    type Existing = Option<K8sLease>;
    type Wanted = K8sLease;
    const HOME: Home = Home::Operands;
    /// The scheduler recreates its Lease without an owner when it is deleted, so a change
    /// reconciles every profile.
    const WATCH: Watch<K8sLease> = Watch::AllOnChange(lease_fingerprint);
    fn lookup(p: &str) -> Lookup {
        child_named(p)
    }
    fn build(cx: &BuildCx<'_>) -> Self::Wanted {
        lease(cx.profile, cx.settings)
    }
    fn plan(want: Self::Wanted, have: &Self::Existing, _: &PlanCx<'_>, writes: &mut ChildWrites) {
        apply_changed::<Self>(want, have.as_ref(), writes);
    }
}

impl ChildKind for kind::ConfigMap {
    type K = K8sConfigMap;
    type Existing = Vec<K8sConfigMap>;
    type Wanted = K8sConfigMap;
    const HOME: Home = Home::Operands;
    fn lookup(p: &str) -> Lookup {
        Lookup::Labelled(identity::config_maps_selector(p))
    }
    fn build(cx: &BuildCx<'_>) -> Self::Wanted {
        config_map(cx.profile, cx.settings, &cx.valid.rendered, cx.desired)
    }
    /// Writes the desired configuration's ConfigMap (announcing a new one), unless a
    /// rollback runs another. Old ones are pruned by the plan, after every apply.
    fn plan(want: Self::Wanted, have: &Self::Existing, cx: &PlanCx<'_>, writes: &mut ChildWrites) {
        if !cx.write_config {
            return;
        }
        let existing = have.iter().find(|c| c.metadata.name == want.metadata.name);
        if existing.is_none() {
            let d = cx.desired;
            writes
                .events
                .push(events::config_created(&d.config_map_name, &d.hash));
        }
        apply_changed::<Self>(want, existing, writes);
    }
}

impl ChildKind for kind::Deployment {
    type K = K8sDeployment;
    type Existing = Option<K8sDeployment>;
    type Wanted = K8sDeployment;
    const HOME: Home = Home::Operands;
    fn lookup(p: &str) -> Lookup {
        child_named(p)
    }
    fn build(cx: &BuildCx<'_>) -> Self::Wanted {
        deployment(cx.profile, cx.settings, cx.deployed)
    }
    fn plan(want: Self::Wanted, have: &Self::Existing, _: &PlanCx<'_>, writes: &mut ChildWrites) {
        apply_changed::<Self>(want, have.as_ref(), writes);
    }
}

impl ChildKind for kind::Pdb {
    type K = PodDisruptionBudget;
    type Existing = Option<PodDisruptionBudget>;
    type Wanted = Option<PodDisruptionBudget>;
    const HOME: Home = Home::Operands;
    fn lookup(p: &str) -> Lookup {
        child_named(p)
    }
    fn build(cx: &BuildCx<'_>) -> Self::Wanted {
        pdb(cx.profile, cx.settings)
    }
    /// Applied when wanted; deleted when it exists and is not (one replica or fewer).
    fn plan(want: Self::Wanted, have: &Self::Existing, _: &PlanCx<'_>, writes: &mut ChildWrites) {
        match (want, have) {
            (Some(want), have) => apply_changed::<Self>(want, have.as_ref(), writes),
            (None, Some(have)) => {
                let name = have.metadata.name.clone().unwrap_or_default();
                writes.deletes.push(Self::deletion(name));
            }
            (None, None) => {}
        }
    }
}

/// Every kind's slot, Kubernetes kind, home and watch, in table order (for tests and docs).
#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    /// Field in [`Existing`].
    pub slot: &'static str,
    /// Kubernetes kind.
    pub kind: &'static str,
    /// Where its objects live.
    pub home: Home,
    /// Whether it is cluster-scoped.
    pub cluster_scoped: bool,
    /// Whether a change reconciles every profile rather than the owner.
    pub reconciles_all: bool,
}

struct Rows;

impl KindVisitor for Rows {
    type Output = Row;
    fn visit<S: Slot>(&mut self) -> Row {
        Row {
            slot: S::SLOT,
            kind: kind_of::<S::K>(),
            home: S::HOME,
            cluster_scoped: <<S::K as Resource>::Scope as Scope>::CLUSTER,
            reconciles_all: matches!(S::WATCH, Watch::AllOnChange(_)),
        }
    }
}

/// The table, row by row.
pub fn rows() -> Vec<Row> {
    each_kind(&mut Rows)
}
