//! Matching primitives shared by the plugins: label selectors, node selectors, taints and
//! tolerations, score normalization.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::cache::NodeInfo;
use crate::model::{LabelSet, Labels, SlimNode};

/// Upstream's `MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;

/// `kubernetes.io/hostname`.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";

/// Labels of a node (empty when absent).
pub fn node_labels(node: &NodeInfo) -> &Labels {
    &node.labels
}

/// Labels of a pod (empty when absent).
pub fn pod_labels(pod: &Pod) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    pod.metadata.labels.as_ref().unwrap_or(&EMPTY)
}

/// A selector operator (label selectors and node selector match expressions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Label present with one of the values.
    In(Vec<String>),
    /// Label absent or with none of the values.
    NotIn(Vec<String>),
    /// Label present.
    Exists,
    /// Label absent.
    DoesNotExist,
    /// Label present, integer, greater than.
    Gt(i64),
    /// Label present, integer, less than.
    Lt(i64),
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// Operator and values.
    pub op: Op,
}

impl Requirement {
    fn matches<L: LabelSet + ?Sized>(&self, labels: &L) -> bool {
        let v = labels.label(&self.key);
        match &self.op {
            Op::In(vals) => v.is_some_and(|v| vals.iter().any(|x| x == v)),
            Op::NotIn(vals) => v.is_none_or(|v| !vals.iter().any(|x| x == v)),
            Op::Exists => v.is_some(),
            Op::DoesNotExist => v.is_none(),
            Op::Gt(n) => v
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            Op::Lt(n) => v
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        }
    }
}

/// A parsed label selector: `Nothing` matches no object, an empty requirement list matches all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    /// Requirements, all of which must hold.
    pub reqs: Vec<Requirement>,
    /// Matches nothing (a nil selector, or one that failed to parse).
    pub nothing: bool,
}

impl Selector {
    /// The selector that matches nothing.
    pub fn nothing() -> Self {
        Selector {
            reqs: Vec::new(),
            nothing: true,
        }
    }

    /// The selector that matches everything.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Upstream's `LabelSelectorAsSelector`: nil → nothing; `{}` → everything; a bad
    /// operator or value list → nothing (the caller treats it as not matching).
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Self {
        let Some(sel) = sel else {
            return Selector::nothing();
        };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement {
                key: k.clone(),
                op: Op::In(vec![v.clone()]),
            });
        }
        for e in sel.match_expressions.iter().flatten() {
            let vals = e.values.clone().unwrap_or_default();
            let op = match e.operator.as_str() {
                "In" if !vals.is_empty() => Op::In(vals),
                "NotIn" if !vals.is_empty() => Op::NotIn(vals),
                "Exists" if vals.is_empty() => Op::Exists,
                "DoesNotExist" if vals.is_empty() => Op::DoesNotExist,
                _ => return Selector::nothing(),
            };
            reqs.push(Requirement {
                key: e.key.clone(),
                op,
            });
        }
        Selector {
            reqs,
            nothing: false,
        }
    }

    /// A selector requiring each of `labels` (upstream's `SelectorFromSet`).
    pub fn from_set<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> Self {
        let reqs = labels
            .into_iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                op: Op::In(vec![v.clone()]),
            })
            .collect();
        Selector {
            reqs,
            nothing: false,
        }
    }

    /// Whether the selector selects nothing at all or everything (upstream's `Empty()`:
    /// true for the everything selector).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches<L: LabelSet + ?Sized>(&self, labels: &L) -> bool {
        !self.nothing && self.reqs.iter().all(|r| r.matches(labels))
    }
}

fn node_requirement(r: &NodeSelectorRequirement) -> Option<Requirement> {
    let vals = r.values.clone().unwrap_or_default();
    let int = |vals: &[String]| {
        if vals.len() == 1 {
            vals[0].parse::<i64>().ok()
        } else {
            None
        }
    };
    let op = match r.operator.as_str() {
        "In" if !vals.is_empty() => Op::In(vals),
        "NotIn" if !vals.is_empty() => Op::NotIn(vals),
        "Exists" if vals.is_empty() => Op::Exists,
        "DoesNotExist" if vals.is_empty() => Op::DoesNotExist,
        "Gt" => Op::Gt(int(&vals)?),
        "Lt" => Op::Lt(int(&vals)?),
        _ => return None,
    };
    Some(Requirement {
        key: r.key.clone(),
        op,
    })
}

/// One parsed node selector term; an empty term or one that failed to parse matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTerm {
    labels: Option<Vec<Requirement>>,
    /// (In?, node name) pairs on `metadata.name`.
    fields: Option<Vec<(bool, String)>>,
    valid: bool,
}

