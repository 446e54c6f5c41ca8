//! The config parser: any text, and generated documents full of extreme numbers, give a
//! configuration or an error; an accepted one builds its frameworks and holds timings
//! that the clock can add.

use std::time::Instant;

use proptest::prelude::*;

use super::strategies::{duration_text, float_text, int_text};
use crate::config::{self, SchedulerConfig};
use crate::framework::{Framework, Handle};

const HEAD: &str = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";

fn check_accepted(cfg: &SchedulerConfig) -> Result<(), TestCaseError> {
    let now = Instant::now();
    for d in [cfg.pod_initial_backoff, cfg.pod_max_backoff] {
        prop_assert!(now.checked_add(d).is_some(), "backoff {:?}", d);
    }
    let le = &cfg.leader_election;
    for d in [le.lease_duration, le.renew_deadline, le.retry_period] {
        prop_assert!(now.checked_add(d).is_some(), "lease timing {:?}", d);
    }
    let cc = &cfg.client_connection;
    let _ = crate::app::rate_window(cc.qps, cc.burst);
    let registry = crate::plugins::registry();
    for p in &cfg.profiles {
        let _ = Framework::new(p, &registry, &Handle::offline());
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), TestCaseError> {
    if let Ok(raw) = config::parse_document(text) {
        let _ = config::render(&raw);
    }
    if let Ok(cfg) = config::parse(text) {
        check_accepted(&cfg)?;
    }
    Ok(())
}

/// `key: value` lines, each present or not.
fn lines(fields: Vec<(&'static str, Option<String>)>, indent: &str) -> String {
    fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{indent}{k}: {v}\n")))
        .collect()
}

fn top_level() -> impl Strategy<Value = String> {
    let o = |s: BoxedStrategy<String>| prop::option::of(s);
    (
        (
            o(int_text().boxed()),
            o(int_text().boxed()),
            o(int_text().boxed()),
            o(int_text().boxed()),
        ),
        (o(float_text().boxed()), o(int_text().boxed())),
        (
            o(duration_text().boxed()),
            o(duration_text().boxed()),
            o(duration_text().boxed()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((par, pct, init, max), (qps, burst), (lease, renew, retry, elect))| {
                let mut s = lines(
                    vec![
                        ("parallelism", par),
                        ("percentageOfNodesToScore", pct),
                        ("podInitialBackoffSeconds", init),
                        ("podMaxBackoffSeconds", max),
                    ],
                    "",
                );
                s += "clientConnection:\n";
                s += &lines(vec![("qps", qps), ("burst", burst)], "  ");
                s += &format!("leaderElection:\n  leaderElect: {elect}\n");
                s += &lines(
                    vec![
                        ("leaseDuration", lease),
                        ("renewDeadline", renew),
                        ("retryPeriod", retry),
                    ],
                    "  ",
                );
                s
            },
        )
}

fn plugin_config() -> impl Strategy<Value = String> {
    let i = || int_text().boxed();
    let d = || duration_text().boxed();
    let kind = prop::sample::select(vec![
        "LeastAllocated",
        "MostAllocated",
        "RequestedToCapacityRatio",
    ]);
    let resource = prop::sample::select(vec!["cpu", "memory", "example.com/gpu", "pods"]);
    prop_oneof![
        (kind, resource.clone(), i(), i(), i()).prop_map(|(k, r, w, u, sc)| format!(
            "  - name: NodeResourcesFit\n    args: {{scoringStrategy: {{type: {k}, resources: [{{name: {r}, weight: {w}}}], requestedToCapacityRatio: {{shape: [{{utilization: 0, score: 0}}, {{utilization: {u}, score: {sc}}}]}}}}}}\n"
        )),
        (resource, i()).prop_map(|(r, w)| format!(
            "  - name: NodeResourcesBalancedAllocation\n    args: {{resources: [{{name: {r}, weight: {w}}}]}}\n"
        )),
        (i(), i(), i()).prop_map(|(t, u, sc)| format!(
            "  - name: VolumeBinding\n    args: {{bindTimeoutSeconds: {t}, shape: [{{utilization: 0, score: 0}}, {{utilization: {u}, score: {sc}}}]}}\n"
        )),
        (i(), i()).prop_map(|(skew, min)| format!(
            "  - name: PodTopologySpread\n    args: {{defaultingType: List, defaultConstraints: [{{maxSkew: {skew}, minDomains: {min}, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway}}]}}\n"
        )),
        i().prop_map(|w| format!("  - name: InterPodAffinity\n    args: {{hardPodAffinityWeight: {w}}}\n")),
        (i(), i()).prop_map(|(p, a)| format!(
            "  - name: DefaultPreemption\n    args: {{minCandidateNodesPercentage: {p}, minCandidateNodesAbsolute: {a}}}\n"
        )),
        (d(), d()).prop_map(|(f, b)| format!(
            "  - name: DynamicResources\n    args: {{filterTimeout: {f}, bindingTimeout: {b}}}\n"
        )),
    ]
}

fn profile() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("default-scheduler".to_string()),
        "[a-z]{1,12}",
        (1usize..20_000).prop_map(|n| "a".repeat(n)),
        any::<String>().prop_map(|s| format!("{s:?}")),
    ];
    let score = prop::sample::select(vec![
        "ImageLocality",
        "NodeResourcesFit",
        "PodCapacityOfNode",
        "TaintToleration",
    ]);
    (
        name,
        prop::option::of(int_text()),
        prop::collection::vec((score, int_text()), 0..3),
        prop::collection::vec(plugin_config(), 0..4),
    )
        .prop_map(|(name, pct, weights, args)| {
            let mut s = format!("- schedulerName: {name}\n");
            s += &lines(vec![("percentageOfNodesToScore", pct)], "  ");
            if !weights.is_empty() {
                s += "  plugins:\n    multiPoint:\n      enabled:\n";
                for (p, w) in weights {
                    s += &format!("      - {{name: {p}, weight: {w}}}\n");
                }
            }
            if !args.is_empty() {
                s += "  pluginConfig:\n";
                s += &args.concat();
            }
            s
        })
}

fn document() -> impl Strategy<Value = String> {
    (top_level(), prop::collection::vec(profile(), 0..3)).prop_map(|(top, profiles)| {
        let mut s = format!("{HEAD}{top}");
        if !profiles.is_empty() {
            s += "profiles:\n";
            s += &profiles.concat();
        }
        s
    })
}

proptest! {
    #![proptest_config(super::config())]

    #[test]
    fn fuzz_config_arbitrary_text(text in prop_oneof![
        any::<String>(),
        "[ -~\n]{0,300}".prop_map(|t| format!("{HEAD}{t}")),
    ]) {
        check_text(&text)?;
    }

    #[test]
    fn fuzz_config_generated_documents(
        doc in document(),
        cut in any::<prop::sample::Index>(),
        noise in "[ -~\n]{0,8}",
    ) {
        check_text(&doc)?;
        // The same document with a few bytes spliced in somewhere.
        let mut at = cut.index(doc.len() + 1);
        while !doc.is_char_boundary(at) {
            at -= 1;
        }
        check_text(&format!("{}{noise}{}", &doc[..at], &doc[at..]))?;
    }
}
