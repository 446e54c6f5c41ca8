//! Checks of the placement-related args: NodeAffinityArgs' node selector terms (as
//! upstream's `nodeaffinity.NewNodeSelector` / `NewPreferredSchedulingTerms` parse
//! them) and PodTopologySpreadArgs.

use k8s_openapi::api::core::v1::{NodeAffinity, NodeSelectorRequirement, NodeSelectorTerm};

use super::types::{DefaultingType, NodeAffinityArgs, PodTopologySpreadArgs};
use crate::config::error::{Errs, FieldPath};
use crate::config::labels::{check_label_name, label_key_errors, label_value_errors};
use crate::config::wire_args as wire;

const LABEL_OPERATORS: [&str; 6] = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];
const FIELD_OPERATORS: [&str; 2] = ["In", "NotIn"];

pub(crate) fn node_affinity(
    w: wire::NodeAffinityArgs,
    p: &FieldPath,
    errs: &mut Errs,
) -> NodeAffinityArgs {
    if let Some(affinity) = &w.added_affinity {
        check_node_affinity(affinity, &p.child("addedAffinity"), errs);
    }
    NodeAffinityArgs {
        added_affinity: w.added_affinity,
    }
}

/// Check a node affinity; problems are reported under `p`.
fn check_node_affinity(affinity: &NodeAffinity, p: &FieldPath, errs: &mut Errs) {
    if let Some(selector) = &affinity.required_during_scheduling_ignored_during_execution {
        let terms_path = p
            .child("requiredDuringSchedulingIgnoredDuringExecution")
            .child("nodeSelectorTerms");
        for (i, term) in selector.node_selector_terms.iter().enumerate() {
            check_term(term, &terms_path.index(i), errs);
        }
    }
    if let Some(terms) = &affinity.preferred_during_scheduling_ignored_during_execution {
        let pref_path = p.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in terms.iter().enumerate() {
            if term.weight == 0 || is_empty_term(&term.preference) {
                continue;
            }
            check_term(&term.preference, &pref_path.index(i), errs);
        }
    }
}

fn is_empty_term(term: &NodeSelectorTerm) -> bool {
    term.match_expressions.as_ref().is_none_or(Vec::is_empty)
        && term.match_fields.as_ref().is_none_or(Vec::is_empty)
}

fn check_term(term: &NodeSelectorTerm, p: &FieldPath, errs: &mut Errs) {
    for (j, req) in term.match_expressions.iter().flatten().enumerate() {
        check_label_requirement(req, &p.child("matchExpressions").index(j), errs);
    }
    for (j, req) in term.match_fields.iter().flatten().enumerate() {
        check_field_requirement(req, &p.child("matchFields").index(j), errs);
    }
}

fn check_label_requirement(req: &NodeSelectorRequirement, p: &FieldPath, errs: &mut Errs) {
    let op = req.operator.as_str();
    if !LABEL_OPERATORS.contains(&op) {
        errs.not_supported(&p.child("operator"), op, &LABEL_OPERATORS);
        return;
    }
    let key_problems = label_key_errors(&req.key);
    if !key_problems.is_empty() {
        errs.invalid(&p.child("key"), &req.key, &key_problems.join("; "));
    }
    let values: &[String] = req.values.as_deref().unwrap_or_default();
    let vp = p.child("values");
    match op {
        "In" | "NotIn" if values.is_empty() => {
            errs.invalid(
                &vp,
                &req.values,
                "for 'in', 'notin' operators, values set can't be empty",
            );
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            errs.invalid(
                &vp,
                &req.values,
                "values set must be empty for exists and does not exist",
            );
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                let detail = "for 'Gt', 'Lt' operators, exactly one value is required";
                errs.invalid(&vp, &req.values, detail);
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    let detail = "for 'Gt', 'Lt' operators, the value must be an integer";
                    errs.invalid(&vp.index(i), v, detail);
                }
            }
        }
        _ => {}
    }
    for (i, v) in values.iter().enumerate() {
        let problems = label_value_errors(v);
        if !problems.is_empty() {
            errs.invalid(&vp.index(i).key(&req.key), v, &problems.join("; "));
        }
    }
}

fn check_field_requirement(req: &NodeSelectorRequirement, p: &FieldPath, errs: &mut Errs) {
    let op = req.operator.as_str();
    if !FIELD_OPERATORS.contains(&op) {
        errs.not_supported(&p.child("operator"), op, &FIELD_OPERATORS);
    } else if req.values.as_ref().is_none_or(|v| v.len() != 1) {
        errs.invalid(&p.child("values"), &req.values, "must have one element");
    }
}

pub(crate) fn pod_topology_spread(
    w: wire::PodTopologySpreadArgs,
    p: &FieldPath,
    errs: &mut Errs,
) -> PodTopologySpreadArgs {
    let defaulting = if w.defaulting_type.is_empty() {
        "System"
    } else {
        w.defaulting_type.as_str()
    };
    let dt_path = p.child("defaultingType");
    let defaulting_type = match defaulting {
        "System" => {
            if !w.default_constraints.is_empty() {
                errs.invalid(
                    &dt_path,
                    defaulting,
                    "when .defaultConstraints are not empty",
                );
            }
            DefaultingType::System
        }
        "List" => DefaultingType::List,
        other => {
            errs.not_supported(&dt_path, other, &["System", "List"]);
            DefaultingType::List
        }
    };
    let dc_path = p.child("defaultConstraints");
    for (i, c) in w.default_constraints.iter().enumerate() {
        let cp = dc_path.index(i);
        if c.max_skew <= 0 {
            errs.invalid(
                &cp.child("maxSkew"),
                &c.max_skew,
                "not in valid range (0, inf)",
            );
        }
        if c.topology_key.is_empty() {
            errs.required(&cp.child("topologyKey"), "can not be empty");
        } else {
            check_label_name(&c.topology_key, &cp.child("topologyKey"), errs);
        }
        let wu = cp.child("whenUnsatisfiable");
        if c.when_unsatisfiable.is_empty() {
            errs.required(&wu, "can not be empty");
        } else if !["DoNotSchedule", "ScheduleAnyway"].contains(&c.when_unsatisfiable.as_str()) {
            errs.not_supported(
                &wu,
                &c.when_unsatisfiable,
                &["DoNotSchedule", "ScheduleAnyway"],
            );
        }
        if c.label_selector.is_some() {
            errs.forbidden(
                &cp.child("labelSelector"),
                "constraint must not define a selector, as they deduced for each pod",
            );
        }
        let repeated = w.default_constraints[..i].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        });
        if repeated {
            let shown = format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable);
            errs.duplicate(&cp, &shown);
        }
    }
    PodTopologySpreadArgs {
        default_constraints: w.default_constraints,
        defaulting_type,
    }
}
