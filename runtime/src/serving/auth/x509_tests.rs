//! x509 client-certificate authentication and the certificate subject reader.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use super::*;

/// A CA (PEM) and a way to sign client certificates with it.
pub(crate) struct TestCa {
    pub pem: String,
    params: CertificateParams,
    key: KeyPair,
}

/// A client certificate chain (DER, leaf only) with its PEM cert and key.
pub(crate) struct TestClient {
    pub chain: Vec<Vec<u8>>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("key");
        let pem = params.self_signed(&key).expect("CA").pem();
        Self { pem, params, key }
    }

    /// A client certificate (clientAuth usage) with `cn` and every `orgs` entry.
    pub fn client(&self, cn: &str, orgs: &[&str]) -> TestClient {
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name = DistinguishedName::new();
        if !cn.is_empty() {
            leaf.distinguished_name.push(DnType::CommonName, cn);
        }
        for o in orgs {
            leaf.distinguished_name
                .push(DnType::OrganizationName, o.to_string());
        }
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().expect("key");
        let cert = leaf
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .expect("client cert");
        TestClient {
            chain: vec![cert.der().to_vec()],
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// Allows `/metrics` to user `reader` only.
struct ReaderOnly;

impl Authorizer for ReaderOnly {
    fn authorize<'a>(&'a self, a: &'a Attributes) -> BoxFuture<'a, Result<Decision, AuthError>> {
        let allowed = a.user.name == "reader" && a.path == "/metrics";
        Box::pin(async move {
            Ok(if allowed {
                Decision::Allow
            } else {
                Decision::NoOpinion(String::new())
            })
        })
    }
}

/// Accepts the token `good` as user `reader`.
struct GoodToken;

impl TokenAuthenticator for GoodToken {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>> {
        let user = (token == "good").then(|| UserInfo {
            name: "reader".into(),
            ..UserInfo::default()
        });
        Box::pin(async move { Ok(user) })
    }
}

/// A DER element with a short-form length.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag, u8::try_from(contents.len()).expect("short")];
    out.extend_from_slice(contents);
    out
}

fn attribute(oid_last: u8, string_tag: u8, value: &str) -> Vec<u8> {
    let atv = [
        der(0x06, &[0x55, 0x04, oid_last]),
        der(string_tag, value.as_bytes()),
    ]
    .concat();
    der(0x31, &der(0x30, &atv))
}

#[test]
fn subject_gives_common_name_and_organizations() {
    let ca = TestCa::new("ca");
    let c = ca.client("jane", &["system:monitoring"]);
    let s = subject(&c.chain[0]).expect("subject");
    assert_eq!(s.common_name, "jane");
    assert_eq!(s.organizations, ["system:monitoring"]);
    // Several O (rcgen writes one per type), string types, no version field, and the last
    // CN winning, as Go's pkix.Name.
    let name = [
        attribute(0x0a, 0x0c, "team-a"),
        attribute(0x03, 0x13, "first"),
        attribute(0x0a, 0x13, "team-b"),
        attribute(0x03, 0x0c, "last"),
        attribute(0x06, 0x13, "DE"),
    ]
    .concat();
    let tbs = [
        der(0x02, &[1]),
        der(0x30, &[]),
        der(0x30, &[]),
        der(0x30, &[]),
        der(0x30, &name),
    ]
    .concat();
    let cert = der(0x30, &der(0x30, &tbs));
    let s = subject(&cert).expect("subject");
    assert_eq!(s.common_name, "last");
    assert_eq!(s.organizations, ["team-a", "team-b"]);
    assert_eq!(subject(b"\x30\x03\x02\x01"), None, "truncated DER");
}

#[test]
fn verified_certificates_map_to_cn_and_o() {
    tls_provider();
    let ca = TestCa::new("client-ca");
    let authn = X509Authenticator::from_pem(ca.pem.as_bytes()).expect("bundle");
    let c = ca.client("jane", &["g1"]);
    assert_eq!(
        authn.authenticate(&c.chain),
        X509Outcome::User(UserInfo {
            name: "jane".into(),
            groups: vec!["g1".into()],
            ..UserInfo::default()
        })
    );
    assert_eq!(authn.authenticate(&[]), X509Outcome::NoCertificate);
    assert_eq!(
        authn.authenticate(&ca.client("", &["g"]).chain),
        X509Outcome::NoCommonName
    );
    let other = TestCa::new("other-ca").client("mallory", &["system:masters"]);
    assert!(matches!(
        authn.authenticate(&other.chain),
        X509Outcome::Invalid(_)
    ));
    assert!(X509Authenticator::from_pem(b"no pem here").is_err());
}

fn tls_provider() {
    crate::serving::tls::install_crypto_provider();
}

#[tokio::test]
async fn certificate_then_token_then_anonymous() {
    tls_provider();
    let ca = TestCa::new("client-ca");
    let authn = X509Authenticator::from_pem(ca.pem.as_bytes()).expect("bundle");
    let auth = DelegatedAuth::new(Some(Arc::new(GoodToken)), Some(Arc::new(ReaderOnly)))
        .with_x509(Some(authn));
    let check = |chain: Vec<Vec<u8>>, header: Option<&'static str>| {
        let auth = auth.clone();
        async move { auth.check_request("GET", "/metrics", header, &chain).await }
    };
    // system:masters by certificate: allowed without a review.
    let admin = ca.client("admin", &["system:masters"]).chain;
    assert_eq!(check(admin, None).await, AuthOutcome::Allowed);
    // CN is the user the authorizer sees.
    let reader = ca.client("reader", &[]).chain;
    assert_eq!(check(reader, None).await, AuthOutcome::Allowed);
    let jane = ca.client("jane", &[]).chain;
    assert_eq!(
        check(jane, None).await,
        AuthOutcome::Forbidden(r#"forbidden: User "jane" cannot get path "/metrics""#.into())
    );
    // An untrusted certificate is 401, unless a token authenticates the request.
    let untrusted = TestCa::new("other")
        .client("admin", &["system:masters"])
        .chain;
    assert_eq!(
        check(untrusted.clone(), None).await,
        AuthOutcome::Unauthorized
    );
    assert_eq!(
        check(untrusted, Some("Bearer good")).await,
        AuthOutcome::Allowed
    );
    // No certificate: tokens and anonymous work as before.
    assert_eq!(
        check(vec![], Some("Bearer good")).await,
        AuthOutcome::Allowed
    );
    assert!(matches!(
        check(vec![], None).await,
        AuthOutcome::Forbidden(m) if m.contains("system:anonymous")
    ));
    // Without a client CA, certificates are ignored (anonymous).
    let plain = DelegatedAuth::new(None, Some(Arc::new(ReaderOnly)));
    let admin = ca.client("admin", &["system:masters"]).chain;
    assert!(matches!(
        plain.check_request("GET", "/metrics", None, &admin).await,
        AuthOutcome::Forbidden(m) if m.contains("system:anonymous")
    ));
}
