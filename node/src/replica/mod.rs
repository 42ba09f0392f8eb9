//! The replica core: one node's documents, version vector, clock and delta log over a
//! [`Store`], as a sans-IO state machine.
//!
//! Every input carries `now` (the caller's wall clock, fed to the HLC); nothing here
//! reads a clock, spawns, or waits. Changes are staged in memory and become durable,
//! and acknowledgeable, only at the next [`Replica::sync`], which writes everything
//! staged since the last one as one atomic store batch and syncs it once (group
//! commit). Deltas leave the node only after that sync too, so a crash can never take
//! back a write that a client or a peer has seen.
//!
//! Restart: [`Replica::open`] reads the version vector, the HLC high-water mark and the
//! pruning point from the store. The next local dot follows the highest local dot in the
//! version vector, and the clock resumes above the high-water mark written with the last
//! durable write; writes lost in a crash were never acknowledged nor sent, so their dots
//! and timestamps may be reused.

mod cache;
mod changes;
mod receipts;
mod remote;
mod serve;
mod staged;

pub use changes::Changes;
pub use receipts::Retry;
pub use remote::{Applied, ApplyError};
pub use serve::{CatchUp, SnapshotPage};
pub(crate) use staged::decode_stored;
#[cfg(test)]
pub(crate) use staged::encode_stored;

use std::time::Duration;

use lattice_crdt::{
    codec, DocLimits, Document, Hlc, NodeId, Op, OpError, VersionVector, MAX_DRIFT_DEFAULT, NTP64,
};
use serde_json::Value;
use thiserror::Error;

use crate::key::{validate_key, KeyError};
use crate::log::LogRecord;
use crate::store::{MetaKey, ReceiptId, Store, StoreError};
use crate::token::SessionToken;
use cache::DocCache;
use receipts::Receipt;
use staged::{load, Staged};

/// Settings of a replica. Defaults suit interactive apps.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    /// How far ahead of the local clock a peer's timestamp may be (default 500 ms).
    /// Raise it only if node clocks are known to disagree by more.
    pub max_drift: Duration,
    /// Bounds on batches, fields and values.
    pub limits: DocLimits,
    /// Largest encoded document, in bytes (default 4 MiB). Writes past it are refused.
    pub doc_bytes_max: usize,
    /// Largest encoded log record accepted from a peer, in bytes (default 4 MiB).
    pub record_bytes_max: usize,
    /// How long a write's receipt answers its retries (default 24 h of wall-clock time;
    /// see [`Replica::write_once`]). Receipts take disk space for this long.
    pub retry_window: Duration,
    /// Decoded documents kept in memory between syncs, bounded by their encoded size
    /// (default 32 MiB; decoded, they take a few times that). A document written or
    /// merged into again is then not read back and decoded from the store. 0 turns the
    /// cache off.
    pub doc_cache_bytes: usize,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig {
            max_drift: MAX_DRIFT_DEFAULT,
            limits: DocLimits::default(),
            doc_bytes_max: 4 << 20,
            record_bytes_max: 4 << 20,
            retry_window: Duration::from_secs(24 * 60 * 60),
            doc_cache_bytes: 32 << 20,
        }
    }
}

/// Identifies a staged write; tickets increase with every write from 1. Ticket 0 is
/// a replayed answer that was durable before this replica was opened.
pub type Ticket = u64;

/// A staged write: acknowledge it (with `view` and `token`) once a sync covers `ticket`.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The write's place in the group-commit order (for a replayed answer, the first
    /// attempt's).
    pub ticket: Ticket,
    /// The document's JSON view after the write.
    pub view: Value,
    /// The session's token after the write: it covers the write.
    pub token: SessionToken,
    /// Whether this is the stored answer of an earlier attempt of the same write
    /// ([`Replica::write_once`]), which applied nothing now.
    pub replayed: bool,
}

/// What a sync made durable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Synced {
    /// Every write with a ticket up to this one is durable (`None`: no write yet).
    pub durable_through: Option<Ticket>,
    /// The local write batches made durable by this sync, in order, ready to send.
    pub records: Vec<LogRecord>,
    /// The documents this sync changed (by local writes, records from peers, or
    /// anti-entropy repairs), in key order.
    pub changed: Vec<String>,
}

