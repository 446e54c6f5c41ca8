use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// Tokens `alice`, `bob`, `root` (in system:masters); `broken` fails; others are invalid.
#[derive(Default)]
struct FakeAuthn {
    calls: AtomicUsize,
}

impl TokenAuthenticator for FakeAuthn {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let groups = match token {
                "alice" | "bob" => vec![],
                "root" => vec!["system:masters".to_owned()],
                "broken" => return Err(AuthError::TokenReviewStatus("webhook down".into())),
                _ => return Ok(None),
            };
            Ok(Some(UserInfo {
                name: token.into(),
                uid: "u1".into(),
                groups,
                extra: BTreeMap::new(),
            }))
        })
    }
}

/// Allows `alice` on `/metrics`, denies the rest with a reason; user `err` fails.
#[derive(Default)]
struct FakeAuthz {
    seen: Mutex<Vec<Attributes>>,
}

impl Authorizer for FakeAuthz {
    fn authorize<'a>(&'a self, a: &'a Attributes) -> BoxFuture<'a, Result<Decision, AuthError>> {
        self.seen.lock().unwrap().push(a.clone());
        Box::pin(async move {
            match (a.user.name.as_str(), a.path.as_str()) {
                ("alice", "/metrics") => Ok(Decision::Allow),
                ("system:anonymous", _) => Ok(Decision::NoOpinion(String::new())),
                ("err", _) => Err(AuthError::TokenReviewStatus("sar failed".into())),
                _ => Ok(Decision::Deny("no RBAC rule".into())),
            }
        })
    }
}

fn auth() -> (DelegatedAuth, Arc<FakeAuthn>, Arc<FakeAuthz>) {
    let (n, z) = (
        Arc::new(FakeAuthn::default()),
        Arc::new(FakeAuthz::default()),
    );
    (DelegatedAuth::new(Some(n.clone()), Some(z.clone())), n, z)
}

#[tokio::test]
async fn authentication_and_authorization_decisions() {
    let (a, _, authz) = auth();
    let cases: [(Option<&str>, AuthOutcome); 7] = [
        (Some("Bearer alice"), AuthOutcome::Allowed),
        (Some("bearer  alice"), AuthOutcome::Allowed),
        (Some("Bearer root"), AuthOutcome::Allowed),
        (Some("Bearer nope"), AuthOutcome::Unauthorized),
        (Some("Bearer broken"), AuthOutcome::Unauthorized),
        (
            Some("Bearer bob"),
            AuthOutcome::Forbidden(
                r#"forbidden: User "bob" cannot get path "/metrics": no RBAC rule"#.into(),
            ),
        ),
        (
            None,
            AuthOutcome::Forbidden(
                r#"forbidden: User "system:anonymous" cannot get path "/metrics""#.into(),
            ),
        ),
    ];
    for (header, want) in cases {
        assert_eq!(
            a.check("GET", "/metrics", header).await,
            want,
            "header {header:?}"
        );
    }
    let seen = authz.seen.lock().unwrap();
    // `root` skipped the review (system:masters); invalid tokens never reached it.
    let users: Vec<&str> = seen.iter().map(|a| a.user.name.as_str()).collect();
    assert_eq!(users, ["alice", "alice", "bob", "system:anonymous"]);
    assert_eq!(seen[0].verb, "get");
    assert_eq!(seen[0].user.groups, ["system:authenticated"]);
    assert_eq!(seen[3].user.groups, ["system:unauthenticated"]);
}

#[tokio::test]
async fn anonymous_off_and_missing_backends() {
    let (a, _, _) = auth();
    assert_eq!(
        a.with_anonymous(false).check("GET", "/metrics", None).await,
        AuthOutcome::Unauthorized
    );

    // No backends (no kubeconfigs): tokens are ignored and everything is forbidden.
    let none = DelegatedAuth::default();
    let want = AuthOutcome::Forbidden(
        r#"forbidden: User "system:anonymous" cannot get path "/metrics""#.into(),
    );
    assert_eq!(
        none.check("GET", "/metrics", Some("Bearer alice")).await,
        want
    );

    let open = DelegatedAuth::new(None, Some(Arc::new(AlwaysAllow)));
    assert_eq!(
        open.check("GET", "/metrics", None).await,
        AuthOutcome::Allowed
    );

    let (a, _, _) = auth();
    let masters_only = a.with_always_allow_groups(vec![]);
    let root = masters_only
        .check("GET", "/metrics", Some("Bearer root"))
        .await;
    assert!(matches!(root, AuthOutcome::Forbidden(_)), "{root:?}");
}

