//! The [`Store`] contract as generic checks, shared by every implementation's tests, and
//! a reference model of what a store must show after a history of batches.
//!
//! An implementation's test module calls `store_contract_tests!(fresh)` to get one
//! `#[test]` per check, each on a fresh store. [`Model`] replays the surviving batches
//! naively; `MemStore`'s tests check its crash model against it, `SledStore`'s tests
//! check what a reopened store recovered.

use lattice_crdt::{Dot, NodeId};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

use crate::store::{MetaKey, ReceiptId, Store, WriteBatch};

/// Generates one `#[test]` per contract check below, each on a fresh store from
/// `$fresh: fn() -> (guard, store)` (the guard, e.g. a temporary directory, lives
/// as long as the test).
macro_rules! store_contract_tests {
    ($fresh:path) => {
        $crate::store::contract_tests::store_contract_tests!(@each $fresh;
            node_is_the_one_opened_with,
            docs_put_overwrite_delete,
            docs_after_pages_by_prefix_and_cursor,
            log_floor_is_greatest_dot_at_most_seq_of_that_origin,
            log_range_is_inclusive_ordered_limited_and_per_origin,
            log_deletes_remove_records,
            meta_round_trips_every_key,
            receipts_put_overwrite_delete_and_page,
            batch_is_visible_whole_and_later_changes_win,
            empty_batch_changes_nothing,
            model_agrees_after_random_batches);
    };
    (@each $fresh:path; $($check:ident),+) => {
        $(
            #[test]
            fn $check() {
                let (_guard, mut store) = $fresh();
                $crate::store::contract_tests::$check(&mut store);
            }
        )+
    };
}
pub(super) use store_contract_tests;

// ---- Helpers. ----

/// The node every contract check opens its store as.
pub(super) const NODE: NodeId = node(7);

pub(super) const fn node(id: u64) -> NodeId {
    match NodeId::new(id) {
        Some(node) => node,
        None => panic!("node ids are not zero"),
    }
}

pub(super) fn dot(origin: u64, seq: u64) -> Dot {
    Dot::new(node(origin), seq)
}

pub(super) fn put_docs(entries: &[(&str, &[u8])]) -> WriteBatch {
    let docs = entries
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.to_vec())));
    WriteBatch {
        docs: docs.collect(),
        ..WriteBatch::default()
    }
}

pub(super) fn put_log(dots: &[Dot]) -> WriteBatch {
    let log = dots.iter().map(|d| (*d, record_of(*d).into()));
    WriteBatch {
        log: log.collect(),
        ..WriteBatch::default()
    }
}

/// The record the contract checks store under `dot`: its origin and seq, spelled out.
pub(super) fn record_of(dot: Dot) -> Vec<u8> {
    format!("{}:{}", dot.origin, dot.seq).into_bytes()
}

pub(super) fn keys(listing: &[(String, Vec<u8>)]) -> Vec<&str> {
    listing.iter().map(|(k, _)| k.as_str()).collect()
}

pub(super) fn dots(records: &[(Dot, Vec<u8>)]) -> Vec<Dot> {
    records.iter().map(|(d, _)| *d).collect()
}

// ---- The checks, one `#[test]` each through `store_contract_tests!`. ----

pub(super) fn node_is_the_one_opened_with(store: &mut impl Store) {
    assert_eq!(store.node(), NODE);
}

