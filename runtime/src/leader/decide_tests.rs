use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

use super::*;

const ME: &str = "me";
const LEASE: Duration = Duration::from_secs(15);

fn ts(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn spec(
    holder: Option<&str>,
    duration: Option<i32>,
    transitions: Option<i32>,
    renew_secs: i64,
) -> LeaseSpec {
    LeaseSpec {
        holder_identity: holder.map(str::to_owned),
        lease_duration_seconds: duration,
        lease_transitions: transitions,
        acquire_time: Some(MicroTime(ts(1_000))),
        renew_time: Some(MicroTime(ts(renew_secs))),
        ..LeaseSpec::default()
    }
}

/// What `decide` should answer: Follow, Renew, Acquire (with resulting transitions).
#[derive(Debug, PartialEq)]
enum Want {
    Follow,
    Renew(i32),
    Acquire(i32),
}

#[test]
fn decision_table() {
    let far_future = 4_000_000_000; // renewTime skewed ~ a century ahead
    let far_past = 0;
    #[rustfmt::skip]
    let cases: &[(&str, LeaseSpec, u64, Want)] = &[
        ("empty holder is acquired", spec(None, None, None, 0), 0, Want::Acquire(1)),
        ("empty string holder is acquired", spec(Some(""), Some(1), Some(4), 0), 0, Want::Acquire(5)),
        ("other holder, fresh observation", spec(Some("other"), Some(15), Some(2), 5_000), 0, Want::Follow),
        ("other holder, 14s observed", spec(Some("other"), Some(15), Some(2), 5_000), 14, Want::Follow),
        ("other holder, exactly 15s observed", spec(Some("other"), Some(15), Some(2), 5_000), 15, Want::Acquire(3)),
        ("other holder, 16s observed", spec(Some("other"), Some(15), Some(2), 5_000), 16, Want::Acquire(3)),
        ("record duration wins over ours", spec(Some("other"), Some(60), Some(0), 5_000), 30, Want::Follow),
        ("renewTime in the future is ignored", spec(Some("other"), Some(15), Some(0), far_future), 16, Want::Acquire(1)),
        ("renewTime in the past is ignored", spec(Some("other"), Some(15), Some(0), far_past), 0, Want::Follow),
        ("missing duration means expired", spec(Some("other"), None, Some(0), 5_000), 0, Want::Acquire(1)),
        ("we hold it: renew", spec(Some(ME), Some(15), Some(7), 5_000), 3, Want::Renew(7)),
        ("we hold it, expired locally: still renew", spec(Some(ME), Some(15), Some(7), 5_000), 60, Want::Renew(7)),
    ];
    let start = Instant::now();
    for (name, current, observed_ago, want) in cases {
        let obs = Observation {
            spec: current.clone(),
            at: start,
        };
        let now = start + Duration::from_secs(*observed_ago);
        let got = match decide(ME, Some(&obs), now, ts(9_000), LEASE, false) {
            Decision::Follow { holder } => {
                assert_eq!(
                    Some(holder.as_str()),
                    current.holder_identity.as_deref(),
                    "{name}"
                );
                Want::Follow
            }
            Decision::Renew(s) => {
                assert_eq!(
                    s.acquire_time, current.acquire_time,
                    "{name}: acquireTime kept on renew"
                );
                assert_eq!(s.renew_time, Some(MicroTime(ts(9_000))), "{name}");
                Want::Renew(s.lease_transitions.unwrap_or(-1))
            }
            Decision::Acquire(s) => {
                assert_eq!(
                    s.acquire_time,
                    Some(MicroTime(ts(9_000))),
                    "{name}: new acquireTime"
                );
                assert_eq!(s.holder_identity.as_deref(), Some(ME), "{name}");
                assert_eq!(s.lease_duration_seconds, Some(15), "{name}");
                Want::Acquire(s.lease_transitions.unwrap_or(-1))
            }
            other => panic!("{name}: unexpected {other:?}"),
        };
        assert_eq!(got, *want, "{name}");
    }
}

#[test]
fn missing_lease_is_created_only_when_allowed() {
    let now = Instant::now();
    assert_eq!(
        decide(ME, None, now, ts(9_000), LEASE, false),
        Decision::WaitForLease
    );
    let Decision::Create(created) = decide(ME, None, now, ts(9_000), LEASE, true) else {
        panic!("expected create");
    };
    assert_eq!(created.holder_identity.as_deref(), Some(ME));
    assert_eq!(created.lease_transitions, Some(0));
    assert_eq!(created.lease_duration_seconds, Some(15));
}

#[test]
fn observation_time_restarts_only_on_change() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_secs(5);
    let a = spec(Some("other"), Some(15), Some(0), 100);
    let first = observe(None, &a, t0);
    assert_eq!(first.at, t0);
    assert_eq!(
        observe(Some(first.clone()), &a, t1).at,
        t0,
        "unchanged record keeps its time"
    );
    let renewed = spec(Some("other"), Some(15), Some(0), 102);
    assert_eq!(
        observe(Some(first), &renewed, t1).at,
        t1,
        "a renewal restarts the clock"
    );
}

#[test]
fn released_spec_keeps_transitions_and_clears_holder() {
    let released = released_spec(&spec(Some(ME), Some(15), Some(3), 100), ts(9_000));
    assert_eq!(released.holder_identity.as_deref(), Some(""));
    assert_eq!(released.lease_duration_seconds, Some(1));
    assert_eq!(released.lease_transitions, Some(3));
    assert_eq!(released.renew_time, Some(MicroTime(ts(9_000))));
    assert_eq!(released.acquire_time, Some(MicroTime(ts(9_000))));
}
