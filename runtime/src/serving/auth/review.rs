//! The Kubernetes API backends: `TokenReview` and `SubjectAccessReview`.

use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;

use super::{Attributes, AuthError, Authorizer, Decision, TokenAuthenticator, UserInfo};

/// Upstream's default timeout of a TokenReview / SubjectAccessReview request.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);

/// Authenticates bearer tokens with `authentication.k8s.io/v1` TokenReviews.
#[derive(Clone)]
pub struct TokenReviewAuthenticator {
    api: Api<TokenReview>,
}

impl TokenReviewAuthenticator {
    /// Uses `client` (needs `create` on `tokenreviews`).
    pub fn new(client: kube::Client) -> Self {
        Self {
            api: Api::all(client),
        }
    }
}

impl TokenAuthenticator for TokenReviewAuthenticator {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>> {
        Box::pin(async move {
            let review = TokenReview {
                spec: TokenReviewSpec {
                    token: token.to_owned(),
                    audiences: None,
                },
                ..TokenReview::default()
            };
            let params = PostParams::default();
            let create = self.api.create(&params, &review);
            let created = tokio::time::timeout(REVIEW_TIMEOUT, create)
                .await
                .map_err(|_| AuthError::Timeout("TokenReview"))?
                .map_err(AuthError::TokenReview)?;
            let status = created.status.unwrap_or_default();
            if status.authenticated != Some(true) {
                return match status.error.filter(|e| !e.is_empty()) {
                    Some(error) => Err(AuthError::TokenReviewStatus(error)),
                    None => Ok(None),
                };
            }
            let user = status.user.unwrap_or_default();
            Ok(Some(UserInfo {
                name: user.username.unwrap_or_default(),
                uid: user.uid.unwrap_or_default(),
                groups: user.groups.unwrap_or_default(),
                extra: user.extra.unwrap_or_default(),
            }))
        })
    }
}

/// Authorizes non-resource requests with `authorization.k8s.io/v1` SubjectAccessReviews.
#[derive(Clone)]
pub struct SubjectAccessReviewAuthorizer {
    api: Api<SubjectAccessReview>,
}

impl SubjectAccessReviewAuthorizer {
    /// Uses `client` (needs `create` on `subjectaccessreviews`).
    pub fn new(client: kube::Client) -> Self {
        Self {
            api: Api::all(client),
        }
    }
}

/// The review sent for `attributes`.
pub(super) fn review_for(attributes: &Attributes) -> SubjectAccessReview {
    let user = &attributes.user;
    let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
    SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: non_empty(&user.name),
            uid: non_empty(&user.uid),
            groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
            extra: (!user.extra.is_empty()).then(|| user.extra.clone()),
            non_resource_attributes: Some(NonResourceAttributes {
                path: Some(attributes.path.clone()),
                verb: Some(attributes.verb.clone()),
            }),
            resource_attributes: None,
        },
        ..SubjectAccessReview::default()
    }
}

impl Authorizer for SubjectAccessReviewAuthorizer {
    fn authorize<'a>(
        &'a self,
        attributes: &'a Attributes,
    ) -> BoxFuture<'a, Result<Decision, AuthError>> {
        Box::pin(async move {
            let review = review_for(attributes);
            let params = PostParams::default();
            let create = self.api.create(&params, &review);
            let created = tokio::time::timeout(REVIEW_TIMEOUT, create)
                .await
                .map_err(|_| AuthError::Timeout("SubjectAccessReview"))?
                .map_err(AuthError::SubjectAccessReview)?;
            let status = created.status.unwrap_or_default();
            let reason = status.reason.unwrap_or_default();
            Ok(if status.allowed {
                Decision::Allow
            } else if status.denied == Some(true) {
                Decision::Deny(reason)
            } else {
                Decision::NoOpinion(reason)
            })
        })
    }
}
