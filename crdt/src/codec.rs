//! The binary encoding of deltas and states: one format-version byte, then postcard.
//!
//! postcard writes integers as varints and needs no field names, so a delta of one set
//! add is a few dozen bytes. Decoding checks the version, the size bound, every
//! structural invariant (sorted, disjoint, consistent) and that nothing trails; it never
//! panics, and allocation is bounded by the input size (serde caps length-prefixed
//! preallocation, and no lattice type nests without bound).

use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

/// The encoding's version, written first. Bump it when the wire form changes.
pub const FORMAT_VERSION: u8 = 1;

/// The default bound on an encoded value: 16 MiB.
pub const ENCODED_BYTES_MAX_DEFAULT: usize = 16 * 1024 * 1024;

/// Why bytes did not decode. Nothing was built from them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No bytes at all.
    #[error("empty input")]
    Empty,
    /// The bytes were written by a format version this build does not know.
    #[error("unknown format version {found}; this build reads version {FORMAT_VERSION}")]
    UnknownVersion {
        /// The version byte found.
        found: u8,
    },
    /// More bytes than the caller allows.
    #[error("{bytes} bytes exceed the limit of {bytes_max}")]
    TooLarge {
        /// The input's size.
        bytes: usize,
        /// The bound.
        bytes_max: usize,
    },
    /// The bytes are not a valid value of the expected type.
    #[error("malformed encoding: {0}")]
    Malformed(String),
    /// A valid value followed by extra bytes.
    #[error("{0} unexpected bytes after the value")]
    Trailing(usize),
}

/// Encodes `value` with the format version in front.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    encode_sized(value, 0)
}

/// Encodes `value` like [`encode`] into a buffer made for about `bytes` bytes (a
/// document's last encoded size, say), so that a large value is not copied again and
/// again as the buffer grows.
pub fn encode_sized<T: Serialize>(value: &T, bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.max(1));
    out.push(FORMAT_VERSION);
    postcard::to_extend(value, out).expect("lattice types always encode")
}

/// Decodes a value [`encode`] wrote, refusing inputs over `bytes_max` bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], bytes_max: usize) -> Result<T, DecodeError> {
    if bytes.len() > bytes_max {
        return Err(DecodeError::TooLarge {
            bytes: bytes.len(),
            bytes_max,
        });
    }
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnknownVersion { found: version });
    }
    let (value, rest) =
        postcard::take_from_bytes(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Trailing(rest.len()));
    }
    Ok(value)
}
