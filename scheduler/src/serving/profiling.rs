//! `/debug/pprof/`: what kube-scheduler serves when `enableProfiling` is true (its
//! default), and what a Rust process can answer honestly.
//!
//! Go's handlers produce pprof protobuf profiles from the Go runtime (CPU, heap,
//! goroutines, mutexes). Ferrosched has no Go runtime and links no profiler, so it does
//! not pretend: the index lists every upstream path with what is served here, `cmdline`
//! answers as Go's does (arguments separated by NUL bytes), and the profile paths answer
//! `501 Not Implemented` with a pointer to sampling profilers that work on any process
//! (`perf`, `parca-agent`). With `enableProfiling: false` none of these paths exist (404),
//! as upstream. Like every path outside `--authorization-always-allow-paths`, they need
//! authentication and authorization (upstream: `get` on the non-resource path).
//! See docs/decisions.md ("enableProfiling").

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};

/// Go's named profiles and endpoints under `/debug/pprof/`, none of which exist here.
const GO_PROFILES: [&str; 9] = [
    "allocs",
    "block",
    "goroutine",
    "heap",
    "mutex",
    "profile",
    "symbol",
    "threadcreate",
    "trace",
];

/// Why the Go profiles are not served, in every 501 answer and in the index.
const NOT_GO: &str = "ferrosched-scheduler is a Rust process without a Go runtime: Go pprof \
profiles cannot be produced. Profile it with a sampling profiler instead, e.g. \
`perf record -g -p <pid>` or an eBPF agent such as parca-agent.";

/// The `/debug/pprof` routes (added to the router when profiling is enabled).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/debug/pprof", get(index))
        .route("/debug/pprof/", get(index))
        .route("/debug/pprof/cmdline", get(cmdline))
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
        "/debug/pprof/\n\nserved:\n  cmdline: the command line, arguments separated by NUL bytes\n\nnot available (501):\n",
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
