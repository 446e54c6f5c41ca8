//! x509 client-certificate authentication, as `k8s.io/apiserver`'s x509 authenticator
//! with kube-scheduler's delegated options.
//!
//! - The CA bundle is `--client-ca-file` when given; otherwise the `client-ca-file` key of
//!   the `kube-system/extension-apiserver-authentication` ConfigMap (read once at start, as
//!   upstream's in-cluster lookup; a failed lookup is logged and tolerated, as
//!   kube-scheduler tolerates it, and client certificates then authenticate nobody).
//! - TLS only *requests* a client certificate (see [`super::super::tls`]); the chain is
//!   verified here, per request, against the bundle (client-auth usage, validity), so a
//!   request without a certificate still reaches token authentication.
//! - A verified certificate is user `CN` with groups `O` (upstream's
//!   `CommonNameUserConversion`; an empty CN authenticates nobody). A certificate that
//!   fails verification is an authentication error: `401` unless a bearer token
//!   authenticates the request.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

use super::UserInfo;
use super::subject::subject;

/// Namespace of the ConfigMap upstream's delegated authentication reads.
pub const AUTHENTICATION_CONFIGMAP_NAMESPACE: &str = "kube-system";
/// Name of that ConfigMap.
pub const AUTHENTICATION_CONFIGMAP_NAME: &str = "extension-apiserver-authentication";
/// Its key holding the client CA bundle.
pub const CLIENT_CA_KEY: &str = "client-ca-file";

/// What a request's client certificate says about its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum X509Outcome {
    /// No certificate was presented.
    NoCertificate,
    /// A verified certificate: this user (CN, groups O).
    User(UserInfo),
    /// A verified certificate without a common name: not authenticated, not an error.
    NoCommonName,
    /// The certificate did not verify against the client CA bundle.
    Invalid(String),
}

/// Why a client CA bundle cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum X509Error {
    /// The bundle is not valid PEM.
    #[error("invalid PEM in client CA bundle: {0}")]
    Pem(#[source] rustls::pki_types::pem::Error),
    /// The bundle holds no certificate.
    #[error("client CA bundle holds no CERTIFICATE")]
    Empty,
    /// A certificate is not usable as a trust anchor.
    #[error("unusable client CA certificate: {0}")]
    Anchor(#[source] rustls::Error),
    /// rustls could not build a verifier from the bundle.
    #[error("client CA bundle: {0}")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
    /// `--client-ca-file` could not be read.
    #[error("cannot read --client-ca-file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `--client-ca-file` holds an unusable bundle.
    #[error("--client-ca-file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with its bundle.
        #[source]
        source: Box<X509Error>,
    },
}

/// Verifies client certificate chains against a CA bundle and maps them to users.
#[derive(Clone)]
pub struct X509Authenticator {
    verifier: Arc<dyn ClientCertVerifier>,
    cas: usize,
}

impl std::fmt::Debug for X509Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X509Authenticator")
            .field("cas", &self.cas)
            .finish()
    }
}

impl X509Authenticator {
    /// Trusts the PEM CA certificates in `pem`; an error when there are none or one is
    /// not usable as a trust anchor.
    pub fn from_pem(pem: &[u8]) -> Result<Self, X509Error> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(X509Error::Pem)?;
        if certs.is_empty() {
            return Err(X509Error::Empty);
        }
        let mut roots = RootCertStore::empty();
        let cas = certs.len();
        for cert in certs {
            roots.add(cert).map_err(X509Error::Anchor)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(X509Error::Verifier)?;
        Ok(Self { verifier, cas })
    }

    /// Reads the CA bundle from `path` (`--client-ca-file`).
    pub fn from_file(path: &Path) -> Result<Self, X509Error> {
        let pem = std::fs::read(path).map_err(|source| X509Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_pem(&pem).map_err(|e| X509Error::File {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// Authenticates a peer chain (DER, leaf first), as presented in the TLS handshake.
    pub fn authenticate(&self, chain: &[Vec<u8>]) -> X509Outcome {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return X509Outcome::NoCertificate;
        };
        let leaf_der = CertificateDer::from(leaf.as_slice());
        let intermediates: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        if let Err(e) = self
            .verifier
            .verify_client_cert(&leaf_der, &intermediates, UnixTime::now())
        {
            return X509Outcome::Invalid(format!("verifying certificate: {e}"));
        }
        let Some(subject) = subject(leaf) else {
            return X509Outcome::Invalid("unreadable certificate subject".into());
        };
        if subject.common_name.is_empty() {
            return X509Outcome::NoCommonName;
        }
        X509Outcome::User(UserInfo {
            name: subject.common_name,
            groups: subject.organizations,
            ..UserInfo::default()
        })
    }
}

/// The client CA bundle of the cluster: `client-ca-file` of
/// `kube-system/extension-apiserver-authentication`. `Ok(None)` when the ConfigMap or
/// the key does not exist.
pub async fn cluster_client_ca(client: &kube::Client) -> Result<Option<String>, kube::Error> {
    let api: kube::Api<ConfigMap> =
        kube::Api::namespaced(client.clone(), AUTHENTICATION_CONFIGMAP_NAMESPACE);
    let cm = api.get_opt(AUTHENTICATION_CONFIGMAP_NAME).await?;
    Ok(cm
        .and_then(|c| c.data)
        .and_then(|mut d| d.remove(CLIENT_CA_KEY))
        .filter(|s| !s.trim().is_empty()))
}

/// The x509 authenticator kube-scheduler would use: from `client_ca_file` when given
/// (errors are fatal, as upstream's), else from the cluster's ConfigMap through `client`
/// (lookup failures are logged and tolerated: no x509 authentication then).
pub async fn resolve(
    client_ca_file: Option<&Path>,
    client: Option<&kube::Client>,
) -> Result<Option<X509Authenticator>, X509Error> {
    if let Some(path) = client_ca_file {
        return X509Authenticator::from_file(path).map(Some);
    }
    let Some(client) = client else {
        return Ok(None);
    };
    let source = format!(
        "configmap/{AUTHENTICATION_CONFIGMAP_NAME} in {AUTHENTICATION_CONFIGMAP_NAMESPACE}"
    );
    match cluster_client_ca(client).await {
        Ok(Some(pem)) => match X509Authenticator::from_pem(pem.as_bytes()) {
            Ok(a) => Ok(Some(a)),
            Err(e) => {
                tracing::warn!(error = %e, "invalid {CLIENT_CA_KEY} in {source}; client certificate authentication won't work");
                Ok(None)
            }
        },
        Ok(None) => {
            tracing::warn!(
                "cluster doesn't provide {CLIENT_CA_KEY} in {source}, so client certificate authentication won't work"
            );
            Ok(None)
        }
        Err(e) => {
            tracing::warn!(error = %e, "unable to get {source}; continuing without client certificate authentication (usually fixed by binding the extension-apiserver-authentication-reader role)");
            Ok(None)
        }
    }
}
