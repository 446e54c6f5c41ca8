//! Certificates and keys for the local control plane, generated with rcgen.
//!
//! Every certificate is X.509 v3 with extensions (basicConstraints, key usages, EKU,
//! SANs): rustls, which kube-rs uses, rejects v1 certificates. All keys are ECDSA P-256,
//! including the service-account signing key (kube-apiserver accepts it as ES256).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};

use super::Error;

/// A certificate and its private key, as PEM files on disk.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// PEM certificate file.
    pub cert: PathBuf,
    /// PEM (PKCS#8) private key file.
    pub key: PathBuf,
}

/// Paths of everything the components need, plus the CA in memory.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA certificate (PEM text).
    pub ca_pem: String,
    /// The CA certificate and key (the key signs KCM's CSR approvals too).
    pub ca: CertFiles,
    /// kube-apiserver's serving certificate.
    pub apiserver: CertFiles,
    /// Admin client certificate (CN admin, O system:masters).
    pub admin: CertFiles,
    /// kube-controller-manager's client certificate (CN system:kube-controller-manager).
    pub controller_manager: CertFiles,
    /// kwok's client certificate (CN kwok, O system:masters).
    pub kwok: CertFiles,
    /// Service-account signing key (private, PKCS#8).
    pub sa_key: PathBuf,
    /// Service-account verification key (public, PKIX).
    pub sa_pub: PathBuf,
    /// The real node's certificates, when there is one.
    pub node: Option<NodePki>,
}

/// Who the real node is: its name and the address pods reach the API server on.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// Node name (kubelet's `--hostname-override`).
    pub name: String,
    /// The host's primary interface address: kube-apiserver serves and advertises on it,
    /// the kubelet listens on it.
    pub ip: Ipv4Addr,
}

/// Certificates of a real node and of the API server's calls to it.
#[derive(Debug, Clone)]
pub struct NodePki {
    /// kubelet's client certificate (CN `system:node:<name>`, O `system:nodes`).
    pub kubelet_client: CertFiles,
    /// kubelet's serving certificate (SANs: the node name and address).
    pub kubelet_serving: CertFiles,
    /// kube-proxy's client certificate (CN `system:kube-proxy`, bound to `system:node-proxier`).
    pub kube_proxy: CertFiles,
    /// kube-apiserver's client certificate towards kubelets (O `system:masters`), for
    /// logs, exec and port-forward.
    pub apiserver_kubelet_client: CertFiles,
    /// A scheduler's client certificate (CN `system:kube-scheduler`, the user upstream's
    /// bootstrap RBAC grants the scheduler's rights), for a static-pod scheduler on the node.
    pub scheduler_client: CertFiles,
}

/// Names and IPs the apiserver's serving certificate is valid for.
const APISERVER_DNS: &[&str] = &[
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// The first IP of `--service-cluster-ip-range` (10.0.0.0/24).
pub const FIRST_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn write(path: &Path, contents: &str) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

fn dn(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, org);
    }
    dn
}

/// Validity: from one day ago (clock skew) for ten years.
fn validity(params: &mut CertificateParams) {
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(86_400)).into();
    params.not_after = (now + std::time::Duration::from_secs(10 * 365 * 86_400)).into();
}

/// Issue a leaf certificate signed by `issuer` and write `<dir>/<name>.crt|.key`.
fn leaf(
    dir: &Path,
    name: &str,
    mut params: CertificateParams,
    eku: ExtendedKeyUsagePurpose,
    issuer: &CertifiedIssuer<'_, KeyPair>,
) -> Result<CertFiles, Error> {
    validity(&mut params);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![eku];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    let files = CertFiles {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    };
    write(&files.cert, &cert.pem())?;
    write(&files.key, &key.serialize_pem())?;
    Ok(files)
}

fn client_cert(
    dir: &Path,
    name: &str,
    cn: &str,
    org: Option<&str>,
    issuer: &CertifiedIssuer<'_, KeyPair>,
) -> Result<CertFiles, Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(cn, org);
    leaf(
        dir,
        name,
        params,
        ExtendedKeyUsagePurpose::ClientAuth,
        issuer,
    )
}

