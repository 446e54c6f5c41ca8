//! A pod's (anti-)affinity terms, parsed once when its [`PodInfo`] is built (upstream keeps
//! them on its PodInfo too): existing pods' terms are matched every cycle.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};

use super::PodInfo;
use super::labels::intern_key;
use super::selector::Selector;

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

/// A pod's (anti-)affinity terms, parsed once when its PodInfo is built (upstream keeps
/// them on its PodInfo too): existing pods' terms are matched every cycle.
#[derive(Debug, Clone, Default)]
pub struct AffinityTerms {
    /// Required affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Weighted preferred affinity terms.
    pub preferred_affinity: Vec<(i64, AffinityTerm)>,
    /// Weighted preferred anti-affinity terms.
    pub preferred_anti_affinity: Vec<(i64, AffinityTerm)>,
}

impl AffinityTerms {
    /// Parses every term of `pod`.
    pub fn of(pod: &Pod) -> Self {
        AffinityTerms {
            required_affinity: required_affinity(pod),
            required_anti_affinity: required_anti_affinity(pod),
            preferred_affinity: preferred_affinity(pod),
            preferred_anti_affinity: preferred_anti_affinity(pod),
        }
    }
}

/// A parsed pod affinity term.
#[derive(Debug, Clone, PartialEq)]
pub struct AffinityTerm {
    namespaces: Vec<String>,
    ns_selector: Selector,
    selector: Selector,
    /// `topologyKey`.
    pub topology_key: Arc<str>,
}

impl AffinityTerm {
    /// Parses `t`, a term of `owner`.
    pub fn new(owner: &Pod, t: &PodAffinityTerm) -> Self {
        let namespaces = match (&t.namespaces, &t.namespace_selector) {
            (ns, None) if ns.as_ref().is_none_or(|v| v.is_empty()) => {
                vec![owner.metadata.namespace.clone().unwrap_or_default()]
            }
            (ns, _) => ns.clone().unwrap_or_default(),
        };
        AffinityTerm {
            namespaces,
            ns_selector: Selector::from_label_selector(t.namespace_selector.as_ref()),
            selector: Selector::from_label_selector(t.label_selector.as_ref()),
            topology_key: intern_key(&t.topology_key),
        }
    }

    /// Whether `pod` (whose namespace has `ns_labels`) is selected by the term.
    #[inline]
    pub fn matches(&self, pod: &PodInfo, ns_labels: Option<&BTreeMap<String, String>>) -> bool {
        let ns = pod.namespace();
        (self.namespaces.iter().any(|n| n == ns)
            || self.ns_selector.matches(ns_labels.unwrap_or(&NO_LABELS)))
            && self.selector.matches(pod.labels())
    }

    /// Resolves a non-empty namespace selector into namespace names (upstream's
    /// `mergeAffinityTermNamespacesIfNotEmpty`); `namespaces` lists every namespace with
    /// its labels, read only when the selector needs it.
    pub fn merge_namespaces(
        &mut self,
        namespaces: impl FnOnce() -> Vec<(String, BTreeMap<String, String>)>,
    ) {
        if self.ns_selector.is_empty() {
            return;
        }
        if !self.ns_selector.nothing {
            for (name, labels) in namespaces() {
                if self.ns_selector.matches(&labels) {
                    self.namespaces.push(name);
                }
            }
        }
        self.ns_selector = Selector::nothing();
    }
}

/// The pod's affinity terms of one kind.
pub fn required_affinity(pod: &Pod) -> Vec<AffinityTerm> {
    let terms = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_affinity.as_ref());
    terms
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .into_iter()
        .flatten()
        .map(|t| AffinityTerm::new(pod, t))
        .collect()
}

/// The pod's required anti-affinity terms.
pub fn required_anti_affinity(pod: &Pod) -> Vec<AffinityTerm> {
    let terms = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref());
    terms
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .into_iter()
        .flatten()
        .map(|t| AffinityTerm::new(pod, t))
        .collect()
}

fn weighted(pod: &Pod, list: Option<&Vec<WeightedPodAffinityTerm>>) -> Vec<(i64, AffinityTerm)> {
    list.into_iter()
        .flatten()
        .map(|w| {
            (
                i64::from(w.weight),
                AffinityTerm::new(pod, &w.pod_affinity_term),
            )
        })
        .collect()
}

/// The pod's preferred affinity terms with weights.
pub fn preferred_affinity(pod: &Pod) -> Vec<(i64, AffinityTerm)> {
    let a = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_affinity.as_ref());
    weighted(
        pod,
        a.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }),
    )
}

/// The pod's preferred anti-affinity terms with weights.
pub fn preferred_anti_affinity(pod: &Pod) -> Vec<(i64, AffinityTerm)> {
    let a = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref());
    weighted(
        pod,
        a.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }),
    )
}
