//! [`DelegatedAuth`]: the authentication-then-authorization decision for one request.

use std::sync::Arc;

use super::{
    ANONYMOUS_USER, AUTHENTICATED_GROUP, AUTHN_CACHE_TTL, AUTHZ_ALLOW_TTL, AUTHZ_DENY_TTL,
    Attributes, Authorizer, CachedAuthenticator, CachedAuthorizer, Decision,
    SubjectAccessReviewAuthorizer, TokenAuthenticator, TokenReviewAuthenticator,
    UNAUTHENTICATED_GROUP, UserInfo, X509Authenticator, X509Outcome,
};

/// The result of checking one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Serve the request.
    Allowed,
    /// `401`: credentials were presented but not accepted, or none and anonymous is off.
    Unauthorized,
    /// `403` with upstream's message.
    Forbidden(String),
    /// `500`: a review could not be completed.
    Failed(String),
}

/// Delegated authentication + authorization configuration.
#[derive(Clone)]
pub struct DelegatedAuth {
    x509: Option<X509Authenticator>,
    authenticator: Option<Arc<dyn TokenAuthenticator>>,
    authorizer: Option<Arc<dyn Authorizer>>,
    anonymous: bool,
    always_allow_groups: Vec<String>,
}

impl std::fmt::Debug for DelegatedAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelegatedAuth")
            .field("x509", &self.x509.is_some())
            .field("authenticator", &self.authenticator.is_some())
            .field("authorizer", &self.authorizer.is_some())
            .field("anonymous", &self.anonymous)
            .field("always_allow_groups", &self.always_allow_groups)
            .finish()
    }
}

impl Default for DelegatedAuth {
    /// No authenticator and no authorizer: kube-scheduler without auth kubeconfigs.
    fn default() -> Self {
        Self::new(None, None)
    }
}

impl DelegatedAuth {
    /// Uses the given backends as they are (no caching added); anonymous on and
    /// `system:masters` always allowed, as upstream's defaults.
    pub fn new(
        authenticator: Option<Arc<dyn TokenAuthenticator>>,
        authorizer: Option<Arc<dyn Authorizer>>,
    ) -> Self {
        Self {
            x509: None,
            authenticator,
            authorizer,
            anonymous: true,
            always_allow_groups: vec!["system:masters".into()],
        }
    }

    /// TokenReview through `authn` and SubjectAccessReview through `authz` (the clients of
    /// `--authentication-kubeconfig` / `--authorization-kubeconfig`), cached with
    /// upstream's default TTLs. A missing client disables that backend.
    pub fn from_clients(authn: Option<::kube::Client>, authz: Option<::kube::Client>) -> Self {
        let authenticator = authn.map(|c| {
            let inner = TokenReviewAuthenticator::new(c);
            Arc::new(CachedAuthenticator::new(
                inner,
                AUTHN_CACHE_TTL,
                AUTHN_CACHE_TTL,
            )) as Arc<dyn TokenAuthenticator>
        });
        let authorizer = authz.map(|c| {
            let inner = SubjectAccessReviewAuthorizer::new(c);
            Arc::new(CachedAuthorizer::new(
                inner,
                AUTHZ_ALLOW_TTL,
                AUTHZ_DENY_TTL,
            )) as Arc<dyn Authorizer>
        });
        Self::new(authenticator, authorizer)
    }

    /// Whether requests without a token are treated as `system:anonymous` (default) or `401`.
    #[must_use]
    pub fn with_anonymous(mut self, enabled: bool) -> Self {
        self.anonymous = enabled;
        self
    }

    /// Groups whose members skip authorization (default `system:masters`).
    #[must_use]
    pub fn with_always_allow_groups(mut self, groups: Vec<String>) -> Self {
        self.always_allow_groups = groups;
        self
    }

    /// Authenticates client certificates with `x509` (user CN, groups O), before tokens;
    /// `None` turns certificate authentication off (presented certificates are ignored).
    #[must_use]
    pub fn with_x509(mut self, x509: Option<X509Authenticator>) -> Self {
        self.x509 = x509;
        self
    }

