//! Writing and loading certificate files.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::certs::check_ca;
use super::{CaBundle, NodeBundle, TlsError};

/// The CA certificate file, in a CA directory and in every node's tls directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA private key file, only in the CA directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// A node's certificate file.
pub const NODE_CERT_FILE: &str = "node.pem";
/// A node's private key file.
pub const NODE_KEY_FILE: &str = "node.key";

/// File mode of private keys: owner read/write only.
const KEY_MODE: u32 = 0o600;
/// File mode of certificates: world-readable, they are public.
const CERT_MODE: u32 = 0o644;

/// Writes `ca.pem` and `ca.key` (mode 0600) into `dir`, creating `dir` if needed.
///
/// Refuses, writing nothing, if either file exists: overwriting a CA key would orphan
/// every node certificate it signed.
pub fn write_ca(ca: &CaBundle, dir: &Path) -> Result<(), TlsError> {
    write_all_new(
        dir,
        &[
            (CA_CERT_FILE, &ca.cert_pem, CERT_MODE),
            (CA_KEY_FILE, &ca.key_pem, KEY_MODE),
        ],
    )
}

/// Loads `ca.pem` and `ca.key` from `dir` and checks that the key belongs to the
/// certificate and that it is a CA certificate.
pub fn load_ca(dir: &Path) -> Result<CaBundle, TlsError> {
    let ca = CaBundle {
        cert_pem: read(&dir.join(CA_CERT_FILE))?,
        key_pem: read(&dir.join(CA_KEY_FILE))?,
    };
    check_ca(&ca, dir)?;
    Ok(ca)
}

/// Writes a node's tls directory: `ca.pem`, `node.pem` and `node.key` (mode 0600),
/// creating `dir` if needed. Refuses, writing nothing, if any of them exists.
pub fn write_node(node: &NodeBundle, dir: &Path) -> Result<(), TlsError> {
    write_all_new(
        dir,
        &[
            (CA_CERT_FILE, &node.ca_pem, CERT_MODE),
            (NODE_CERT_FILE, &node.cert_pem, CERT_MODE),
            (NODE_KEY_FILE, &node.key_pem, KEY_MODE),
        ],
    )
}

/// Reads a whole UTF-8 file; a missing file is [`TlsError::Missing`].
pub(crate) fn read(path: &Path) -> Result<String, TlsError> {
    fs::read_to_string(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => TlsError::Missing {
            path: path.to_owned(),
        },
        io::ErrorKind::InvalidData => TlsError::garbled(path, "not UTF-8 text"),
        _ => TlsError::Io {
            path: path.to_owned(),
            source,
        },
    })
}

fn write_all_new(dir: &Path, files: &[(&str, &String, u32)]) -> Result<(), TlsError> {
    fs::create_dir_all(dir).map_err(|source| TlsError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for (name, _, _) in files {
        let path = dir.join(name);
        if path.exists() {
            return Err(TlsError::AlreadyExists { path });
        }
    }
    for (name, text, mode) in files {
        let path = dir.join(name);
        write_new(&path, text, *mode).map_err(|source| io_error(path, source))?;
    }
    Ok(())
}

fn io_error(path: PathBuf, source: io::Error) -> TlsError {
    match source.kind() {
        io::ErrorKind::AlreadyExists => TlsError::AlreadyExists { path },
        _ => TlsError::Io { path, source },
    }
}

/// Creates `path` (it must not exist) with `mode` from the start, so a key is never
/// readable by others, not even briefly.
fn write_new(path: &Path, text: &str, mode: u32) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
