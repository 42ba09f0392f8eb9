//! Write receipts: what the replica answered a write its client may retry.
//!
//! A client that times out cannot tell a lost request from a lost answer, so it retries;
//! for an increment, applying the retry again would count twice. A write that carries a
//! [`Retry`] leaves a receipt (its answer, the request's fingerprint and when it was
//! written) under the retry's id, staged in the same group-commit batch as the write
//! itself: the receipt is durable exactly when the write is, so a retry after a crash or
//! restart finds it whenever the first attempt was acknowledged. A retry whose id has a
//! receipt gets the first answer and applies nothing; one whose fingerprint differs is
//! refused ([`WriteError::RetryMismatch`](super::WriteError::RetryMismatch)).
//!
//! Receipts are local to the node (a retry sent to another node is a new write: the
//! client chose another node, and its id means nothing there) and kept for
//! [`ReplicaConfig::retry_window`](super::ReplicaConfig::retry_window) of wall-clock
//! time: an older one is ignored by lookups and deleted by
//! [`Replica::expire_receipts`](super::Replica::expire_receipts), a bounded sweep the
//! node core runs every second.

use std::time::Duration;

use lattice_crdt::{codec, VersionVector, NTP64};
use serde::{Deserialize, Serialize};

use crate::store::{ReceiptId, StoreError};

/// A write's retry identity, chosen by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Names the write across retries (the API hashes the caller, the document and its
    /// `Idempotency-Key`).
    pub id: ReceiptId,
    /// A digest of the request, so that reusing an id for another request is caught.
    pub request: [u8; 32],
}

/// A stored receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Receipt {
    /// When it was written (NTP64 wall-clock time).
    pub(super) at: u64,
    /// [`Retry::request`] of the first attempt.
    pub(super) request: [u8; 32],
    /// The document's JSON view answered, as text.
    pub(super) view: String,
    /// The causal past of the answered session token.
    pub(super) past: VersionVector,
}

/// Longest encoded receipt read back (a view is bounded by the document size limit).
const RECEIPT_BYTES_MAX: usize = 64 << 20;

impl Receipt {
    pub(super) fn decode(bytes: &[u8]) -> Result<Receipt, StoreError> {
        codec::decode(bytes, RECEIPT_BYTES_MAX)
            .map_err(|e| StoreError::Corrupt(format!("write receipt: {e}")))
    }

    /// Whether the receipt is older than `window` at `now`.
    pub(super) fn expired(&self, now: NTP64, window: Duration) -> bool {
        now.to_duration()
            .saturating_sub(NTP64(self.at).to_duration())
            >= window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_expires_after_the_window_and_not_when_the_clock_goes_back() {
        let at = NTP64::from(Duration::from_secs(1_000));
        let receipt = Receipt {
            at: at.0,
            request: [0; 32],
            view: "{}".into(),
            past: VersionVector::new(),
        };
        let later = |secs: u64| NTP64::from(Duration::from_secs(1_000 + secs));
        let window = Duration::from_secs(60);
        assert!(!receipt.expired(at, window));
        assert!(!receipt.expired(later(59), window));
        assert!(receipt.expired(later(60), window));
        assert!(!receipt.expired(NTP64::from(Duration::from_secs(10)), window));
        let bytes = codec::encode(&receipt);
        assert_eq!(Receipt::decode(&bytes).unwrap(), receipt);
        assert!(matches!(
            Receipt::decode(&bytes[..bytes.len() - 1]),
            Err(StoreError::Corrupt(_))
        ));
    }
}
