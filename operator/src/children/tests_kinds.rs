//! The kinds table is the one list: every loop over the kinds (read, build, plan, apply,
//! delete, watch) covers each kind, in the table's order.

use std::sync::Mutex;

use super::kinds::{
    self, Child, ChildVisitor, Deletion, Existing, Home, KindVisitor, Lookup, Reader, Slot,
};
use crate::error::Error;
use crate::test_support::{fresh, minimal, plan_of};

/// The table's slots, in apply order.
const SLOTS: [&str; 10] = [
    "service_account",
    "cluster_role_bindings",
    "lease_role",
    "lease_role_binding",
    "auth_reader_binding",
    "lease",
    "config_maps",
    "service",
    "deployment",
    "pdb",
];

/// The slot of a kind or of a child's kind.
struct SlotOf;

impl KindVisitor for SlotOf {
    type Output = &'static str;
    fn visit<S: Slot>(&mut self) -> &'static str {
        S::SLOT
    }
}

impl ChildVisitor<'_> for SlotOf {
    type Output = &'static str;
    fn visit<S: Slot>(self, _: &S::K) -> &'static str {
        S::SLOT
    }
}

#[test]
fn the_table_lists_ten_kinds_once_in_apply_order() {
    assert_eq!(kinds::each_kind(&mut SlotOf), SLOTS);
    let rows = kinds::rows();
    let kinds: Vec<_> = rows.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "RoleBinding",
            "Lease",
            "ConfigMap",
            "Service",
            "Deployment",
            "PodDisruptionBudget",
        ]
    );
}

#[test]
fn every_kind_lives_where_its_scope_says_and_is_watched() {
    for row in kinds::rows() {
        assert_eq!(row.cluster_scoped, row.home == Home::Cluster, "{row:?}");
        // Only the Lease, which its scheduler recreates without an owner, reconciles all.
        assert_eq!(row.reconciles_all, row.slot == "lease", "{row:?}");
    }
}

struct Lookups;

impl KindVisitor for Lookups {
    type Output = (&'static str, Lookup);
    fn visit<S: Slot>(&mut self) -> Self::Output {
        (S::SLOT, S::lookup("demo"))
    }
}

#[test]
fn every_kind_says_how_its_objects_are_found() {
    for (slot, lookup) in kinds::each_kind(&mut Lookups) {
        match (slot, lookup) {
            ("config_maps", Lookup::Labelled(selector)) => assert_eq!(
                selector,
                "app.kubernetes.io/managed-by=ferrosched-operator,ferrosched.dev/profile=demo"
            ),
            ("cluster_role_bindings", Lookup::Named(names)) => {
                assert_eq!(names.len(), super::grant_groups().len());
                assert!(names.contains(&"ferrosched:scheduler:demo:base".to_string()));
            }
            ("auth_reader_binding", Lookup::Named(names)) => {
                assert_eq!(names, ["ferrosched-demo-auth-reader"]);
            }
            (_, Lookup::Named(names)) => assert_eq!(names, ["ferrosched-demo"], "{slot}"),
            (slot, lookup) => panic!("{slot}: unexpected {lookup:?}"),
        }
    }
}

/// Records the kinds it is asked to read, and finds nothing.
#[derive(Default)]
struct Recording(Mutex<Vec<&'static str>>);

impl Reader for Recording {
    async fn read<S: Slot>(&self) -> Result<S::Existing, Error> {
        if let Ok(mut seen) = self.0.lock() {
            seen.push(S::SLOT);
        }
        Ok(S::Existing::default())
    }
}

#[tokio::test]
async fn the_snapshot_reads_every_kind() {
    let r = Recording::default();
    let found = Existing::read(&r).await;
    assert!(found.is_ok());
    let seen = r.0.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(seen, SLOTS);
}

#[test]
fn a_new_profile_applies_every_kind_in_table_order() {
    // Three replicas: the PDB is wanted too.
    let mut p = minimal("demo");
    p.spec.replicas = 3;
    let plan = plan_of(&p, &fresh());
    let mut slots: Vec<&str> = plan.applies.iter().map(|c| c.visit(SlotOf)).collect();
    slots.dedup();
    assert_eq!(slots, SLOTS);
}

#[test]
fn a_deletion_names_its_kind_and_object() {
    let d = Deletion::Pdb("ferrosched-demo".into());
    assert_eq!((d.visit(&mut SlotOf), d.name()), ("pdb", "ferrosched-demo"));
    let cm = Child::ConfigMap(Default::default());
    assert_eq!((cm.visit(SlotOf), cm.kind()), ("config_maps", "ConfigMap"));
}
