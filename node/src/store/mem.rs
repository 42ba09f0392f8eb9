//! An in-memory [`Store`] that loses what was not synced when it "crashes".
//!
//! The simulator and the replica's tests run on it. It keeps two layers: the durable
//! contents (what the last [`Store::sync`] covered) and the batches written since, in
//! order. Reads see both. [`MemStore::crash`] drops every unsynced batch;
//! [`MemStore::crash_keeping`] keeps a prefix of them, as a real disk may have persisted
//! some of the unsynced writes before the crash (sled recovers a prefix of its log, each
//! batch whole or not at all). Everything is ordered (`BTreeMap`), nothing reads a clock
//! or a random source, so a simulation replays bit for bit.

use std::collections::BTreeMap;
use std::ops::Bound;

use lattice_crdt::{Dot, NodeId};

use super::{MetaKey, Store, StoreError, WriteBatch};

/// The contents of a store at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Contents {
    docs: BTreeMap<String, Vec<u8>>,
    log: BTreeMap<Dot, Vec<u8>>,
    meta: BTreeMap<MetaKey, Vec<u8>>,
}

impl Contents {
    /// Applies a batch in the order both stores use: documents in order, then log puts,
    /// then log deletes, then metadata in order (a later change to a key wins).
    fn apply(&mut self, batch: &WriteBatch) {
        for (key, value) in &batch.docs {
            match value {
                Some(bytes) => self.docs.insert(key.clone(), bytes.clone()),
                None => self.docs.remove(key),
            };
        }
        for (dot, record) in &batch.log {
            self.log.insert(*dot, record.clone());
        }
        for dot in &batch.log_deletes {
            self.log.remove(dot);
        }
        for (key, value) in &batch.meta {
            self.meta.insert(*key, value.clone());
        }
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
    /// What survives any crash: the state at the last sync.
    durable: Contents,
    /// Batches written since the last sync, oldest first.
    pending: Vec<WriteBatch>,
    /// `durable` with `pending` applied: what reads see.
    visible: Contents,
}

impl MemStore {
    /// An empty store of `node`.
    pub fn new(node: NodeId) -> MemStore {
        MemStore {
            node,
            durable: Contents::default(),
            pending: Vec::new(),
            visible: Contents::default(),
        }
    }

    /// How many batches were written since the last sync (or crash): what a crash now
    /// would lose.
    pub fn pending_batches(&self) -> usize {
        self.pending.len()
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
        let keep = keep.min(self.pending.len());
        for batch in self.pending.drain(..keep) {
            self.durable.apply(&batch);
        }
        self.pending.clear();
        self.visible = self.durable.clone();
    }
}

impl Store for MemStore {
    fn node(&self) -> NodeId {
        self.node
    }

    fn doc(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.visible.docs.get(key).cloned())
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
            .visible
            .docs
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    fn log_floor(&self, origin: NodeId, seq: u64) -> Result<Option<(Dot, Vec<u8>)>, StoreError> {
        let range = Dot::new(origin, 0)..=Dot::new(origin, seq);
        let floor = self.visible.log.range(range).next_back();
        Ok(floor.map(|(dot, record)| (*dot, record.clone())))
    }

    fn log_range(
        &self,
        origin: NodeId,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<(Dot, Vec<u8>)>, StoreError> {
        if from > to {
            return Ok(Vec::new());
        }
        let range = Dot::new(origin, from)..=Dot::new(origin, to);
        Ok(self
            .visible
            .log
            .range(range)
            .take(limit)
            .map(|(dot, record)| (*dot, record.clone()))
            .collect())
    }

    fn meta(&self, key: MetaKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.visible.meta.get(&key).cloned())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        self.visible.apply(&batch);
        self.pending.push(batch);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        for batch in self.pending.drain(..) {
            self.durable.apply(&batch);
        }
        Ok(())
    }
}

/// The store contract as generic checks, run against [`MemStore`] here and against
/// `SledStore` in its own tests (`store_contract_tests!`), plus MemStore's crash model.
#[cfg(test)]
pub(super) mod tests {
    use proptest::prelude::*;

