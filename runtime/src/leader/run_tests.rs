//! Tests of the whole `run` loop on tokio's paused clock.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::LeaseSpec;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::elector_tests::{NAME, config};
use super::*;

struct Running {
    leader: watch::Receiver<bool>,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), LeaderError>>,
}

const STEP: Duration = Duration::from_millis(100);

/// Advances the shared clock by `total` in small steps, letting the electors run.
async fn advance(clock: &ManualClock, total: Duration) {
    let mut done = Duration::ZERO;
    while done < total {
        clock.advance(STEP);
        done += STEP;
        settle().await;
    }
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn start(store: &MemoryLeaseStore, clock: &ManualClock, id: &str) -> Running {
    start_with(store, clock, config(id))
}

fn start_with(store: &MemoryLeaseStore, clock: &ManualClock, cfg: LeaderElectionConfig) -> Running {
    let elector = match LeaderElector::new(store.clone(), clock.clone(), cfg) {
        Ok(e) => e,
        Err(err) => panic!("{err}"),
    };
    let (leader, cancel) = (elector.subscribe(), CancellationToken::new());
    let task = tokio::spawn(elector.run(cancel.clone()));
    Running {
        leader,
        cancel,
        task,
    }
}

/// Advances the clock until `r` leads; returns how long that took.
async fn until_leader(clock: &ManualClock, r: &Running, within: Duration) -> Duration {
    let start = clock.elapsed();
    settle().await;
    while !*r.leader.borrow() {
        assert!(
            clock.elapsed() - start <= within,
            "did not become leader within {within:?}"
        );
        advance(clock, STEP).await;
    }
    clock.elapsed() - start
}

/// Advances the clock until the run task ends; returns its result and how long it took.
async fn finish(
    clock: &ManualClock,
    task: JoinHandle<Result<(), LeaderError>>,
) -> (Result<(), LeaderError>, Duration) {
    let start = clock.elapsed();
    settle().await;
    while !task.is_finished() {
        assert!(
            clock.elapsed() - start <= Duration::from_secs(60),
            "run did not finish"
        );
        advance(clock, STEP).await;
    }
    match task.await {
        Ok(res) => (res, clock.elapsed() - start),
        Err(err) => panic!("run panicked: {err}"),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn setup() -> (MemoryLeaseStore, ManualClock) {
    let store = MemoryLeaseStore::default();
    store.put(NAME, LeaseSpec::default());
    (store, ManualClock::default())
}

#[tokio::test]
async fn leads_keeps_renewing_and_releases_on_cancel() {
    let (store, clock) = setup();
    let a = start(&store, &clock, "a");
    until_leader(&clock, &a, secs(1)).await;
    advance(&clock, secs(60)).await;
    assert!(
        *a.leader.borrow(),
        "still leader after a minute of renewals"
    );
    let (_, _, replaces) = store.calls();
    assert!(replaces >= 30, "renewed every retry period: {replaces}");
    a.cancel.cancel();
    assert!(finish(&clock, a.task).await.0.is_ok());
    assert!(!*a.leader.borrow());
    let spec = store.spec(NAME);
    assert_eq!(spec.holder_identity.as_deref(), Some(""));
    assert_eq!(
        (spec.lease_duration_seconds, spec.lease_transitions),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn renewals_failing_past_the_deadline_lose_leadership() {
    let (store, clock) = setup();
    let a = start(&store, &clock, "a");
    until_leader(&clock, &a, secs(1)).await;
    advance(&clock, secs(5)).await;
    store.set_unavailable(true);
    let (res, after) = finish(&clock, a.task).await;
    assert!(matches!(res, Err(LeaderError::Lost { .. })), "{res:?}");
    assert!(!*a.leader.borrow(), "writers see leadership gone");
    // The last success was at most one retry period before the outage.
    assert!(
        after >= secs(8) && after <= secs(10),
        "lost after {after:?}"
    );
}

#[tokio::test]
async fn conflicting_renewals_lose_leadership_by_the_deadline() {
    let (store, clock) = setup();
    let a = start(&store, &clock, "a");
    until_leader(&clock, &a, secs(1)).await;
    store.inject_conflicts(u32::MAX);
    let (res, after) = finish(&clock, a.task).await;
    assert!(matches!(res, Err(LeaderError::Lost { .. })), "{res:?}");
    assert!(after <= secs(10), "lost after {after:?}");
}

#[tokio::test]
async fn a_hanging_api_server_cannot_keep_a_leader_past_the_deadline() {
    let (store, clock) = setup();
    let a = start(&store, &clock, "a");
    until_leader(&clock, &a, secs(1)).await;
    store.set_hanging(true);
    let (res, after) = finish(&clock, a.task).await;
    assert!(matches!(res, Err(LeaderError::Lost { .. })), "{res:?}");
    assert!(after <= secs(10), "lost after {after:?}");
}

#[tokio::test]
async fn shutdown_against_a_hanging_api_server_still_returns() {
    let (store, clock) = setup();
    let a = start(&store, &clock, "a");
    until_leader(&clock, &a, secs(1)).await;
    store.set_hanging(true);
    a.cancel.cancel();
    let (res, after) = finish(&clock, a.task).await;
    assert!(res.is_ok());
    assert!(after <= secs(10), "release gave up after {after:?}");
}

#[tokio::test]
async fn another_holder_in_the_lease_ends_leadership_at_once() {
    let (store, clock) = setup();
    let a = start(&store, &clock, "a");
    until_leader(&clock, &a, secs(1)).await;
    let spec = LeaseSpec {
        holder_identity: Some("intruder".into()),
        lease_duration_seconds: Some(15),
        ..LeaseSpec::default()
    };
    store.put(NAME, spec);
    let (res, after) = finish(&clock, a.task).await;
    assert!(matches!(res, Err(LeaderError::Lost { .. })), "{res:?}");
    assert!(after <= secs(2), "noticed after {after:?}");
    assert_eq!(
        store.spec(NAME).holder_identity.as_deref(),
        Some("intruder"),
        "not released on loss"
    );
}

#[tokio::test]
async fn standby_takes_over_at_its_next_retry_after_a_release() {
    let (store, clock) = setup();
    let a = start(&store, &clock, "a");
    until_leader(&clock, &a, secs(1)).await;
    let b = start(&store, &clock, "b");
    advance(&clock, secs(30)).await;
    assert!(!*b.leader.borrow(), "standby waits while a renews");
    a.cancel.cancel();
    assert!(finish(&clock, a.task).await.0.is_ok());
    // A follower sleeps retry_period * (1 + rand * 1.2) between attempts.
    let after = until_leader(&clock, &b, Duration::from_millis(4_500)).await;
    assert!(
        after <= Duration::from_millis(4_500),
        "took over after {after:?}"
    );
    let spec = store.spec(NAME);
    assert_eq!(
        (spec.holder_identity.as_deref(), spec.lease_transitions),
        (Some("b"), Some(2))
    );
    b.cancel.cancel();
    assert!(finish(&clock, b.task).await.0.is_ok());
}

#[tokio::test]
async fn standby_takes_over_a_crashed_leader_after_the_lease_duration() {
    let (store, clock) = setup();
    let a = start(&store, &clock, "a");
    until_leader(&clock, &a, secs(1)).await;
    let b = start(&store, &clock, "b");
    advance(&clock, secs(20)).await;
    a.task.abort(); // a crash: no release
    let after = until_leader(&clock, &b, secs(30)).await;
    // a renewed at most 2s before the crash; b sees that renewal at its next poll (up to
    // 4.4s later), expires it 15s after that, and acts at the poll after (up to 4.4s).
    assert!(
        after >= secs(13) && after <= secs(24),
        "took over after {after:?}"
    );
    assert_eq!(store.spec(NAME).lease_transitions, Some(2));
}

#[tokio::test]
async fn missing_lease_keeps_retrying_without_create() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    let cfg = LeaderElectionConfig {
        create_if_missing: false,
        ..config("a")
    };
    let a = start_with(&store, &clock, cfg);
    advance(&clock, secs(60)).await;
    assert!(!*a.leader.borrow());
    let (gets, creates, replaces) = store.calls();
    assert!(gets >= 10, "kept retrying: {gets}");
    assert_eq!((creates, replaces), (0, 0));
    store.put(NAME, LeaseSpec::default());
    until_leader(&clock, &a, Duration::from_millis(4_500)).await;
    a.cancel.cancel();
    assert!(finish(&clock, a.task).await.0.is_ok());
}

#[tokio::test]
async fn cancelled_follower_leaves_the_lease_alone() {
    let (store, clock) = setup();
    let a = start(&store, &clock, "a");
    until_leader(&clock, &a, secs(1)).await;
    let b = start(&store, &clock, "b");
    advance(&clock, secs(10)).await;
    b.cancel.cancel();
    assert!(finish(&clock, b.task).await.0.is_ok());
    assert_eq!(store.spec(NAME).holder_identity.as_deref(), Some("a"));
    advance(&clock, secs(10)).await;
    assert!(*a.leader.borrow());
}

#[tokio::test]
async fn a_frozen_leader_stops_holding_before_its_elector_runs_again() {
    let (store, clock) = setup();
    let elector = LeaderElector::new(store.clone(), clock.clone(), config("a")).expect("elector");
    let guard = elector.guard();
    assert!(!guard.holds_at(clock.now()), "not held before leading");
    let cancel = CancellationToken::new();
    let r = Running {
        leader: elector.subscribe(),
        cancel: cancel.clone(),
        task: tokio::spawn(elector.run(cancel)),
    };
    until_leader(&clock, &r, secs(5)).await;
    advance(&clock, secs(30)).await;
    assert!(guard.holds_at(clock.now()), "renewals keep it held");
    // Frozen: time passes and no task runs. On waking, `leading` still says true, but
    // the guard no longer holds, so no write goes out before the elector notices.
    clock.advance(config("a").renew_deadline);
    assert!(*r.leader.borrow());
    assert!(!guard.holds_at(clock.now()));
    // On waking, the elector finds its renewal deadline passed and gives up.
    let (res, _) = finish(&clock, r.task).await;
    assert!(matches!(res, Err(LeaderError::Lost { .. })), "{res:?}");
}

#[tokio::test]
async fn forbidden_lease_create_keeps_running_until_the_lease_appears() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    store.forbid_creates(true);
    let a = start(&store, &clock, "a");
    advance(&clock, secs(20)).await;
    assert!(!a.task.is_finished(), "a forbidden create is not fatal");
    assert!(!*a.leader.borrow());
    let (_, creates, _) = store.calls();
    assert!(creates >= 3, "kept retrying the create: {creates}");
    store.put(NAME, LeaseSpec::default());
    until_leader(&clock, &a, secs(5)).await;
    a.cancel.cancel();
    assert!(finish(&clock, a.task).await.0.is_ok());
}
