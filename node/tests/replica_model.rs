//! Model-based test of the replica (STYLE.md 9, after sled's tree tests): random local
//! writes, records from a peer (shuffled, duplicated), syncs, crashes that lose unsynced
//! writes, and clean restarts, against `MemStore` and `SledStore`. After every step the
//! replica equals a model built from the records it should hold, and no acknowledged
//! write is ever missing.

mod common;

use common::{assert_written_relative, node, op};
use lattice_crdt::{Document, Op, Timestamp, VersionVector, NTP64};
use lattice_node::store::{MemStore, SledStore, Store};
use lattice_node::{LogRecord, Replica, ReplicaConfig};
use proptest::prelude::*;
use serde_json::json;

const KEYS: [&str; 3] = ["a", "b/c", "d"];

#[derive(Debug, Clone)]
enum Step {
    Write { key: usize, ops: Vec<Op> },
    PeerWrite { key: usize, ops: Vec<Op> },
    Deliver { record: prop::sample::Index },
    Sync,
    Crash { keep: usize },
    Restart,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let ops = || prop::collection::vec(op(), 1..4);
    let step = prop_oneof![
        4 => (0..KEYS.len(), ops()).prop_map(|(key, ops)| Step::Write { key, ops }),
        2 => (0..KEYS.len(), ops()).prop_map(|(key, ops)| Step::PeerWrite { key, ops }),
        3 => any::<prop::sample::Index>().prop_map(|record| Step::Deliver { record }),
        2 => Just(Step::Sync),
        1 => (0usize..3).prop_map(|keep| Step::Crash { keep }),
        1 => Just(Step::Restart),
    ];
    prop::collection::vec(step, 1..40)
}

/// How a test opens, crashes and reopens a store.
trait Harness {
    type S: Store;
    fn fresh(&mut self) -> Self::S;
    /// Crashes: unsynced batches beyond the first `keep` may be lost (a store may keep more).
    fn crash(&mut self, store: Self::S, keep: usize) -> Self::S;
}

struct Mem;

impl Harness for Mem {
    type S = MemStore;
    fn fresh(&mut self) -> MemStore {
        MemStore::new(node(1))
    }
    fn crash(&mut self, mut store: MemStore, keep: usize) -> MemStore {
        store.crash_keeping(keep);
        store
    }
}

struct Sled(tempfile::TempDir);

impl Harness for Sled {
    type S = SledStore;
    fn fresh(&mut self) -> SledStore {
        self.0 = tempfile::tempdir().unwrap();
        SledStore::open(self.0.path(), node(1)).unwrap()
    }
    fn crash(&mut self, store: SledStore, _keep: usize) -> SledStore {
        drop(store);
        SledStore::open(self.0.path(), node(1)).unwrap()
    }
}

/// What the replica must hold: the records it applied, durable or not yet.
#[derive(Default)]
struct Model {
    durable: Vec<LogRecord>,
    staged: Vec<LogRecord>,
    /// Records whose writes were acknowledged (synced local writes).
    acked: Vec<LogRecord>,
    /// Local writes staged since the replica was last opened or synced: what the next
    /// sync hands out to send. (Unsynced writes that survive a crash reach peers by
    /// anti-entropy instead.)
    local_since_open: usize,
}

impl Model {
    fn all(&self) -> impl Iterator<Item = &LogRecord> {
        self.durable.iter().chain(&self.staged)
    }

    fn document(&self, key: &str) -> Document {
        let mut doc = Document::default();
        for r in self.all().filter(|r| r.key == key) {
            doc.join(r.delta.clone());
        }
        doc
    }

    fn version_vector(&self) -> VersionVector {
        let mut vv = VersionVector::new();
        for r in self.all() {
            let d = r.dots();
            vv.insert_range(d.origin, d.first..=d.last);
        }
        vv
    }

    fn max_timestamp(&self) -> Option<Timestamp> {
        self.all()
            .flat_map(|r| r.delta.timestamps().copied().collect::<Vec<_>>())
            .max()
    }
}

struct World<H: Harness> {
    harness: H,
    replica: Option<Replica<H::S>>,
    peer: Replica<MemStore>,
    peer_records: Vec<Vec<u8>>,
    model: Model,
    now: u64,
    /// The replica's settings: the document cache's size varies between runs.
    config: ReplicaConfig,
}

impl<H: Harness> World<H> {
    fn new(mut harness: H, doc_cache_bytes: usize) -> Self {
        let store = harness.fresh();
        let config = ReplicaConfig {
            doc_cache_bytes,
            ..ReplicaConfig::default()
        };
        World {
            harness,
            replica: Some(Replica::open(store, config.clone()).unwrap()),
            peer: Replica::open(MemStore::new(node(2)), ReplicaConfig::default()).unwrap(),
            peer_records: Vec::new(),
            model: Model::default(),
            now: 1 << 40,
            config,
        }
    }

    fn replica(&mut self) -> &mut Replica<H::S> {
        self.replica.as_mut().unwrap()
    }

