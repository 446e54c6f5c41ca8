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
