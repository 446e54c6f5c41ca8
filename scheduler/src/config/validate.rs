//! Top-level defaulting and validation (upstream's `SetDefaults_KubeSchedulerConfiguration`
//! and `ValidateKubeSchedulerConfiguration`, plus the checks the framework and
//! client-go's leader elector make when kube-scheduler starts).

use std::collections::HashMap;
use std::time::Duration;

use super::args::resolve_plugin_config;
use super::duration::{GoDuration, check_duration_seconds};
use super::error::{ConfigError, Errs, FieldPath};
use super::merge::resolve_plugins;
use super::plugins_table::ExtensionPoint;
use super::resolved::{ClientConnection, LeaderElection, Profile, SchedulerConfig};
use crate::wire::ContentType;

use super::types::{
    API_VERSION, ClientConnectionConfiguration, KIND, KubeSchedulerConfiguration,
    KubeSchedulerProfile, LeaderElectionConfiguration,
};

/// Name given to a lone profile without `schedulerName`.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// client-go's `JitterFactor`: renewDeadline must exceed retryPeriod times this.
const JITTER_FACTOR: f64 = 1.2;

fn fp(name: &str) -> FieldPath {
    FieldPath::new(name)
}

fn check_type_meta(raw: &KubeSchedulerConfiguration, errs: &mut Errs) {
    for (field, value, want) in [
        ("apiVersion", &raw.api_version, API_VERSION),
        ("kind", &raw.kind, KIND),
    ] {
        if value.is_empty() {
            errs.required(&fp(field), "");
        } else if value != want {
            errs.not_supported(&fp(field), value, &[want]);
        }
    }
}

fn std_or_zero(d: GoDuration) -> Duration {
    d.to_std().unwrap_or(Duration::ZERO)
}

fn or_default(d: GoDuration, secs: i64) -> GoDuration {
    if d.is_zero() {
        GoDuration::from_secs(secs)
    } else {
        d
    }
}

fn non_empty_or(value: &str, default: &str) -> String {
    if value.is_empty() {
        default.to_string()
    } else {
        value.to_string()
    }
}

fn leader_election(le: &LeaderElectionConfiguration, errs: &mut Errs) -> LeaderElection {
    let path = fp("leaderElection");
    let leader_elect = le.leader_elect.unwrap_or(true);
    let lease = or_default(le.lease_duration, 15);
    let renew = or_default(le.renew_deadline, 10);
    let retry = or_default(le.retry_period, 2);
    let lock = non_empty_or(&le.resource_lock, "leases");
    if leader_elect {
        let zero = GoDuration::ZERO;
        let checks = [
            ("leaseDuration", lease),
            ("renewDeadline", renew),
            ("retryPeriod", retry),
        ];
        for (field, d) in checks {
            if d <= zero {
                errs.invalid(&path.child(field), &d, "must be greater than zero");
            }
        }
        if lease <= renew {
            let detail = "must be greater than `RenewDeadline`";
            errs.invalid(&path.child("leaseDuration"), &renew, detail);
        }
        let jittered = (retry.as_nanos() as f64 * JITTER_FACTOR) as i64;
        if renew > zero && retry > zero && renew.as_nanos() <= jittered {
            let detail = "must be greater than retryPeriod*JitterFactor (1.2)";
            errs.invalid(&path.child("renewDeadline"), &renew, detail);
        }
        if lock != "leases" {
            errs.invalid(
                &path.child("resourceLock"),
                &lock,
                "resourceLock value must be \"leases\"",
            );
        }
    }
    LeaderElection {
        leader_elect,
        lease_duration: std_or_zero(lease),
        renew_deadline: std_or_zero(renew),
        retry_period: std_or_zero(retry),
        resource_lock: lock,
        resource_name: non_empty_or(&le.resource_name, "kube-scheduler"),
        resource_namespace: non_empty_or(&le.resource_namespace, "kube-system"),
    }
}

