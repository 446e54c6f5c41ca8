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
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<ResultLabels, Counter>::default();
        let errors = Family::<KindLabels, Counter>::default();
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        let writes = Family::<KindLabels, Counter>::default();
        let leader = Gauge::default();
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
        Self {
            registry,
            reconciles,
            errors,
            duration,
            writes,
            leader,
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

    /// Counts one API write to an object of `kind`.
    pub fn count_write(&self, kind: &str) {
        self.writes
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// The metrics in OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        match prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            Ok(()) => out,
            Err(_) => "# EOF\n".to_string(),
        }
    }
}
