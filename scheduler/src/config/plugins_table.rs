//! The static table of plugins Ferrosched knows, the extension points each one
//! implements, and upstream's default `multiPoint` set.
//!
//! The point sets mirror the Go interfaces the in-tree plugins of kube-scheduler
//! v1.37 implement (points that only exist behind feature gates that are off by
//! default at 1.37, such as placement scoring for gang scheduling, are left out).

use std::fmt;

/// One extension point of the scheduling framework.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtensionPoint {
    /// Gate checked before a pod enters the active queue.
    PreEnqueue,
    /// Ordering of the active queue.
    QueueSort,
    /// Per-pod preparation before filtering.
    PreFilter,
    /// Per-node feasibility check.
    Filter,
    /// Runs when no node fits (preemption).
    PostFilter,
    /// Per-pod preparation before scoring.
    PreScore,
    /// Per-node ranking.
    Score,
    /// Reservation of resources on the chosen node (and its undo).
    Reserve,
    /// Approval, denial or delay of the binding.
    Permit,
    /// Work that must be done before binding.
    PreBind,
    /// Binding the pod to the node.
    Bind,
    /// Informational hook after a successful bind.
    PostBind,
}

impl ExtensionPoint {
    /// Every extension point, in the order of the framework's scheduling and binding cycles.
    pub const ALL: [ExtensionPoint; 12] = [
        ExtensionPoint::PreEnqueue,
        ExtensionPoint::QueueSort,
        ExtensionPoint::PreFilter,
        ExtensionPoint::Filter,
        ExtensionPoint::PostFilter,
        ExtensionPoint::PreScore,
        ExtensionPoint::Score,
        ExtensionPoint::Reserve,
        ExtensionPoint::Permit,
        ExtensionPoint::PreBind,
        ExtensionPoint::Bind,
        ExtensionPoint::PostBind,
    ];

    /// Position of this point in [`ExtensionPoint::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The field name of this point in the `plugins` section of a profile (`preFilter`, …).
    pub fn field_name(self) -> &'static str {
        match self {
            ExtensionPoint::PreEnqueue => "preEnqueue",
            ExtensionPoint::QueueSort => "queueSort",
            ExtensionPoint::PreFilter => "preFilter",
            ExtensionPoint::Filter => "filter",
            ExtensionPoint::PostFilter => "postFilter",
            ExtensionPoint::PreScore => "preScore",
            ExtensionPoint::Score => "score",
            ExtensionPoint::Reserve => "reserve",
            ExtensionPoint::Permit => "permit",
            ExtensionPoint::PreBind => "preBind",
            ExtensionPoint::Bind => "bind",
            ExtensionPoint::PostBind => "postBind",
        }
    }

    /// The name upstream gives the plugin interface of this point (`FilterPlugin`, …),
    /// used in messages that mirror upstream's wording.
    pub fn interface_name(self) -> &'static str {
        match self {
            ExtensionPoint::PreEnqueue => "PreEnqueuePlugin",
            ExtensionPoint::QueueSort => "QueueSortPlugin",
            ExtensionPoint::PreFilter => "PreFilterPlugin",
            ExtensionPoint::Filter => "FilterPlugin",
            ExtensionPoint::PostFilter => "PostFilterPlugin",
            ExtensionPoint::PreScore => "PreScorePlugin",
            ExtensionPoint::Score => "ScorePlugin",
            ExtensionPoint::Reserve => "ReservePlugin",
            ExtensionPoint::Permit => "PermitPlugin",
            ExtensionPoint::PreBind => "PreBindPlugin",
            ExtensionPoint::Bind => "BindPlugin",
            ExtensionPoint::PostBind => "PostBindPlugin",
        }
    }
}

impl fmt::Display for ExtensionPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.field_name())
    }
}

/// Static description of one plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    /// The plugin's name as used in configuration.
    pub name: &'static str,
    /// The extension points the plugin implements.
    pub points: &'static [ExtensionPoint],
    /// The `kind` of its `pluginConfig` args (`NodeResourcesFitArgs`, …), if it takes any.
    pub args_kind: Option<&'static str>,
}

impl PluginInfo {
    /// Whether the plugin implements `point`.
    pub fn implements(&self, point: ExtensionPoint) -> bool {
        self.points.contains(&point)
    }
}

use ExtensionPoint::{
    Bind, Filter, PostFilter, PreBind, PreEnqueue, PreFilter, PreScore, QueueSort, Reserve, Score,
};

const FILTER_ONLY: &[ExtensionPoint] = &[PreFilter, Filter];
const FILTER_AND_SCORE: &[ExtensionPoint] = &[PreFilter, Filter, PreScore, Score];

