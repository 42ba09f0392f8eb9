//! Write receipts: a retried write applies once, also across a crash and a restart of
//! the node, within the retry window and not after it.

mod common;

use std::time::Duration;

use common::node;
use lattice_crdt::{Op, NTP64};
use lattice_node::store::{MemStore, SledStore, Store};
use lattice_node::{Replica, ReplicaConfig, Retry, WriteError};
use serde_json::json;

const WINDOW: Duration = Duration::from_secs(60);

fn at(secs: u64) -> NTP64 {
    NTP64::from(Duration::from_secs(1_700_000_000 + secs))
}

fn open<S: Store>(store: S) -> Replica<S> {
    let config = ReplicaConfig {
        retry_window: WINDOW,
        ..ReplicaConfig::default()
    };
    Replica::open(store, config).unwrap()
}

fn incr(by: i64) -> Vec<Op> {
    vec![Op::Increment {
        field: "n".into(),
        by,
    }]
}

fn retry(id: u8, request: u8) -> Retry {
    Retry {
        id: [id; 32],
        request: [request; 32],
    }
}

fn count<S: Store>(replica: &Replica<S>) -> serde_json::Value {
    replica.document("k").unwrap().to_json()["n"].clone()
}

#[test]
fn a_retry_answers_the_first_result_and_applies_nothing() {
    let mut replica = open(MemStore::new(node(1)));
    let first = replica
        .write_once(at(0), "k", &incr(5), None, &retry(1, 1))
        .unwrap();
    assert!(!first.replayed);
    // Same round, before the sync: the staged receipt answers.
    let again = replica
        .write_once(at(1), "k", &incr(5), None, &retry(1, 1))
        .unwrap();
    assert!(again.replayed);
    assert_eq!(
        again.ticket, first.ticket,
        "acknowledged with the first attempt"
    );
    assert_eq!(
        (again.view.clone(), again.token.clone()),
        (first.view.clone(), first.token.clone())
    );
    replica.sync().unwrap();
    replica.write(at(2), "k", &incr(100), None).unwrap();
    // After the sync, and after another write changed the document: still the first answer.
    let later = replica
        .write_once(at(3), "k", &incr(5), None, &retry(1, 1))
        .unwrap();
    assert!(later.replayed);
    assert_eq!(later.view, json!({"n": 5}));
    assert_eq!(count(&replica), json!(105));
    // Another id is another write.
    replica
        .write_once(at(4), "k", &incr(5), None, &retry(2, 1))
        .unwrap();
    assert_eq!(count(&replica), json!(110));
}

#[test]
fn an_id_reused_for_another_request_is_refused_and_changes_nothing() {
    let mut replica = open(MemStore::new(node(1)));
    replica
        .write_once(at(0), "k", &incr(1), None, &retry(1, 1))
        .unwrap();
    let vv = replica.version_vector().clone();
    let reused = replica.write_once(at(1), "k", &incr(2), None, &retry(1, 2));
    assert!(
        matches!(reused, Err(WriteError::RetryMismatch)),
        "{reused:?}"
    );
    assert_eq!(replica.version_vector(), &vv);
    assert_eq!(count(&replica), json!(1));
}

#[test]
fn a_receipt_is_durable_exactly_when_its_write_is() {
    let mut replica = open(MemStore::new(node(1)));
    replica
        .write_once(at(0), "k", &incr(1), None, &retry(1, 1))
        .unwrap();
    replica.sync().unwrap();
    replica
        .write_once(at(1), "k", &incr(10), None, &retry(2, 1))
        .unwrap();
    let mut store = replica.into_store();
    store.crash(); // the second write and its receipt were never synced nor acknowledged
    let mut replica = open(store);
    let acked = replica
        .write_once(at(2), "k", &incr(1), None, &retry(1, 1))
        .unwrap();
    assert!(
        acked.replayed,
        "an acknowledged write's retry after a crash"
    );
    assert_eq!(acked.ticket, 0, "durable before this replica was opened");
    let lost = replica
        .write_once(at(2), "k", &incr(10), None, &retry(2, 1))
        .unwrap();
    assert!(!lost.replayed, "a lost write's retry applies it");
    assert_eq!(count(&replica), json!(11));
}

#[test]
fn receipts_survive_a_restart_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut replica = open(SledStore::open(dir.path(), node(1)).unwrap());
    replica
        .write_once(at(0), "k", &incr(3), None, &retry(9, 9))
        .unwrap();
    replica.sync().unwrap();
    drop(replica);
    let mut replica = open(SledStore::open(dir.path(), node(1)).unwrap());
    let again = replica
        .write_once(at(5), "k", &incr(3), None, &retry(9, 9))
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.view, json!({"n": 3}));
    assert_eq!(count(&replica), json!(3));
}

#[test]
fn receipts_expire_after_the_window_and_the_sweep_deletes_them() {
    let mut replica = open(MemStore::new(node(1)));
    for id in 0..10 {
        replica
            .write_once(at(u64::from(id)), "k", &incr(1), None, &retry(id, 0))
            .unwrap();
    }
    replica.sync().unwrap();
    let stored = |r: &Replica<MemStore>| r.store().receipts_after(None, 100).unwrap().len();
    assert_eq!(stored(&replica), 10);
    // At 65 s the receipts of 0..=5 are older than the window; 6..=9 are not.
    let now = at(5 + WINDOW.as_secs());
    let mut expired = 0;
    for _ in 0..4 {
        expired += replica.expire_receipts(now, 3).unwrap(); // 3 at a time, going round
    }
    replica.sync().unwrap();
    assert_eq!(expired, 6);
    assert_eq!(stored(&replica), 4);
    // An expired receipt answers nothing: the retry is a new write.
    let old = replica
        .write_once(now, "k", &incr(1), None, &retry(0, 0))
        .unwrap();
    assert!(!old.replayed);
    let live = replica
        .write_once(now, "k", &incr(1), None, &retry(9, 0))
        .unwrap();
    assert!(live.replayed);
    assert_eq!(count(&replica), json!(11));
}