#[tokio::test]
async fn authorizer_errors_are_internal_errors() {
    struct Err500;
    impl TokenAuthenticator for Err500 {
        fn authenticate<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>> {
            Box::pin(async {
                Ok(Some(UserInfo {
                    name: "err".into(),
                    ..UserInfo::default()
                }))
            })
        }
    }
    let a = DelegatedAuth::new(Some(Arc::new(Err500)), Some(Arc::new(FakeAuthz::default())));
    let got = a.check("GET", "/metrics", Some("Bearer t")).await;
    assert_eq!(
        got,
        AuthOutcome::Failed(
            r#"Internal Server Error: "/metrics": token review reported an error: sar failed"#
                .into()
        )
    );
}

#[tokio::test]
async fn caches_results_but_not_errors() {
    let ttl = Duration::from_secs(10);
    let fake_authn = Arc::new(FakeAuthn::default());
    let authn = CachedAuthenticator::new(fake_authn.clone(), ttl, ttl);
    for token in ["alice", "alice", "nope", "nope", "broken", "broken"] {
        let _ = authn.authenticate(token).await;
    }
    // alice and nope once each (success and failure cached), broken twice (errors are not).
    assert_eq!(fake_authn.calls.load(Ordering::SeqCst), 4);

    let fake_authz = Arc::new(FakeAuthz::default());
    let authz = CachedAuthorizer::new(fake_authz.clone(), ttl, ttl);
    let attrs = |name: &str| Attributes {
        user: UserInfo {
            name: name.into(),
            ..UserInfo::default()
        },
        verb: "get".into(),
        path: "/metrics".into(),
    };
    for name in ["alice", "alice", "bob", "bob", "err", "err"] {
        let _ = authz.authorize(&attrs(name)).await;
    }
    assert_eq!(fake_authz.seen.lock().unwrap().len(), 4);

    let uncached = Arc::new(FakeAuthz::default());
    let short = CachedAuthorizer::new(uncached.clone(), Duration::ZERO, Duration::ZERO);
    let _ = short.authorize(&attrs("alice")).await;
    let _ = short.authorize(&attrs("alice")).await;
    assert_eq!(uncached.seen.lock().unwrap().len(), 2);
}

#[test]
fn parses_headers_and_paths() {
    assert_eq!(bearer_token("Bearer abc"), Some("abc"));
    assert_eq!(bearer_token("BEARER abc extra"), Some("abc"));
    assert_eq!(bearer_token("Bearer"), None);
    assert_eq!(bearer_token("Basic Zm9v"), None);
    let patterns: Vec<String> = ["/healthz", "/readyz", "/debug/*"]
        .map(String::from)
        .to_vec();
    assert!(path_always_allowed(&patterns, "/healthz"));
    assert!(path_always_allowed(&patterns, "/debug/pprof"));
    assert!(!path_always_allowed(&patterns, "/healthz/extra"));
    assert!(!path_always_allowed(&patterns, "/metrics"));
}

#[test]
fn subject_access_review_has_non_resource_attributes() {
    let attributes = Attributes {
        user: UserInfo {
            name: "alice".into(),
            uid: String::new(),
            groups: vec!["g".into()],
            extra: BTreeMap::new(),
        },
        verb: "get".into(),
        path: "/metrics".into(),
    };
    let json = serde_json::to_value(review::review_for(&attributes)).unwrap();
    assert_eq!(
        json["spec"],
        serde_json::json!({"user": "alice", "groups": ["g"], "nonResourceAttributes": {"path": "/metrics", "verb": "get"}})
    );
}
