//! `/debug/pprof/`: what kube-scheduler serves when `enableProfiling` is true (its
//! default), and what a Rust process can answer honestly.
//!
//! Go's handlers produce pprof protobuf profiles from the Go runtime (CPU, heap,
//! goroutines, mutexes). Here `profile` is a real CPU profile in the same format
//! ([`super::cpu_profile`]), so `go tool pprof` works as against kube-scheduler;
//! `cmdline` answers as Go's does (arguments separated by NUL bytes); the profiles of Go's
//! runtime (heap, goroutines, mutexes, ...) have no equivalent in this process and answer
//! `501 Not Implemented` saying so, and the index lists what is served. With
//! `enableProfiling: false` none of these paths exist (404), as upstream. Like every path outside `--authorization-always-allow-paths`, they need
//! authentication and authorization (upstream: `get` on the non-resource path).
//! See docs/decisions.md ("enableProfiling").

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};

/// Go's named profiles and endpoints under `/debug/pprof/` that describe Go's runtime
/// and have no equivalent here.
const GO_PROFILES: [&str; 8] = [
    "allocs",
    "block",
    "goroutine",
    "heap",
    "mutex",
    "symbol",
    "threadcreate",
    "trace",
];

/// Why those are not served, in every 501 answer and in the index.
const NOT_GO: &str = "ferrosched-scheduler is a Rust process without a Go runtime: these \
profiles describe Go's runtime and have no equivalent here. The CPU profile \
(/debug/pprof/profile?seconds=N) is served in pprof format.";

/// The `/debug/pprof` routes (added to the router when profiling is enabled).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/debug/pprof", get(index))
        .route("/debug/pprof/", get(index))
        .route("/debug/pprof/cmdline", get(cmdline))
        .route("/debug/pprof/profile", get(profile))
        .route("/debug/pprof/{profile}", get(unavailable))
}

fn plain(code: StatusCode, body: String) -> Response {
    (
        code,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    let mut body = String::from(
        "/debug/pprof/\n\nserved:\n  cmdline: the command line, arguments separated by NUL bytes\n  profile: CPU profile in pprof format; ?seconds=N (default 30, at most 300)\n\nnot available (501):\n",
    );
    for p in GO_PROFILES {
        body.push_str(&format!("  {p}\n"));
    }
    body.push('\n');
    body.push_str(NOT_GO);
    body.push('\n');
    plain(StatusCode::OK, body)
}

async fn cmdline() -> Response {
    let args: Vec<String> = std::env::args().collect();
    plain(StatusCode::OK, args.join("\0"))
}

async fn profile(RawQuery(query): RawQuery) -> Response {
    let seconds = match super::cpu_profile::seconds_from_query(query.as_deref()) {
        Ok(s) => s,
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let collected = tokio::task::spawn_blocking(move || {
        super::cpu_profile::collect(std::time::Duration::from_secs(seconds))
    })
    .await;
    match collected {
        Ok(Ok(body)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"profile\"",
                ),
            ],
            body,
        )
            .into_response(),
        Ok(Err(e)) => plain(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        Err(e) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("profiling failed: {e}\n"),
        ),
    }
}

async fn unavailable(Path(profile): Path<String>) -> Response {
    if GO_PROFILES.contains(&profile.as_str()) {
        plain(
            StatusCode::NOT_IMPLEMENTED,
            format!("{profile}: not available. {NOT_GO}\n"),
        )
    } else {
        // Go's pprof answers unknown profile names with 404 "Unknown profile".
        plain(StatusCode::NOT_FOUND, "Unknown profile\n".into())
    }
}
