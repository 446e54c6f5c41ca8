//! Delegated authentication and authorization, as kube-scheduler does it with
//! `k8s.io/apiserver`'s delegating authenticator and authorizer.
//!
//! Order of checks for a request that is not on an always-allowed path:
//! 1. **Authentication.** A client certificate verified against the client CA bundle
//!    (`--client-ca-file`, else the cluster's `extension-apiserver-authentication`
//!    ConfigMap) is user `CN`, groups `O` (see [`x509`]); one that fails verification is
//!    `401` unless a token authenticates the request. Otherwise an
//!    `Authorization: Bearer <token>` header is checked with a
//!    `TokenReview` (cached 10 s for authenticated and for rejected tokens, keyed by a
//!    salted SHA-256 of the token; errors are not cached). A rejected token is `401`.
//!    Without a token the request is `system:anonymous` (groups
//!    `system:unauthenticated`): kube-scheduler hard-codes anonymous authentication on in
//!    its delegating options, so this is the default here too; with
//!    [`DelegatedAuth::with_anonymous`]`(false)` a request without token is `401`.
//!    Authenticated users get the `system:authenticated` group added, as upstream.
//! 2. **Authorization.** Members of an always-allowed group (`system:masters` by default)
//!    pass; otherwise a `SubjectAccessReview` with `nonResourceAttributes {path, verb}`
//!    (verb = lower-cased HTTP method) decides (cached 10 s allowed / 10 s denied). Not
//!    allowed is `403` with upstream's message `forbidden: User "x" cannot get path "/p"`;
//!    a failed review is `500`.
//!
//! Without an authenticator tokens are ignored (every request is anonymous); without an
//! authorizer every request outside the always-allowed paths and groups is `403` — the
//! behaviour of kube-scheduler started without authentication/authorization kubeconfigs.

mod cache;
mod delegated;
mod review;
mod subject;
#[cfg(test)]
mod tests;
pub mod x509;
#[cfg(test)]
pub(crate) mod x509_tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

pub use cache::{CachedAuthenticator, CachedAuthorizer};
pub use delegated::{
    AuthOutcome, DelegatedAuth, bearer_token, forbidden_message, path_always_allowed,
};
pub use review::{SubjectAccessReviewAuthorizer, TokenReviewAuthenticator};
pub use subject::{Subject, subject};
pub use x509::{X509Authenticator, X509Error, X509Outcome};

/// Upstream's default TTL of cached TokenReview results (`--authentication-token-webhook-cache-ttl`).
pub const AUTHN_CACHE_TTL: Duration = Duration::from_secs(10);
/// Upstream's default TTL of cached allowed SubjectAccessReviews.
pub const AUTHZ_ALLOW_TTL: Duration = Duration::from_secs(10);
/// Upstream's default TTL of cached denied SubjectAccessReviews.
pub const AUTHZ_DENY_TTL: Duration = Duration::from_secs(10);

pub(crate) const ANONYMOUS_USER: &str = "system:anonymous";
pub(crate) const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
pub(crate) const AUTHENTICATED_GROUP: &str = "system:authenticated";

/// An authenticated (or anonymous) user, as in a TokenReview's `status.user`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// User UID (may be empty).
    pub uid: String,
    /// Groups the user belongs to.
    pub groups: Vec<String>,
    /// Extra attributes from the authenticator.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// The user of requests without credentials.
    pub fn anonymous() -> Self {
        Self {
            name: ANONYMOUS_USER.into(),
            groups: vec![UNAUTHENTICATED_GROUP.into()],
            ..Self::default()
        }
    }
}

/// What is being authorized: a non-resource request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attributes {
    /// The requesting user.
    pub user: UserInfo,
    /// Lower-cased HTTP method (`get` for GET).
    pub verb: String,
    /// Request path.
    pub path: String,
}

/// An authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Explicitly allowed.
    Allow,
    /// Explicitly denied, with the authorizer's reason (may be empty).
    Deny(String),
    /// No opinion (treated as denied), with the authorizer's reason (may be empty).
    NoOpinion(String),
}

/// Errors of authentication or authorization backends.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The TokenReview could not be created.
    #[error("failed to create TokenReview: {0}")]
    TokenReview(#[source] ::kube::Error),
    /// The TokenReview was not authenticated and reported an error.
    #[error("token review reported an error: {0}")]
    TokenReviewStatus(String),
    /// The SubjectAccessReview could not be created.
    #[error("failed to create SubjectAccessReview: {0}")]
    SubjectAccessReview(#[source] ::kube::Error),
    /// A review did not complete within 10 s (upstream's default request timeout).
    #[error("{0} timed out")]
    Timeout(&'static str),
}

/// Checks bearer tokens. `Ok(None)`: the token is not valid.
pub trait TokenAuthenticator: Send + Sync + 'static {
    /// Authenticates `token`.
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>>;
}

/// Decides whether a user may access a non-resource path.
pub trait Authorizer: Send + Sync + 'static {
    /// Authorizes `attributes`.
    fn authorize<'a>(
        &'a self,
        attributes: &'a Attributes,
    ) -> BoxFuture<'a, Result<Decision, AuthError>>;
}

impl<T: TokenAuthenticator + ?Sized> TokenAuthenticator for Arc<T> {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>> {
        (**self).authenticate(token)
    }
}

impl<T: Authorizer + ?Sized> Authorizer for Arc<T> {
    fn authorize<'a>(
        &'a self,
        attributes: &'a Attributes,
    ) -> BoxFuture<'a, Result<Decision, AuthError>> {
        (**self).authorize(attributes)
    }
}

/// Allows everything; for tests or explicitly unprotected setups only.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysAllow;

impl Authorizer for AlwaysAllow {
    fn authorize<'a>(&'a self, _: &'a Attributes) -> BoxFuture<'a, Result<Decision, AuthError>> {
        Box::pin(async { Ok(Decision::Allow) })
    }
}
