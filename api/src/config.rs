//! What an operator sets: limits, waits, tokens.

use std::num::NonZeroUsize;
use std::time::Duration;

/// What a bearer token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read documents, list them, follow their changes.
    Read,
    /// Everything `Read` allows, plus writes and deletes.
    Write,
}

/// One bearer token and what it may touch.
#[derive(Clone, Debug)]
pub struct TokenRule {
    /// The secret, as sent in `Authorization: Bearer <token>`.
    pub token: String,
    /// What it may do.
    pub scope: Scope,
    /// Key prefixes it covers; `""` covers every key. Cluster, metrics and listing
    /// need a rule whose prefix covers the request (listing: the requested prefix).
    pub prefixes: Vec<String>,
}

/// Settings of the HTTP API.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Bearer tokens. Empty: every request is allowed (bind loopback only then).
    pub tokens: Vec<TokenRule>,
    /// Largest request body, in bytes (default 1 MiB). Larger bodies get 413
    /// `too_large` before they are read in full.
    pub body_bytes_max: usize,
    /// Longest a request carrying a `Lattice-Session` waits for this node to include
    /// the session (default 2 s). Longer waits ride out more replication lag but hold
    /// connections open; clients retry elsewhere after a 503.
    pub read_wait_max: Duration,
    /// Largest page of `GET /v1/docs` (default 1,000); also the default `limit`.
    pub page_len_max: NonZeroUsize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            tokens: Vec::new(),
            body_bytes_max: 1024 * 1024,
            read_wait_max: Duration::from_millis(2000),
            page_len_max: NonZeroUsize::new(1000).expect("non-zero"),
        }
    }
}
