//! Serving peers: what this replica has that a peer lacks, as log records or, when the
//! log lacks records the peer needs (pruned, or never held: a snapshot brought their
//! dots), as a snapshot; and pruning the log.

use lattice_crdt::{codec, Dot, DotRange, NodeId, VersionVector};

use super::staged::decode_stored;
use super::Replica;
use crate::log::LogRecord;
use crate::store::{Store, StoreError};

/// What a peer needs to catch up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatchUp {
    /// Encoded log records the peer lacks: per origin, the stored ones oldest first,
    /// then those from peers staged since the last sync.
    Records {
        /// The records (send as they are; [`Replica::apply_remote`] takes them).
        records: Vec<Vec<u8>>,
        /// `false` when the bound cut the answer short: ask again with the new vector.
        complete: bool,
    },
    /// The log no longer holds everything the peer lacks: it needs a snapshot
    /// ([`Replica::snapshot_page`]).
    SnapshotNeeded,
}

/// One page of a snapshot: full documents in key order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotPage {
    /// Encoded documents, by key.
    pub docs: Vec<(String, Vec<u8>)>,
    /// The cursor for the next page (the last key of this one), or `None` at the end.
    pub next: Option<String>,
}

impl<S: Store> Replica<S> {
    /// The log records `peer` lacks, at most `records_max` of them.
    pub fn catch_up(
        &self,
        peer: &VersionVector,
        records_max: usize,
    ) -> Result<CatchUp, StoreError> {
        self.catch_up_except(peer, records_max, &|_| false)
    }

    /// Like [`catch_up`](Replica::catch_up), leaving out the records whose first dot
    /// `withhold` names (an answer is `complete` without them): anti-entropy leaves the
    /// records that dissemination is still pushing to it.
    pub fn catch_up_except(
        &self,
        peer: &VersionVector,
        records_max: usize,
        withhold: &dyn Fn(Dot) -> bool,
    ) -> Result<CatchUp, StoreError> {
        self.records_for(peer, records_max, withhold, false)
    }

    /// The records `peer` lacks (see [`catch_up_except`](Replica::catch_up_except));
    /// with `own_staged`, also this node's own records staged since the last sync, for
    /// an answer that waits for that sync.
    pub(super) fn records_for(
        &self,
        peer: &VersionVector,
        records_max: usize,
        withhold: &dyn Fn(Dot) -> bool,
        own_staged: bool,
    ) -> Result<CatchUp, StoreError> {
        let missing = peer.missing_ranges(&self.vv);
        if missing.iter().any(|r| self.pruned.count_in(*r) > 0) {
            return Ok(CatchUp::SnapshotNeeded);
        }
        let mut records = Vec::new();
        for range in missing {
            if !self.collect_range(range, records_max, withhold, own_staged, &mut records)? {
                return Ok(CatchUp::Records {
                    records,
                    complete: false,
                });
            }
        }
        Ok(CatchUp::Records {
            records,
            complete: true,
        })
    }

    /// Appends the records covering `range` to `out`, but those `withhold` names (and
    /// this node's own staged ones unless `own_staged`); `false` once `out` is full.
    fn collect_range(
        &self,
        range: DotRange,
        records_max: usize,
        withhold: &dyn Fn(Dot) -> bool,
        own_staged: bool,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<bool, StoreError> {
        // A batch that began before the range may still cover its start.
        if let Some((dot, bytes)) = self.store.log_floor(range.origin, range.first)? {
            if dot.seq < range.first && !withhold(dot) && record_last(&bytes)? >= range.first {
                if out.len() == records_max {
                    return Ok(false);
                }
                out.push(bytes);
            }
        }
        let mut from = range.first;
        while from <= range.last {
            let room = records_max - out.len();
            if room == 0 {
                return Ok(false);
            }
            let page = self.store.log_range(range.origin, from, range.last, room)?;
            let Some((last, _)) = page.last() else { break };
            from = last.seq + 1;
            let kept = page.into_iter().filter(|(dot, _)| !withhold(*dot));
            out.extend(kept.map(|(_, bytes)| bytes));
        }
        // Records from peers that the next sync will store: durable at their origins
        // already (an origin sends its records only after its own sync), so a repair
        // passes on at once instead of after this node's commit delay. This node's own
        // records leave only once durable.
        if own_staged || range.origin != self.node() {
            for (first, bytes) in self.staged.log_meeting(range) {
                if withhold(first) {
                    continue;
                }
                if out.len() == records_max {
                    return Ok(false);
                }
                out.push(bytes.to_vec());
            }
        }
        Ok(true)
    }

    /// Up to `docs_max` documents with keys after `after`. A peer takes this replica's
    /// version vector first, then pages until `next` is `None`, merging each with
    /// [`Replica::apply_snapshot_page`], then calls [`Replica::finish_snapshot`] with that
    /// vector: every page holds at least what the vector promises.
    pub fn snapshot_page(
        &self,
        after: Option<&str>,
        docs_max: usize,
    ) -> Result<SnapshotPage, StoreError> {
        let stored = self.store.docs_after("", after, docs_max.max(1))?;
        let next = (stored.len() == docs_max.max(1)).then(|| stored[stored.len() - 1].0.clone());
        // Stored documents are relative to the stored version vector; a peer gets them
        // whole.
        let vv = self.stored_version()?;
        let mut docs = Vec::with_capacity(stored.len());
        for (key, bytes) in stored {
            let mut doc = decode_stored(&bytes, &vv, &key)?;
            doc.extend_context(&vv);
            docs.push((key, codec::encode(&doc)));
        }
        Ok(SnapshotPage { docs, next })
    }

    /// Deletes log records whose dots are all within `stable` (dots every live member
    /// has), at most `records_max` of them, at the next sync. Returns how many. Peers
    /// that still lack a pruned dot get a snapshot instead.
    pub fn prune_log(
        &mut self,
        stable: &VersionVector,
        records_max: usize,
    ) -> Result<usize, StoreError> {
        let mut deletes = Vec::new();
        let mut pruned = self.pruned.clone();
        let origins: Vec<NodeId> = stable.ranges().map(|r| r.origin).collect();
        for origin in origins {
            let cut = stable.prefix(origin).min(self.vv.prefix(origin));
            let from = pruned.prefix(origin) + 1;
            let room = records_max - deletes.len();
            for (dot, bytes) in self.store.log_range(origin, from, cut, room)? {
                let last = record_last(&bytes)?;
                if last > cut {
                    break;
                }
                deletes.push(dot);
                pruned.insert_range(origin, 1..=last);
            }
        }
        let count = deletes.len();
        self.staged.delete_log(deletes);
        self.pruned = pruned;
        Ok(count)
    }
}

/// The last dot's sequence number of a stored record.
fn record_last(bytes: &[u8]) -> Result<u64, StoreError> {
    let record: LogRecord = codec::decode(bytes, usize::MAX)
        .map_err(|e| StoreError::Corrupt(format!("log record: {e}")))?;
    Ok(record.dots().last)
}