    fn tick(&mut self) -> NTP64 {
        self.now += 1 << 20;
        NTP64(self.now)
    }

    fn step(&mut self, step: &Step) {
        let now = self.tick();
        match step {
            Step::Write { key, ops } => self.write(now, KEYS[*key], ops),
            Step::PeerWrite { key, ops } => {
                if self.peer.write(now, KEYS[*key], ops, None).is_ok() {
                    let synced = self.peer.sync().unwrap();
                    self.peer_records
                        .extend(synced.records.iter().map(LogRecord::encode));
                }
            }
            Step::Deliver { record } if !self.peer_records.is_empty() => {
                let bytes = self.peer_records[record.index(self.peer_records.len())].clone();
                let before = self.replica().version_vector().clone();
                self.replica().apply_remote(now, &bytes[..]).unwrap();
                if self.replica().version_vector() != &before {
                    let r: LogRecord = lattice_crdt::codec::decode(&bytes, usize::MAX).unwrap();
                    self.model.staged.push(r);
                }
            }
            Step::Deliver { .. } => {}
            Step::Sync => self.sync(),
            Step::Crash { keep } => self.crash(*keep),
            Step::Restart => {
                self.sync();
                self.crash(0);
            }
        }
    }

    fn write(&mut self, now: NTP64, key: &str, ops: &[Op]) {
        let highest = self.model.max_timestamp();
        let Ok(_) = self.replica().write(now, key, ops, None) else {
            return;
        };
        let record = self.last_local_record();
        for ts in record.delta.timestamps() {
            assert!(
                highest.is_none_or(|h| *ts > h),
                "HLC went backwards: {ts:?} after {highest:?}"
            );
        }
        self.model.staged.push(record);
        self.model.local_since_open += 1;
    }

    fn last_local_record(&mut self) -> LogRecord {
        let record = self.replica().unsynced_records().last().cloned();
        record.expect("a staged write has an unsynced record")
    }

    fn sync(&mut self) {
        let synced = self.replica().sync().unwrap();
        assert_written_relative(self.replica(), &synced);
        let staged = std::mem::take(&mut self.model.staged);
        for r in &staged {
            if r.first.origin == node(1) {
                self.model.acked.push(r.clone());
            }
        }
        assert_eq!(
            synced.records.len(),
            std::mem::take(&mut self.model.local_since_open)
        );
        self.model.durable.extend(staged);
    }

    fn crash(&mut self, keep: usize) {
        let store = self.replica.take().unwrap().into_store();
        let store = self.harness.crash(store, keep);
        let replica = Replica::open(store, self.config.clone()).unwrap();
        // Whatever survived of the unsynced batches is a prefix of them (batches are
        // atomic and ordered); the rest is gone.
        let vv = replica.version_vector().clone();
        let survived = self.model.staged.iter().take_while(|r| {
            let d = r.dots();
            (d.first..=d.last).all(|s| vv.contains(lattice_crdt::Dot::new(d.origin, s)))
        });
        let survived: Vec<LogRecord> = survived.cloned().collect();
        self.model.staged = survived;
        self.model.local_since_open = 0;
        self.replica = Some(replica);
    }

    fn check(&mut self) {
        let vv = self.model.version_vector();
        assert_eq!(self.replica().version_vector(), &vv);
        for key in KEYS {
            let expected = self.model.document(key);
            let actual = self.replica().document(key).unwrap();
            assert_eq!(actual.store(), expected.store(), "document {key}");
        }
        for r in &self.model.acked {
            let d = r.dots();
            assert!(
                vv.contains(lattice_crdt::Dot::new(d.origin, d.last)),
                "acknowledged write {d:?} lost"
            );
        }
    }
}

/// Document cache sizes: off, so small that it drops documents all the time, default.
fn cache_bytes() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(300),
        Just(ReplicaConfig::default().doc_cache_bytes)
    ]
}

fn run<H: Harness>(harness: H, steps: &[Step], doc_cache_bytes: usize) {
    let mut world = World::new(harness, doc_cache_bytes);
    for step in steps {
        world.step(step);
        world.check();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replica_on_memstore_matches_the_model(steps in steps(), cache in cache_bytes()) {
        run(Mem, &steps, cache);
    }

    #[test]
    fn replica_on_sled_matches_the_model(steps in steps(), cache in cache_bytes()) {
        run(Sled(tempfile::tempdir().unwrap()), &steps, cache);
    }
}

#[test]
fn a_document_view_survives_restart() {
    let mut world = World::new(Mem, ReplicaConfig::default().doc_cache_bytes);
    let ops = vec![Op::Increment {
        field: "n".into(),
        by: 2,
    }];
    world.step(&Step::Write { key: 0, ops });
    world.step(&Step::Sync);
    world.step(&Step::Crash { keep: 0 });
    let read = world.replica().read("a", None).unwrap();
    assert_eq!(read.view, Some(json!({"n": 2})));
}
