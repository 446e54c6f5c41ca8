//! The control plane's error type.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Errors starting, supervising or stopping the control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("generating certificates: {0}")]
    Certs(#[from] rcgen::Error),
    /// A binary is missing from the bin dir.
    #[error("{} not found: build it with hack/build-control-plane.sh or set FERROSCHED_BIN_DIR", .0.display())]
    MissingBinary(PathBuf),
    /// A component did not become ready before its deadline.
    #[error(
        "{component} not ready after {timeout:?} (waiting for {waiting_for}): {last_error}; last log lines:\n{log_tail}"
    )]
    NotReady {
        /// The component.
        component: &'static str,
        /// The condition polled.
        waiting_for: String,
        /// The deadline.
        timeout: Duration,
        /// The last probe's failure.
        last_error: String,
        /// The end of the component's log.
        log_tail: String,
    },
    /// A component exited while it should be running.
    #[error("{component} exited unexpectedly with {status}; last log lines:\n{log_tail}")]
    Exited {
        /// The component.
        component: &'static str,
        /// Its exit status.
        status: ExitStatus,
        /// The end of its log.
        log_tail: String,
    },
    /// Preparing, starting or tearing down the real node failed.
    #[error("real node: {0}")]
    Node(String),
    /// Building or using a Kubernetes client failed.
    #[error("kube client: {0}")]
    Client(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
