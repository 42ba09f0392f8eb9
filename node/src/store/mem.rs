//! An in-memory [`Store`] that loses what was not synced when it "crashes".
//!
//! The simulator and the replica's tests run on it. It keeps one copy of the contents,
//! which reads see, and for every batch written since the last [`Store::sync`] an undo
//! record: the values that batch replaced. A sync forgets the undo records;
//! [`MemStore::crash`] rolls every unsynced batch back, newest first;
//! [`MemStore::crash_keeping`] rolls back all but a prefix of them, as a real disk may
//! have persisted some of the unsynced writes before the crash (sled recovers a prefix
//! of its log, each batch whole or not at all). So a write moves its bytes in and a sync
//! copies nothing: a simulated cluster holds each node's data once. Everything it
//! hands out comes in order (`BTreeMap`s; the log's table of origins is only looked
//! into, never walked), nothing reads a clock or a random source, so a simulation
//! replays bit for bit.
//!
//! Every node of a cluster stores the same log records. Stores made with one
//! [`RecordPool`] ([`MemStore::with_pool`]) hold one copy of each: a simulated cluster
//! of 1,000 nodes then keeps each record once instead of 1,000 times.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, Weak};

use lattice_crdt::{Dot, NodeId};
use rustc_hash::FxHashMap;

use super::{MetaKey, ReceiptId, Store, StoreError, WriteBatch};

/// The contents of a store at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Contents {
    docs: BTreeMap<String, Vec<u8>>,
    log: Log,
    meta: BTreeMap<MetaKey, Vec<u8>>,
    receipts: BTreeMap<ReceiptId, Vec<u8>>,
}

/// The log records, by origin and then in order of their first dot's sequence number:
/// a record from a peer is filed under its origin's few records (one look up in a hash
/// table), not searched for among every origin's (a B-tree of thousands in a simulated
/// cluster's store, a cache miss per level). Only ever read one origin at a time.
///
/// An origin's records are a sorted double-ended queue, not a B-tree: records mostly
/// come in order and pruning takes the oldest, so both ends are where it changes, and
/// the few records of each of a thousand origins take one small buffer instead of a
/// tree node sized for eleven.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Log(FxHashMap<NodeId, OriginLog>);

/// One origin's records, by the sequence number of their first dot.
type OriginLog = VecDeque<(u64, Arc<[u8]>)>;

impl Log {
    /// Puts (`Some`) or removes (`None`) the record at `dot`, returning what was there.
    fn set(&mut self, dot: Dot, record: Option<Arc<[u8]>>) -> Option<Arc<[u8]>> {
        match record {
            Some(record) => {
                let records = self.0.entry(dot.origin).or_default();
                // In order, most often: then it goes last, without a search.
                if records.back().is_none_or(|(last, _)| *last < dot.seq) {
                    records.push_back((dot.seq, record));
                    return None;
                }
                match records.binary_search_by_key(&dot.seq, |(seq, _)| *seq) {
                    Ok(i) => Some(std::mem::replace(&mut records[i].1, record)),
                    Err(i) => {
                        records.insert(i, (dot.seq, record));
                        None
                    }
                }
            }
            None => {
                let records = self.0.get_mut(&dot.origin)?;
                let i = records
                    .binary_search_by_key(&dot.seq, |(seq, _)| *seq)
                    .ok()?;
                let (_, old) = records.remove(i).expect("found");
                if records.is_empty() {
                    self.0.remove(&dot.origin);
                }
                Some(old)
            }
        }
    }

    /// `origin`'s records from `from` to `to`, in order (none if `from > to`).
    fn range(
        &self,
        origin: NodeId,
        from: u64,
        to: u64,
    ) -> impl DoubleEndedIterator<Item = (Dot, &Arc<[u8]>)> + '_ {
        let records = self.0.get(&origin).filter(|_| from <= to);
        let (lo, hi) = records.map_or((0, 0), |r| {
            (
                r.partition_point(|(seq, _)| *seq < from),
                r.partition_point(|(seq, _)| *seq <= to),
            )
        });
        records
            .into_iter()
            .flat_map(move |records| records.range(lo..hi))
            .map(move |(seq, record)| (Dot::new(origin, *seq), record))
    }
}

/// What one batch replaced, in the order it changed things: `None` where a key was
/// absent. Undone in reverse, it restores the contents from before the batch.
#[derive(Clone, Debug, Default)]
struct Undo {
    docs: Vec<(String, Option<Vec<u8>>)>,
    log: Vec<(Dot, Option<Arc<[u8]>>)>,
    meta: Vec<(MetaKey, Option<Vec<u8>>)>,
    receipts: Vec<(ReceiptId, Option<Vec<u8>>)>,
}

