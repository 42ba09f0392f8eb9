//! The one error type of the tls module.

use std::path::{Path, PathBuf};

/// What went wrong while making, writing, loading or using TLS material.
///
/// No variant leaves a half-written file behind on purpose: writers check every target
/// before creating any (see [`crate::tls::write_ca`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A required file does not exist. Nothing was read.
    #[error("{path}: missing (create it with `lattice cert`)")]
    Missing {
        /// The file that was looked for.
        path: PathBuf,
    },
    /// A file was to be written but exists already; nothing was written.
    #[error("{path}: already exists, refusing to overwrite")]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file (or an in-memory PEM named after its file) is not what it should be.
    #[error("{path}: garbled: {detail}")]
    Garbled {
        /// The file, or for in-memory material the file name it would have.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A CA or node name cannot go into a certificate.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Certificate or key generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls rejected the material while building a configuration.
    #[error("TLS configuration rejected: {0}")]
    Config(#[from] rustls::Error),
    /// The certificate verifier could not be built (e.g. no usable CA certificate).
    #[error("certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

impl TlsError {
    pub(crate) fn garbled(path: &Path, detail: impl Into<String>) -> Self {
        Self::Garbled {
            path: path.to_owned(),
            detail: detail.into(),
        }
    }
}
