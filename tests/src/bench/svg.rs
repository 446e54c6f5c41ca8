//! A hand-written SVG line chart: one panel per workload, one line per contestant.

use std::fmt::Write as _;

/// One line.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// CSS colour.
    pub color: String,
    /// `(x, y)` points in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// One chart with its own axes.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Heading above the plot.
    pub title: String,
    /// Lines.
    pub series: Vec<Series>,
}

const WIDTH: f64 = 900.0;
const PANEL_HEIGHT: f64 = 250.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 42.0;

/// The smallest of 1, 2, 2.5, 5, 10 × 10ⁿ that is ≥ `v` (1 for non-positive input).
pub fn nice_ceil(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let pow = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|c| *c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * pow)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fmt_tick(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Renders the panels stacked vertically; `x_label`/`y_label` name the axes.
pub fn render(panels: &[Panel], x_label: &str, y_label: &str) -> String {
    let height = PANEL_HEIGHT * panels.len().max(1) as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    for (i, p) in panels.iter().enumerate() {
        panel(&mut s, p, i as f64 * PANEL_HEIGHT, x_label, y_label);
    }
    if panels.is_empty() {
        let _ = writeln!(s, r#"<text x="20" y="40">no data</text>"#);
    }
    s.push_str("</svg>\n");
    s
}

fn panel(s: &mut String, p: &Panel, y0: f64, x_label: &str, y_label: &str) {
    let (w, h) = (WIDTH - LEFT - RIGHT, PANEL_HEIGHT - TOP - BOTTOM);
    let finite = |v: &f64| v.is_finite();
    let all = || p.series.iter().flat_map(|se| se.points.iter());
    let x_max = nice_ceil(all().map(|pt| pt.0).filter(finite).fold(0.0, f64::max));
    let y_max = nice_ceil(all().map(|pt| pt.1).filter(finite).fold(0.0, f64::max));
    let (ox, oy) = (LEFT, y0 + TOP + h);
    let px = |x: f64| ox + (x / x_max).clamp(0.0, 1.0) * w;
    let py = |y: f64| oy - (y / y_max).clamp(0.0, 1.0) * h;
    let _ = writeln!(
        s,
        r#"<text x="{ox}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
        y0 + 20.0,
        escape(&p.title)
    );
    for k in 0..=5 {
        let (xv, yv) = (x_max * k as f64 / 5.0, y_max * k as f64 / 5.0);
        let (gx, gy) = (px(xv), py(yv));
        let _ = writeln!(
            s,
            r##"<line x1="{ox}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            ox + w,
            ox - 6.0,
            gy + 4.0,
            fmt_tick(yv)
        );
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{oy}" x2="{gx:.1}" y2="{:.1}" stroke="#333"/><text x="{gx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            oy + 4.0,
            oy + 17.0,
            fmt_tick(xv)
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{ox}" y="{:.1}" width="{w}" height="{h}" fill="none" stroke="#333"/>"##,
        y0 + TOP
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        ox + w / 2.0,
        oy + 34.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        y0 + TOP + h / 2.0,
        escape(y_label)
    );
    for (i, se) in p.series.iter().enumerate() {
        let pts: Vec<String> = se
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let color = escape(&se.color);
        if let [only] = pts.as_slice() {
            let (cx, cy) = only.split_once(',').unwrap_or_default();
            let _ = writeln!(s, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>"#);
        } else if !pts.is_empty() {
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                pts.join(" ")
            );
        }
        let ly = y0 + TOP + 12.0 + 20.0 * i as f64;
        let lx = ox + w + 14.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 22.0,
            lx + 28.0,
            ly + 4.0,
            escape(&se.name)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_bounds() {
        assert_eq!(nice_ceil(0.0), 1.0);
        assert_eq!(nice_ceil(f64::NAN), 1.0);
        assert_eq!(nice_ceil(7.0), 10.0);
        assert_eq!(nice_ceil(230.0), 250.0);
        assert_eq!(nice_ceil(1000.0), 1000.0);
        assert_eq!(nice_ceil(0.03), 0.05);
    }

    #[test]
    fn renders_edge_cases_without_panicking() {
        assert!(render(&[], "s", "pods/s").contains("no data"));
        let odd = Panel {
            title: "a <b> & c".into(),
            series: vec![
                Series {
                    name: "empty".into(),
                    color: "red".into(),
                    points: vec![],
                },
                Series {
                    name: "one".into(),
                    color: "blue".into(),
                    points: vec![(0.0, 0.0)],
                },
                Series {
                    name: "nan".into(),
                    color: "green".into(),
                    points: vec![(f64::NAN, 1.0), (1.0, f64::INFINITY), (2.0, 5.0)],
                },
            ],
        };
        let svg = render(&[odd], "x", "y");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }
}