/// Puts (`Some`) or removes (`None`) `key`, returning what was there.
fn set<K: Ord, V>(map: &mut BTreeMap<K, V>, key: K, value: Option<V>) -> Option<V> {
    match value {
        Some(value) => map.insert(key, value),
        None => map.remove(&key),
    }
}

/// Undoes `changes` to `map`, newest first.
fn undo_changes<K: Ord, V>(map: &mut BTreeMap<K, V>, changes: Vec<(K, Option<V>)>) {
    for (key, old) in changes.into_iter().rev() {
        set(map, key, old);
    }
}

impl Contents {
    /// Applies a batch in the order both stores use: documents in order, then log puts,
    /// then log deletes, then metadata, then receipts in order (a later change to a key
    /// wins). Log records are stored through `pool`. Records what it replaced in
    /// `undo`, if given.
    fn apply(&mut self, batch: WriteBatch, pool: &RecordPool, mut undo: Option<&mut Undo>) {
        for (key, value) in batch.docs {
            match undo.as_deref_mut() {
                Some(undo) => {
                    let old = set(&mut self.docs, key.clone(), value);
                    undo.docs.push((key, old));
                }
                None => {
                    set(&mut self.docs, key, value);
                }
            }
        }
        for (dot, record) in batch.log {
            let old = self.log.set(dot, Some(pool.share(dot, record)));
            if let Some(undo) = undo.as_deref_mut() {
                undo.log.push((dot, old));
            }
        }
        for dot in batch.log_deletes {
            let old = self.log.set(dot, None);
            if let Some(undo) = undo.as_deref_mut() {
                undo.log.push((dot, old));
            }
        }
        for (key, value) in batch.meta {
            let old = self.meta.insert(key, value);
            if let Some(undo) = undo.as_deref_mut() {
                undo.meta.push((key, old));
            }
        }
        for (id, value) in batch.receipts {
            let old = set(&mut self.receipts, id, value);
            if let Some(undo) = undo.as_deref_mut() {
                undo.receipts.push((id, old));
            }
        }
    }

    /// Rolls back the batch that `undo` came from.
    fn roll_back(&mut self, undo: Undo) {
        undo_changes(&mut self.receipts, undo.receipts);
        undo_changes(&mut self.meta, undo.meta);
        for (dot, old) in undo.log.into_iter().rev() {
            self.log.set(dot, old);
        }
        undo_changes(&mut self.docs, undo.docs);
    }
}

/// Log records shared by the [`MemStore`]s made with it: a record stored by several of
/// them is held once. A handle: clones share the pool.
///
/// The pool only remembers records (weakly), keyed by their first dot; a store holds
/// its records itself, so a record leaves memory once no store holds it any more. A
/// record with the same dot but other bytes (a crashed node that reused a dot it never
/// sent) is simply not shared.
#[derive(Clone, Debug, Default)]
pub struct RecordPool(Arc<Mutex<PoolMap>>);

#[derive(Debug, Default)]
struct PoolMap {
    records: FxHashMap<Dot, Weak<[u8]>>,
    /// When `records` reaches this many entries, the dropped ones are forgotten.
    purge_at: usize,
}

impl RecordPool {
    /// An empty pool.
    pub fn new() -> RecordPool {
        RecordPool::default()
    }

    /// The shared copy of the record `bytes` under `dot`.
    fn share(&self, dot: Dot, record: Arc<[u8]>) -> Arc<[u8]> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = map.records.get(&dot).and_then(Weak::upgrade) {
            return if *held == *record { held } else { record };
        }
        map.records.insert(dot, Arc::downgrade(&record));
        if map.records.len() >= map.purge_at {
            // Amortized: a purge at least doubles the room before the next one.
            map.records.retain(|_, r| r.strong_count() > 0);
            map.purge_at = (2 * map.records.len()).max(1024);
        }
        record
    }

    /// How many records the pool remembers that some store still holds.
    pub fn len(&self) -> usize {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.records
            .values()
            .filter(|r| r.strong_count() > 0)
            .count()
    }

    /// Whether no store holds a record of the pool.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A store in memory for tests and the deterministic simulator; it never fails.
///
/// A crash is modelled, not real: call [`MemStore::crash`] (or
/// [`MemStore::crash_keeping`]) where the simulated node dies, then keep using the same
/// value as the restarted node's store. Cloning copies everything, so a test can fork a
/// store and crash the copy.
#[derive(Clone, Debug)]
pub struct MemStore {
    node: NodeId,
    /// Where its log records are kept.
    pool: RecordPool,
    /// Everything written, synced or not: what reads see.
    contents: Contents,
    /// For each batch written since the last sync, oldest first, what it replaced.
    unsynced: Vec<Undo>,
}