fn client_connection(cc: &ClientConnectionConfiguration, errs: &mut Errs) -> ClientConnection {
    let path = fp("clientConnection");
    if cc.burst < 0 {
        errs.invalid(&path.child("burst"), &cc.burst, "must be non-negative");
    }
    let qps = cc.qps as f32;
    if !qps.is_finite() || qps < 0.0 {
        // Shown as a float32, as upstream holds it: 1e300 is "inf".
        errs.invalid(
            &path.child("qps"),
            &qps.to_string(),
            "must be a non-negative number",
        );
    }
    if !cc.content_type.is_empty() && ContentType::parse(&cc.content_type).is_none() {
        errs.not_supported(
            &path.child("contentType"),
            &cc.content_type,
            &[crate::wire::JSON, crate::wire::PROTOBUF],
        );
    }
    ClientConnection {
        kubeconfig: cc.kubeconfig.clone(),
        accept_content_types: cc.accept_content_types.clone(),
        content_type: non_empty_or(&cc.content_type, crate::wire::PROTOBUF),
        qps: if cc.qps == 0.0 {
            50.0
        } else if qps == 0.0 {
            // A positive qps below float32's range stays positive (a limit, not "unlimited").
            f32::from_bits(1)
        } else {
            qps
        },
        burst: if cc.burst == 0 {
            100
        } else {
            u32::try_from(cc.burst).unwrap_or(0)
        },
    }
}

fn check_percentage(path: &FieldPath, value: Option<i32>, errs: &mut Errs) -> Option<u32> {
    let v = value?;
    if !(0..=100).contains(&v) {
        errs.invalid(path, &v, "not in valid range [0-100]");
    }
    u32::try_from(v).ok()
}

fn profile(raw: &KubeSchedulerProfile, name: String, path: &FieldPath, errs: &mut Errs) -> Profile {
    if name.is_empty() {
        errs.required(&path.child("schedulerName"), "");
    }
    let pct_path = path.child("percentageOfNodesToScore");
    let percentage = check_percentage(&pct_path, raw.percentage_of_nodes_to_score, errs);
    let plugins = resolve_plugins(raw.plugins.as_ref(), path, errs);
    let plugin_args = resolve_plugin_config(&raw.plugin_config, path, errs);
    let queue_sorts = plugins.at(ExtensionPoint::QueueSort).len();
    if queue_sorts != 1 {
        let msg = format!(
            "only one queue sort plugin required for profile with scheduler name {name:?}, but got {queue_sorts}"
        );
        errs.push(&path.child("plugins").child("queueSort"), msg);
    }
    if plugins.at(ExtensionPoint::Bind).is_empty() {
        let msg =
            format!("at least one bind plugin is needed for profile with scheduler name {name:?}");
        errs.push(&path.child("plugins").child("bind"), msg);
    }
    Profile {
        scheduler_name: name,
        percentage_of_nodes_to_score: percentage,
        plugins,
        plugin_args,
    }
}

/// The args a profile gives the named plugin, with "none" and "empty" made equal.
fn args_of(raw: &KubeSchedulerProfile, plugin: &str) -> Vec<(usize, serde_json::Value)> {
    raw.plugin_config
        .iter()
        .enumerate()
        .filter(|(_, pc)| pc.name == plugin)
        .map(|(j, pc)| match &pc.args {
            None | Some(serde_json::Value::Null) => (j, serde_json::json!({})),
            Some(v) => (j, v.clone()),
        })
        .collect()
}

