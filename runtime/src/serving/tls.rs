//! Serving certificate: given files, or a self-signed pair generated like
//! `k8s.io/apiserver`'s `MaybeDefaultWithSelfSignedCerts` (written to
//! `<cert-dir>/kube-scheduler.{crt,key}` when a cert dir is set, else kept in memory).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

use super::ServingError;

/// Base name of generated files in the cert dir, as kube-scheduler's `PairName`.
pub const PAIR_NAME: &str = "kube-scheduler";

/// A PEM certificate chain (leaf first) and its PEM private key.
#[derive(Clone)]
pub struct CertKey {
    /// PEM certificates, leaf first.
    pub cert_pem: Vec<u8>,
    /// PEM private key.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for CertKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertKey")
            .field("cert_pem", &self.cert_pem.len())
            .finish_non_exhaustive()
    }
}

/// Installs ring as the process-wide rustls provider; already installed is fine.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Loads `--tls-cert-file`/`--tls-private-key-file`, or reuses/creates the pair in
/// `cert_dir`, or generates one in memory.
pub fn load_or_generate(
    cert_file: Option<&Path>,
    key_file: Option<&Path>,
    cert_dir: Option<&Path>,
    bind_address: IpAddr,
) -> Result<CertKey, ServingError> {
    match (cert_file, key_file) {
        (Some(cert), Some(key)) => {
            return Ok(CertKey {
                cert_pem: read(cert)?,
                key_pem: read(key)?,
            });
        }
        (None, None) => {}
        _ => {
            return Err(ServingError::Options(
                "--tls-cert-file and --tls-private-key-file must be set together".into(),
            ));
        }
    }
    let Some(dir) = cert_dir else {
        tracing::info!("generated self-signed cert in-memory");
        return self_signed(bind_address);
    };
    let (cert, key) = (
        dir.join(format!("{PAIR_NAME}.crt")),
        dir.join(format!("{PAIR_NAME}.key")),
    );
    match (cert.exists(), key.exists()) {
        (true, true) => {
            return Ok(CertKey {
                cert_pem: read(&cert)?,
                key_pem: read(&key)?,
            });
        }
        (false, false) => {}
        _ => {
            return Err(ServingError::Options(format!(
                "only one of {} and {} exists",
                cert.display(),
                key.display()
            )));
        }
    }
    let pair = self_signed(bind_address)?;
    std::fs::create_dir_all(dir).map_err(|e| ServingError::WriteFile(dir.to_owned(), e))?;
    write(&cert, &pair.cert_pem, 0o644)?;
    write(&key, &pair.key_pem, 0o600)?;
    tracing::info!(cert = %cert.display(), key = %key.display(), "generated self-signed cert");
    Ok(pair)
}

/// A fresh CA and a serving cert signed by it, valid for a year, for `localhost`,
/// `127.0.0.1`, this host's name and `bind_address` (when not unspecified).
pub fn self_signed(bind_address: IpAddr) -> Result<CertKey, ServingError> {
    let now = jiff::Timestamp::now();
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let ymd = |d: jiff::civil::Date| {
        rcgen::date_time_ymd(d.year().into(), d.month() as u8, d.day() as u8)
    };
    let not_before = ymd(today.yesterday().unwrap_or(today));
    let not_after = ymd(today
        .checked_add(jiff::Span::new().years(1))
        .unwrap_or(today));
    let stamp = now.as_second();

    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, format!("localhost-ca@{stamp}"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    (ca.not_before, ca.not_after) = (not_before, not_after);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;

    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, format!("localhost@{stamp}"));
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.subject_alt_names = subject_alt_names(bind_address);
    (leaf.not_before, leaf.not_after) = (not_before, not_after);
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &Issuer::from_params(&ca, &ca_key))?;

    Ok(CertKey {
        cert_pem: format!("{}{}", leaf_cert.pem(), ca_cert.pem()).into_bytes(),
        key_pem: leaf_key.serialize_pem().into_bytes(),
    })
}

