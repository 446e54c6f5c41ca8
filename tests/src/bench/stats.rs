//! Throughput figures from bind times, with the semantics of upstream scheduler_perf's
//! `throughputCollector` (`test/integration/scheduler_perf/util.go`).

use serde::{Deserialize, Serialize};

/// Throughput of one run, in pods per second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Mean of the per-second samples (upstream's `Average`).
    pub average: f64,
    /// Percentiles of the per-second samples (upstream's `Perc50` ...).
    pub p50: f64,
    /// 90th percentile of the samples.
    pub p90: f64,
    /// 99th percentile of the samples.
    pub p99: f64,
    /// Pods bound / (last bind − first bind).
    pub overall: f64,
    /// Number of samples.
    pub samples: usize,
}

/// Per-second samples as upstream takes them: every second the bound pods are counted;
/// nothing is recorded before the first bind; the first sample is skipped (it starts
/// independently of the pods); a second without new binds is merged into the next one
/// with the same rate recorded for each merged second; sampling ends with the last bind
/// (upstream cancels the collector once every pod is scheduled, so the last partial
/// second is not sampled). `bind_secs` are seconds from the start of pod creation.
pub fn samples(bind_secs: &[f64]) -> Vec<f64> {
    let mut times: Vec<f64> = bind_secs
        .iter()
        .copied()
        .filter(|t| t.is_finite())
        .collect();
    times.sort_by(f64::total_cmp);
    let Some(&last_bind) = times.last() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (mut started, mut skipped) = (false, 0usize);
    let (mut last_count, mut last_tick) = (0usize, 0.0f64);
    let mut tick = 1.0f64;
    while tick <= last_bind {
        let count = times.partition_point(|t| *t <= tick);
        if count > 0 {
            if !started {
                started = true;
                (last_count, last_tick) = (count, tick);
            } else if count == last_count {
                skipped += 1;
            } else {
                let rate = (count - last_count) as f64 / (tick - last_tick);
                out.extend(std::iter::repeat_n(rate, skipped + 1));
                (skipped, last_count, last_tick) = (0, count, tick);
            }
        }
        tick += 1.0;
    }
    out
}

/// Upstream's percentile of sorted samples: `sorted[ceil(len·p/100) − 1]`; 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (sorted.len() as f64 * p / 100.0).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// All throughput figures of a run from its bind times (seconds from creation start).
pub fn throughput(bind_secs: &[f64]) -> Throughput {
    let mut s = samples(bind_secs);
    s.sort_by(f64::total_cmp);
    let average = if s.is_empty() {
        0.0
    } else {
        s.iter().sum::<f64>() / s.len() as f64
    };
    let first = bind_secs.iter().copied().fold(f64::INFINITY, f64::min);
    let last = bind_secs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let overall = if last > first {
        bind_secs.len() as f64 / (last - first)
    } else {
        0.0
    };
    Throughput {
        average,
        p50: percentile(&s, 50.0),
        p90: percentile(&s, 90.0),
        p99: percentile(&s, 99.0),
        overall,
        samples: s.len(),
    }
}

/// Binds per whole second since creation start (index = second), for the chart.
pub fn per_second(bind_secs: &[f64]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for t in bind_secs.iter().filter(|t| t.is_finite() && **t >= 0.0) {
        let i = *t as usize;
        if out.len() <= i {
            out.resize(i + 1, 0);
        }
        out[i] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_is_skipped_and_the_partial_last_second_dropped() {
        // 10 binds in each of seconds 0..4 (at .5), one more at 4.5.
        let binds: Vec<f64> = (0..4)
            .flat_map(|s| (0..10).map(move |_| s as f64 + 0.5))
            .chain([4.5])
            .collect();
        // Ticks 1..4: counts 10, 20, 30, 40 → first skipped, then 10/s three times.
        assert_eq!(samples(&binds), vec![10.0, 10.0, 10.0]);
        let t = throughput(&binds);
        assert_eq!((t.average, t.p50, t.p99, t.samples), (10.0, 10.0, 10.0, 3));
        assert!((t.overall - 41.0 / 4.0).abs() < 1e-9);
    }

    #[test]
    fn quiet_seconds_are_merged_into_the_next_sample() {
        // Counts at ticks 1..=4: 5, 5, 5, 11 → one rate of 6/3 s recorded three times.
        let binds: Vec<f64> = [0.2; 5].into_iter().chain([3.5; 5]).chain([4.0]).collect();
        assert_eq!(samples(&binds), vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn nothing_before_the_first_bind_counts() {
        let binds = [5.5, 6.5, 7.5, 8.0];
        assert_eq!(samples(&binds), vec![1.0, 2.0]);
    }

    #[test]
    fn empty_and_short_runs_give_zeros() {
        assert_eq!(throughput(&[]), Throughput::default());
        let t = throughput(&[0.1, 0.2]);
        assert_eq!((t.samples, t.average), (0, 0.0));
        assert!(t.overall > 0.0);
    }

    #[test]
    fn percentiles_follow_upstream_ranks() {
        let s: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&s, 50.0), 5.0);
        assert_eq!(percentile(&s, 90.0), 9.0);
        assert_eq!(percentile(&s, 99.0), 10.0);
        assert_eq!(percentile(&[3.0], 50.0), 3.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn per_second_buckets_binds() {
        assert_eq!(per_second(&[0.1, 0.9, 2.0, f64::NAN]), vec![2, 0, 1]);
        assert!(per_second(&[]).is_empty());
    }
}
