//! From a profile's `plugins` section to the effective plugin list of every
//! extension point, as upstream's `mergePlugins` (v1 defaulting) followed by the
//! framework's `multiPoint` expansion and score-weight rules produce it.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::error::{Errs, FieldPath, shown};
use super::plugins_table::{DEFAULT_MULTI_POINT, ExtensionPoint, PluginInfo, plugin_info};
use super::types::{PluginSet, Plugins};

/// Upstream's `MaxScore` of one plugin for one node.
const MAX_NODE_SCORE: i64 = 100;

/// A plugin enabled at an extension point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRef {
    /// Plugin name.
    pub name: String,
    /// Score weight (>= 1) at the Score point; 0 at every other point.
    pub weight: i32,
}

/// The effective, ordered plugin list of every extension point of a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvedPlugins {
    points: [Vec<PluginRef>; 12],
}

impl ResolvedPlugins {
    /// The plugins that run at `point`, in order.
    pub fn at(&self, point: ExtensionPoint) -> &[PluginRef] {
        &self.points[point.index()]
    }

    /// Appends `name` at `point` (weight 1 at Score): for programs that embed the
    /// framework with plugins of their own, which no config file can name.
    pub fn push(&mut self, point: ExtensionPoint, name: &str) {
        let weight = i32::from(point == ExtensionPoint::Score);
        self.points[point.index()].push(PluginRef {
            name: name.to_string(),
            weight,
        });
    }

    /// Every plugin enabled at some extension point.
    pub fn enabled_names(&self) -> BTreeSet<String> {
        self.points
            .iter()
            .flatten()
            .map(|p| p.name.clone())
            .collect()
    }

    /// Whether `name` runs at `point`.
    pub fn is_enabled_at(&self, name: &str, point: ExtensionPoint) -> bool {
        self.at(point).iter().any(|p| p.name == name)
    }

    /// The score weight of `name`, if it is a Score plugin of this profile.
    pub fn score_weight(&self, name: &str) -> Option<i32> {
        self.at(ExtensionPoint::Score)
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.weight)
    }
}

/// An entry of the merged `multiPoint` list.
struct Entry<'a> {
    name: &'a str,
    weight: Option<i32>,
    info: &'static PluginInfo,
}

/// The points a user may write besides the twelve extension points and `multiPoint`.
fn unsupported_points(p: &Plugins) -> [(&'static str, &PluginSet); 3] {
    [
        ("placementGenerate", &p.placement_generate),
        ("placementScore", &p.placement_score),
        ("podGroupPostFilter", &p.pod_group_post_filter),
    ]
}

/// Report unknown names, duplicates, negative weights and plugins enabled at a
/// point they do not implement, in every list the user wrote.
fn check_lists(p: &Plugins, path: &FieldPath, errs: &mut Errs) {
    let mut lists: Vec<(&str, &PluginSet, Option<ExtensionPoint>)> = ExtensionPoint::ALL
        .iter()
        .map(|&e| (e.field_name(), p.point(e), Some(e)))
        .collect();
    lists.push(("multiPoint", &p.multi_point, None));
    for (field, set, point) in lists {
        let sp = path.child(field);
        let mut seen = HashSet::new();
        for (j, plugin) in set.enabled.iter().enumerate() {
            let ep = sp.child("enabled").index(j);
            if plugin.name.is_empty() {
                errs.required(&ep.child("name"), "");
                continue;
            }
            if let Some(w) = plugin.weight
                && w < 0
            {
                errs.invalid(&ep.child("weight"), &w, "must be non-negative");
            }
            let Some(info) = plugin_info(&plugin.name) else {
                errs.push(
                    &ep.child("name"),
                    format!("unknown plugin {}", shown(&plugin.name)),
                );
                continue;
            };
            if let Some(point) = point
                && !info.implements(point)
            {
                let msg = format!(
                    "plugin {} does not extend {} plugin",
                    shown(&plugin.name),
                    point.interface_name()
                );
                errs.push(&ep.child("name"), msg);
            }
            if !seen.insert(plugin.name.as_str()) {
                errs.duplicate(&ep.child("name"), &plugin.name);
            }
        }
        for (j, plugin) in set.disabled.iter().enumerate() {
            if plugin.name != "*" && plugin_info(&plugin.name).is_none() {
                let dp = sp.child("disabled").index(j).child("name");
                errs.push(&dp, format!("unknown plugin {}", shown(&plugin.name)));
            }
        }
    }
    for (field, set) in unsupported_points(p) {
        if !set.enabled.is_empty() {
            let detail = "extension point of workload (gang) scheduling, which is not supported";
            errs.forbidden(&path.child(field).child("enabled"), detail);
        }
    }
}

/// Upstream's `mergePluginSet` for `multiPoint`: defaults minus disabled ones, a
/// re-listed default replaced in place, then the user's other plugins in order.
fn merge_multi_point(user: &PluginSet) -> Vec<Entry<'_>> {
    let disabled: HashSet<&str> = user.disabled.iter().map(|p| p.name.as_str()).collect();
    let last_index: HashMap<&str, usize> = user
        .enabled
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let mut replaced = HashSet::new();
    let mut merged: Vec<(&str, Option<i32>)> = Vec::new();
    if !disabled.contains("*") {
        for &(name, weight) in DEFAULT_MULTI_POINT {
            if disabled.contains(name) {
                continue;
            }
            match last_index.get(name) {
                Some(&i) => {
                    replaced.insert(i);
                    merged.push((user.enabled[i].name.as_str(), user.enabled[i].weight));
                }
                None => merged.push((name, weight)),
            }
        }
    }
    for (i, p) in user.enabled.iter().enumerate() {
        if !replaced.contains(&i) {
            merged.push((p.name.as_str(), p.weight));
        }
    }
    merged
        .into_iter()
        .filter_map(|(name, weight)| plugin_info(name).map(|info| Entry { name, weight, info }))
        .collect()
}