/// All profiles must share one queue sort plugin, with the same args.
fn check_common_queue_sort(raws: &[KubeSchedulerProfile], resolved: &[Profile], errs: &mut Errs) {
    let (Some(first), Some(first_raw)) = (resolved.first(), raws.first()) else {
        return;
    };
    let names = |p: &Profile| -> Vec<String> {
        p.plugins
            .at(ExtensionPoint::QueueSort)
            .iter()
            .map(|r| r.name.clone())
            .collect()
    };
    let canon = names(first);
    let Some(queue_sort) = canon.first() else {
        return;
    };
    let canon_args = args_of(first_raw, queue_sort)
        .into_iter()
        .next()
        .map(|(_, v)| v);
    let canon_args = canon_args.unwrap_or_else(|| serde_json::json!({}));
    for (i, (p, raw)) in resolved.iter().zip(raws).enumerate().skip(1) {
        let path = fp("profiles").index(i);
        let current = names(p);
        if current != canon {
            let qs_path = path.child("plugins").child("queueSort");
            errs.invalid(&qs_path, &current, "must be the same for all profiles");
        }
        for (j, args) in args_of(raw, queue_sort) {
            if args != canon_args {
                let args_path = path.child("pluginConfig").index(j).child("args");
                errs.invalid(
                    &args_path,
                    &args,
                    "queueSort must be the same for all profiles",
                );
            }
        }
    }
}

/// Apply upstream's v1 defaults to `raw` and validate the result.
pub(crate) fn resolve_config(
    raw: &KubeSchedulerConfiguration,
) -> Result<SchedulerConfig, ConfigError> {
    let mut errs = Errs::default();
    check_type_meta(raw, &mut errs);
    let client_connection = client_connection(&raw.client_connection, &mut errs);
    let leader_election = leader_election(&raw.leader_election, &mut errs);

    let parallelism = raw.parallelism.unwrap_or(16);
    if parallelism <= 0 {
        let detail = "should be an integer value greater than zero";
        errs.invalid(&fp("parallelism"), &parallelism, detail);
    }

    let mut raws = raw.profiles.clone();
    if raws.is_empty() {
        raws.push(KubeSchedulerProfile::default());
    }
    let lone = raws.len() == 1;
    let mut profiles = Vec::with_capacity(raws.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, rp) in raws.iter().enumerate() {
        let path = fp("profiles").index(i);
        let name = match &rp.scheduler_name {
            Some(n) => n.clone(),
            None if lone => DEFAULT_SCHEDULER_NAME.to_string(),
            None => String::new(),
        };
        if seen.insert(name.clone(), i).is_some() && !name.is_empty() {
            errs.duplicate(&path.child("schedulerName"), &name);
        }
        profiles.push(profile(rp, name, &path, &mut errs));
    }
    check_common_queue_sort(&raws, &profiles, &mut errs);

    let percentage = check_percentage(
        &fp("percentageOfNodesToScore"),
        raw.percentage_of_nodes_to_score,
        &mut errs,
    );
    let initial = raw.pod_initial_backoff_seconds.unwrap_or(1);
    let max = raw.pod_max_backoff_seconds.unwrap_or(10);
    if initial <= 0 {
        errs.invalid(
            &fp("podInitialBackoffSeconds"),
            &initial,
            "must be greater than 0",
        );
    }
    check_duration_seconds(&fp("podInitialBackoffSeconds"), initial, &mut errs);
    check_duration_seconds(&fp("podMaxBackoffSeconds"), max, &mut errs);
    if max < initial {
        let detail = "must be greater than or equal to PodInitialBackoffSeconds";
        errs.invalid(&fp("podMaxBackoffSeconds"), &max, detail);
    }
    if !raw.extenders.is_empty() {
        errs.forbidden(
            &fp("extenders"),
            "scheduler extenders are not supported by Ferrosched",
        );
    }
    let enable_profiling = raw.enable_profiling.unwrap_or(true);
    let secs = |s: i64| Duration::from_secs(u64::try_from(s).unwrap_or(0));
    errs.into_result(SchedulerConfig {
        parallelism: u32::try_from(parallelism).unwrap_or(0),
        percentage_of_nodes_to_score: percentage,
        pod_initial_backoff: secs(initial),
        pod_max_backoff: secs(max),
        leader_election,
        client_connection,
        enable_profiling,
        enable_contention_profiling: raw.enable_contention_profiling.unwrap_or(enable_profiling),
        delay_cache_until_active: raw.delay_cache_until_active,
        profiles,
    })
}