impl MemStore {
    /// An empty store of `node`, sharing its log records with no other store.
    pub fn new(node: NodeId) -> MemStore {
        MemStore::with_pool(node, RecordPool::new())
    }

    /// An empty store of `node` that shares its log records through `pool` with the
    /// other stores made with it.
    pub fn with_pool(node: NodeId, pool: RecordPool) -> MemStore {
        MemStore {
            node,
            pool,
            contents: Contents::default(),
            unsynced: Vec::new(),
        }
    }

    /// How many batches were written since the last sync (or crash): what a crash now
    /// would lose.
    pub fn pending_batches(&self) -> usize {
        self.unsynced.len()
    }

    /// Models a crash that loses every batch written since the last sync. What was
    /// synced survives.
    pub fn crash(&mut self) {
        self.crash_keeping(0);
    }

    /// Models a crash after which the first `keep` unsynced batches survive (all of them
    /// if there are fewer) and the rest are lost whole: a disk may persist some
    /// unsynced writes, but always a prefix of them. The kept batches become durable,
    /// as the restarted node read them back from disk.
    pub fn crash_keeping(&mut self, keep: usize) {
        while self.unsynced.len() > keep {
            let undo = self.unsynced.pop().expect("more than keep");
            self.contents.roll_back(undo);
        }
        self.unsynced.clear();
    }
}

impl Store for MemStore {
    fn node(&self) -> NodeId {
        self.node
    }

    fn doc(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.contents.docs.get(key).cloned())
    }

    fn docs_after(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        // Keys with a common prefix are contiguous; a cursor before the prefix is moot.
        let start = match after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        Ok(self
            .contents
            .docs
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    fn log_floor(&self, origin: NodeId, seq: u64) -> Result<Option<(Dot, Vec<u8>)>, StoreError> {
        let floor = self.contents.log.range(origin, 0, seq).next_back();
        Ok(floor.map(|(dot, record)| (dot, record.to_vec())))
    }

    fn log_range(
        &self,
        origin: NodeId,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<(Dot, Vec<u8>)>, StoreError> {
        Ok(self
            .contents
            .log
            .range(origin, from, to)
            .take(limit)
            .map(|(dot, record)| (dot, record.to_vec()))
            .collect())
    }

    fn meta(&self, key: MetaKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.contents.meta.get(&key).cloned())
    }

    fn receipt(&self, id: &ReceiptId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.contents.receipts.get(id).cloned())
    }

    fn receipts_after(
        &self,
        after: Option<&ReceiptId>,
        limit: usize,
    ) -> Result<Vec<(ReceiptId, Vec<u8>)>, StoreError> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .contents
            .receipts
            .range::<ReceiptId, _>((start, Bound::Unbounded))
            .take(limit)
            .map(|(id, value)| (*id, value.clone()))
            .collect())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut undo = Undo::default();
        self.contents.apply(batch, &self.pool, Some(&mut undo));
        self.unsynced.push(undo);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.unsynced.clear();
        Ok(())
    }

    /// Durable at once, so nothing to undo is recorded.
    fn write_synced(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        self.contents.apply(batch, &self.pool, None);
        self.unsynced.clear();
        Ok(())
    }
}