    /// Authenticates and authorizes one request (`authorization` is the raw header value)
    /// made without a client certificate.
    pub async fn check(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
    ) -> AuthOutcome {
        self.check_request(method, path, authorization, &[]).await
    }

    /// Authenticates and authorizes one request: `peer_certificates` is the client's TLS
    /// chain (DER, leaf first; empty without one), `authorization` the raw header value.
    /// As upstream's union authenticator: certificate, then token; an invalid certificate
    /// is `401` unless the token authenticates.
    pub async fn check_request(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        peer_certificates: &[Vec<u8>],
    ) -> AuthOutcome {
        let mut cert_error = None;
        let cert_user = match self
            .x509
            .as_ref()
            .map(|a| a.authenticate(peer_certificates))
        {
            Some(X509Outcome::User(user)) => Some(user),
            Some(X509Outcome::Invalid(e)) => {
                cert_error = Some(e);
                None
            }
            _ => None,
        };
        let token = authorization.and_then(bearer_token);
        let user = match (cert_user, token, &self.authenticator) {
            (Some(user), _, _) => with_authenticated_group(user),
            (None, Some(token), Some(authn)) => match authn.authenticate(token).await {
                Ok(Some(user)) => with_authenticated_group(user),
                Ok(None) => return AuthOutcome::Unauthorized,
                Err(e) => {
                    tracing::warn!(error = %e, "unable to authenticate the request");
                    return AuthOutcome::Unauthorized;
                }
            },
            _ if cert_error.is_some() => {
                let error = cert_error.unwrap_or_default();
                tracing::info!(%error, "unable to authenticate the request: client certificate");
                return AuthOutcome::Unauthorized;
            }
            _ if self.anonymous => UserInfo::anonymous(),
            _ => return AuthOutcome::Unauthorized,
        };
        if user
            .groups
            .iter()
            .any(|g| self.always_allow_groups.contains(g))
        {
            return AuthOutcome::Allowed;
        }
        let attributes = Attributes {
            user,
            verb: method.to_ascii_lowercase(),
            path: path.to_owned(),
        };
        let Some(authz) = &self.authorizer else {
            return AuthOutcome::Forbidden(forbidden_message(&attributes, ""));
        };
        match authz.authorize(&attributes).await {
            Ok(Decision::Allow) => AuthOutcome::Allowed,
            Ok(Decision::Deny(reason) | Decision::NoOpinion(reason)) => {
                tracing::debug!(user = %attributes.user.name, path, reason, "forbidden");
                AuthOutcome::Forbidden(forbidden_message(&attributes, &reason))
            }
            Err(e) => AuthOutcome::Failed(format!("Internal Server Error: {path:?}: {e}")),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer_token(header: &str) -> Option<&str> {
    let mut parts = header.split_whitespace();
    let scheme = parts.next()?;
    let token = parts.next()?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// Whether `path` matches one of `patterns` (exact, or a prefix for a pattern ending in `*`),
/// as upstream's always-allow-paths authorizer.
pub fn path_always_allowed(patterns: &[String], path: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => p == path,
    })
}

/// Upstream's `403` message for a non-resource request.
pub fn forbidden_message(attributes: &Attributes, reason: &str) -> String {
    let mut msg = format!(
        "forbidden: User {:?} cannot {} path {:?}",
        attributes.user.name, attributes.verb, attributes.path
    );
    if !reason.is_empty() {
        msg.push_str(": ");
        msg.push_str(reason);
    }
    msg
}

fn with_authenticated_group(mut user: UserInfo) -> UserInfo {
    let has = |g: &str| user.groups.iter().any(|x| x == g);
    if user.name != ANONYMOUS_USER && !has(AUTHENTICATED_GROUP) && !has(UNAUTHENTICATED_GROUP) {
        user.groups.push(AUTHENTICATED_GROUP.into());
    }
    user
}
