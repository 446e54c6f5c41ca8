//! Cost as the cluster grows (issue #26 item 6, in-process part): microseconds per pod and
//! peak RSS of the scheduling cycle at 1,000 to 50,000 nodes, for the default plugins and
//! the anti-affinity and spreading shapes, each a fresh process of the scheduler's
//! `inprocess_bench` example (so each RSS is its own), drawn as a chart.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{machine, svg};

/// Node counts measured by default.
pub const NODE_COUNTS: [usize; 4] = [1000, 5000, 15000, 50000];
/// The example's shapes: (argument, name in the report, colour).
const SHAPES: [(&str, &str, &str); 3] = [
    ("basic", "default plugins (SchedulingBasic)", "#d9480f"),
    ("anti-affinity", "required pod anti-affinity", "#1c7ed6"),
    ("spreading", "zone topology spread", "#2b8a3e"),
];

/// One shape at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrowthPoint {
    /// `basic`, `anti-affinity` or `spreading`.
    pub shape: String,
    /// Nodes.
    pub nodes: usize,
    /// Pods scheduled.
    pub pods: usize,
    /// Pods placed (the rest found no node).
    pub placed: usize,
    /// Wall microseconds per pod (total time ÷ pods).
    pub us_per_pod: f64,
    /// Scheduling-cycle p50 and p99, microseconds.
    pub cycle_p50_us: f64,
    /// See `cycle_p50_us`.
    pub cycle_p99_us: f64,
    /// Peak RSS of the process, MiB.
    pub peak_rss_mib: f64,
}

/// Everything written to `growth.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GrowthResults {
    /// UTC start.
    pub date: String,
    /// The command that made it.
    pub command: String,
    /// CPU, cores, memory, kernel.
    pub machine: String,
    /// Every point, in run order.
    pub points: Vec<GrowthPoint>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct GrowthOptions {
    /// The release `inprocess_bench` example.
    pub example: PathBuf,
    /// Node counts.
    pub nodes: Vec<usize>,
    /// Pods per run.
    pub pods: usize,
    /// Where `growth.{json,md,svg}` go.
    pub out_dir: PathBuf,
    /// The command line recorded.
    pub command: String,
}

