//! Bearer tokens with a read or write scope over key prefixes.

use axum::http::{header, HeaderMap, StatusCode};

use crate::config::{Scope, TokenRule};
use crate::problem::Problem;

/// Checks that the request's bearer token allows `scope` on every key starting with
/// `prefix` (a document key is its own prefix). With no rules, everything is allowed.
pub(crate) fn authorize(
    rules: &[TokenRule],
    headers: &HeaderMap,
    scope: Scope,
    prefix: &str,
) -> Result<(), Problem> {
    if rules.is_empty() {
        return Ok(());
    }
    let unauthorized = |detail| Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail);
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("send Authorization: Bearer <token>"))?;
    let rule = rules
        .iter()
        .find(|r| same_secret(r.token.as_bytes(), presented.as_bytes()))
        .ok_or_else(|| unauthorized("unknown token"))?;
    let covered = rule.scope >= scope && rule.prefixes.iter().any(|p| prefix.starts_with(p));
    if covered {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token may not {scope:?} keys starting with {prefix:?}"),
        ))
    }
}

/// Compares secrets in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