pub(super) fn docs_put_overwrite_delete(store: &mut impl Store) {
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

pub(super) fn docs_after_pages_by_prefix_and_cursor(store: &mut impl Store) {
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

pub(super) fn log_floor_is_greatest_dot_at_most_seq_of_that_origin(store: &mut impl Store) {
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

pub(super) fn log_range_is_inclusive_ordered_limited_and_per_origin(store: &mut impl Store) {
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

pub(super) fn log_deletes_remove_records(store: &mut impl Store) {
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

pub(super) fn meta_round_trips_every_key(store: &mut impl Store) {
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

pub(super) fn receipts_put_overwrite_delete_and_page(store: &mut impl Store) {
    let id = |b: u8| [b; 32];
    let put = |entries: &[(u8, Option<&[u8]>)]| WriteBatch {
        receipts: entries
            .iter()
            .map(|(b, v)| (id(*b), v.map(<[u8]>::to_vec)))
            .collect(),
        ..WriteBatch::default()
    };
    assert_eq!(store.receipt(&id(1)).unwrap(), None);
    store
        .write(put(&[(3, Some(b"c")), (1, Some(b"a")), (2, Some(b"b"))]))
        .unwrap();
    assert_eq!(store.receipt(&id(1)).unwrap(), Some(b"a".to_vec()));
    let ids = |page: Vec<(ReceiptId, Vec<u8>)>| page.iter().map(|(i, _)| i[0]).collect::<Vec<_>>();
    assert_eq!(ids(store.receipts_after(None, 9).unwrap()), [1, 2, 3]);
    assert_eq!(ids(store.receipts_after(None, 2).unwrap()), [1, 2], "limit");
    assert_eq!(
        ids(store.receipts_after(Some(&id(1)), 9).unwrap()),
        [2, 3],
        "after is exclusive"
    );
    store.write(put(&[(2, None), (3, Some(b"C"))])).unwrap();
    assert_eq!(store.receipt(&id(2)).unwrap(), None);
    assert_eq!(store.receipt(&id(3)).unwrap(), Some(b"C".to_vec()));
    assert_eq!(ids(store.receipts_after(Some(&id(1)), 9).unwrap()), [3]);
    assert_eq!(
        store.docs_after("", None, 9).unwrap(),
        [],
        "receipts are not documents"
    );
}

/// One batch touching every part of the store; within it a later change to the same
/// key wins, and log deletes apply after log puts.
pub(super) fn batch_is_visible_whole_and_later_changes_win(store: &mut impl Store) {
    let batch = WriteBatch {
        docs: vec![
            ("k".into(), Some(b"first".to_vec())),
            ("k".into(), Some(b"second".to_vec())),
            ("gone".into(), Some(b"x".to_vec())),
            ("gone".into(), None),
        ],
        log: vec![
            (dot(3, 1), record_of(dot(3, 1)).into()),
            (dot(3, 2), record_of(dot(3, 2)).into()),
        ],
        log_deletes: vec![dot(3, 2)],
        meta: vec![
            (MetaKey::Pruned, b"a".to_vec()),
            (MetaKey::Pruned, b"b".to_vec()),
        ],
        receipts: vec![([1; 32], Some(b"r".to_vec())), ([1; 32], None)],
    };
    store.write(batch).unwrap();
    assert_eq!(store.doc("k").unwrap(), Some(b"second".to_vec()));
    assert_eq!(store.doc("gone").unwrap(), None);
    assert_eq!(
        dots(&store.log_range(node(3), 0, u64::MAX, 9).unwrap()),
        [dot(3, 1)]
    );
    assert_eq!(store.meta(MetaKey::Pruned).unwrap(), Some(b"b".to_vec()));
    assert_eq!(store.receipt(&[1; 32]).unwrap(), None);
}

pub(super) fn empty_batch_changes_nothing(store: &mut impl Store) {
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
const RECEIPT_IDS: [u8; 3] = [0, 1, 255];
const META_KEYS: [MetaKey; 3] = [
    MetaKey::VersionVector,
    MetaKey::HlcHighWater,
    MetaKey::Pruned,
];

/// The state a store must show: the last change to each key over the surviving
/// batches, found by scanning them (independent of `Contents::apply`).
#[derive(Debug, Default)]
pub(super) struct Model {
    /// Batches every crash keeps.
    pub(super) synced: Vec<WriteBatch>,
    /// Batches a crash may lose.
    pub(super) unsynced: Vec<WriteBatch>,
}

impl Model {
    fn batches(&self) -> impl Iterator<Item = &WriteBatch> {
        self.synced.iter().chain(&self.unsynced)
    }

    pub(super) fn doc(&self, key: &str) -> Option<Vec<u8>> {
        let changes = self.batches().flat_map(|b| &b.docs);
        changes
            .filter(|(k, _)| k == key)
            .last()
            .and_then(|(_, v)| v.clone())
    }

    pub(super) fn log(&self, dot: Dot) -> Option<Vec<u8>> {
        let mut value = None;
        for batch in self.batches() {
            if let Some((_, record)) = batch.log.iter().rev().find(|(d, _)| *d == dot) {
                value = Some(record.to_vec());
            }
            if batch.log_deletes.contains(&dot) {
                value = None;
            }
        }
        value
    }

    pub(super) fn meta(&self, key: MetaKey) -> Option<Vec<u8>> {
        let changes = self.batches().flat_map(|b| &b.meta);
        changes
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v.clone())
    }

    pub(super) fn receipt(&self, id: &ReceiptId) -> Option<Vec<u8>> {
        let changes = self.batches().flat_map(|b| &b.receipts);
        changes
            .filter(|(i, _)| i == id)
            .last()
            .and_then(|(_, v)| v.clone())
    }

    pub(super) fn sync(&mut self) {
        self.synced.append(&mut self.unsynced);
    }
}

/// Checks every read of `store` against the model.
pub(super) fn assert_matches_model(store: &impl Store, model: &Model) {
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
    let receipts: Vec<(ReceiptId, Vec<u8>)> = RECEIPT_IDS
        .iter()
        .filter_map(|b| Some(([*b; 32], model.receipt(&[*b; 32])?)))
        .collect();
    assert_eq!(store.receipts_after(None, usize::MAX).unwrap(), receipts);
}

fn arb_doc_change() -> impl Strategy<Value = (String, Option<Vec<u8>>)> {
    let value = proptest::option::weighted(0.8, proptest::collection::vec(any::<u8>(), 0..4));
    (proptest::sample::select(&DOC_KEYS[..]), value).prop_map(|(k, v)| (k.to_string(), v))
}

fn arb_dot() -> impl Strategy<Value = Dot> {
    let origin = proptest::sample::select(&MODEL_ORIGINS[..]);
    (origin, proptest::sample::select(&MODEL_SEQS[..])).prop_map(|(o, s)| dot(o, s))
}

/// A random batch over the small key spaces.
pub(super) fn arb_batch() -> impl Strategy<Value = WriteBatch> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..4);
    let docs = proptest::collection::vec(arb_doc_change(), 0..4);
    let log = proptest::collection::vec((arb_dot(), bytes()), 0..4);
    let log_deletes = proptest::collection::vec(arb_dot(), 0..2);
    let meta_key = proptest::sample::select(&META_KEYS[..]);
    let meta = proptest::collection::vec((meta_key, bytes()), 0..2);
    let receipt_id = proptest::sample::select(&RECEIPT_IDS[..]).prop_map(|b| [b; 32]);
    let receipts =
        proptest::collection::vec((receipt_id, proptest::option::weighted(0.8, bytes())), 0..2);
    (docs, log, log_deletes, meta, receipts).prop_map(|(docs, log, log_deletes, meta, receipts)| {
        WriteBatch {
            docs,
            log: log.into_iter().map(|(d, b)| (d, b.into())).collect(),
            log_deletes,
            meta,
            receipts,
        }
    })
}

/// A fixed pseudo-random history: batches, each maybe followed by a sync.
pub(super) fn sample_steps() -> Vec<(WriteBatch, bool)> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let steps = proptest::collection::vec((arb_batch(), any::<bool>()), 16..24);
    steps.new_tree(&mut runner).expect("strategy").current()
}

/// Random batches with syncs in between, and a check of every read after each.
pub(super) fn model_agrees_after_random_batches(store: &mut impl Store) {
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