/// Every plugin Ferrosched knows: upstream's in-tree plugins of v1.37 (those not
/// hidden behind feature gates that are off by default) plus Ferrosched's own.
pub static PLUGINS: &[PluginInfo] = &[
    PluginInfo {
        name: "SchedulingGates",
        points: &[PreEnqueue],
        args_kind: None,
    },
    PluginInfo {
        name: "PrioritySort",
        points: &[QueueSort],
        args_kind: None,
    },
    PluginInfo {
        name: "NodeUnschedulable",
        points: FILTER_ONLY,
        args_kind: None,
    },
    PluginInfo {
        name: "NodeName",
        points: FILTER_ONLY,
        args_kind: None,
    },
    PluginInfo {
        name: "TaintToleration",
        points: FILTER_AND_SCORE,
        args_kind: None,
    },
    PluginInfo {
        name: "NodeAffinity",
        points: FILTER_AND_SCORE,
        args_kind: Some("NodeAffinityArgs"),
    },
    PluginInfo {
        name: "NodePorts",
        points: FILTER_ONLY,
        args_kind: None,
    },
    PluginInfo {
        name: "NodeResourcesFit",
        points: FILTER_AND_SCORE,
        args_kind: Some("NodeResourcesFitArgs"),
    },
    PluginInfo {
        name: "VolumeRestrictions",
        points: FILTER_ONLY,
        args_kind: None,
    },
    PluginInfo {
        name: "NodeVolumeLimits",
        points: FILTER_ONLY,
        args_kind: None,
    },
    PluginInfo {
        name: "VolumeBinding",
        points: &[PreFilter, Filter, PreScore, Score, Reserve, PreBind],
        args_kind: Some("VolumeBindingArgs"),
    },
    PluginInfo {
        name: "VolumeZone",
        points: FILTER_ONLY,
        args_kind: None,
    },
    PluginInfo {
        name: "PodTopologySpread",
        points: FILTER_AND_SCORE,
        args_kind: Some("PodTopologySpreadArgs"),
    },
    PluginInfo {
        name: "InterPodAffinity",
        points: FILTER_AND_SCORE,
        args_kind: Some("InterPodAffinityArgs"),
    },
    PluginInfo {
        name: "DynamicResources",
        points: &[
            PreEnqueue, PreFilter, Filter, PostFilter, Score, Reserve, PreBind,
        ],
        args_kind: Some("DynamicResourcesArgs"),
    },
    PluginInfo {
        name: "DefaultPreemption",
        points: &[PreEnqueue, PostFilter],
        args_kind: Some("DefaultPreemptionArgs"),
    },
    PluginInfo {
        name: "NodeResourcesBalancedAllocation",
        points: &[PreScore, Score],
        args_kind: Some("NodeResourcesBalancedAllocationArgs"),
    },
    PluginInfo {
        name: "ImageLocality",
        points: &[Score],
        args_kind: None,
    },
    PluginInfo {
        name: "DefaultBinder",
        points: &[Bind],
        args_kind: None,
    },
    PluginInfo {
        name: "NodeDeclaredFeatures",
        points: FILTER_ONLY,
        args_kind: None,
    },
    PluginInfo {
        name: "PodCapacityOfNode",
        points: &[Score],
        args_kind: None,
    },
];

/// Look a plugin up by its configured name.
pub fn plugin_info(name: &str) -> Option<&'static PluginInfo> {
    PLUGINS.iter().find(|p| p.name == name)
}

/// Upstream v1's default `multiPoint` set, in order, with the weights it sets
/// (`None` means no weight given, which the framework treats as 1 for Score plugins).
/// It includes the plugins of the feature gates locked on at 1.37
/// (DynamicResources before DefaultPreemption, NodeDeclaredFeatures last).
pub static DEFAULT_MULTI_POINT: &[(&str, Option<i32>)] = &[
    ("SchedulingGates", None),
    ("PrioritySort", None),
    ("NodeName", None),
    ("NodeUnschedulable", None),
    ("TaintToleration", Some(3)),
    ("NodeAffinity", Some(2)),
    ("NodePorts", None),
    ("NodeResourcesFit", Some(1)),
    ("VolumeRestrictions", None),
    ("NodeVolumeLimits", None),
    ("VolumeBinding", None),
    ("VolumeZone", None),
    ("PodTopologySpread", Some(2)),
    ("InterPodAffinity", Some(2)),
    ("DynamicResources", Some(2)),
    ("DefaultPreemption", None),
    ("NodeResourcesBalancedAllocation", Some(1)),
    ("ImageLocality", Some(1)),
    ("DefaultBinder", None),
    ("NodeDeclaredFeatures", None),
];