    use self::contract::{
        arb_batch, assert_matches_model, dot, dots, keys, node, put_docs, put_log, record_of,
        Model, NODE,
    };
    use super::MemStore;
    use crate::store::{Store, WriteBatch};

    /// Generates one `#[test]` per contract check below, each on a fresh store from
    /// `$fresh: fn() -> (guard, store)` (the guard, e.g. a temporary directory, lives
    /// as long as the test).
    macro_rules! store_contract_tests {
        ($fresh:path) => {
            $crate::store::mem::tests::store_contract_tests!(@each $fresh;
                node_is_the_one_opened_with,
                docs_put_overwrite_delete,
                docs_after_pages_by_prefix_and_cursor,
                log_floor_is_greatest_dot_at_most_seq_of_that_origin,
                log_range_is_inclusive_ordered_limited_and_per_origin,
                log_deletes_remove_records,
                meta_round_trips_every_key,
                batch_is_visible_whole_and_later_changes_win,
                empty_batch_changes_nothing,
                model_agrees_after_random_batches);
        };
        (@each $fresh:path; $($check:ident),+) => {
            $(
                #[test]
                fn $check() {
                    let (_guard, mut store) = $fresh();
                    $crate::store::mem::tests::contract::$check(&mut store);
                }
            )+
        };
    }
    pub(in crate::store) use store_contract_tests;

    /// The generic checks and their helpers, shared with `SledStore`'s tests.
    pub(in crate::store) mod contract {
        use lattice_crdt::{Dot, NodeId};
        use proptest::prelude::*;
        use proptest::strategy::ValueTree;

        use crate::store::{MetaKey, Store, WriteBatch};

        /// The node every contract check opens its store as.
        pub(in crate::store) const NODE: NodeId = node(7);

        pub(in crate::store) const fn node(id: u64) -> NodeId {
            match NodeId::new(id) {
                Some(node) => node,
                None => panic!("node ids are not zero"),
            }
        }

        pub(in crate::store) fn dot(origin: u64, seq: u64) -> Dot {
            Dot::new(node(origin), seq)
        }

