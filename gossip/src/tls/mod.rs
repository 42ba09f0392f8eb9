//! Mutual TLS for node-to-node QUIC under one cluster CA.
//!
//! Every node holds a certificate signed by the cluster CA, with its node name as a DNS
//! subject alternative name and both the server and client extended key usages, because
//! every node dials and accepts. The CLI exposes this module as `lattice cert ca --out DIR`
//! ([`generate_ca`], [`write_ca`]) and `lattice cert node --ca DIR --name NAME --out DIR`
//! ([`load_ca`], [`generate_node_cert`], [`write_node`]).
//!
//! Files: a CA directory holds `ca.pem` and `ca.key`; a node's tls directory holds
//! `ca.pem`, `node.pem` and `node.key`. Keys are written with mode 0600 and existing files
//! are never overwritten.
//!
//! Identity model: membership of the cluster is a certificate chain to the cluster CA. A
//! server requires a client certificate from that CA ([`NodeTls::server_config`]); a client
//! checks the server's chain to that CA but not its name ([`NodeTls::client_config`]),
//! because the transport dials socket addresses, not names. The verified name of the peer
//! (its first DNS SAN, else its common name) is reported with every received message, so
//! the layer above decides what a name may do. lattice names node `N` `node-N`
//! ([`cert_name`], [`node_of_cert_name`]): a node's own certificate must carry its id,
//! and a peer may speak only for the node its certificate names.

mod certs;
mod error;
mod files;
mod identity;
mod verify;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

pub use certs::{generate_ca, generate_node_cert, CaBundle, NodeBundle};
pub use error::TlsError;
pub use files::{
    load_ca, write_ca, write_node, CA_CERT_FILE, CA_KEY_FILE, NODE_CERT_FILE, NODE_KEY_FILE,
};
pub(crate) use identity::name_of;
pub use identity::{cert_name, node_of_cert_name};

/// The ALPN protocol every lattice node offers and requires: bump the version when the
/// wire format changes incompatibly, so mixed clusters fail at the handshake.
pub const ALPN: &[u8] = b"lattice/1";

/// A node's TLS material: the cluster CA it trusts, its own certificate chain and key.
///
/// Load it from a node's tls directory with [`NodeTls::load`] (or from memory with
/// [`NodeTls::from_bundle`]), then build rustls configurations from it.
pub struct NodeTls {
    /// The trusted cluster CA certificates (more than one while a CA is being rotated).
    pub ca: Vec<CertificateDer<'static>>,
    /// This node's certificate first, then any intermediates.
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// This node's private key.
    pub key: PrivateKeyDer<'static>,
}

impl NodeTls {
    /// Loads `ca.pem`, `node.pem` and `node.key` from a node's tls directory.
    pub fn load(dir: &Path) -> Result<Self, TlsError> {
        let ca = files::read(&dir.join(CA_CERT_FILE))?;
        let cert = files::read(&dir.join(NODE_CERT_FILE))?;
        let key = files::read(&dir.join(NODE_KEY_FILE))?;
        Self::from_pem(
            (&dir.join(CA_CERT_FILE), &ca),
            (&dir.join(NODE_CERT_FILE), &cert),
            (&dir.join(NODE_KEY_FILE), &key),
        )
    }

    /// Builds the material from an in-memory bundle, as [`generate_node_cert`] returns it.
    pub fn from_bundle(bundle: &NodeBundle) -> Result<Self, TlsError> {
        Self::from_pem(
            (Path::new(CA_CERT_FILE), &bundle.ca_pem),
            (Path::new(NODE_CERT_FILE), &bundle.cert_pem),
            (Path::new(NODE_KEY_FILE), &bundle.key_pem),
        )
    }

    fn from_pem(
        ca: (&Path, &str),
        cert: (&Path, &str),
        key: (&Path, &str),
    ) -> Result<Self, TlsError> {
        let ca_certs = parse_certs(ca.0, ca.1)?;
        let cert_chain = parse_certs(cert.0, cert.1)?;
        let key = PrivateKeyDer::from_pem_slice(key.1.as_bytes())
            .map_err(|e| TlsError::garbled(key.0, format!("no usable private key: {e}")))?;
        Ok(Self {
            ca: ca_certs,
            cert_chain,
            key,
        })
    }

    /// The node name in this node's own certificate (first DNS SAN, else common name).
    pub fn node_name(&self) -> Option<String> {
        self.cert_chain.first().and_then(name_of)
    }

    /// A rustls server configuration: TLS 1.3 only, ALPN [`ALPN`], and a client
    /// certificate from the cluster CA is required (`WebPkiClientVerifier`).
    pub fn server_config(&self) -> Result<ServerConfig, TlsError> {
        let provider = ring_provider();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(self.root_store()?, provider.clone())
                .build()?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.cert_chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }

    /// A rustls client configuration: TLS 1.3 only, ALPN [`ALPN`], presents this node's
    /// certificate, and accepts a server whose chain leads to the cluster CA, whatever
    /// name it was dialled by (see the module docs).
    pub fn client_config(&self) -> Result<ClientConfig, TlsError> {
        let provider = ring_provider();
        let verifier = verify::ClusterServerVerifier::new(self.root_store()?, provider.clone())?;
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(self.cert_chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }

    fn root_store(&self) -> Result<Arc<RootCertStore>, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in &self.ca {
            roots.add(cert.clone())?;
        }
        Ok(Arc::new(roots))
    }
}

impl Clone for NodeTls {
    fn clone(&self) -> Self {
        Self {
            ca: self.ca.clone(),
            cert_chain: self.cert_chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeTls")
            .field("node_name", &self.node_name())
            .field("ca_certs", &self.ca.len())
            .field("chain_len", &self.cert_chain.len())
            .finish_non_exhaustive()
    }
}

/// The only crypto provider lattice uses: ring (aws-lc-rs needs cmake to build).
fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM text; at least one, and no garbled block.
fn parse_certs(path: &Path, pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::garbled(path, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::garbled(path, "no CERTIFICATE block"));
    }
    Ok(certs)
}
