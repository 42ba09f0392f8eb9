//! The name a certificate gives its holder.

use lattice_crdt::NodeId;
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

/// The certificate name of node `id`: `node-<id>`.
pub fn cert_name(id: NodeId) -> String {
    format!("node-{}", id.get())
}

/// The node a certificate name stands for, if it is one of [`cert_name`]'s.
pub fn node_of_cert_name(name: &str) -> Option<NodeId> {
    let digits = name.strip_prefix("node-")?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None; // one spelling per id
    }
    NodeId::new(digits.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_map_one_to_one() {
        let id = NodeId::new(42).unwrap();
        assert_eq!(cert_name(id), "node-42");
        assert_eq!(node_of_cert_name("node-42"), Some(id));
        for bad in [
            "node-0",
            "node-042",
            "node-",
            "node-+4",
            "node-4x",
            "n-4",
            "node-99999999999999999999",
        ] {
            assert_eq!(node_of_cert_name(bad), None, "{bad}");
        }
    }
}