fn subject_alt_names(bind_address: IpAddr) -> Vec<SanType> {
    let mut dns = vec!["localhost".to_owned()];
    if let Some(host) = gethostname::gethostname()
        .to_str()
        .filter(|h| !h.is_empty())
    {
        dns.push(host.to_ascii_lowercase());
    }
    let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    if !bind_address.is_unspecified() {
        ips.push(bind_address);
    }
    dns.dedup();
    ips.dedup();
    let dns = dns
        .into_iter()
        .filter_map(|d| d.try_into().ok().map(SanType::DnsName));
    dns.chain(ips.into_iter().map(SanType::IpAddress)).collect()
}

/// A rustls server config (ring, TLS 1.2+, ALPN h2 and http/1.1) for `pair`, asking
/// for no client certificate.
pub fn server_config(pair: &CertKey) -> Result<Arc<ServerConfig>, ServingError> {
    build_server_config(pair, WebPkiClientVerifier::no_client_auth())
}

/// As [`server_config`], but *requesting* (never requiring) a client certificate, as Go's
/// `tls.RequestClientCert` in kube-scheduler's secure serving: any chain is accepted in
/// the handshake (proof of the key is still checked) and verified against the client CA
/// per request by x509 authentication, so clients without a certificate (tokens) and
/// with an untrusted one (then `401`) still get an HTTP answer.
pub fn server_config_requesting_client_certs(
    pair: &CertKey,
) -> Result<Arc<ServerConfig>, ServingError> {
    build_server_config(pair, Arc::new(RequestClientCert::new()))
}

/// Accepts any client certificate chain; see [`server_config_requesting_client_certs`].
#[derive(Debug)]
struct RequestClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl RequestClientCert {
    fn new() -> Self {
        Self {
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Verified per request against the (possibly changing) client CA bundle.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn build_server_config(
    pair: &CertKey,
    client_auth: Arc<dyn ClientCertVerifier>,
) -> Result<Arc<ServerConfig>, ServingError> {
    let certs = CertificateDer::pem_slice_iter(&pair.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ServingError::Pem {
            what: "certificate",
            source,
        })?;
    if certs.is_empty() {
        return Err(ServingError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(&pair.key_pem).map_err(|source| ServingError::Pem {
        what: "private key",
        source,
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(client_auth)
            .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(path: &Path) -> Result<Vec<u8>, ServingError> {
    std::fs::read(path).map_err(|e| ServingError::ReadFile(path.to_owned(), e))
}

fn write(path: &Path, data: &[u8], mode: u32) -> Result<(), ServingError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .map_err(|e| ServingError::WriteFile(path.to_owned(), e))?;
    file.write_all(data)
        .map_err(|e| ServingError::WriteFile(path.to_owned(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_in_memory_reused_or_rejected() {
        let localhost = "127.0.0.1".parse().expect("ip");
        let pair = load_or_generate(None, None, None, localhost).expect("in-memory cert");
        server_config(&pair).expect("usable by rustls");

        let dir = std::env::temp_dir().join(format!("ferrosched-certs-{}", rand::random::<u32>()));
        let first = load_or_generate(None, None, Some(&dir), localhost).expect("generated");
        let again = load_or_generate(None, None, Some(&dir), localhost).expect("reused");
        assert_eq!(first.cert_pem, again.cert_pem);
        let cert = dir.join("kube-scheduler.crt");
        let given = load_or_generate(
            Some(&cert),
            Some(&dir.join("kube-scheduler.key")),
            None,
            localhost,
        );
        assert_eq!(given.expect("explicit files").key_pem, first.key_pem);
        assert!(matches!(
            load_or_generate(Some(&cert), None, None, localhost),
            Err(ServingError::Options(_))
        ));
        std::fs::remove_file(dir.join("kube-scheduler.key")).expect("remove key");
        assert!(
            load_or_generate(None, None, Some(&dir), localhost).is_err(),
            "half a pair is an error"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
