//! `Idempotency-Key` on writes: the header becomes the node's [`Retry`], whose durable
//! receipt makes a repeat answer the first result and apply nothing again, also after
//! the node restarted (see `lattice_node::Replica::write_once`).
//!
//! The retry id is a SHA-256 digest of the caller's credentials, the document key and
//! the `Idempotency-Key`, so two callers (or two documents) never share a key by
//! accident and no secret is stored; the request fingerprint is a SHA-256 digest of the
//! body, so a key reused for a different request is refused (`idempotency_mismatch`).

use axum::http::{header, HeaderMap, HeaderName};
use lattice_node::Retry;
use ring::digest::{Context, SHA256};

use crate::problem::Problem;

/// The header naming a write's retry identity.
const IDEMPOTENCY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// Longest `Idempotency-Key` (or sync change id), in bytes.
pub(crate) const IDEMPOTENCY_KEY_BYTES_MAX: usize = 256;

/// Tells the digests of this scheme from any other.
const DOMAIN: &[u8] = b"lattice idempotency v1";

/// The retry identity of a POST to document `key` with `body`, if it carries an
/// `Idempotency-Key`.
pub(crate) fn retry(headers: &HeaderMap, key: &str, body: &[u8]) -> Result<Option<Retry>, Problem> {
    let Some(value) = headers.get(&IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let idem = match value.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= IDEMPOTENCY_KEY_BYTES_MAX => k,
        _ => {
            return Err(Problem::bad_request(
                "invalid_value",
                format!(
                "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_BYTES_MAX} visible ASCII characters"
            ),
            ))
        }
    };
    Ok(Some(retry_for(headers, key, idem, body)))
}

/// The retry identity of write `idem` by the caller of `headers` to document `key`,
/// whose request is `body`. `Idempotency-Key`s and the change ids of `POST /v1/sync`
/// share this one namespace per caller and document.
pub(crate) fn retry_for(headers: &HeaderMap, key: &str, idem: &str, body: &[u8]) -> Retry {
    let credentials = headers
        .get(header::AUTHORIZATION)
        .map_or(&[][..], |v| v.as_bytes());
    Retry {
        id: digest(&[DOMAIN, credentials, key.as_bytes(), idem.as_bytes()]),
        request: digest(&[DOMAIN, body]),
    }
}

/// SHA-256 of `parts`, each prefixed by its length so that no two lists collide.
fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut context = Context::new(&SHA256);
    for part in parts {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    context
        .finish()
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(idem: &str, auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(IDEMPOTENCY_HEADER, HeaderValue::from_str(idem).unwrap());
        if let Some(auth) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        }
        h
    }

    #[test]
    fn the_id_depends_on_caller_document_and_key_and_the_fingerprint_on_the_body() {
        let id = |idem, auth, key| retry(&headers(idem, auth), key, b"{}").unwrap().unwrap().id;
        let base = id("a", None, "k");
        assert_eq!(base, id("a", None, "k"), "stable");
        assert_ne!(base, id("b", None, "k"));
        assert_ne!(base, id("a", Some("Bearer t"), "k"));
        assert_ne!(base, id("a", None, "k2"));
        // Length prefixes: moving a byte between parts changes the digest.
        assert_ne!(id("ab", None, "k"), id("b", None, "ka"));
        let request = |body: &[u8]| {
            retry(&headers("a", None), "k", body)
                .unwrap()
                .unwrap()
                .request
        };
        assert_eq!(request(b"x"), request(b"x"));
        assert_ne!(request(b"x"), request(b"y"));
        assert_eq!(retry(&HeaderMap::new(), "k", b"").unwrap(), None);
        assert!(retry(&headers(&"x".repeat(257), None), "k", b"").is_err());
    }
}