/// MemStore's tests: the store contract (`store_contract_tests!`) and the crash model,
/// checked against the contract's reference model.
#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{MemStore, RecordPool};
    use crate::store::contract_tests::{
        arb_batch, assert_matches_model, dot, dots, keys, node, put_docs, put_log,
        store_contract_tests, Model, NODE,
    };
    use crate::store::{Store, WriteBatch};

    fn fresh() -> ((), MemStore) {
        ((), MemStore::new(NODE))
    }

    store_contract_tests!(fresh);

    #[test]
    fn crash_drops_exactly_the_unsynced_batches() {
        let mut store = MemStore::new(NODE);
        store.write(put_docs(&[("a", b"1")])).unwrap();
        store.write(put_log(&[dot(1, 1)])).unwrap();
        store.sync().unwrap();
        store.write(put_docs(&[("a", b"2"), ("b", b"1")])).unwrap();
        store
            .write(WriteBatch {
                log_deletes: vec![dot(1, 1)],
                ..WriteBatch::default()
            })
            .unwrap();
        assert_eq!(store.pending_batches(), 2);
        assert_eq!(
            store.doc("a").unwrap(),
            Some(b"2".to_vec()),
            "reads see unsynced writes"
        );
        store.crash();
        assert_eq!(store.pending_batches(), 0);
        assert_eq!(keys(&store.docs_after("", None, 9).unwrap()), ["a"]);
        assert_eq!(store.doc("a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(
            dots(&store.log_range(node(1), 0, 9, 9).unwrap()),
            [dot(1, 1)]
        );
        store.crash();
        assert_eq!(
            store.doc("a").unwrap(),
            Some(b"1".to_vec()),
            "a second crash loses nothing"
        );
    }

    #[test]
    fn crash_before_any_sync_loses_everything() {
        let mut store = MemStore::new(NODE);
        store.write(put_docs(&[("a", b"1")])).unwrap();
        store.crash();
        assert_eq!(store.docs_after("", None, 9).unwrap(), []);
        assert_eq!(store.node(), NODE);
    }

    #[test]
    fn crash_keeping_keeps_a_prefix_of_the_unsynced_batches() {
        let mut store = MemStore::new(NODE);
        for value in [b"1", b"2", b"3"] {
            store.write(put_docs(&[("k", value)])).unwrap();
        }
        store.crash_keeping(2);
        assert_eq!(store.doc("k").unwrap(), Some(b"2".to_vec()));
        store.crash();
        assert_eq!(
            store.doc("k").unwrap(),
            Some(b"2".to_vec()),
            "kept batches are on disk"
        );
        store.write(put_docs(&[("k", b"4")])).unwrap();
        store.crash_keeping(usize::MAX);
        assert_eq!(
            store.doc("k").unwrap(),
            Some(b"4".to_vec()),
            "keep beyond pending = all"
        );
    }

    #[test]
    fn clones_are_independent() {
        let mut store = MemStore::new(NODE);
        store.write(put_docs(&[("k", b"1")])).unwrap();
        let mut fork = store.clone();
        fork.crash();
        assert_eq!(fork.doc("k").unwrap(), None);
        assert_eq!(store.doc("k").unwrap(), Some(b"1".to_vec()));
    }

    #[test]
    fn stores_of_one_pool_hold_each_record_once() {
        let pool = RecordPool::new();
        let mut a = MemStore::with_pool(NODE, pool.clone());
        let mut b = MemStore::with_pool(node(8), pool.clone());
        a.write_synced(put_log(&[dot(1, 1), dot(1, 2)])).unwrap();
        b.write(put_log(&[dot(1, 1)])).unwrap();
        assert_eq!(pool.len(), 2, "b's copy of 1:1 is a's");
        // Other bytes under a dot that is pooled already: kept apart, each store reads
        // its own.
        let other = WriteBatch {
            log: vec![(dot(1, 2), b"other"[..].into())],
            ..WriteBatch::default()
        };
        b.write(other).unwrap();
        assert_eq!(b.log_floor(node(1), 2).unwrap().unwrap().1, b"other");
        assert_ne!(a.log_floor(node(1), 2).unwrap().unwrap().1, b"other");
        b.crash();
        assert!(b.log_floor(node(1), 9).unwrap().is_none());
        assert_eq!(pool.len(), 2, "a still holds both");
        drop(a);
        assert!(
            pool.is_empty(),
            "a record leaves with the last store holding it"
        );
    }

    /// What a test does to a MemStore, and what the model expects of it.
    #[derive(Clone, Debug)]
    enum Step {
        Write(WriteBatch),
        Sync,
        WriteSynced(WriteBatch),
        Crash,
        CrashKeeping(usize),
    }

    fn arb_step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => arb_batch().prop_map(Step::Write),
            2 => Just(Step::Sync),
            2 => arb_batch().prop_map(Step::WriteSynced),
            1 => Just(Step::Crash),
            1 => (0usize..4).prop_map(Step::CrashKeeping),
        ]
    }

    fn run_step(store: &mut MemStore, model: &mut Model, step: Step) {
        match step {
            Step::Write(batch) => {
                store.write(batch.clone()).unwrap();
                model.unsynced.push(batch);
            }
            Step::Sync => {
                store.sync().unwrap();
                model.sync();
            }
            Step::WriteSynced(batch) => {
                store.write_synced(batch.clone()).unwrap();
                model.unsynced.push(batch);
                model.sync();
            }
            Step::Crash => {
                store.crash();
                model.unsynced.clear();
            }
            Step::CrashKeeping(keep) => {
                store.crash_keeping(keep);
                model.unsynced.truncate(keep);
                model.sync();
            }
        }
        assert_eq!(store.pending_batches(), model.unsynced.len());
    }

    proptest! {
        // A failure prints the minimal steps; proptest records its seed under
        // proptest-regressions/ for replay.
        #[test]
        fn memstore_matches_model_through_syncs_and_crashes(
            steps in proptest::collection::vec(arb_step(), 1..40),
        ) {
            let mut store = MemStore::new(NODE);
            let mut model = Model::default();
            for step in steps {
                run_step(&mut store, &mut model, step);
                assert_matches_model(&store, &model);
            }
        }
    }
}
