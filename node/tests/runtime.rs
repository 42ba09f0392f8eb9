//! The group-commit runtime: concurrent writers share syncs, nothing is acknowledged
//! before its sync, and a failed sync stops the replica instead of acknowledging.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use lattice_crdt::{Dot, NodeId, Op};
use lattice_node::runtime::{CallError, Runtime};
use lattice_node::store::{MemStore, MetaKey, ReceiptId, Store, StoreError, WriteBatch};
use lattice_node::{Replica, ReplicaConfig};
use serde_json::json;

/// A `MemStore` that counts syncs and durable log records, and can be told to fail
/// syncs.
struct Probe {
    inner: MemStore,
    syncs: Arc<AtomicUsize>,
    fail: Arc<AtomicBool>,
    written_records: usize,
    durable_records: Arc<AtomicUsize>,
}

impl Store for Probe {
    fn node(&self) -> NodeId {
        self.inner.node()
    }
    fn doc(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.doc(key)
    }
    fn docs_after(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner.docs_after(prefix, after, limit)
    }
    fn log_floor(&self, origin: NodeId, seq: u64) -> Result<Option<(Dot, Vec<u8>)>, StoreError> {
        self.inner.log_floor(origin, seq)
    }
    fn log_range(
        &self,
        origin: NodeId,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<(Dot, Vec<u8>)>, StoreError> {
        self.inner.log_range(origin, from, to, limit)
    }
    fn meta(&self, key: MetaKey) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.meta(key)
    }
    fn receipt(&self, id: &ReceiptId) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.receipt(id)
    }
    fn receipts_after(
        &self,
        after: Option<&ReceiptId>,
        limit: usize,
    ) -> Result<Vec<(ReceiptId, Vec<u8>)>, StoreError> {
        self.inner.receipts_after(after, limit)
    }
    fn write(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        self.written_records += batch.log.len();
        self.inner.write(batch)
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Io("injected fsync failure".into()));
        }
        // A sync takes time, as on a disk: an acknowledgement sent before it would be
        // seen by its writer while the count still lags.
        thread::sleep(std::time::Duration::from_millis(1));
        self.inner.sync()?;
        self.syncs.fetch_add(1, Ordering::SeqCst);
        self.durable_records
            .store(self.written_records, Ordering::SeqCst);
        Ok(())
    }
}

struct Gauges {
    syncs: Arc<AtomicUsize>,
    fail: Arc<AtomicBool>,
    durable_records: Arc<AtomicUsize>,
}

fn probe() -> (Probe, Gauges) {
    let gauges = Gauges {
        syncs: Arc::new(AtomicUsize::new(0)),
        fail: Arc::new(AtomicBool::new(false)),
        durable_records: Arc::new(AtomicUsize::new(0)),
    };
    let store = Probe {
        inner: MemStore::new(NodeId::new(1).unwrap()),
        syncs: Arc::clone(&gauges.syncs),
        fail: Arc::clone(&gauges.fail),
        written_records: 0,
        durable_records: Arc::clone(&gauges.durable_records),
    };
    (store, gauges)
}

fn inc() -> Vec<Op> {
    vec![Op::Increment {
        field: "n".into(),
        by: 1,
    }]
}

#[test]
fn concurrent_writers_share_syncs_and_every_acknowledged_write_is_durable() {
    const WRITERS: usize = 32;
    const WRITES: usize = 25;
    let (store, gauges) = probe();
    let runtime = Runtime::start(
        Replica::open(store, ReplicaConfig::default()).unwrap(),
        1024,
    );
    let acked = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let handle = runtime.handle();
            let (acked, durable) = (Arc::clone(&acked), Arc::clone(&gauges.durable_records));
            thread::spawn(move || {
                for _ in 0..WRITES {
                    handle.write(&format!("w{}", w % 4), inc(), None).unwrap();
                    let acked = acked.fetch_add(1, Ordering::SeqCst) + 1;
                    let durable = durable.load(Ordering::SeqCst);
                    assert!(
                        acked <= durable,
                        "{acked} writes acknowledged, {durable} durable"
                    );
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let replica = runtime.stop().unwrap();
    let syncs = gauges.syncs.load(Ordering::SeqCst);
    assert!(
        syncs < WRITERS * WRITES,
        "{syncs} syncs for {} writes: no group commit",
        WRITERS * WRITES
    );
    // A crash now loses nothing acknowledged.
    let mut store = replica.into_store();
    store.inner.crash();
    let replica = Replica::open(store, ReplicaConfig::default()).unwrap();
    for k in 0..4 {
        let read = replica.read(&format!("w{k}"), None).unwrap();
        assert_eq!(read.view, Some(json!({"n": WRITERS / 4 * WRITES})));
    }
}

#[test]
fn a_failed_sync_acknowledges_nothing_and_stops_the_replica() {
    let (store, gauges) = probe();
    let runtime = Runtime::start(Replica::open(store, ReplicaConfig::default()).unwrap(), 16);
    let handle = runtime.handle();
    handle.write("k", inc(), None).unwrap();
    gauges.fail.store(true, Ordering::SeqCst);
    assert!(matches!(
        handle.write("k", inc(), None),
        Err(CallError::Sync(_))
    ));
    assert!(matches!(
        handle.write("k", inc(), None),
        Err(CallError::Stopped)
    ));
    assert!(matches!(runtime.stop(), Err(StoreError::Io(_))));
}

#[test]
fn refused_writes_are_answered_at_once_and_change_nothing() {
    let (store, _) = probe();
    let runtime = Runtime::start(Replica::open(store, ReplicaConfig::default()).unwrap(), 16);
    let handle = runtime.handle();
    assert!(matches!(
        handle.write("bad key", inc(), None),
        Err(CallError::Write(_))
    ));
    assert!(matches!(
        handle.write("k", vec![], None),
        Err(CallError::Write(_))
    ));
    assert_eq!(handle.read("k", None).unwrap().view, None);
    drop(handle);
    runtime.stop().unwrap();
}
