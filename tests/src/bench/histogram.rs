//! Prometheus text-format histograms: reading one series from a `/metrics` body and
//! `histogram_quantile` as Prometheus computes it.

/// Cumulative buckets `(upper bound, count)` in ascending order; the last is `+Inf`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// `(le, cumulative count)`.
    pub buckets: Vec<(f64, f64)>,
    /// `_sum`.
    pub sum: f64,
    /// `_count`.
    pub count: f64,
}

/// Label `name="value"` pairs of a sample line's `{...}` part.
fn labels(line: &str) -> Vec<(&str, &str)> {
    let Some(start) = line.find('{') else {
        return Vec::new();
    };
    let Some(end) = line.rfind('}') else {
        return Vec::new();
    };
    line[start + 1..end]
        .split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.trim(), v.trim().trim_matches('"')))
        })
        .collect()
}

fn value(line: &str) -> Option<f64> {
    let rest = &line[line
        .rfind('}')
        .map_or_else(|| line.find(' ').unwrap_or(0), |i| i + 1)..];
    let v = rest.split_whitespace().next()?;
    match v {
        "+Inf" => Some(f64::INFINITY),
        _ => v.parse().ok(),
    }
}

fn parse_le(v: &str) -> Option<f64> {
    if v == "+Inf" {
        Some(f64::INFINITY)
    } else {
        v.parse().ok()
    }
}

/// The histogram `name` summed over every series whose labels include all of `filter`
/// (e.g. `[("result", "scheduled")]`); None when no bucket matched.
pub fn parse(body: &str, name: &str, filter: &[(&str, &str)]) -> Option<Histogram> {
    let bucket_prefix = format!("{name}_bucket{{");
    let sum_prefix = format!("{name}_sum");
    let count_prefix = format!("{name}_count");
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    let (mut sum, mut count) = (0.0, 0.0);
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let ls = labels(line);
        if !filter.iter().all(|f| ls.contains(f)) {
            continue;
        }
        if line.starts_with(&bucket_prefix) {
            let Some(le) = ls
                .iter()
                .find(|(k, _)| *k == "le")
                .and_then(|(_, v)| parse_le(v))
            else {
                continue;
            };
            let Some(v) = value(line) else { continue };
            match buckets.iter_mut().find(|(b, _)| *b == le) {
                Some((_, c)) => *c += v,
                None => buckets.push((le, v)),
            }
        } else if line.starts_with(&sum_prefix) {
            sum += value(line).unwrap_or(0.0);
        } else if line.starts_with(&count_prefix) {
            count += value(line).unwrap_or(0.0);
        }
    }
    if buckets.is_empty() {
        return None;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some(Histogram {
        buckets,
        sum,
        count,
    })
}

/// Sums of a histogram's `_sum` series grouped by the value of `label`, e.g. seconds
/// spent per `extension_point`, largest first.
pub fn sums_by(body: &str, name: &str, label: &str) -> Vec<(String, f64)> {
    let prefix = format!("{name}_sum{{");
    let mut out: Vec<(String, f64)> = Vec::new();
    for line in body.lines().filter(|l| l.starts_with(&prefix)) {
        let Some((_, key)) = labels(line).into_iter().find(|(k, _)| *k == label) else {
            continue;
        };
        let v = value(line).unwrap_or(0.0);
        match out.iter_mut().find(|(k, _)| k == key) {
            Some((_, s)) => *s += v,
            None => out.push((key.to_string(), v)),
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

impl Histogram {
    /// Prometheus' `histogram_quantile(q, ...)`: linear interpolation inside the bucket
    /// holding rank `q·count`, the first bucket starting at 0; a rank in the `+Inf`
    /// bucket gives the highest finite bound. None when there are no observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last()?.1;
        if total <= 0.0 || !q.is_finite() {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let (mut prev_le, mut prev_count) = (0.0, 0.0);
        for &(le, count) in &self.buckets {
            if count >= rank && count > prev_count {
                if le.is_infinite() {
                    return Some(prev_le);
                }
                return Some(prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count));
            }
            (prev_le, prev_count) = (le, count);
        }
        Some(prev_le)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_TEXT: &str = r#"# HELP scheduler_scheduling_attempt_duration_seconds x
# TYPE scheduler_scheduling_attempt_duration_seconds histogram
scheduler_scheduling_attempt_duration_seconds_bucket{profile="p",result="scheduled",le="0.001"} 0
scheduler_scheduling_attempt_duration_seconds_bucket{profile="p",result="scheduled",le="0.002"} 50
scheduler_scheduling_attempt_duration_seconds_bucket{profile="p",result="scheduled",le="0.004"} 100
scheduler_scheduling_attempt_duration_seconds_bucket{profile="p",result="scheduled",le="+Inf"} 100
scheduler_scheduling_attempt_duration_seconds_sum{profile="p",result="scheduled"} 0.2
scheduler_scheduling_attempt_duration_seconds_count{profile="p",result="scheduled"} 100
scheduler_scheduling_attempt_duration_seconds_bucket{profile="p",result="unschedulable",le="0.001"} 7
scheduler_scheduling_attempt_duration_seconds_bucket{profile="p",result="unschedulable",le="+Inf"} 7
scheduler_framework_extension_point_duration_seconds_sum{extension_point="Filter",profile="p",status="Success"} 1.5
scheduler_framework_extension_point_duration_seconds_sum{extension_point="Score",profile="p",status="Success"} 2.5
scheduler_framework_extension_point_duration_seconds_sum{extension_point="Filter",profile="p",status="Unschedulable"} 0.5
"#;

    const NAME: &str = "scheduler_scheduling_attempt_duration_seconds";

    #[test]
    fn reads_one_result_and_interpolates() {
        let h = parse(GO_TEXT, NAME, &[("result", "scheduled")]).expect("histogram");
        assert_eq!(h.buckets.len(), 4);
        assert_eq!((h.count, h.sum), (100.0, 0.2));
        // Rank 50 is the top of the (0.001, 0.002] bucket; rank 99 is 49/50 into (0.002, 0.004].
        assert!((h.quantile(0.5).unwrap_or(0.0) - 0.002).abs() < 1e-12);
        assert!((h.quantile(0.99).unwrap_or(0.0) - 0.00396).abs() < 1e-12);
    }

    #[test]
    fn openmetrics_label_order_and_eof_are_fine() {
        let text = "x_bucket{le=\"0.5\",result=\"scheduled\",profile=\"a\"} 2\n\
                    x_bucket{le=\"+Inf\",result=\"scheduled\",profile=\"a\"} 4\n# EOF\n";
        let h = parse(text, "x", &[("result", "scheduled")]).expect("histogram");
        // Half the observations are above every finite bound: the highest finite bound.
        assert_eq!(h.quantile(0.99), Some(0.5));
        assert_eq!(h.quantile(0.25), Some(0.25));
    }

    #[test]
    fn missing_or_empty_histograms() {
        assert!(parse(GO_TEXT, "nope", &[]).is_none());
        assert!(parse(GO_TEXT, NAME, &[("result", "error")]).is_none());
        let empty = Histogram {
            buckets: vec![(1.0, 0.0), (f64::INFINITY, 0.0)],
            ..Default::default()
        };
        assert_eq!(empty.quantile(0.5), None);
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn sums_group_by_a_label() {
        let s = sums_by(
            GO_TEXT,
            "scheduler_framework_extension_point_duration_seconds",
            "extension_point",
        );
        assert_eq!(s, vec![("Score".into(), 2.5), ("Filter".into(), 2.0)]);
    }
}