        pub(in crate::store) fn put_docs(entries: &[(&str, &[u8])]) -> WriteBatch {
            let docs = entries
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.to_vec())));
            WriteBatch {
                docs: docs.collect(),
                ..WriteBatch::default()
            }
        }

        pub(in crate::store) fn put_log(dots: &[Dot]) -> WriteBatch {
            let log = dots.iter().map(|d| (*d, record_of(*d)));
            WriteBatch {
                log: log.collect(),
                ..WriteBatch::default()
            }
        }

        /// The record the contract checks store under `dot`: its origin and seq, spelled out.
        pub(in crate::store) fn record_of(dot: Dot) -> Vec<u8> {
            format!("{}:{}", dot.origin, dot.seq).into_bytes()
        }

        pub(in crate::store) fn keys(listing: &[(String, Vec<u8>)]) -> Vec<&str> {
            listing.iter().map(|(k, _)| k.as_str()).collect()
        }

        pub(in crate::store) fn dots(records: &[(Dot, Vec<u8>)]) -> Vec<Dot> {
            records.iter().map(|(d, _)| *d).collect()
        }

        pub(in crate::store) fn node_is_the_one_opened_with(store: &mut impl Store) {
            assert_eq!(store.node(), NODE);
        }

        pub(in crate::store) fn docs_put_overwrite_delete(store: &mut impl Store) {
            assert_eq!(store.doc("a").unwrap(), None);
            store
                .write(put_docs(&[("a", b"1"), ("empty", b"")]))
                .unwrap();
            assert_eq!(store.doc("a").unwrap(), Some(b"1".to_vec()));
            assert_eq!(
                store.doc("empty").unwrap(),
                Some(Vec::new()),
                "empty value != missing"
            );
            store.write(put_docs(&[("a", b"2")])).unwrap();
            assert_eq!(store.doc("a").unwrap(), Some(b"2".to_vec()));
            let delete = WriteBatch {
                docs: vec![("a".into(), None)],
                ..WriteBatch::default()
            };
            store.write(delete.clone()).unwrap();
            assert_eq!(store.doc("a").unwrap(), None);
            store.write(delete).unwrap(); // deleting a missing document is fine
            assert_eq!(store.doc("a").unwrap(), None);
            assert_eq!(store.doc("empty").unwrap(), Some(Vec::new()));
        }

        pub(in crate::store) fn docs_after_pages_by_prefix_and_cursor(store: &mut impl Store) {
            let all = ["a", "a/1", "a/2", "a/3", "a0", "ab", "b", "b/1"];
            store
                .write(put_docs(&all.map(|k| (k, k.as_bytes()))))
                .unwrap();
            let page = |prefix, after, limit| store.docs_after(prefix, after, limit).unwrap();
            assert_eq!(keys(&page("", None, 100)), all, "everything, in key order");
            assert_eq!(
                page("a/", None, 1),
                vec![("a/1".to_string(), b"a/1".to_vec())]
            );
            // Paging: each page continues after the last key of the previous one.
            assert_eq!(keys(&page("a/", None, 2)), ["a/1", "a/2"]);
            assert_eq!(keys(&page("a/", Some("a/2"), 2)), ["a/3"]);
            assert_eq!(keys(&page("a/", Some("a/3"), 2)), Vec::<&str>::new());
            assert_eq!(
                keys(&page("a", None, 100)),
                ["a", "a/1", "a/2", "a/3", "a0", "ab"]
            );
            // A cursor need not be a stored key, and one before the prefix is ignored.
            assert_eq!(keys(&page("a/", Some("a/10"), 100)), ["a/2", "a/3"]);
            assert_eq!(keys(&page("a/", Some("0"), 100)), ["a/1", "a/2", "a/3"]);
            assert_eq!(keys(&page("a/", Some("z"), 100)), Vec::<&str>::new());
            assert_eq!(keys(&page("b", Some("a/2"), 100)), ["b", "b/1"]);
            assert_eq!(keys(&page("c", None, 100)), Vec::<&str>::new());
            assert_eq!(keys(&page("", None, 0)), Vec::<&str>::new(), "limit 0");
        }

        /// Origins whose ids sort differently as numbers and as little-endian bytes, and
        /// sequence numbers at both ends of the range.
        const ORIGINS: [u64; 4] = [1, 255, 256, u64::MAX];
        const SEQS: [u64; 5] = [1, 2, 255, 256, u64::MAX];

        fn write_dot_grid(store: &mut impl Store) {
            let grid: Vec<Dot> = ORIGINS
                .iter()
                .flat_map(|o| SEQS.map(|s| dot(*o, s)))
                .collect();
            // Written in reverse so order comes from the store, not from the writes.
            let reversed: Vec<Dot> = grid.iter().rev().copied().collect();
            store.write(put_log(&reversed)).unwrap();
        }

        pub(in crate::store) fn log_floor_is_greatest_dot_at_most_seq_of_that_origin(
            store: &mut impl Store,
        ) {
            write_dot_grid(store);
            let floor = |origin, seq| {
                let found = store.log_floor(node(origin), seq).unwrap();
                found.map(|(d, record)| {
                    assert_eq!(record, record_of(d));
                    (d.origin.get(), d.seq)
                })
            };
            for origin in ORIGINS {
                assert_eq!(
                    floor(origin, 0),
                    None,
                    "nothing below the first record of {origin}"
                );
                assert_eq!(floor(origin, 1), Some((origin, 1)));
                assert_eq!(floor(origin, 254), Some((origin, 2)));
                assert_eq!(floor(origin, 256), Some((origin, 256)));
                assert_eq!(floor(origin, 257), Some((origin, 256)));
                assert_eq!(floor(origin, u64::MAX - 1), Some((origin, 256)));
                assert_eq!(floor(origin, u64::MAX), Some((origin, u64::MAX)));
            }
            assert_eq!(floor(2, u64::MAX), None, "never another origin's record");
            assert_eq!(floor(257, u64::MAX), None);
        }

        pub(in crate::store) fn log_range_is_inclusive_ordered_limited_and_per_origin(
            store: &mut impl Store,
        ) {
            write_dot_grid(store);
            let range = |origin, from, to, limit| {
                let records = store.log_range(node(origin), from, to, limit).unwrap();
                records
                    .iter()
                    .for_each(|(d, record)| assert_eq!(*record, record_of(*d)));
                dots(&records)
                    .iter()
                    .map(|d| (d.origin.get(), d.seq))
                    .collect::<Vec<_>>()
            };
            for origin in ORIGINS {
                let every: Vec<(u64, u64)> = SEQS.iter().map(|s| (origin, *s)).collect();
                assert_eq!(range(origin, 0, u64::MAX, usize::MAX), every);
                assert_eq!(range(origin, 2, 256, 100), every[1..4]);
                assert_eq!(
                    range(origin, 3, 255, 100),
                    every[2..3],
                    "bounds need not be stored"
                );
                assert_eq!(range(origin, 1, u64::MAX, 2), every[..2], "limit");
                assert_eq!(range(origin, 256, 256, 100), every[3..4]);
                assert_eq!(range(origin, u64::MAX, u64::MAX, 100), every[4..]);
                assert_eq!(range(origin, 257, 1, 100), [], "from > to is empty");
                assert_eq!(range(origin, 1, u64::MAX, 0), [], "limit 0");
            }
            assert_eq!(range(2, 0, u64::MAX, 100), []);
        }

        pub(in crate::store) fn log_deletes_remove_records(store: &mut impl Store) {
            store
                .write(put_log(&[dot(1, 1), dot(1, 2), dot(1, 3), dot(2, 1)]))
                .unwrap();
            let prune = WriteBatch {
                log_deletes: vec![dot(1, 1), dot(1, 2)],
                ..WriteBatch::default()
            };
            store.write(prune).unwrap();
            let left = store.log_range(node(1), 0, u64::MAX, 100).unwrap();
            assert_eq!(dots(&left), [dot(1, 3)]);
            assert_eq!(store.log_floor(node(1), 2).unwrap(), None);
            assert_eq!(
                dots(&store.log_range(node(2), 0, 9, 9).unwrap()),
                [dot(2, 1)]
            );
            // Deleting a missing record is fine.
            let again = WriteBatch {
                log_deletes: vec![dot(1, 1)],
                ..WriteBatch::default()
            };
            store.write(again).unwrap();
        }

        pub(in crate::store) fn meta_round_trips_every_key(store: &mut impl Store) {
            let all = [
                MetaKey::VersionVector,
                MetaKey::HlcHighWater,
                MetaKey::Pruned,
            ];
            for key in all {
                assert_eq!(store.meta(key).unwrap(), None);
            }
            let meta = all
                .iter()
                .map(|k| (*k, k.name().as_bytes().to_vec()))
                .collect();
            store
                .write(WriteBatch {
                    meta,
                    ..WriteBatch::default()
                })
                .unwrap();
            for key in all {
                assert_eq!(
                    store.meta(key).unwrap(),
                    Some(key.name().as_bytes().to_vec())
                );
            }
            let overwrite = vec![(MetaKey::HlcHighWater, 42u64.to_be_bytes().to_vec())];
            store
                .write(WriteBatch {
                    meta: overwrite,
                    ..WriteBatch::default()
                })
                .unwrap();
            assert_eq!(
                store.meta(MetaKey::HlcHighWater).unwrap(),
                Some(42u64.to_be_bytes().to_vec())
            );
            assert_eq!(
                store.meta(MetaKey::Pruned).unwrap(),
                Some(b"pruned".to_vec())
            );
        }

        /// One batch touching every part of the store; within it a later change to the same
        /// key wins, and log deletes apply after log puts.
        pub(in crate::store) fn batch_is_visible_whole_and_later_changes_win(
            store: &mut impl Store,
        ) {
            let batch = WriteBatch {
                docs: vec![
                    ("k".into(), Some(b"first".to_vec())),
                    ("k".into(), Some(b"second".to_vec())),
                    ("gone".into(), Some(b"x".to_vec())),
                    ("gone".into(), None),
                ],
                log: vec![
                    (dot(3, 1), record_of(dot(3, 1))),
                    (dot(3, 2), record_of(dot(3, 2))),
                ],
                log_deletes: vec![dot(3, 2)],
                meta: vec![
                    (MetaKey::Pruned, b"a".to_vec()),
                    (MetaKey::Pruned, b"b".to_vec()),
                ],
            };
            store.write(batch).unwrap();
            assert_eq!(store.doc("k").unwrap(), Some(b"second".to_vec()));
            assert_eq!(store.doc("gone").unwrap(), None);
            assert_eq!(
                dots(&store.log_range(node(3), 0, u64::MAX, 9).unwrap()),
                [dot(3, 1)]
            );
            assert_eq!(store.meta(MetaKey::Pruned).unwrap(), Some(b"b".to_vec()));
        }

        pub(in crate::store) fn empty_batch_changes_nothing(store: &mut impl Store) {
            store.write(put_docs(&[("a", b"1")])).unwrap();
            let empty = WriteBatch::default();
            assert!(empty.is_empty());
            store.write(empty).unwrap();
            store.sync().unwrap();
            assert_eq!(keys(&store.docs_after("", None, 9).unwrap()), ["a"]);
        }

        // ---- A reference model: the surviving batches, replayed naively. ----

        /// Small key spaces, so random batches collide often.
        const DOC_KEYS: [&str; 6] = ["a", "a/1", "a/2", "ab", "b", "b/x"];
        const MODEL_ORIGINS: [u64; 3] = [1, 256, u64::MAX];
        const MODEL_SEQS: [u64; 4] = [1, 2, 1 << 40, u64::MAX];
        const META_KEYS: [MetaKey; 3] = [
            MetaKey::VersionVector,
            MetaKey::HlcHighWater,
            MetaKey::Pruned,
        ];

        /// The state a store must show: the last change to each key over the surviving
        /// batches, found by scanning them (independent of `Contents::apply`).
        #[derive(Debug, Default)]
        pub(in crate::store) struct Model {
            /// Batches every crash keeps.
            pub(in crate::store) synced: Vec<WriteBatch>,
            /// Batches a crash may lose.
            pub(in crate::store) unsynced: Vec<WriteBatch>,
        }

        impl Model {
            fn batches(&self) -> impl Iterator<Item = &WriteBatch> {
                self.synced.iter().chain(&self.unsynced)
            }

            pub(in crate::store) fn doc(&self, key: &str) -> Option<Vec<u8>> {
                let changes = self.batches().flat_map(|b| &b.docs);
                changes
                    .filter(|(k, _)| k == key)
                    .last()
                    .and_then(|(_, v)| v.clone())
            }

            pub(in crate::store) fn log(&self, dot: Dot) -> Option<Vec<u8>> {
                let mut value = None;
                for batch in self.batches() {
                    if let Some((_, record)) = batch.log.iter().rev().find(|(d, _)| *d == dot) {
                        value = Some(record.clone());
                    }
                    if batch.log_deletes.contains(&dot) {
                        value = None;
                    }
                }
                value
            }

            pub(in crate::store) fn meta(&self, key: MetaKey) -> Option<Vec<u8>> {
                let changes = self.batches().flat_map(|b| &b.meta);
                changes
                    .filter(|(k, _)| *k == key)
                    .last()
                    .map(|(_, v)| v.clone())
            }

            pub(in crate::store) fn sync(&mut self) {
                self.synced.append(&mut self.unsynced);
            }
        }

        /// Checks every read of `store` against the model.
        pub(in crate::store) fn assert_matches_model(store: &impl Store, model: &Model) {
            let docs: Vec<(String, Vec<u8>)> = DOC_KEYS
                .iter()
                .filter_map(|k| Some((k.to_string(), model.doc(k)?)))
                .collect();
            assert_eq!(store.docs_after("", None, usize::MAX).unwrap(), docs);
            for key in DOC_KEYS {
                assert_eq!(store.doc(key).unwrap(), model.doc(key), "doc {key}");
            }
            for origin in MODEL_ORIGINS {
                let log: Vec<(Dot, Vec<u8>)> = MODEL_SEQS
                    .iter()
                    .filter_map(|s| Some((dot(origin, *s), model.log(dot(origin, *s))?)))
                    .collect();
                assert_eq!(
                    store
                        .log_range(node(origin), 0, u64::MAX, usize::MAX)
                        .unwrap(),
                    log
                );
                let floor = log.iter().rev().find(|(d, _)| d.seq < u64::MAX).cloned();
                assert_eq!(store.log_floor(node(origin), u64::MAX - 1).unwrap(), floor);
            }
            for key in META_KEYS {
                assert_eq!(store.meta(key).unwrap(), model.meta(key), "meta {key:?}");
            }
        }

        fn arb_doc_change() -> impl Strategy<Value = (String, Option<Vec<u8>>)> {
            let value =
                proptest::option::weighted(0.8, proptest::collection::vec(any::<u8>(), 0..4));
            (proptest::sample::select(&DOC_KEYS[..]), value).prop_map(|(k, v)| (k.to_string(), v))
        }

        fn arb_dot() -> impl Strategy<Value = Dot> {
            let origin = proptest::sample::select(&MODEL_ORIGINS[..]);
            (origin, proptest::sample::select(&MODEL_SEQS[..])).prop_map(|(o, s)| dot(o, s))
        }

        /// A random batch over the small key spaces.
        pub(in crate::store) fn arb_batch() -> impl Strategy<Value = WriteBatch> {
            let bytes = || proptest::collection::vec(any::<u8>(), 0..4);
            let docs = proptest::collection::vec(arb_doc_change(), 0..4);
            let log = proptest::collection::vec((arb_dot(), bytes()), 0..4);
            let log_deletes = proptest::collection::vec(arb_dot(), 0..2);
            let meta_key = proptest::sample::select(&META_KEYS[..]);
            let meta = proptest::collection::vec((meta_key, bytes()), 0..2);
            (docs, log, log_deletes, meta).prop_map(|(docs, log, log_deletes, meta)| WriteBatch {
                docs,
                log,
                log_deletes,
                meta,
            })
        }

        /// A fixed pseudo-random history: batches, each maybe followed by a sync.
        pub(in crate::store) fn sample_steps() -> Vec<(WriteBatch, bool)> {
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let steps = proptest::collection::vec((arb_batch(), any::<bool>()), 16..24);
            steps.new_tree(&mut runner).expect("strategy").current()
        }

        /// Random batches with syncs in between, and a check of every read after each.
        pub(in crate::store) fn model_agrees_after_random_batches(store: &mut impl Store) {
            let mut model = Model::default();
            for (batch, sync) in sample_steps() {
                store.write(batch.clone()).unwrap();
                model.unsynced.push(batch);
                if sync {
                    store.sync().unwrap();
                    model.sync();
                }
                assert_matches_model(store, &model);
            }
        }
    }

    // ---- MemStore itself. ----

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

    /// What a test does to a MemStore, and what the model expects of it.
    #[derive(Clone, Debug)]
    enum Step {
        Write(WriteBatch),
        Sync,
        Crash,
        CrashKeeping(usize),
    }

    fn arb_step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => arb_batch().prop_map(Step::Write),
            2 => Just(Step::Sync),
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

    #[test]
    fn model_reads_the_last_change_of_each_key() {
        // The model itself, on a hand-made history.
        let mut model = Model::default();
        model.synced.push(put_docs(&[("a", b"1")]));
        model.unsynced.push(WriteBatch {
            docs: vec![("a".into(), None)],
            ..put_log(&[dot(1, 1)])
        });
        assert_eq!(model.doc("a"), None);
        assert_eq!(model.log(dot(1, 1)), Some(record_of(dot(1, 1))));
        model.unsynced.clear();
        assert_eq!(model.doc("a"), Some(b"1".to_vec()));
    }
}
