//! What every scheduler pod looks like, shared by the builders, validation and the
//! rollout logic (pure): where it mounts its configuration and certificates, its port, and
//! its timing (leader election, grace period, progress deadline).

use ferrosched_crds::SchedulerProfile;

/// Secure port of the scheduler (HTTPS: health, metrics).
pub const SECURE_PORT: i32 = 10259;
/// Directory the config ConfigMap is mounted at.
pub const CONFIG_DIR: &str = "/etc/ferrosched";
/// Key of the rendered configuration in the ConfigMap.
pub const CONFIG_KEY: &str = "config.yaml";
/// Where the scheduler pods mount the operator-issued serving certificate.
pub const TLS_DIR: &str = "/var/run/ferrosched/tls";
/// Where the scheduler keeps its generated serving certificate.
pub const CERT_DIR: &str = "/var/run/ferrosched/certs";

/// Seconds a rollout may go without progress before the Deployment reports
/// ProgressDeadlineExceeded, unless the profile sets `progressDeadlineSeconds`.
pub const PROGRESS_DEADLINE_SECONDS: i32 = 120;

/// Seconds a stopping scheduler spends finishing its binds before it releases its Lease
/// (the scheduler's own drain limit).
pub const BIND_DRAIN_SECONDS: i64 = 30;
/// Slack on top of the drain and the Lease release in the default grace period.
const GRACE_SLACK_SECONDS: i64 = 5;

/// Whether the profile's schedulers elect a leader (`spec.leaderElection.leaderElect`, default true).
pub fn leader_elect(profile: &SchedulerProfile) -> bool {
    profile
        .spec
        .leader_election
        .as_ref()
        .and_then(|l| l.leader_elect)
        .unwrap_or(true)
}

/// The least `terminationGracePeriodSeconds` that lets a scheduler finish its binds and
/// release its Lease: the bind drain plus `renew_deadline_seconds`.
pub fn min_grace_seconds(renew_deadline_seconds: i64) -> i64 {
    BIND_DRAIN_SECONDS + renew_deadline_seconds
}

/// `spec.leaderElection.renewDeadline` in whole seconds, rounded up (default 10; an
/// unparsable value, which validation refuses anyway, counts as the default).
pub fn renew_deadline_seconds(profile: &SchedulerProfile) -> i64 {
    let nanos = profile
        .spec
        .leader_election
        .as_ref()
        .and_then(|l| l.renew_deadline.as_deref())
        .and_then(|t| ferrosched_scheduler::config::GoDuration::parse(t).ok())
        .map_or(10_000_000_000, |d| d.as_nanos());
    (nanos.max(0) as u64).div_ceil(1_000_000_000) as i64
}

/// `spec.terminationGracePeriodSeconds`, else the least one plus some slack.
pub fn grace_seconds(profile: &SchedulerProfile, renew_deadline_seconds: i64) -> i64 {
    profile
        .spec
        .termination_grace_period_seconds
        .unwrap_or(min_grace_seconds(renew_deadline_seconds) + GRACE_SLACK_SECONDS)
}
