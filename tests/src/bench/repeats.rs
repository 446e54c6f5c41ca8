//! Repeated runs (`--repeat N`): on a shared 2-core machine one run's throughput moves by
//! a third from one run to the next, so each workload × contestant can run N times,
//! interleaved with the other contestants, and the report uses the run with the median
//! average throughput. Every run is listed with its figures.

use std::fmt::Write as _;

use super::contestant::Contestant;
use super::measures::headline;
use super::result::{Outcome, Results, RunResult};

/// The runs of workload `w` by contestant `c`, in run order.
fn runs_of<'a>(res: &'a Results, w: &str, c: Contestant) -> Vec<&'a RunResult> {
    res.runs
        .iter()
        .filter(|r| r.workload.id() == w && r.contestant == c)
        .collect()
}

/// The completed run with the median average throughput (the lower middle one for an even
/// count); without a completed run, the first run (so a timeout is reported as such).
pub fn median_run<'a>(res: &'a Results, w: &str, c: Contestant) -> Option<&'a RunResult> {
    let runs = runs_of(res, w, c);
    let mut done: Vec<&RunResult> = runs
        .iter()
        .copied()
        .filter(|r| r.outcome == Outcome::Completed)
        .collect();
    if done.is_empty() {
        return runs.first().copied();
    }
    done.sort_by(|a, b| headline(a).total_cmp(&headline(b)));
    Some(done[(done.len() - 1) / 2])
}

/// A table of every run when some workload × contestant ran more than once.
pub fn repetitions(s: &mut String, res: &Results, workloads: &[String]) {
    let repeated = workloads.iter().any(|w| {
        Contestant::ALL
            .iter()
            .any(|c| runs_of(res, w, *c).len() > 1)
    });
    if !repeated {
        return;
    }
    let _ = writeln!(s, "\n## Every run\n");
    let _ = writeln!(
        s,
        "Each workload × contestant ran more than once; the tables above use the run marked \
         *median* (median avg pods/s). Runs are listed in the order they ran.\n"
    );
    let _ = writeln!(
        s,
        "| workload | contestant | avg pods/s per run | attempt p99 ms per run | peak RSS MiB per run |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for w in workloads {
        for c in Contestant::ALL {
            let runs = runs_of(res, w, c);
            if runs.is_empty() {
                continue;
            }
            let chosen = median_run(res, w, c);
            let mark = |r: &RunResult, text: String| {
                if chosen.is_some_and(|m| std::ptr::eq(m, r)) {
                    format!("{text} (*median*)")
                } else {
                    text
                }
            };
            let col = |f: &dyn Fn(&RunResult) -> String| {
                runs.iter()
                    .map(|r| mark(r, f(r)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                s,
                "| {w} | {} | {} | {} | {} |",
                c.name(),
                col(&|r| match r.outcome {
                    Outcome::Completed => format!("{:.0}", headline(r)),
                    _ => "–".into(),
                }),
                col(&|r| r.attempt_p99_ms.map_or("–".into(), |v| format!("{v:.0}"))),
                col(&|r| {
                    r.usage.map_or("–".into(), |u| {
                        format!("{:.0}", u.peak_rss_bytes as f64 / 1024.0 / 1024.0)
                    })
                }),
            );
        }
    }
}

/// The run reported for `w` × `c`: the median one when it ran more than once.
pub fn find<'a>(res: &'a Results, w: &str, c: Contestant) -> Option<&'a RunResult> {
    median_run(res, w, c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::result::Meta;
    use crate::bench::workload;

    fn run(avg: f64, outcome: Outcome) -> RunResult {
        let w = workload::all(true).remove(0);
        let mut r = RunResult::new(&w, Contestant::Ferrosched, [1.0, 1.0, 1.0]);
        r.outcome = outcome;
        r.throughput.average = avg;
        r.throughput.samples = 3;
        r
    }

    #[test]
    fn the_median_completed_run_is_chosen_and_marked() {
        let res = Results {
            meta: Meta::default(),
            runs: vec![
                run(300.0, Outcome::Completed),
                run(0.0, Outcome::Timeout),
                run(500.0, Outcome::Completed),
                run(400.0, Outcome::Completed),
            ],
        };
        let w = res.runs[0].workload.id();
        let m = median_run(&res, &w, Contestant::Ferrosched).expect("a run");
        assert_eq!(m.throughput.average, 400.0);
        assert!(median_run(&res, &w, Contestant::Limit).is_none());
        let mut s = String::new();
        repetitions(&mut s, &res, std::slice::from_ref(&w));
        assert!(s.contains("| 300, –, 500, 400 (*median*) |"), "{s}");
    }

    #[test]
    fn without_a_completed_run_the_first_is_reported_and_one_run_lists_nothing() {
        let res = Results {
            meta: Meta::default(),
            runs: vec![run(0.0, Outcome::Timeout)],
        };
        let w = res.runs[0].workload.id();
        let m = median_run(&res, &w, Contestant::Ferrosched).expect("a run");
        assert_eq!(m.outcome, Outcome::Timeout);
        let mut s = String::new();
        repetitions(&mut s, &res, std::slice::from_ref(&w));
        assert!(s.is_empty());
    }
}
