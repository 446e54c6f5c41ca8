//! "What bounds the missed targets": for each missed ratio to the limit or to
//! kube-scheduler's p99, the figures from the same runs that show where the time went,
//! stated only when the runs carry them.

use std::fmt::Write as _;

use super::contestant::Contestant;
use super::measures::{TARGET_P99, Target, busy, completed, headline};
use super::repeats::find;
use super::result::{Results, RunResult};

/// API-server CPU milliseconds per measured pod.
fn api_ms_per_pod(r: &RunResult) -> Option<f64> {
    r.apiserver_cpu_secs
        .filter(|_| r.bound > 0)
        .map(|s| s * 1000.0 / r.bound as f64)
}

/// Why Ferrosched's throughput is below the limit's on `w`, from the two runs.
fn below_limit(w: &str, ours: &RunResult, limit: &RunResult) -> Option<String> {
    let (a, b) = (ours.apiserver_cpu_secs?, limit.apiserver_cpu_secs?);
    let mut line = format!(
        "**{w}, throughput ÷ limit-events.** With Ferrosched the API server spent {a:.1} \
         CPU-s ({} ms per measured pod) and created {} events; with the limit writing events \
         {b:.1} CPU-s ({} ms per pod) and {} events.",
        fmt(api_ms_per_pod(ours), 2),
        ours.events_written.map_or("–".into(), |n| n.to_string()),
        fmt(api_ms_per_pod(limit), 2),
        limit.events_written.map_or("–".into(), |n| n.to_string()),
    );
    let lag = ours.last_bind_secs - ours.create_secs;
    if lag < 0.5 {
        let _ = write!(
            line,
            " Ferrosched bound its last pod {lag:.1} s after the last was created: it kept \
             pace with the driver, so its rate is the creation rate the API server sustained \
             while also serving Ferrosched's writes."
        );
    }
    Some(line)
}

/// Why Ferrosched's throughput is under twice kube-scheduler's on `w`: stated only when
/// Ferrosched kept pace with the driver while kube-scheduler's own algorithm set its pace.
fn under_twice_kube(w: &str, ours: &RunResult, kube: &RunResult) -> Option<String> {
    let lag = ours.last_bind_secs - ours.create_secs;
    let kube_busy = busy(kube)?;
    if lag >= 0.5 || kube_busy < 0.9 {
        return None;
    }
    Some(format!(
        "**{w}, throughput ÷ kube-scheduler.** Ferrosched bound its last pod {lag:.1} s after \
         the driver created it, so it ran at the creation rate the API server sustained \
         ({:.0} pods/s, its `Scheduled` events included); kube-scheduler's algorithm was busy \
         {:.0} % of its run, so its own scheduling cycle set its pace ({:.0} pods/s). The \
         ratio is that of the API server's speed to kube-scheduler's algorithm on this \
         machine, and moves with how fast the machine runs at the time.",
        headline(ours),
        kube_busy * 100.0,
        headline(kube),
    ))
}

