//! The name a certificate gives its holder.

use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;

/// The node name in a certificate: its first DNS subject alternative name, else its
/// common name; `None` if the certificate cannot be parsed or names nobody.
pub(crate) fn name_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert).ok()?;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let dns = san.value.general_names.iter().find_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        });
        if dns.is_some() {
            return dns;
        }
    }
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}
