//! The CA and its leaves: they verify as a TLS client verifies them, and they are issued
//! again exactly when they must be.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::*;

fn t(s: &str) -> jiff::Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

const NAME: &str = "ferrosched-scheduler.ferrosched-system.svc";

fn names() -> Vec<String> {
    vec![NAME.to_string()]
}

fn secret(data: std::collections::BTreeMap<String, ByteString>) -> Secret {
    Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("s".into()),
            ..Default::default()
        },
        data: Some(data),
        ..Secret::default()
    }
}

/// Verifies `leaf` for `host` at `at` against `ca`, as rustls's web PKI verifier does.
fn verify(ca: &Ca, leaf: &Leaf, host: &str, at: jiff::Timestamp) -> Result<(), rustls::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let ca_der = CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).expect("CA pem");
    roots.add(ca_der).expect("trust anchor");
    let verifier = rustls::client::WebPkiServerVerifier::builder(Arc::new(roots))
        .build()
        .expect("verifier");
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("chain pem");
    let name = ServerName::try_from(host.to_string()).expect("name");
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        at.as_second().try_into().unwrap_or_default(),
    ));
    verifier
        .verify_server_cert(&chain[0], &chain[1..], &name, &[], now)
        .map(|_| ())
}

#[test]
fn a_leaf_verifies_for_its_name_against_the_ca_kept_in_the_secret() {
    let now = t("2026-12-07T12:00:00Z");
    let ca = Ca::generate(now).expect("CA");
    let kept = Ca::from_secret(&secret(ca.secret_data())).expect("CA from its Secret");
    assert_eq!(kept, ca);
    let leaf = kept.issue(&names(), now).expect("leaf");
    verify(&ca, &leaf, NAME, now).expect("verifies for its name");
    assert!(verify(&ca, &leaf, "ferrosched-other.ferrosched-system.svc", now).is_err());
    let stranger = Ca::generate(now).expect("another CA");
    assert!(
        verify(&stranger, &leaf, NAME, now).is_err(),
        "only its own CA"
    );
    assert!(
        verify(&ca, &leaf, NAME, t("2028-01-01T00:00:00Z")).is_err(),
        "expired after a year"
    );
}

#[test]
fn a_leaf_is_issued_again_only_when_it_must_be() {
    let now = t("2026-12-07T12:00:00Z");
    let ca = Ca::generate(now).expect("CA");
    let leaf = ca.issue(&names(), now).expect("leaf");
    let current = secret(serving_data(&ca, &leaf));
    assert!(needs_issue(None, &ca, &names(), now), "missing");
    assert!(!needs_issue(Some(&current), &ca, &names(), now), "fresh");
    assert!(
        !needs_issue(Some(&current), &ca, &names(), t("2027-06-01T00:00:00Z")),
        "half its life left"
    );
    assert!(
        needs_issue(Some(&current), &ca, &names(), t("2027-08-20T00:00:00Z")),
        "less than a third left"
    );
    let other_names = vec!["elsewhere.svc".to_string()];
    assert!(
        needs_issue(Some(&current), &ca, &other_names, now),
        "other names"
    );
    let new_ca = Ca::generate(now).expect("CA");
    assert!(
        needs_issue(Some(&current), &new_ca, &names(), now),
        "another CA"
    );
    let mut broken = current.clone();
    if let Some(d) = broken.data.as_mut() {
        d.remove(TLS_KEY);
    }
    assert!(needs_issue(Some(&broken), &ca, &names(), now), "no key");
}

#[test]
fn a_ca_secret_missing_its_key_is_named() {
    let now = t("2026-12-07T12:00:00Z");
    let mut data = Ca::generate(now).expect("CA").secret_data();
    data.remove(TLS_KEY);
    let err = Ca::from_secret(&secret(data)).expect_err("no key");
    assert_eq!(err.to_string(), "Secret s: no tls.key");
    let mut data = Ca::generate(now).expect("CA").secret_data();
    data.insert(TLS_CRT.into(), ByteString(b"not a certificate".to_vec()));
    assert!(Ca::from_secret(&secret(data)).is_err());
}