/// Generate the CA, all certificates and the service-account key pair into `dir`; with a
/// real `node`, its certificates too, and its address in the API server's SANs.
pub fn generate(dir: &Path, node: Option<&NodeIdentity>) -> Result<Pki, Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;

    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = dn("ferrosched-ca", None);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut ca_params);
    let ca_key = KeyPair::generate()?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca_issuer = CertifiedIssuer::self_signed(ca_params, ca_key)?;
    let ca_pem = ca_issuer.pem();
    let ca = CertFiles {
        cert: dir.join("ca.crt"),
        key: dir.join("ca.key"),
    };
    write(&ca.cert, &ca_pem)?;
    write(&ca.key, &ca_key_pem)?;

    let mut serving = CertificateParams::default();
    serving.distinguished_name = dn("kube-apiserver", None);
    serving.subject_alt_names = vec![
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V4(FIRST_SERVICE_IP)),
    ];
    for name in APISERVER_DNS {
        serving
            .subject_alt_names
            .push(SanType::DnsName((*name).try_into()?));
    }
    if let Some(node) = node {
        serving
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(node.ip)));
    }
    let apiserver = leaf(
        dir,
        "apiserver",
        serving,
        ExtendedKeyUsagePurpose::ServerAuth,
        &ca_issuer,
    )?;

    let admin = client_cert(dir, "admin", "admin", Some("system:masters"), &ca_issuer)?;
    let controller_manager = client_cert(
        dir,
        "kube-controller-manager",
        "system:kube-controller-manager",
        None,
        &ca_issuer,
    )?;
    let kwok = client_cert(dir, "kwok", "kwok", Some("system:masters"), &ca_issuer)?;

    let sa = KeyPair::generate()?;
    let sa_key = dir.join("sa.key");
    let sa_pub = dir.join("sa.pub");
    write(&sa_key, &sa.serialize_pem())?;
    write(&sa_pub, &sa.public_key_pem())?;

    let node = node
        .map(|node| node_certs(dir, node, &ca_issuer))
        .transpose()?;

    Ok(Pki {
        node,
        ca_pem,
        ca,
        apiserver,
        admin,
        controller_manager,
        kwok,
        sa_key,
        sa_pub,
    })
}

fn node_certs(
    dir: &Path,
    node: &NodeIdentity,
    issuer: &CertifiedIssuer<'_, KeyPair>,
) -> Result<NodePki, Error> {
    let kubelet_client = client_cert(
        dir,
        "kubelet-client",
        &format!("system:node:{}", node.name),
        Some("system:nodes"),
        issuer,
    )?;
    let mut serving = CertificateParams::default();
    serving.distinguished_name = dn(&node.name, None);
    serving.subject_alt_names = vec![
        SanType::IpAddress(IpAddr::V4(node.ip)),
        SanType::DnsName(node.name.as_str().try_into()?),
    ];
    let kubelet_serving = leaf(
        dir,
        "kubelet-serving",
        serving,
        ExtendedKeyUsagePurpose::ServerAuth,
        issuer,
    )?;
    let kube_proxy = client_cert(dir, "kube-proxy", "system:kube-proxy", None, issuer)?;
    let apiserver_kubelet_client = client_cert(
        dir,
        "apiserver-kubelet-client",
        "kube-apiserver-kubelet-client",
        Some("system:masters"),
        issuer,
    )?;
    let scheduler_client = client_cert(
        dir,
        "scheduler-client",
        "system:kube-scheduler",
        None,
        issuer,
    )?;
    Ok(NodePki {
        kubelet_client,
        kubelet_serving,
        kube_proxy,
        apiserver_kubelet_client,
        scheduler_client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn generates_v3_certificates() {
        let dir = std::env::temp_dir().join(format!("ferrosched-certs-{}", uuid::Uuid::new_v4()));
        let node = NodeIdentity {
            name: "node-a".into(),
            ip: Ipv4Addr::new(192, 0, 2, 2),
        };
        let pki = generate(&dir, Some(&node)).expect("generate");
        let node_pki = pki.node.clone().expect("node certificates");
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        for f in [
            &pki.ca,
            &pki.apiserver,
            &pki.admin,
            &pki.controller_manager,
            &pki.kwok,
            &node_pki.kubelet_client,
            &node_pki.kubelet_serving,
            &node_pki.kube_proxy,
            &node_pki.apiserver_kubelet_client,
            &node_pki.scheduler_client,
        ] {
            let pem = std::fs::read_to_string(&f.cert).expect("read cert");
            let der =
                rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem");
            // TBSCertificate starts with the explicit [0] version tag: v3 (value 2).
            assert!(
                der.windows(5).any(|w| w == [0xa0, 0x03, 0x02, 0x01, 0x02]),
                "{}",
                f.cert.display()
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
