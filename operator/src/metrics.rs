//! Prometheus metrics of the operator, served on `/metrics` in OpenMetrics text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels `result` = `success` | `error`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// Outcome of the reconcile.
    pub result: String,
}

/// Label `kind`: an error kind ([`crate::Error::metric_label`]) or an object kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The kind.
    pub kind: String,
}

/// Labels of `ferrosched_operator_profile_condition`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    /// The profile's name.
    pub profile: String,
    /// The condition type (`Available`, `Progressing`, `Degraded`).
    pub r#type: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
}

/// Label `profile`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProfileLabels {
    /// The profile's name.
    pub profile: String,
}

/// The condition types exported per profile.
const CONDITION_TYPES: [&str; 3] = ["Available", "Progressing", "Degraded"];
/// The statuses a condition can have.
const CONDITION_STATUSES: [&str; 3] = ["True", "False", "Unknown"];

/// The operator's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `ferrosched_operator_reconciles_total{result}`.
    pub reconciles: Family<ResultLabels, Counter>,
    /// `ferrosched_operator_reconcile_errors_total{kind}`.
    pub errors: Family<KindLabels, Counter>,
    /// `ferrosched_operator_reconcile_duration_seconds`.
    pub duration: Histogram,
    /// `ferrosched_operator_api_writes_total{kind}`: applies, deletes, status and Event writes.
    pub writes: Family<KindLabels, Counter>,
    /// `ferrosched_operator_leader`: 1 while this replica leads.
    pub leader: Gauge,
    /// `ferrosched_operator_profile_condition{profile,type,status}`: 1 for each profile's
    /// current status of each condition type, 0 for the others (as kube-state-metrics'
    /// `kube_pod_status_condition`); refreshed from the profiles' cache at every scrape,
    /// so a deleted profile's series go with it. Only the leader has the cache.
    pub profile_condition: Family<ConditionLabels, Gauge>,
    /// `ferrosched_operator_rollbacks_total{profile}`: rollouts rolled back to the last
    /// good configuration.
    pub rollbacks: Family<ProfileLabels, Counter>,
    profiles: std::sync::Mutex<
        Option<kube::runtime::reflector::Store<ferrosched_crds::SchedulerProfile>>,
    >,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<ResultLabels, Counter>::default();
        let errors = Family::<KindLabels, Counter>::default();
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        let writes = Family::<KindLabels, Counter>::default();
        let leader = Gauge::default();
        let profile_condition = Family::<ConditionLabels, Gauge>::default();
        let rollbacks = Family::<ProfileLabels, Counter>::default();
        // Counters are registered without `_total`: the client appends it.
        registry.register(
            "ferrosched_operator_reconciles",
            "Reconciles of SchedulerProfiles by result",
            reconciles.clone(),
        );
        registry.register(
            "ferrosched_operator_reconcile_errors",
            "Reconcile errors by kind",
            errors.clone(),
        );
        registry.register_with_unit(
            "ferrosched_operator_reconcile_duration",
            "Duration of one reconcile",
            Unit::Seconds,
            duration.clone(),
        );
        registry.register(
            "ferrosched_operator_api_writes",
            "API writes made by reconciles, by object kind",
            writes.clone(),
        );
        registry.register(
            "ferrosched_operator_leader",
            "Whether this replica is the leader (1) or not (0)",
            leader.clone(),
        );
        registry.register(
            "ferrosched_operator_profile_condition",
            "Status of each SchedulerProfile condition: 1 for the current status, 0 for the others",
            profile_condition.clone(),
        );
        registry.register(
            "ferrosched_operator_rollbacks",
            "Rollouts rolled back to the last good configuration, by profile",
            rollbacks.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            duration,
            writes,
            leader,
            profile_condition,
            rollbacks,
            profiles: std::sync::Mutex::new(None),
        }
    }
}

impl Metrics {
    /// Counts one reconcile and its duration.
    pub fn observe_reconcile(&self, ok: bool, seconds: f64) {
        let result = if ok { "success" } else { "error" }.to_string();
        self.reconciles
            .get_or_create(&ResultLabels { result })
            .inc();
        self.duration.observe(seconds);
    }

    /// Counts one error of `kind`.
    pub fn count_error(&self, kind: &str) {
        self.errors
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Counts one API write to an object of `kind` (and is where tests crash the operator,
    /// see [`crate::fault`]).
    pub fn count_write(&self, kind: &str) {
        self.writes
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .inc();
        crate::fault::after_write(kind);
    }

    /// Counts one rollback of `profile`.
    pub fn count_rollback(&self, profile: &str) {
        self.rollbacks
            .get_or_create(&ProfileLabels {
                profile: profile.to_string(),
            })
            .inc();
    }

    /// Reads profile conditions from `store` at every scrape (set once this replica leads).
    pub fn watch_profiles(
        &self,
        store: kube::runtime::reflector::Store<ferrosched_crds::SchedulerProfile>,
    ) {
        if let Ok(mut p) = self.profiles.lock() {
            *p = Some(store);
        }
    }

    /// Replaces the condition series with those of `profiles`.
    pub fn observe_profiles(&self, profiles: &[std::sync::Arc<ferrosched_crds::SchedulerProfile>]) {
        self.profile_condition.clear();
        for p in profiles {
            let name = crate::identity::profile_name(p).to_string();
            let conditions = p
                .status
                .as_ref()
                .map(|s| s.conditions.as_slice())
                .unwrap_or_default();
            for type_ in CONDITION_TYPES {
                let current = conditions
                    .iter()
                    .find(|c| c.type_ == type_)
                    .map_or("Unknown", |c| c.status.as_str());
                for status in CONDITION_STATUSES {
                    self.profile_condition
                        .get_or_create(&ConditionLabels {
                            profile: name.clone(),
                            r#type: type_.to_string(),
                            status: status.to_string(),
                        })
                        .set(i64::from(current == status));
                }
            }
        }
    }

    /// The metrics in OpenMetrics text format.
    pub fn encode(&self) -> String {
        let store = self.profiles.lock().ok().and_then(|s| s.clone());
        if let Some(store) = store {
            self.observe_profiles(&store.state());
        }
        let mut out = String::new();
        match prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            Ok(()) => out,
            Err(_) => "# EOF\n".to_string(),
        }
    }
}
