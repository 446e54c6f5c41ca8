//! Delegated auth against a real API server (ignored unless a control plane is given).

use super::auth::{self, Authorizer as _};
use super::{DelegatedAuth, tls};

/// TokenReview and SubjectAccessReview against a real API server: run with
/// `KUBECONFIG=<admin kubeconfig> cargo test -p ferrosched-runtime serving:: -- --ignored`.
#[tokio::test]
#[ignore = "needs a control plane (KUBECONFIG)"]
async fn delegates_to_a_real_api_server() {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    use kube::api::{Api, PostParams};

    tls::install_crypto_provider();
    let client = kube::Client::try_default().await.expect("KUBECONFIG");
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let mut account = ServiceAccount::default();
    account.metadata.name = Some("ferrosched-serving-test".into());
    let _ = accounts.create(&PostParams::default(), &account).await; // may exist already
    let request = TokenRequest {
        spec: Some(TokenRequestSpec::default()),
        ..TokenRequest::default()
    };
    let issued = accounts
        .create_token_request("ferrosched-serving-test", &PostParams::default(), &request)
        .await
        .expect("token request");
    let token = issued.status.and_then(|s| s.token).expect("token");
    let header = format!("Bearer {token}");

    let auth = DelegatedAuth::from_clients(Some(client.clone()), Some(client));
    let got = auth.check("GET", "/metrics", Some(&header)).await;
    let user = "system:serviceaccount:default:ferrosched-serving-test";
    assert_eq!(
        got,
        auth::AuthOutcome::Forbidden(format!(
            r#"forbidden: User "{user}" cannot get path "/metrics""#
        ))
    );
    let garbage = auth
        .check("GET", "/metrics", Some("Bearer not-a-token"))
        .await;
    assert_eq!(garbage, auth::AuthOutcome::Unauthorized);
    let anonymous = auth.check("GET", "/metrics", None).await;
    assert!(matches!(anonymous, auth::AuthOutcome::Forbidden(m) if m.contains("system:anonymous")));

    // The built-in `system:monitoring` group may read /metrics.
    let sar = auth::SubjectAccessReviewAuthorizer::new(
        kube::Client::try_default().await.expect("client"),
    );
    let monitoring = auth::Attributes {
        user: auth::UserInfo {
            name: "prom".into(),
            groups: vec!["system:monitoring".into()],
            ..Default::default()
        },
        verb: "get".into(),
        path: "/metrics".into(),
    };
    assert_eq!(
        sar.authorize(&monitoring).await.expect("review"),
        auth::Decision::Allow
    );
}
