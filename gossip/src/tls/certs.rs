//! Generating the cluster CA and node certificates (rcgen, ring, ECDSA P-256).

use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, DnsName};
use time::{Duration, OffsetDateTime};

use super::files::{CA_CERT_FILE, CA_KEY_FILE};
use super::TlsError;

/// How long a CA is valid. Rotating a CA means re-issuing every node certificate, so it
/// is long.
const CA_VALIDITY: Duration = Duration::days(3650);
/// How long a node certificate is valid.
const NODE_VALIDITY: Duration = Duration::days(1825);
/// Certificates start being valid this long before they are made, so a node whose clock
/// is a little behind the issuer's still accepts them.
const BACKDATE: Duration = Duration::days(1);
/// Longest CA name: the X.520 upper bound for a common name.
const CA_NAME_BYTES_MAX: usize = 64;

/// A cluster CA: its certificate and private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CaBundle {
    /// The CA certificate (`ca.pem`); every node trusts it.
    pub cert_pem: String,
    /// The CA's private key (`ca.key`, PKCS#8); keep it off the nodes.
    pub key_pem: String,
}

/// A node's TLS material as files hold it: the CA certificate, the node's certificate
/// and the node's private key, all PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeBundle {
    /// The cluster CA certificate (`ca.pem`).
    pub ca_pem: String,
    /// The node certificate (`node.pem`), signed by the CA.
    pub cert_pem: String,
    /// The node's private key (`node.key`, PKCS#8).
    pub key_pem: String,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle").finish_non_exhaustive()
    }
}

impl fmt::Debug for NodeBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeBundle").finish_non_exhaustive()
    }
}

/// Makes a new cluster CA named `name` (its common name), valid for ten years.
pub fn generate_ca(name: &str) -> Result<CaBundle, TlsError> {
    if name.is_empty() || name.len() > CA_NAME_BYTES_MAX {
        return Err(TlsError::InvalidName {
            name: name.to_owned(),
            reason: "a CA name is 1 to 64 bytes",
        });
    }
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    (params.not_before, params.not_after) = validity(CA_VALIDITY);
    let cert = params.self_signed(&key)?;
    Ok(CaBundle {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Makes a certificate for node `node_name`, signed by `ca`: the name is its DNS SAN and
/// common name, it may act as TLS server and client, and it is valid for five years.
///
/// `node_name` must be a DNS name (letters, digits, `-`, dots), e.g. `node-1`.
pub fn generate_node_cert(ca: &CaBundle, node_name: &str) -> Result<NodeBundle, TlsError> {
    check_node_name(node_name)?;
    let (ca_cert, ca_key) = ca_issuer(ca)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![node_name.to_owned()])?;
    params.distinguished_name = common_name(node_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    (params.not_before, params.not_after) = validity(NODE_VALIDITY);
    let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
    Ok(NodeBundle {
        ca_pem: ca.cert_pem.clone(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Parses a CA bundle and checks that its key belongs to its certificate.
///
/// `dir` only names the files in errors; nothing is read from it.
pub(crate) fn check_ca(ca: &CaBundle, dir: &Path) -> Result<(), TlsError> {
    ca_issuer_in(ca, dir).map(drop)
}

/// The CA as rcgen needs it to sign: its parameters (subject, key identifier) re-read
/// from `ca.pem`, and its key.
fn ca_issuer(ca: &CaBundle) -> Result<(Certificate, KeyPair), TlsError> {
    ca_issuer_in(ca, Path::new(""))
}

fn ca_issuer_in(ca: &CaBundle, dir: &Path) -> Result<(Certificate, KeyPair), TlsError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    let key = KeyPair::from_pem(&ca.key_pem)
        .map_err(|e| TlsError::garbled(&key_path, format!("no usable private key: {e}")))?;
    let der = CertificateDer::from_pem_slice(ca.cert_pem.as_bytes())
        .map_err(|e| TlsError::garbled(&cert_path, format!("bad PEM: {e}")))?;
    let spki = subject_public_key_info(&der)
        .ok_or_else(|| TlsError::garbled(&cert_path, "not an X.509 certificate"))?;
    if spki != key.public_key_der() {
        return Err(TlsError::garbled(
            &key_path,
            "key does not belong to ca.pem",
        ));
    }
    let params = CertificateParams::from_ca_cert_der(&der)
        .map_err(|e| TlsError::garbled(&cert_path, format!("not a CA certificate: {e}")))?;
    if !matches!(params.is_ca, IsCa::Ca(_)) {
        return Err(TlsError::garbled(&cert_path, "not a CA certificate"));
    }
    // Re-signing yields an issuer handle; only its subject and key identifier are used.
    let cert = params.self_signed(&key)?;
    Ok((cert, key))
}

fn subject_public_key_info(der: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.public_key().raw.to_vec())
}

fn check_node_name(name: &str) -> Result<(), TlsError> {
    let invalid = |reason| TlsError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err(invalid("a node name is a DNS name, not an IP address"));
    }
    DnsName::try_from(name).map_err(|_| invalid("a node name must be a valid DNS name"))?;
    Ok(())
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

/// `(not_before, not_after)` for a certificate made now and valid for `length`.
fn validity(length: Duration) -> (OffsetDateTime, OffsetDateTime) {
    let now = wall_clock_now();
    (now - BACKDATE, now + length)
}

// This is the I/O side (certificate generation for the CLI), not a sans-IO core: a
// certificate's validity window has to be anchored to the real wall clock once.
#[allow(clippy::disallowed_methods)]
fn wall_clock_now() -> OffsetDateTime {
    OffsetDateTime::from(SystemTime::now())
}