/// Why Ferrosched's p99 attempt latency is above ⅓ of kube-scheduler's on `w`.
fn above_p99(
    w: &str,
    ours: &RunResult,
    kube: &RunResult,
    limit: Option<&RunResult>,
) -> Option<String> {
    let target = kube.attempt_p99_ms? * TARGET_P99;
    let floor = limit.and_then(|l| l.apiserver_bind_ms).map(|(_, p99)| p99);
    let mut line = format!(
        "**{w}, p99 attempt latency.** ⅓ of kube-scheduler's attempt p99 is {target:.0} ms. \
         The API server's own p99 for `pods/binding` was {} ms with the limit, {} ms with \
         Ferrosched and {} ms with kube-scheduler.",
        fmt(floor, 0),
        fmt(ours.apiserver_bind_ms.map(|(_, p)| p), 0),
        fmt(kube.apiserver_bind_ms.map(|(_, p)| p), 0),
    );
    match floor {
        Some(f) if f >= target => {
            let _ = write!(
                line,
                " A binder without any logic waited longer than the target inside the API \
                 server alone: binding at the pace of the driver's creations costs that tail \
                 on this control plane (fewer binds in flight did not reach the target either; \
                 `docs/decisions.md`)."
            );
        }
        Some(_) => {
            let _ = write!(
                line,
                " The API server's part is under the target here; the rest of Ferrosched's \
                 attempt is its round trip and its wait behind its other binds."
            );
        }
        None => {}
    }
    let kube_lag = kube.last_bind_secs - kube.create_secs;
    if kube_lag >= 0.5 {
        let _ = write!(
            line,
            " kube-scheduler bound its last pod {kube_lag:.1} s after the last was created, so \
             most of its binds met an API server the driver no longer loaded."
        );
    }
    Some(line)
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

/// Writes the section for the `missed` targets (workload id, target) that the runs can
/// explain; peak RSS has nothing to add here.
pub fn missed(s: &mut String, res: &Results, missed: &[(String, Target)]) {
    let mut kube_lines = Vec::new();
    let mut limit_lines = Vec::new();
    let mut p99_lines = Vec::new();
    for (w, target) in missed {
        let Some(ours) = completed(find(res, w, Contestant::Ferrosched)) else {
            continue;
        };
        let kube = completed(find(res, w, Contestant::KubeScheduler));
        let limit = completed(find(res, w, Contestant::Limit));
        let limit_events = completed(find(res, w, Contestant::LimitEvents));
        let (lines, line) = match target {
            Target::VsKube => (
                &mut kube_lines,
                kube.and_then(|k| under_twice_kube(w, ours, k)),
            ),
            Target::VsLimit => (
                &mut limit_lines,
                limit_events.and_then(|l| below_limit(w, ours, l)),
            ),
            Target::P99 => (
                &mut p99_lines,
                kube.and_then(|k| above_p99(w, ours, k, limit)),
            ),
            Target::Rss => continue,
        };
        lines.extend(line);
    }
    if kube_lines.is_empty() && limit_lines.is_empty() && p99_lines.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## What bounds the missed targets\n");
    for l in &kube_lines {
        let _ = writeln!(s, "- {l}");
    }
    if !kube_lines.is_empty() {
        s.push('\n');
    }
    if !limit_lines.is_empty() {
        let _ = writeln!(
            s,
            "The limit with events writes what Ferrosched writes for each pod: the bind and \
             upstream's `Scheduled` event. On 2 cores the API server is the bottleneck of the \
             whole run; the lines compare what it spent per measured pod with each.\n"
        );
        for l in &limit_lines {
            let _ = writeln!(s, "- {l}");
        }
    }
    if !p99_lines.is_empty() {
        let _ = writeln!(
            s,
            "{}An attempt ends when its `pods/binding` request returns, as upstream's does \
             (`schedule_one.go` observes it after `bind`), so its tail is the API server's \
             tail while the driver keeps it busy creating pods.\n",
            if limit_lines.is_empty() { "" } else { "\n" }
        );
        for l in &p99_lines {
            let _ = writeln!(s, "- {l}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::result::{Meta, Outcome};
    use crate::bench::workload;

    fn run(c: Contestant, avg: f64, p99: Option<f64>, api_bind_p99: f64) -> RunResult {
        let w = workload::all(true).remove(0);
        let mut r = RunResult::new(&w, c, [1.0, 1.0, 1.0]);
        r.outcome = Outcome::Completed;
        r.throughput.average = avg;
        r.throughput.samples = 3;
        r.attempt_p99_ms = p99;
        r.apiserver_bind_ms = Some((40.0, api_bind_p99));
        r.apiserver_cpu_secs = Some(avg / 10.0);
        r.bound = 1000;
        r.create_secs = 10.0;
        r.last_bind_secs = 10.2;
        r
    }

    /// The generated section of the whole report for these runs.
    fn section(runs: Vec<RunResult>) -> String {
        let res = Results {
            meta: Meta::default(),
            runs,
        };
        let md = crate::bench::report::markdown(&res);
        match md.find("## What bounds the missed targets") {
            Some(start) => {
                let rest = &md[start..];
                let end = rest[1..].find("\n## ").map_or(rest.len(), |i| i + 1);
                rest[..end].to_string()
            }
            None => String::new(),
        }
    }

    /// Ferrosched, kube-scheduler and the limit with these figures.
    fn three(ours: (f64, f64), kube: RunResult, limit_bind_p99: f64) -> String {
        section(vec![
            run(Contestant::Ferrosched, ours.0, Some(ours.1), 190.0),
            kube,
            run(Contestant::LimitEvents, 500.0, None, limit_bind_p99),
            run(Contestant::Limit, 500.0, None, limit_bind_p99),
        ])
    }

    #[test]
    fn a_bind_floor_above_the_target_is_said_to_bound_it() {
        let kube = run(Contestant::KubeScheduler, 100.0, Some(300.0), 180.0);
        let s = three((400.0, 240.0), kube, 210.0);
        assert!(s.contains("## What bounds the missed targets"), "{s}");
        assert!(s.contains("throughput ÷ limit-events.** With Ferrosched the API server spent 40.0 CPU-s (40.00 ms per measured pod)"), "{s}");
        assert!(s.contains("kept pace with the driver"), "{s}");
        assert!(
            s.contains("⅓ of kube-scheduler's attempt p99 is 100 ms"),
            "{s}"
        );
        assert!(
            s.contains(
                "210 ms with the limit, 190 ms with Ferrosched and 180 ms with kube-scheduler"
            ),
            "{s}"
        );
        assert!(
            s.contains("binding at the pace of the driver's creations costs that tail"),
            "{s}"
        );
    }

    #[test]
    fn a_bind_floor_under_the_target_is_not_blamed() {
        let kube = run(Contestant::KubeScheduler, 100.0, Some(300.0), 180.0);
        let s = three((480.0, 240.0), kube, 60.0);
        assert!(!s.contains("throughput ÷ limit"), "{s}");
        assert!(
            s.contains("The API server's part is under the target here"),
            "{s}"
        );
        assert!(!s.contains("costs that tail"), "{s}");
    }

    #[test]
    fn a_creation_bound_run_against_a_busy_kube_scheduler_is_explained() {
        let mut kube = run(Contestant::KubeScheduler, 300.0, Some(300.0), 180.0);
        kube.last_bind_secs = 20.0;
        kube.algorithm_secs = Some(19.0);
        let s = three((480.0, 50.0), kube.clone(), 210.0);
        assert!(
            s.contains("throughput ÷ kube-scheduler.** Ferrosched bound its last pod 0.2 s"),
            "{s}"
        );
        assert!(s.contains("algorithm was busy 95 %"), "{s}");
        // Not said when kube-scheduler's algorithm was not what set its pace.
        kube.algorithm_secs = Some(5.0);
        let s = three((480.0, 50.0), kube, 210.0);
        assert!(!s.contains("throughput ÷ kube-scheduler"), "{s}");
    }

    #[test]
    fn nothing_is_written_when_the_targets_hold() {
        let kube = run(Contestant::KubeScheduler, 100.0, Some(300.0), 180.0);
        let s = three((480.0, 50.0), kube, 210.0);
        assert!(s.is_empty(), "{s}");
    }
}