/// A read's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Read {
    /// The document's JSON view; `None` if it does not exist (or is deleted).
    pub view: Option<Value>,
    /// The session's token after the read.
    pub token: SessionToken,
    /// Whether the document has writes not yet durable: a reader that must never see
    /// state a crash could take back waits for the next sync before answering.
    pub pending: bool,
}

/// Why a write was refused. Nothing changed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The key is not a valid document key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The batch is invalid for this document.
    #[error(transparent)]
    Op(#[from] OpError),
    /// This replica does not yet hold the session's causal past; retry later or elsewhere.
    #[error("this replica has not yet seen the session's past")]
    SessionNotReady,
    /// Peers hold writes of this node that its own store lacks (its disk lost synced
    /// data): writing now would reuse their dots. Anti-entropy brings them back; retry
    /// then.
    #[error(
        "this node's store lacks its own writes up to #{held_elsewhere} that peers hold (it has \
         #{have}); it takes writes again once they are repaired"
    )]
    OwnWritesMissing {
        /// The highest own sequence number here.
        have: u64,
        /// The highest own sequence number a peer holds.
        held_elsewhere: u64,
    },
    /// The retry id was first used for a different request; nothing was applied.
    #[error("this retry id was first used for a different request")]
    RetryMismatch,
    /// The document would exceed [`ReplicaConfig::doc_bytes_max`].
    #[error("the document would be {bytes} bytes; at most {max} are allowed")]
    DocumentTooLarge {
        /// Its encoded size after the write.
        bytes: usize,
        /// The bound.
        max: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a read was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The key is not a valid document key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// This replica does not yet hold the session's causal past; retry later or elsewhere.
    #[error("this replica has not yet seen the session's past")]
    SessionNotReady,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One node's replica. See the module doc.
#[derive(Debug)]
pub struct Replica<S> {
    store: S,
    node: NodeId,
    hlc: Hlc,
    /// Every dot applied here; staged, cached and stored documents are kept relative
    /// to it (see the `staged` module doc).
    vv: VersionVector,
    /// The dots of the vector whose records the log does not hold: those pruned, and
    /// those a snapshot brought (it carries documents, not records). A peer or a
    /// client lacking one of them gets a snapshot or a fresh listing instead.
    pruned: VersionVector,
    config: ReplicaConfig,
    staged: Staged,
    /// What the last syncs wrote, decoded.
    cache: DocCache,
    next_ticket: Ticket,
    /// Where the next [`Replica::expire_receipts`] sweep starts.
    receipt_cursor: Option<ReceiptId>,
    /// The highest sequence number of this node's own dots that a peer holds.
    own_elsewhere: u64,
}

impl<S: Store> Replica<S> {
    /// Opens the replica kept in `store`, resuming where its last durable write left it.
    pub fn open(store: S, config: ReplicaConfig) -> Result<Replica<S>, StoreError> {
        let node = store.node();
        let vv = read_meta_vv(&store, MetaKey::VersionVector)?;
        let pruned = read_meta_vv(&store, MetaKey::Pruned)?;
        let high_water = match store.meta(MetaKey::HlcHighWater)? {
            None => NTP64(0),
            Some(bytes) => NTP64(u64::from_be_bytes(bytes.as_slice().try_into().map_err(
                |_| StoreError::Corrupt("HLC high-water mark is not 8 bytes".into()),
            )?)),
        };
        Ok(Replica {
            hlc: Hlc::resume(node, config.max_drift, high_water),
            store,
            node,
            vv,
            pruned,
            cache: DocCache::new(config.doc_cache_bytes),
            config,
            staged: Staged::default(),
            next_ticket: 1,
            receipt_cursor: None,
            own_elsewhere: 0,
        })
    }

    /// This replica's node.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Every dot this replica has applied.
    pub fn version_vector(&self) -> &VersionVector {
        &self.vv
    }

    /// The store underneath (the simulator crashes it).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Hands the store back, dropping everything not yet synced, as a crash would (a
    /// restart reopens it).
    pub fn into_store(self) -> S {
        self.store
    }

    /// The local writes staged since the last sync, oldest first.
    pub fn unsynced_records(&self) -> impl Iterator<Item = &LogRecord> + '_ {
        self.staged.records()
    }

    /// The version vector of what the store holds: as of the last sync, without the
    /// changes staged since.
    pub fn stored_version(&self) -> Result<VersionVector, StoreError> {
        read_meta_vv(&self.store, MetaKey::VersionVector)
    }

    /// Whether this replica's state includes the session's causal past.
    pub fn can_serve(&self, token: &SessionToken) -> bool {
        self.vv.includes(token.past())
    }

    /// The document under `key` (staged or stored), its context completed with the
    /// version vector.
    pub fn document(&self, key: &str) -> Result<Document, StoreError> {
        let mut doc = match self.staged.doc(key).or_else(|| self.cache.get(key)) {
            Some(doc) => doc.clone(),
            None => load(&self.store, &self.vv, key)?.0,
        };
        doc.extend_context(&self.vv);
        Ok(doc)
    }

    /// Reads a document for a session.
    pub fn read(&self, key: &str, session: Option<&SessionToken>) -> Result<Read, ReadError> {
        validate_key(key)?;
        if session.is_some_and(|t| !self.can_serve(t)) {
            return Err(ReadError::SessionNotReady);
        }
        let doc = self.document(key)?;
        Ok(Read {
            view: (!doc.is_bottom()).then(|| doc.to_json()),
            token: self.token_after(session),
            pending: self.staged.is_changed(key),
        })
    }

    /// Notes a peer's version vector (from its anti-entropy digest). If it holds dots of
    /// this node that this replica lacks — its store went back in time, as sled may after
    /// damage — local writes are refused ([`WriteError::OwnWritesMissing`]) until those
    /// dots are back, so that no dot is ever reused for a different write.
    pub fn note_peer_version(&mut self, peer: &VersionVector) {
        self.own_elsewhere = self.own_elsewhere.max(peer.max_seq(self.node));
    }

    /// Validates and stages a batch of ops on one document. Acknowledge it once
    /// [`sync`](Replica::sync) reports its ticket durable.
    pub fn write(
        &mut self,
        now: NTP64,
        key: &str,
        ops: &[Op],
        session: Option<&SessionToken>,
    ) -> Result<Written, WriteError> {
        validate_key(key)?;
        if session.is_some_and(|t| !self.can_serve(t)) {
            return Err(WriteError::SessionNotReady);
        }
        let have = self.vv.max_seq(self.node);
        if have < self.own_elsewhere {
            return Err(WriteError::OwnWritesMissing {
                have,
                held_elsewhere: self.own_elsewhere,
            });
        }
        let entry = self
            .staged
            .entry(&self.store, &mut self.cache, &self.vv, key)?;
        entry.doc.validate(self.node, ops, &self.config.limits)?;
        let bytes = entry.bytes + ops_bytes_estimate(ops);
        if bytes > self.config.doc_bytes_max {
            return Err(WriteError::DocumentTooLarge {
                bytes,
                max: self.config.doc_bytes_max,
            });
        }
        let first = self.vv.next_dot(self.node);
        let count = ops.len() as u64;
        let delta = entry.doc.apply(ops, first, self.hlc.tick(now));
        entry.bytes = bytes;
        entry.changed = true;
        let view = entry.doc.to_json();
        self.vv
            .insert_range(self.node, first.seq..=first.seq + count - 1);
        self.staged.push_local(LogRecord {
            first,
            count,
            key: key.to_owned(),
            delta,
        });
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        Ok(Written {
            ticket,
            view,
            token: self.token_after(session),
            replayed: false,
        })
    }

    /// [`write`](Replica::write) that a client may retry: the first attempt stages a
    /// receipt with the write (durable together); a later attempt with the same
    /// `retry.id` within [`ReplicaConfig::retry_window`] answers the first attempt's
    /// view and token and applies nothing, or fails with [`WriteError::RetryMismatch`]
    /// if its request differs. See the `receipts` module doc.
    pub fn write_once(
        &mut self,
        now: NTP64,
        key: &str,
        ops: &[Op],
        session: Option<&SessionToken>,
        retry: &Retry,
    ) -> Result<Written, WriteError> {
        if let Some((ticket, receipt)) = self.receipt(now, &retry.id)? {
            if receipt.request != retry.request {
                return Err(WriteError::RetryMismatch);
            }
            let view = serde_json::from_str(&receipt.view)
                .map_err(|e| StoreError::Corrupt(format!("write receipt view: {e}")))?;
            let mut token = SessionToken::new(receipt.past);
            if let Some(past) = session {
                token.merge(past);
            }
            return Ok(Written {
                ticket,
                view,
                token,
                replayed: true,
            });
        }
        let written = self.write(now, key, ops, session)?;
        let receipt = Receipt {
            at: now.0,
            request: retry.request,
            view: written.view.to_string(),
            past: written.token.past().clone(),
        };
        self.staged
            .put_receipt(retry.id, written.ticket, codec::encode(&receipt));
        Ok(written)
    }

    /// The live receipt under `id` (staged or stored) and the ticket of its write.
    fn receipt(&self, now: NTP64, id: &ReceiptId) -> Result<Option<(Ticket, Receipt)>, StoreError> {
        let (ticket, receipt) = match self.staged.receipt(id) {
            Some(None) => return Ok(None),
            Some(Some((ticket, bytes))) => (*ticket, Receipt::decode(bytes)?),
            None => match self.store.receipt(id)? {
                None => return Ok(None),
                Some(bytes) => (0, Receipt::decode(&bytes)?),
            },
        };
        let live = !receipt.expired(now, self.config.retry_window);
        Ok(live.then_some((ticket, receipt)))
    }

    /// Stages the deletion of expired receipts among the next `limit` stored ones
    /// (the sweep goes round the table, one bounded step per call). Answers how many it
    /// staged: if any, a [`sync`](Replica::sync) writes the deletions. A receipt that
    /// cannot be decoded could never answer a retry, so it goes too.
    pub fn expire_receipts(&mut self, now: NTP64, limit: usize) -> Result<usize, StoreError> {
        let page = self
            .store
            .receipts_after(self.receipt_cursor.as_ref(), limit)?;
        self.receipt_cursor = page
            .last()
            .map(|(id, _)| *id)
            .filter(|_| page.len() >= limit);
        let mut expired = 0;
        for (id, bytes) in page {
            if self.staged.receipt(&id).is_some() {
                continue; // changed this round
            }
            let dead =
                Receipt::decode(&bytes).map_or(true, |r| r.expired(now, self.config.retry_window));
            if dead {
                self.staged.delete_receipt(id);
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Makes every staged write durable; returns what may now be acknowledged and sent.
    pub fn sync(&mut self) -> Result<Synced, StoreError> {
        let staged = std::mem::take(&mut self.staged);
        let meta = self.meta(staged.moves_pruned());
        let (batch, records, written) = staged.into_batch(&self.vv, meta);
        let changed = batch.docs.iter().map(|(key, _)| key.clone()).collect();
        if batch.is_empty() {
            self.store.sync()?;
        } else {
            self.store.write_synced(batch)?;
        }
        for (key, doc, bytes) in written {
            self.cache.put(key, doc, bytes);
        }
        Ok(Synced {
            durable_through: (self.next_ticket > 1).then(|| self.next_ticket - 1),
            records,
            changed,
        })
    }

    /// The metadata a sync writes: the version vector and the clock's high-water mark
    /// always, the dots without records when the sync `moves_pruned` (pruning the log,
    /// or adopting a snapshot).
    fn meta(&self, moves_pruned: bool) -> Vec<(MetaKey, Vec<u8>)> {
        // A few bytes per range of the vector: one buffer, no regrowth.
        let vv_bytes = 16 + 8 * self.vv.range_count();
        let mut meta = vec![
            (
                MetaKey::VersionVector,
                codec::encode_sized(&self.vv, vv_bytes),
            ),
            (
                MetaKey::HlcHighWater,
                self.hlc.high_water().0.to_be_bytes().to_vec(),
            ),
        ];
        if moves_pruned {
            meta.push((MetaKey::Pruned, codec::encode(&self.pruned)));
        }
        meta
    }

    /// The token a session holds after an operation here: its past and all of ours.
    fn token_after(&self, session: Option<&SessionToken>) -> SessionToken {
        let mut token = SessionToken::new(self.vv.clone());
        if let Some(past) = session {
            token.merge(past);
        }
        token
    }
}

/// An upper bound on how much a batch can grow a document's encoding.
fn ops_bytes_estimate(ops: &[Op]) -> usize {
    ops.iter()
        .map(|op| {
            let value = match op {
                Op::Add { value, .. } | Op::Remove { value, .. } | Op::Set { value, .. } => {
                    value.as_str().len()
                }
                _ => 0,
            };
            op.field().map_or(0, str::len) + value + 64
        })
        .sum()
}

fn read_meta_vv<S: Store>(store: &S, key: MetaKey) -> Result<VersionVector, StoreError> {
    match store.meta(key)? {
        None => Ok(VersionVector::new()),
        Some(bytes) => codec::decode(&bytes, usize::MAX)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", key.name()))),
    }
}