impl NodeTerm {
    /// Parses a term.
    pub fn new(t: &NodeSelectorTerm) -> Self {
        let exprs = t.match_expressions.as_deref().unwrap_or_default();
        let fields = t.match_fields.as_deref().unwrap_or_default();
        let mut valid = !(exprs.is_empty() && fields.is_empty());
        let labels = (!exprs.is_empty()).then(|| {
            exprs
                .iter()
                .filter_map(|e| {
                    let r = node_requirement(e);
                    valid &= r.is_some();
                    r
                })
                .collect()
        });
        let fields = (!fields.is_empty()).then(|| {
            fields
                .iter()
                .filter_map(|f| {
                    let vals = f.values.as_deref().unwrap_or_default();
                    let ok = vals.len() == 1 && (f.operator == "In" || f.operator == "NotIn");
                    valid &= ok;
                    // Only metadata.name is a node field; any other key reads as "".
                    let name = if f.key == "metadata.name" {
                        vals.first()?.clone()
                    } else {
                        format!("\0{}", vals.first()?)
                    };
                    ok.then_some((f.operator == "In", name))
                })
                .collect()
        });
        NodeTerm {
            labels,
            fields,
            valid,
        }
    }

    /// Whether `node` matches.
    pub fn matches<L: LabelSet + ?Sized>(&self, name: &str, labels: &L) -> bool {
        if !self.valid {
            return false;
        }
        if let Some(reqs) = &self.labels
            && !reqs.iter().all(|r| r.matches(labels))
        {
            return false;
        }
        if let Some(fields) = &self.fields
            && !fields.iter().all(|(is_in, v)| (v == name) == *is_in)
        {
            return false;
        }
        true
    }
}

/// Parsed `NodeSelector` (terms are ORed; no terms matches nothing).
pub fn parse_node_selector(ns: &NodeSelector) -> Vec<NodeTerm> {
    ns.node_selector_terms.iter().map(NodeTerm::new).collect()
}

/// Whether any term matches.
pub fn terms_match<L: LabelSet + ?Sized>(terms: &[NodeTerm], name: &str, labels: &L) -> bool {
    terms.iter().any(|t| t.matches(name, labels))
}

/// A pod's `nodeSelector` plus required node affinity (upstream's `RequiredNodeAffinity`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequiredNodeAffinity {
    selector: Option<Selector>,
    terms: Option<Vec<NodeTerm>>,
}

impl RequiredNodeAffinity {
    /// Built from the pod's spec.
    pub fn of(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        let selector = spec
            .and_then(|s| s.node_selector.as_ref())
            .map(Selector::from_set);
        let terms = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(parse_node_selector);
        RequiredNodeAffinity { selector, terms }
    }

    /// Whether the pod has neither a nodeSelector nor required node affinity.
    pub fn is_empty(&self) -> bool {
        self.selector.is_none() && self.terms.is_none()
    }

    /// Whether the node matches.
    pub fn matches_labels<L: LabelSet + ?Sized>(&self, name: &str, labels: &L) -> bool {
        if let Some(s) = &self.selector
            && !s.matches(labels)
        {
            return false;
        }
        self.terms
            .as_ref()
            .is_none_or(|t| terms_match(t, name, labels))
    }

    /// Whether `node` matches.
    pub fn matches(&self, node: &NodeInfo) -> bool {
        self.matches_labels(&node.name, node_labels(node))
    }

    /// Whether the Node (as the scheduler keeps it) matches.
    pub fn matches_node(&self, node: &SlimNode) -> bool {
        self.matches_labels(&node.name, &node.labels)
    }
}

/// Upstream's `Toleration.ToleratesTaint` (comparison operators are behind an alpha gate, off).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty())
        && e != taint.effect
    {
        return false;
    }
    if let Some(k) = t.key.as_deref().filter(|k| !k.is_empty())
        && k != taint.key
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// Whether any toleration tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The pod's tolerations.
pub fn pod_tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

/// The first NoSchedule/NoExecute taint not tolerated.
pub fn untolerated_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerated(tolerations, t))
}

/// Upstream's `DefaultNormalizeScore`: scale to 0..=max by the highest score, optionally reversed.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0).max(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        // In i128 when the product overflows (raw scores of any size, issue #20).
        let v = s.checked_mul(MAX_NODE_SCORE).map_or_else(
            || {
                let v = i128::from(*s) * i128::from(MAX_NODE_SCORE) / i128::from(max);
                i64::try_from(v).unwrap_or(i64::MIN)
            },
            |p| p / max,
        );
        *s = if reverse {
            MAX_NODE_SCORE.saturating_sub(v)
        } else {
            v
        };
    }
}

#[cfg(test)]
#[path = "testutil.rs"]
pub mod testutil;

#[cfg(test)]
#[path = "helpers_tests.rs"]
mod tests;
