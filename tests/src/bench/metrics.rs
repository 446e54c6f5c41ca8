//! Reading a scheduler's `/metrics` over HTTPS with a bearer token RBAC allows.

use std::time::Duration;

use super::histogram;
use super::result::RunResult;

/// The attempt-latency histogram both schedulers export.
pub const ATTEMPT_DURATION: &str = "scheduler_scheduling_attempt_duration_seconds";
/// Time per extension point.
pub const EXTENSION_POINT_DURATION: &str = "scheduler_framework_extension_point_duration_seconds";
/// Time in the scheduling algorithm.
pub const ALGORITHM_DURATION: &str = "scheduler_scheduling_algorithm_duration_seconds";

/// The API server's request latency (handler time, watches excluded).
pub const APISERVER_REQUEST_DURATION: &str = "apiserver_request_duration_seconds";

/// An HTTPS client for the schedulers' self-signed serving certificates.
pub fn http() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10))
        .build()?)
}

/// `GET https://127.0.0.1:<port><path>` → (status, body).
pub async fn get(
    http: &reqwest::Client,
    port: u16,
    path: &str,
    token: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    let mut req = http.get(format!("https://127.0.0.1:{port}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.text().await?))
}

/// Fills the latency and time-split figures of `result` from a `/metrics` body.
pub fn record(body: &str, result: &mut RunResult) {
    if let Some(h) = histogram::parse(body, ATTEMPT_DURATION, &[("result", "scheduled")]) {
        result.attempt_p50_ms = h.quantile(0.5).map(|s| s * 1000.0);
        result.attempt_p99_ms = h.quantile(0.99).map(|s| s * 1000.0);
        result.attempts = Some(h.count);
        result.attempt_sum_secs = Some(h.sum);
    }
    let bind = [("extension_point", "Bind"), ("status", "Success")];
    if let Some(h) = histogram::parse(body, EXTENSION_POINT_DURATION, &bind) {
        result.bind_ms = h
            .quantile(0.5)
            .zip(h.quantile(0.99))
            .map(|(a, b)| (a * 1000.0, b * 1000.0));
    }
    result.extension_points = histogram::sums_by(body, EXTENSION_POINT_DURATION, "extension_point");
    result.algorithm_secs = histogram::parse(body, ALGORITHM_DURATION, &[]).map(|h| h.sum);
}

/// p50 and p99 (ms) of one request kind in the API server's own latency histogram.
fn apiserver_latency(body: &str, resource: &str, subresource: &str) -> Option<(f64, f64)> {
    let filter = [
        ("verb", "POST"),
        ("resource", resource),
        ("subresource", subresource),
    ];
    let h = histogram::parse(body, APISERVER_REQUEST_DURATION, &filter)?;
    h.quantile(0.5)
        .zip(h.quantile(0.99))
        .map(|(a, b)| (a * 1000.0, b * 1000.0))
}

/// Fills the API server's own latency for binds and pod creations from its `/metrics`.
pub fn record_apiserver(body: &str, result: &mut RunResult) {
    result.apiserver_bind_ms = apiserver_latency(body, "pods", "binding");
    result.apiserver_create_ms = apiserver_latency(body, "pods", "");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_servers_bind_and_create_latencies_are_read_apart() {
        let series = |sub: &str, counts: [u32; 4]| {
            let mut out = String::new();
            for (le, c) in ["0.05", "0.1", "0.2", "+Inf"].iter().zip(counts) {
                out.push_str(&format!(
                    "{APISERVER_REQUEST_DURATION}_bucket{{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"resource\",subresource=\"{sub}\",verb=\"POST\",version=\"v1\",le=\"{le}\"}} {c}\n"
                ));
            }
            out
        };
        // Binds: half under 50 ms, all under 200 ms; creates: all under 50 ms.
        let body = format!(
            "{}{}",
            series("binding", [50, 80, 100, 100]),
            series("", [10, 10, 10, 10])
        );
        let mut r = RunResult::new(
            &super::super::workload::all(true).remove(0),
            super::super::contestant::Contestant::Limit,
            [0.0; 3],
        );
        record_apiserver(&body, &mut r);
        let (p50, p99) = r.apiserver_bind_ms.expect("bind latency");
        assert!((p50 - 50.0).abs() < 1e-9, "{p50}");
        assert!(p99 > 100.0 && p99 <= 200.0, "{p99}");
        let (c50, c99) = r.apiserver_create_ms.expect("create latency");
        assert!(c50 <= 50.0 && c99 <= 50.0, "{c50} {c99}");
    }
}
