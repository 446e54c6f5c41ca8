//! Planning in tests: at a given time, recording the planned status the way the API server
//! would, and reading a plan's applies and conditions.

use ferrosched_crds::SchedulerProfile;
use serde_json::json;

use super::profiles::settings;
use crate::plan::{Child, Plan, plan};
use crate::snapshot::Snapshot;

pub fn t(s: &str) -> jiff::Timestamp {
    s.parse().unwrap_or_default()
}

/// Plans, then records the planned status on the profile as the API server would.
pub fn settle(p: &mut SchedulerProfile, snap: &Snapshot, now: &str) -> Plan {
    let all = [p.clone()];
    let plan = plan(p, &all, &settings(), snap, t(now));
    if let Some(s) = &plan.status {
        let mut v = serde_json::to_value(s).unwrap_or_default();
        // The API server stores times with second precision.
        for c in v["conditions"].as_array_mut().into_iter().flatten() {
            let secs = c["lastTransitionTime"]
                .as_str()
                .map(|x| format!("{}Z", &x[..19]))
                .unwrap_or_default();
            c["lastTransitionTime"] = json!(secs);
        }
        p.status = serde_json::from_value(v).ok();
    }
    plan
}

pub fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.applies.iter().map(Child::kind).collect()
}

pub fn condition(p: &Plan, type_: &str) -> (String, String, String) {
    let s = p.status.as_ref().expect("status written");
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .expect("condition");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

pub fn plan_of(p: &SchedulerProfile, snap: &Snapshot) -> Plan {
    plan(
        p,
        std::slice::from_ref(p),
        &settings(),
        snap,
        t("2026-03-01T10:02:00Z"),
    )
}
