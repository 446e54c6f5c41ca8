//! The reconcile function: read → validate and build (pure, in [`crate::plan`]) → apply → status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrosched_crds::SchedulerProfile;
use kube::Client;
use kube::runtime::controller::Action;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;
use tracing::{debug, warn};

use crate::apply::{Writer, dry_run, execute};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::{identity, plan, read};

/// What every reconcile shares.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Operand namespace and default image.
    pub settings: Settings,
    /// Publishes Events on profiles.
    pub recorder: Recorder,
    /// Reconcile metrics.
    pub metrics: Arc<Metrics>,
    /// Every profile, for scheduler-name conflicts.
    pub profiles: Store<SchedulerProfile>,
}

/// Brings `profile`'s children and status in line with its spec.
pub async fn reconcile(profile: Arc<SchedulerProfile>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_inner(&profile, &ctx).await;
    ctx.metrics
        .observe_reconcile(result.is_ok(), started.elapsed().as_secs_f64());
    result
}

async fn reconcile_inner(profile: &SchedulerProfile, ctx: &Context) -> Result<Action, Error> {
    if profile.metadata.deletion_timestamp.is_some() {
        // Garbage collection removes the children through their ownerReferences.
        return Ok(Action::await_change());
    }
    // Conflicts are judged on every profile, so wait for the first full list.
    ctx.profiles
        .wait_until_ready()
        .await
        .map_err(|_| Error::CacheGone)?;
    let name = identity::profile_name(profile);
    let snapshot = read::snapshot(&ctx.client, &ctx.settings, name).await?;
    let all: Vec<SchedulerProfile> = ctx.profiles.state().iter().map(|p| (**p).clone()).collect();
    let now = jiff::Timestamp::now();
    let mut plan = plan::plan(profile, &all, &ctx.settings, &snapshot, now);
    if let Some(refused) = dry_run(&ctx.client, &plan.applies).await? {
        warn!(profile = %name, reason = %refused.message(), "a child was refused in a dry run; applying nothing");
        plan = plan::rejected(profile, &refused, &snapshot, now);
    }
    debug!(profile = %name, writes = plan.writes(), "planned reconcile");
    let writer = Writer {
        client: &ctx.client,
        namespace: &ctx.settings.namespace,
        recorder: &ctx.recorder,
        metrics: &ctx.metrics,
    };
    execute(&writer, profile, &plan).await?;
    Ok(Action::requeue(plan.requeue))
}

/// Retry a failed reconcile after a pause; counts the error by kind.
pub fn error_policy(profile: Arc<SchedulerProfile>, err: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.count_error(err.metric_label());
    warn!(profile = %identity::profile_name(&profile), error = %err, "reconcile failed");
    Action::requeue(Duration::from_secs(10))
}
