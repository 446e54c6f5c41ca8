//! Step-by-step tests of one acquire-or-renew round, on a manual clock.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

use super::attempt::Attempt;
use super::*;

pub(super) const NAME: &str = "ferrosched";

pub(super) fn config(identity: &str) -> LeaderElectionConfig {
    LeaderElectionConfig {
        identity: identity.to_owned(),
        ..LeaderElectionConfig::new("kube-system", NAME)
    }
}

fn elector(
    store: &MemoryLeaseStore,
    clock: &ManualClock,
    id: &str,
) -> LeaderElector<MemoryLeaseStore, ManualClock> {
    match LeaderElector::new(store.clone(), clock.clone(), config(id)) {
        Ok(e) => e,
        Err(err) => panic!("valid config rejected: {err}"),
    }
}

fn held_by(holder: &str, renew: jiff::Timestamp, transitions: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(holder.to_owned()),
        lease_duration_seconds: Some(15),
        lease_transitions: Some(transitions),
        acquire_time: Some(MicroTime(renew)),
        renew_time: Some(MicroTime(renew)),
        ..LeaseSpec::default()
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[tokio::test]
async fn acquires_an_empty_lease_created_by_the_operator() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    store.put(NAME, LeaseSpec::default());
    let mut a = elector(&store, &clock, "a");
    assert_eq!(a.try_acquire_or_renew().await, Attempt::Held);
    let spec = store.spec(NAME);
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.lease_duration_seconds, Some(15));
    assert_eq!(
        spec.lease_transitions,
        Some(1),
        "empty -> a is a change of holder"
    );
    assert_eq!(spec.acquire_time, Some(MicroTime(clock.wall_now())));
    assert_eq!(*a.subscribe_holder().borrow(), Some("a".to_owned()));
}

#[tokio::test]
async fn leader_renews_keeping_acquire_time_and_transitions() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    store.put(NAME, LeaseSpec::default());
    let mut a = elector(&store, &clock, "a");
    assert_eq!(a.try_acquire_or_renew().await, Attempt::Held);
    let acquired = store.spec(NAME);
    for _ in 0..10 {
        clock.advance(secs(2));
        assert_eq!(a.try_acquire_or_renew().await, Attempt::Held);
    }
    let renewed = store.spec(NAME);
    assert_eq!(renewed.acquire_time, acquired.acquire_time);
    assert_eq!(renewed.lease_transitions, Some(1));
    assert_eq!(renewed.renew_time, Some(MicroTime(clock.wall_now())));
    let (gets, _, replaces) = store.calls();
    assert_eq!(
        (gets, replaces),
        (1, 11),
        "renewals take the optimistic path without reads"
    );
}

#[tokio::test]
async fn follower_never_takes_a_lease_that_keeps_being_renewed() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    store.put(NAME, LeaseSpec::default());
    let (mut a, mut b) = (elector(&store, &clock, "a"), elector(&store, &clock, "b"));
    assert_eq!(a.try_acquire_or_renew().await, Attempt::Held);
    for _ in 0..30 {
        assert_eq!(
            b.try_acquire_or_renew().await,
            Attempt::Follower("a".into())
        );
        clock.advance(secs(4));
        assert_eq!(a.try_acquire_or_renew().await, Attempt::Held);
    }
    assert_eq!(store.spec(NAME).holder_identity.as_deref(), Some("a"));
    assert_eq!(*b.subscribe_holder().borrow(), Some("a".to_owned()));
}

#[tokio::test]
async fn takeover_follows_the_local_clock_whatever_the_remote_renew_time() {
    let skews = [
        ("renewTime a century ahead", 4_000_000_000),
        ("renewTime decades behind", 0),
        ("renewTime accurate", 1_000),
    ];
    for (case, renew_secs) in skews {
        let store = MemoryLeaseStore::default();
        let clock = ManualClock::new(jiff::Timestamp::from_second(1_000).unwrap_or_default());
        let renew = jiff::Timestamp::from_second(renew_secs).unwrap_or_default();
        store.put(NAME, held_by("dead", renew, 4));
        let mut b = elector(&store, &clock, "b");
        for _ in 0..7 {
            assert_eq!(
                b.try_acquire_or_renew().await,
                Attempt::Follower("dead".into()),
                "{case}"
            );
            clock.advance(secs(2));
        }
        // 14s since b first saw the record: still valid.
        assert_eq!(
            b.try_acquire_or_renew().await,
            Attempt::Follower("dead".into()),
            "{case}"
        );
        clock.advance(secs(2));
        assert_eq!(b.try_acquire_or_renew().await, Attempt::Held, "{case}");
        let spec = store.spec(NAME);
        assert_eq!(spec.holder_identity.as_deref(), Some("b"), "{case}");
        assert_eq!(
            spec.lease_transitions,
            Some(5),
            "{case}: takeover increments"
        );
        assert_eq!(
            spec.acquire_time,
            Some(MicroTime(clock.wall_now())),
            "{case}: new acquireTime"
        );
    }
}

