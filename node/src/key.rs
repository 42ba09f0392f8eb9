//! Document keys: what a client may name a document.

use thiserror::Error;

/// The longest key, in bytes.
pub const KEY_BYTES_MAX: usize = 256;

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is empty or longer than [`KEY_BYTES_MAX`].
    #[error("key must be 1 to {KEY_BYTES_MAX} bytes, not {0}")]
    Length(usize),
    /// The key holds a character outside `[A-Za-z0-9._~/-]`.
    #[error("key holds {0:?}; keys use only A-Z a-z 0-9 . _ ~ / -")]
    Character(char),
}

/// Checks a document key: 1 to 256 bytes of `[A-Za-z0-9._~/-]` (URL-safe, so a key is
/// its own path segment; `/` lets keys nest, as in `carts/user-42`).
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() || key.len() > KEY_BYTES_MAX {
        return Err(KeyError::Length(key.len()));
    }
    match key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '/' | '-')))
    {
        Some(c) => Err(KeyError::Character(c)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert_eq!(validate_key("carts/user-42"), Ok(()));
        assert_eq!(validate_key("a.b_c~d"), Ok(()));
        assert_eq!(validate_key(""), Err(KeyError::Length(0)));
        assert_eq!(validate_key(&"k".repeat(257)), Err(KeyError::Length(257)));
        assert_eq!(validate_key("a b"), Err(KeyError::Character(' ')));
        assert_eq!(validate_key("é"), Err(KeyError::Character('é')));
    }
}