/// Runs every shape at every size, one process each, and writes the report as it goes.
pub fn run_growth(opts: &GrowthOptions) -> anyhow::Result<GrowthResults> {
    let mut res = GrowthResults {
        date: jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        command: opts.command.clone(),
        machine: machine::describe(),
        points: Vec::new(),
    };
    for (shape, _, _) in SHAPES {
        for &nodes in &opts.nodes {
            tracing::info!(shape, nodes, pods = opts.pods, "in-process run");
            let out = std::process::Command::new(&opts.example)
                .args([nodes.to_string(), opts.pods.to_string(), shape.to_string()])
                .output()?;
            if !out.status.success() {
                anyhow::bail!(
                    "{} {nodes} {} {shape}: {}",
                    opts.example.display(),
                    opts.pods,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let point = parse(&text, shape, nodes, opts.pods)
                .ok_or_else(|| anyhow::anyhow!("unexpected output of the example:\n{text}"))?;
            res.points.push(point);
            write(&res, &opts.out_dir)?;
        }
    }
    Ok(res)
}

/// The figures of one run of the example, from its output.
pub fn parse(text: &str, shape: &str, nodes: usize, pods: usize) -> Option<GrowthPoint> {
    let after = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let number = |s: &str| s.split_whitespace().next()?.parse::<f64>().ok();
    let placed = after("placed:")?.parse().ok()?;
    let secs = after("throughput:")?
        .split('(')
        .nth(1)?
        .trim_end_matches(')')
        .trim_end_matches(" s")
        .trim()
        .parse::<f64>()
        .ok()?;
    let cycle = after("scheduling cycle per pod:")?;
    let p50 = number(cycle.split("p50").nth(1)?)?;
    let p99 = number(cycle.split("p99").nth(1)?)?;
    let rss = number(after("peak RSS:")?)?;
    Some(GrowthPoint {
        shape: shape.to_string(),
        nodes,
        pods,
        placed,
        us_per_pod: secs * 1e6 / pods.max(1) as f64,
        cycle_p50_us: p50,
        cycle_p99_us: p99,
        peak_rss_mib: rss,
    })
}

/// Writes `growth.json`, `growth.md` and `growth.svg` into `dir`.
pub fn write(res: &GrowthResults, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("growth.json"),
        serde_json::to_string_pretty(res)? + "\n",
    )?;
    std::fs::write(dir.join("growth.md"), markdown(res))?;
    std::fs::write(dir.join("growth.svg"), chart(res))?;
    Ok(())
}

fn series(res: &GrowthResults, y: fn(&GrowthPoint) -> f64) -> Vec<svg::Series> {
    SHAPES
        .iter()
        .map(|(shape, name, color)| svg::Series {
            name: (*name).to_string(),
            color: (*color).to_string(),
            points: res
                .points
                .iter()
                .filter(|p| p.shape == *shape)
                .map(|p| (p.nodes as f64 / 1000.0, y(p)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

/// Two panels: microseconds per pod, and peak RSS, against thousands of nodes.
pub fn chart(res: &GrowthResults) -> String {
    let time = svg::render(
        &[svg::Panel {
            title: "microseconds per pod".into(),
            series: series(res, |p| p.us_per_pod),
        }],
        "nodes (thousands)",
        "µs per pod",
    );
    let rss = svg::render(
        &[svg::Panel {
            title: "peak RSS".into(),
            series: series(res, |p| p.peak_rss_mib),
        }],
        "nodes (thousands)",
        "MiB",
    );
    stack(&time, &rss)
}

/// Two SVG documents one above the other, as one document.
fn stack(top: &str, bottom: &str) -> String {
    let size = |doc: &str, attr: &str| -> f64 {
        doc.split(&format!("{attr}=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let (w, h1, h2) = (
        size(top, "width").max(size(bottom, "width")),
        size(top, "height"),
        size(bottom, "height"),
    );
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\">\n\
         <g>{top}</g>\n<g transform=\"translate(0,{h1})\">{bottom}</g>\n</svg>\n",
        h1 + h2
    )
}

/// The report.
pub fn markdown(res: &GrowthResults) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Cost as the cluster grows (in-process)\n");
    let _ = writeln!(
        s,
        "Generated on {} (UTC) by `{}`; running it again regenerates this file, `growth.json` \
         and `growth.svg`. Issue #26 item 6.\n",
        res.date, res.command
    );
    let _ = writeln!(s, "- Machine: {}", res.machine);
    let _ = writeln!(
        s,
        "- Each point is a fresh process of `cargo run --release -p ferrosched-scheduler \
         --example inprocess_bench -- <nodes> <pods> <shape>`: the scheduler's own cache, \
         queue and framework with the default plugins (percentageOfNodesToScore adaptive, as \
         upstream), a no-op binder and one filter thread; nodes 4 CPU / 32Gi / 110 pods, pods \
         100m / 500Mi. *anti-affinity* adds 1,000 bound pods of the same kind on distinct \
         nodes; *spreading* as many unlabelled pods bound as it schedules. µs per pod is the \
         whole run's wall time ÷ pods; peak RSS is `VmHWM`, start-up included.\n"
    );
    let _ = writeln!(
        s,
        "| shape | nodes | pods | placed | µs per pod | cycle p50 µs | cycle p99 µs | peak RSS MiB |"
    );
    let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|--:|--:|");
    for p in &res.points {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} |",
            p.shape,
            p.nodes,
            p.pods,
            p.placed,
            p.us_per_pod,
            p.cycle_p50_us,
            p.cycle_p99_us,
            p.peak_rss_mib
        );
    }
    let _ = writeln!(s, "\n![cost as the cluster grows](growth.svg)");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "in-process: 10000 pods onto 5000 nodes (...), default plugins, no-op binder, 1 filter thread
placed: 10000
throughput: 17242 pods/s (0.58 s)
scheduling cycle per pod: p50 48.0 us, p99 94.5 us
peak RSS: 90.2 MiB
pods per node -> nodes: {2: 5000}
";

    #[test]
    fn the_examples_output_is_read() {
        let p = parse(OUTPUT, "basic", 5000, 10000).expect("parsed");
        assert_eq!(p.placed, 10000);
        assert!((p.us_per_pod - 58.0).abs() < 1e-9, "{}", p.us_per_pod);
        assert_eq!(
            (p.cycle_p50_us, p.cycle_p99_us, p.peak_rss_mib),
            (48.0, 94.5, 90.2)
        );
        assert!(parse("nothing", "basic", 1, 1).is_none());
    }

    #[test]
    fn the_chart_and_table_hold_every_point() {
        let mut res = GrowthResults::default();
        for nodes in NODE_COUNTS {
            let mut p = parse(OUTPUT, "spreading", nodes, 10000).expect("parsed");
            p.peak_rss_mib = nodes as f64 / 100.0;
            res.points.push(p);
        }
        let md = markdown(&res);
        assert!(
            md.contains("| spreading | 50000 | 10000 | 10000 | 58.0 | 48.0 | 94.5 | 500 |"),
            "{md}"
        );
        let svg = chart(&res);
        assert!(
            svg.starts_with("<svg") && svg.matches("polyline").count() >= 2,
            "{svg}"
        );
    }
}