#[tokio::test]
async fn a_renewal_seen_by_the_follower_restarts_its_wait() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    store.put(NAME, held_by("other", jiff::Timestamp::UNIX_EPOCH, 0));
    let mut b = elector(&store, &clock, "b");
    assert_eq!(
        b.try_acquire_or_renew().await,
        Attempt::Follower("other".into())
    );
    clock.advance(secs(14));
    store.put(NAME, held_by("other", clock.wall_now(), 0));
    assert_eq!(
        b.try_acquire_or_renew().await,
        Attempt::Follower("other".into())
    );
    clock.advance(secs(14));
    assert_eq!(
        b.try_acquire_or_renew().await,
        Attempt::Follower("other".into())
    );
    clock.advance(secs(2));
    assert_eq!(b.try_acquire_or_renew().await, Attempt::Held);
}

#[tokio::test]
async fn conflict_on_replace_is_retried_next_round() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    store.put(NAME, LeaseSpec::default());
    let mut a = elector(&store, &clock, "a");
    store.inject_conflicts(1);
    assert!(matches!(a.try_acquire_or_renew().await, Attempt::Failed(_)));
    assert_eq!(
        store.spec(NAME).holder_identity,
        None,
        "nothing written on conflict"
    );
    clock.advance(secs(2));
    assert_eq!(a.try_acquire_or_renew().await, Attempt::Held);
    assert_eq!(store.spec(NAME).lease_transitions, Some(1));
}

#[tokio::test]
async fn losing_a_write_race_means_conflict_then_follow() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    store.put(NAME, LeaseSpec::default());
    let mut a = elector(&store, &clock, "a");
    // `b` acquires between a's read and a's write.
    store.write_after_next_get(NAME, held_by("b", clock.wall_now(), 1));
    assert!(matches!(a.try_acquire_or_renew().await, Attempt::Failed(e) if e.contains("conflict")));
    assert_eq!(
        store.spec(NAME).holder_identity.as_deref(),
        Some("b"),
        "b's write survives"
    );
    clock.advance(secs(2));
    assert_eq!(
        a.try_acquire_or_renew().await,
        Attempt::Follower("b".into())
    );
}

#[tokio::test]
async fn leader_sees_another_holder_after_its_optimistic_write_conflicts() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    store.put(NAME, LeaseSpec::default());
    let mut a = elector(&store, &clock, "a");
    assert_eq!(a.try_acquire_or_renew().await, Attempt::Held);
    store.put(NAME, held_by("intruder", clock.wall_now(), 2));
    clock.advance(secs(2));
    assert_eq!(
        a.try_acquire_or_renew().await,
        Attempt::Follower("intruder".into())
    );
}

#[tokio::test]
async fn missing_lease_is_not_created_when_disabled() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    let cfg = LeaderElectionConfig {
        create_if_missing: false,
        ..config("a")
    };
    let mut a = match LeaderElector::new(store.clone(), clock.clone(), cfg) {
        Ok(e) => e,
        Err(err) => panic!("{err}"),
    };
    for _ in 0..5 {
        assert_eq!(
            a.try_acquire_or_renew().await,
            Attempt::Failed("lease not found".into())
        );
        clock.advance(secs(2));
    }
    assert_eq!(store.calls(), (5, 0, 0), "only reads, never a create");
    assert!(store.lease(NAME).is_none());
    store.put(NAME, LeaseSpec::default());
    assert_eq!(
        a.try_acquire_or_renew().await,
        Attempt::Held,
        "acquired once the operator created it"
    );
}

#[tokio::test]
async fn missing_lease_is_created_by_default_like_client_go() {
    // kube-scheduler started with --leader-elect=true on a fresh cluster creates its Lease.
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    assert!(LeaderElectionConfig::new("kube-system", NAME).create_if_missing);
    let mut a = elector(&store, &clock, "a");
    assert_eq!(a.try_acquire_or_renew().await, Attempt::Held);
    assert_eq!(store.calls(), (1, 1, 0), "one read, one create");
    assert_eq!(store.spec(NAME).holder_identity.as_deref(), Some("a"));
}

#[tokio::test]
async fn forbidden_create_is_retried_until_the_lease_exists() {
    // The operator grants no `create` on leases: a 403 is logged and retried, not fatal.
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    store.forbid_creates(true);
    let mut a = elector(&store, &clock, "a");
    for _ in 0..3 {
        assert!(matches!(
            a.try_acquire_or_renew().await,
            Attempt::Failed(reason) if reason.contains("forbidden")
        ));
        clock.advance(secs(2));
    }
    assert_eq!(
        store.calls(),
        (3, 3, 0),
        "each round reads and tries to create"
    );
    assert!(store.lease(NAME).is_none());
    store.put(NAME, LeaseSpec::default());
    assert_eq!(
        a.try_acquire_or_renew().await,
        Attempt::Held,
        "acquired once the operator created it"
    );
}

#[tokio::test]
async fn missing_lease_is_created_when_allowed() {
    let (store, clock) = (MemoryLeaseStore::default(), ManualClock::default());
    let cfg = LeaderElectionConfig {
        create_if_missing: true,
        ..config("op")
    };
    let mut op = match LeaderElector::new(store.clone(), clock.clone(), cfg) {
        Ok(e) => e,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(op.try_acquire_or_renew().await, Attempt::Held);
    let spec = store.spec(NAME);
    assert_eq!(
        (spec.holder_identity.as_deref(), spec.lease_transitions),
        (Some("op"), Some(0))
    );
    assert_eq!(
        store
            .lease(NAME)
            .and_then(|l| l.metadata.namespace)
            .as_deref(),
        Some("kube-system")
    );
}
