//! Where a replica keeps its state: documents, the delta log and metadata.
//!
//! A [`Store`] is a small, synchronous key-value interface with two promises:
//!
//! - [`Store::write`] applies a [`WriteBatch`] atomically: after a crash either all of
//!   it or none of it is there. Reads see it at once.
//! - [`Store::sync`] makes every batch written so far durable: once it returns, a crash
//!   (process kill, OS crash, power loss) loses none of them.
//!
//! What survives a crash is always a prefix of the batches in the order they were
//! written, each whole or not at all. After an `Io` error from `write` or `sync` the
//! store refuses further calls until it is reopened (a failed fsync may have dropped
//! dirty pages, so retrying it could falsely succeed).
//!
//! The replica acknowledges a write only after a `sync` that covers it, and one `sync`
//! covers any number of batches: that is group commit.
//!
//! Two implementations: [`SledStore`] on disk for production, and [`MemStore`] in memory
//! for tests and the simulator, which models a crash by dropping what was not synced.

#[cfg(test)]
mod contract_tests;
mod mem;
mod sled_store;

pub use mem::{MemStore, RecordPool};
pub use sled_store::SledStore;

use std::sync::Arc;

use lattice_crdt::{Dot, NodeId};
use thiserror::Error;

/// The version of the on-disk layout. Opening a store with another version is an error.
///
/// 2: documents are stored relative to the stored version vector (their context holds
/// only the dots the vector lacks). 1: documents held their whole context.
pub const STORE_FORMAT_VERSION: u32 = 2;

/// Why a store operation failed. A failed `write` applied nothing; a failed `sync`
/// leaves earlier batches written but not known to be durable.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store was written by a layout version this build does not read.
    #[error("store format version {found} is not supported (this build reads version {expected})")]
    UnsupportedFormat {
        /// The version found in the store.
        found: u32,
        /// The version this build reads and writes.
        expected: u32,
    },
    /// The store belongs to another node.
    #[error("store belongs to node {found}, not {expected}")]
    WrongNode {
        /// The node id recorded in the store.
        found: NodeId,
        /// The node id the caller opened it as.
        expected: NodeId,
    },
    /// Stored bytes are not what this build wrote.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The disk or the storage engine failed.
    #[error("storage I/O failed: {0}")]
    Io(String),
}

/// The id of a write receipt: a 32-byte digest chosen by the caller.
pub type ReceiptId = [u8; 32];

/// Named metadata values the replica keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MetaKey {
    /// The replica's version vector (encoded).
    VersionVector,
    /// The HLC high-water mark (8 bytes, big-endian NTP64).
    HlcHighWater,
    /// The dots whose records the log does not hold: pruned, or brought by a snapshot
    /// (an encoded version vector).
    Pruned,
}

impl MetaKey {
    /// The key's name in the store.
    pub fn name(self) -> &'static str {
        match self {
            MetaKey::VersionVector => "version_vector",
            MetaKey::HlcHighWater => "hlc_high_water",
            MetaKey::Pruned => "pruned",
        }
    }
}

/// Changes applied together by [`Store::write`]: all or nothing. Within a batch they
/// apply in this order: documents, log puts, log deletes, metadata, receipts; a later
/// change to the same key wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// Documents to put (`Some(bytes)`) or delete (`None`), by key.
    pub docs: Vec<(String, Option<Vec<u8>>)>,
    /// Delta-log records to put, each under the first dot of its batch. Shared: a
    /// record received is the same bytes as the payload that brought it.
    pub log: Vec<(Dot, Arc<[u8]>)>,
    /// Delta-log records to delete.
    pub log_deletes: Vec<Dot>,
    /// Metadata to put.
    pub meta: Vec<(MetaKey, Vec<u8>)>,
    /// Write receipts to put (`Some(bytes)`) or delete (`None`), by id: what the
    /// replica answered a write that may be retried (node-local, never replicated).
    pub receipts: Vec<(ReceiptId, Option<Vec<u8>>)>,
}

impl WriteBatch {
    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
            && self.log.is_empty()
            && self.log_deletes.is_empty()
            && self.meta.is_empty()
            && self.receipts.is_empty()
    }
}

/// A replica's storage. See the module doc for the atomicity and durability promises.
pub trait Store {
    /// The node this store belongs to (fixed when it was created).
    fn node(&self) -> NodeId;

    /// A document's bytes, if it exists.
    fn doc(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` documents with keys greater than `after` (or from the first key),
    /// in key order, whose keys start with `prefix`.
    fn docs_after(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// The log record stored under the greatest dot of `origin` that is at most `seq`.
    fn log_floor(&self, origin: NodeId, seq: u64) -> Result<Option<(Dot, Vec<u8>)>, StoreError>;

    /// Up to `limit` log records of `origin` stored under sequence numbers `from..=to`,
    /// in order.
    fn log_range(
        &self,
        origin: NodeId,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<(Dot, Vec<u8>)>, StoreError>;

    /// A metadata value.
    fn meta(&self, key: MetaKey) -> Result<Option<Vec<u8>>, StoreError>;

    /// The write receipt stored under `id`.
    fn receipt(&self, id: &ReceiptId) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` receipts with ids greater than `after` (or from the first), in id
    /// order.
    fn receipts_after(
        &self,
        after: Option<&ReceiptId>,
        limit: usize,
    ) -> Result<Vec<(ReceiptId, Vec<u8>)>, StoreError>;

    /// Applies `batch` atomically (see the module doc). Not yet durable.
    fn write(&mut self, batch: WriteBatch) -> Result<(), StoreError>;

    /// Makes every batch written so far durable.
    fn sync(&mut self) -> Result<(), StoreError>;

    /// [`write`](Store::write) then [`sync`](Store::sync), which a store may do in one
    /// step (a group commit writes and syncs back to back).
    fn write_synced(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        self.write(batch)?;
        self.sync()
    }

    /// A handle that reads documents from other threads, if this store has one (the
    /// networked runtime serves reads through it without a call into its thread).
    fn doc_reader(&self) -> Option<Arc<dyn DocReader>> {
        None
    }
}

/// Reads a store's documents from any thread, while its owner goes on writing. It sees
/// every batch written, synced or not: its user must know that none is unsynced (the
/// runtime's read gate does).
pub trait DocReader: Send + Sync {
    /// A document's bytes, if it exists.
    fn doc(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// The log key of a dot: origin then sequence, both big-endian, so byte order is dot order.
pub(crate) fn log_key(dot: Dot) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&dot.origin.get().to_be_bytes());
    key[8..].copy_from_slice(&dot.seq.to_be_bytes());
    key
}

/// The dot of a log key, or `None` if the key is not one [`log_key`] made.
pub(crate) fn dot_of_log_key(key: &[u8]) -> Option<Dot> {
    let key: &[u8; 16] = key.try_into().ok()?;
    let origin = NodeId::new(u64::from_be_bytes(key[..8].try_into().ok()?))?;
    Some(Dot::new(
        origin,
        u64::from_be_bytes(key[8..].try_into().ok()?),
    ))
}
