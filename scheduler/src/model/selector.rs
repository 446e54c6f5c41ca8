//! Label selectors and node selector terms, parsed once and matched against any label set
//! (upstream's `labels.Selector` and `nodeaffinity.NodeSelector`).

use k8s_openapi::api::core::v1::{NodeSelector, NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::LabelSet;

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
    /// Whether `labels` satisfy the requirement.
    pub fn matches<L: LabelSet + ?Sized>(&self, labels: &L) -> bool {
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