/// The framework's expansion for one point: plugins listed at the point that also
/// appear in `multiPoint` (overrides) first, then the remaining `multiPoint`
/// plugins implementing the point, then the point's other plugins.
fn expand_point<'a>(
    set: &'a PluginSet,
    multi: &[Entry<'a>],
    point: ExtensionPoint,
) -> Vec<&'a str> {
    let mut enabled: Vec<&str> = Vec::new();
    for p in &set.enabled {
        let usable = plugin_info(&p.name).is_some_and(|i| i.implements(point));
        if usable && !enabled.contains(&p.name.as_str()) {
            enabled.push(&p.name);
        }
    }
    let disabled: HashSet<&str> = set.disabled.iter().map(|p| p.name.as_str()).collect();
    if disabled.contains("*") {
        return enabled;
    }
    let mut overrides = HashSet::new();
    let mut from_multi: Vec<&str> = Vec::new();
    for e in multi {
        if !e.info.implements(point) || disabled.contains(e.name) {
            continue;
        }
        if enabled.contains(&e.name) {
            overrides.insert(e.name);
        } else if !from_multi.contains(&e.name) {
            from_multi.push(e.name);
        }
    }
    let (first, rest): (Vec<&str>, Vec<&str>) =
        enabled.into_iter().partition(|n| overrides.contains(n));
    first.into_iter().chain(from_multi).chain(rest).collect()
}

/// Score weights: the Score point's own entries take precedence over `multiPoint`
/// ones; unset or 0 means 1. Reports upstream's overflow rule.
fn score_weights<'a>(
    score: &'a PluginSet,
    multi: &[Entry<'a>],
    path: &FieldPath,
    errs: &mut Errs,
) -> HashMap<&'a str, i32> {
    let candidates = score
        .enabled
        .iter()
        .map(|p| (p.name.as_str(), p.weight))
        .chain(multi.iter().map(|e| (e.name, e.weight)));
    let mut weights = HashMap::new();
    let mut total: i64 = 0;
    for (name, weight) in candidates {
        let is_score = plugin_info(name).is_some_and(|i| i.implements(ExtensionPoint::Score));
        if !is_score || weights.contains_key(name) {
            continue;
        }
        let w = match weight.unwrap_or(0) {
            0 => 1,
            w => w,
        };
        weights.insert(name, w);
        // Negative weights are reported elsewhere; they do not count towards the total.
        let contribution = i64::from(w.max(0)) * MAX_NODE_SCORE;
        if contribution > i64::MAX - total {
            errs.push(path, "total score of Score plugins could overflow");
            break;
        }
        total += contribution;
    }
    weights
}

/// Resolve a profile's plugins. Problems are reported under `profile_path.plugins`.
pub(crate) fn resolve_plugins(
    plugins: Option<&Plugins>,
    profile_path: &FieldPath,
    errs: &mut Errs,
) -> ResolvedPlugins {
    let empty = Plugins::default();
    let p = plugins.unwrap_or(&empty);
    let path = profile_path.child("plugins");
    check_lists(p, &path, errs);
    let multi = merge_multi_point(&p.multi_point);
    let weights = score_weights(&p.score, &multi, &path.child("score"), errs);
    let mut resolved = ResolvedPlugins::default();
    for point in ExtensionPoint::ALL {
        resolved.points[point.index()] = expand_point(p.point(point), &multi, point)
            .into_iter()
            .map(|name| PluginRef {
                name: name.to_string(),
                weight: if point == ExtensionPoint::Score {
                    weights.get(name).copied().unwrap_or(1)
                } else {
                    0
                },
            })
            .collect();
    }
    resolved
}
