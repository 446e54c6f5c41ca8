//! Serving certificates from a CA the operator keeps (pure): the CA, the leaves it
//! issues for the schedulers and the operator, and when a leaf must be issued again.
//!
//! The CA lives in a Secret the operator creates once and never rewrites; its public half
//! goes to a ConfigMap that ServiceMonitors verify against. One leaf serves every
//! scheduler, for the shared name `ferrosched-scheduler.<namespace>.svc`, so a single
//! ServiceMonitor with one `serverName` scrapes every profile (docs/decisions.md).

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// `tls.crt` of a `kubernetes.io/tls` Secret.
pub const TLS_CRT: &str = "tls.crt";
/// `tls.key` of a `kubernetes.io/tls` Secret.
pub const TLS_KEY: &str = "tls.key";
/// The CA certificate, in the serving Secret and the bundle ConfigMap.
pub const CA_CRT: &str = "ca.crt";
/// How long the CA is valid.
const CA_DAYS: i64 = 3650;
/// How long a leaf is valid; it is issued again when a third of that is left.
const LEAF_DAYS: i64 = 365;

/// Why a certificate could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused the parameters or the key.
    #[error("certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// The certificate and key make no TLS server configuration.
    #[error(transparent)]
    Tls(#[from] ferrosched_scheduler::serving::ServingError),
    /// A Secret lacks a key or holds something that is not PEM text.
    #[error("Secret {name}: {what}")]
    Secret {
        /// The Secret.
        name: String,
        /// What is wrong.
        what: String,
    },
}

/// The CA: its certificate and key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Ca {
    /// PEM certificate.
    pub cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

/// A certificate chain (leaf, then the CA) and its key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Leaf {
    /// PEM leaf then CA.
    pub cert_pem: String,
    /// PEM key.
    pub key_pem: String,
}

impl std::fmt::Debug for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf").finish_non_exhaustive()
    }
}

/// Sets the validity of `params`: from the day before `now` for `days` days.
fn validity(params: &mut CertificateParams, now: jiff::Timestamp, days: i64) {
    let day = |n: i64| {
        let d = now
            .checked_add(jiff::SignedDuration::from_hours(24 * n))
            .unwrap_or(now)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        rcgen::date_time_ymd(d.year().into(), d.month() as u8, d.day() as u8)
    };
    (params.not_before, params.not_after) = (day(-1), day(days));
}

impl Ca {
    /// A new CA, valid from yesterday for ten years.
    pub fn generate(now: jiff::Timestamp) -> Result<Ca, CertError> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(
            DnType::CommonName,
            format!("ferrosched-serving-ca@{}", now.as_second()),
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params, now, CA_DAYS);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The CA kept in `secret` (`tls.crt`, `tls.key`).
    pub fn from_secret(secret: &Secret) -> Result<Ca, CertError> {
        let ca = Ca {
            cert_pem: secret_text(secret, TLS_CRT)?,
            key_pem: secret_text(secret, TLS_KEY)?,
        };
        // Both must load, or nothing can be issued.
        ca.issuer()?;
        Ok(ca)
    }

    /// The CA as the data of a `kubernetes.io/tls` Secret.
    pub fn secret_data(&self) -> std::collections::BTreeMap<String, ByteString> {
        [
            (TLS_CRT, self.cert_pem.as_bytes()),
            (TLS_KEY, self.key_pem.as_bytes()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
        .collect()
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, CertError> {
        let key = KeyPair::from_pem(&self.key_pem)?;
        Ok(Issuer::from_ca_cert_pem(&self.cert_pem, key)?)
    }

    /// A serving leaf for `dns_names`, valid from yesterday for a year.
    pub fn issue(&self, dns_names: &[String], now: jiff::Timestamp) -> Result<Leaf, CertError> {
        let mut params = CertificateParams::default();
        let cn = dns_names.first().cloned().unwrap_or_default();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.subject_alt_names = dns_names
            .iter()
            .map(|n| Ok(SanType::DnsName(n.as_str().try_into()?)))
            .collect::<Result<_, rcgen::Error>>()?;
        validity(&mut params, now, LEAF_DAYS);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(Leaf {
            cert_pem: format!("{}{}", cert.pem(), self.cert_pem),
            key_pem: key.serialize_pem(),
        })
    }
}

fn secret_text(secret: &Secret, key: &str) -> Result<String, CertError> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .ok_or_else(|| CertError::Secret {
            name: name.clone(),
            what: format!("no {key}"),
        })?;
    String::from_utf8(bytes.0.clone()).map_err(|_| CertError::Secret {
        name,
        what: format!("{key} is not PEM text"),
    })
}

/// Whether the serving Secret must be issued (again): it is missing or unreadable, was
/// issued by another CA, names other hosts, or has less than a third of its life left.
pub fn needs_issue(
    secret: Option<&Secret>,
    ca: &Ca,
    dns_names: &[String],
    now: jiff::Timestamp,
) -> bool {
    let Some(secret) = secret else { return true };
    let (Ok(cert), Ok(_), Ok(issuer)) = (
        secret_text(secret, TLS_CRT),
        secret_text(secret, TLS_KEY),
        secret_text(secret, CA_CRT),
    ) else {
        return true;
    };
    if issuer != ca.cert_pem || !cert.ends_with(&ca.cert_pem) {
        return true;
    }
    let Some((names, start, end)) = leaf_facts(&cert) else {
        return true;
    };
    let renew_at = end - (end - start) / 3;
    names != dns_names || now.as_second() >= renew_at
}

/// The DNS names and validity (Unix seconds) of the first certificate in `pem`.
fn leaf_facts(pem: &str) -> Option<(Vec<String>, i64, i64)> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let cert = block.parse_x509().ok()?;
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|g| match g {
                    x509_parser::extensions::GeneralName::DNSName(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let v = cert.validity();
    Some((names, v.not_before.timestamp(), v.not_after.timestamp()))
}

/// The serving Secret's data for `leaf`: `tls.crt`, `tls.key`, and the CA's `ca.crt`.
pub fn serving_data(ca: &Ca, leaf: &Leaf) -> std::collections::BTreeMap<String, ByteString> {
    [
        (TLS_CRT, leaf.cert_pem.as_bytes()),
        (TLS_KEY, leaf.key_pem.as_bytes()),
        (CA_CRT, ca.cert_pem.as_bytes()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
    .collect()
}

#[cfg(test)]
#[path = "certs_tests.rs"]
mod tests;
