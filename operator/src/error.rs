//! Errors of the operator library: one enum for reconcile failures (each kind a metric
//! label) and one for start-up failures.

/// A reconcile failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a child or the profiles failed.
    #[error("failed to read {kind} {name}: {source}")]
    Read {
        /// Kind of the object.
        kind: &'static str,
        /// Name (or label selector) of what was read.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A server-side apply was rejected.
    #[error("failed to apply {kind} {name}: {source}")]
    Apply {
        /// Kind of the object.
        kind: &'static str,
        /// Name of the object.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Deleting an old ConfigMap or an unneeded PDB failed.
    #[error("failed to delete {kind} {name}: {source}")]
    Delete {
        /// Kind of the object.
        kind: &'static str,
        /// Name of the object.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Writing the profile's status or annotation failed.
    #[error("failed to update SchedulerProfile {name}: {source}")]
    Profile {
        /// Name of the profile.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A serving certificate could not be made, or a Secret holds an unusable one.
    #[error("serving certificate {name}: {source}")]
    Certificate {
        /// The Secret (or `operator` for its own).
        name: String,
        /// What failed.
        #[source]
        source: crate::certs::CertError,
    },
    /// The profiles' cache is gone (the controller is shutting down).
    #[error("failed to read the SchedulerProfile cache: the watcher stopped")]
    CacheGone,
}

impl Error {
    /// Short label for the `kind` of the error metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Read { .. } => "read",
            Error::Apply { .. } => "apply",
            Error::Delete { .. } => "delete",
            Error::Profile { .. } => "profile",
            Error::Certificate { .. } => "certificate",
            Error::CacheGone => "cache",
        }
    }
}

/// Why the operator could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("failed to load the Kubernetes client configuration: {0}")]
    Config(#[source] ConfigError),
    /// The API server did not answer.
    #[error("the Kubernetes API server is unreachable: {0}")]
    Unreachable(#[source] kube::Error),
    /// The CRD is missing.
    #[error(
        "the SchedulerProfile CRD (schedulerprofiles.ferrosched.dev) is not installed: apply crds/schedulerprofiles.yaml"
    )]
    CrdMissing,
    /// The API server answered with an error other than "not found".
    #[error("failed to list SchedulerProfiles: {0}")]
    Api(#[source] kube::Error),
    /// The secure health/metrics endpoint could not be set up (certificate, listener) or failed.
    #[error("failed to serve health and metrics: {0}")]
    Serve(#[source] ferrosched_runtime::serving::ServingError),
    /// Leader election could not start or leadership was lost.
    #[error(transparent)]
    Leader(#[from] ferrosched_runtime::leader::LeaderError),
    /// A background task panicked or was aborted.
    #[error("a background task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// Why no Kubernetes client configuration could be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--kubeconfig` could not be read or used.
    #[error(transparent)]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// Neither KUBECONFIG, ~/.kube/config nor the in-cluster configuration worked.
    #[error(transparent)]
    Infer(#[from] kube::config::InferConfigError),
    /// The configuration does not make a client.
    #[error(transparent)]
    Client(#[from] kube::Error),
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::Error;
    use crate::certs::CertError;

    #[test]
    fn a_certificate_error_keeps_its_source() {
        let err = Error::Certificate {
            name: "s".into(),
            source: CertError::Secret {
                name: "s".into(),
                what: "no tls.key".into(),
            },
        };
        assert_eq!(
            err.to_string(),
            "serving certificate s: Secret s: no tls.key"
        );
        assert_eq!(
            err.source().map(ToString::to_string).as_deref(),
            Some("Secret s: no tls.key")
        );
    }
}
