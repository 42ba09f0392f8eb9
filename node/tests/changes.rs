//! What changed since a client's cursor: pages that never skip a change, only the
//! prefix asked for, and `Pruned` once the log no longer reaches back to the cursor.

mod common;

use common::node;
use lattice_crdt::{Op, VersionVector, NTP64};
use lattice_node::store::MemStore;
use lattice_node::{Changes, Replica, ReplicaConfig};
use serde_json::json;

fn inc() -> Vec<Op> {
    vec![Op::Increment {
        field: "n".into(),
        by: 1,
    }]
}

fn docs(changes: Changes) -> (Vec<String>, VersionVector, bool) {
    match changes {
        Changes::Docs {
            docs,
            next,
            complete,
        } => (docs.into_iter().map(|(k, _)| k).collect(), next, complete),
        Changes::Pruned => panic!("pruned"),
    }
}

#[test]
fn changes_page_by_records_and_stop_at_the_pruned_log() {
    let mut replica = Replica::open(MemStore::new(node(1)), ReplicaConfig::default()).unwrap();
    let now = NTP64(1 << 32);
    for key in ["a/1", "b/1", "a/2", "a/1"] {
        replica.write(now, key, &inc(), None).unwrap();
    }
    replica.sync().unwrap();
    let empty = VersionVector::new();
    let (keys, next, complete) = docs(replica.changes_since(&empty, "a/", 2).unwrap());
    assert_eq!(
        (keys, complete),
        (vec!["a/1".to_owned()], false),
        "records 1-2: a/1, b/1"
    );
    let (keys, next, complete) = docs(replica.changes_since(&next, "a/", 2).unwrap());
    assert_eq!(
        (keys, complete),
        (vec!["a/1".to_owned(), "a/2".to_owned()], true)
    );
    assert_eq!(
        &next,
        replica.version_vector(),
        "complete: the cursor is everything"
    );
    let (keys, _, complete) = docs(replica.changes_since(&next, "", 10).unwrap());
    assert!(keys.is_empty() && complete);
    let view = match replica.changes_since(&empty, "a/1", 10).unwrap() {
        Changes::Docs { docs, .. } => docs,
        Changes::Pruned => unreachable!(),
    };
    assert_eq!(view, [("a/1".to_owned(), Some(json!({"n": 2})))]);

    let stable = replica.version_vector().clone();
    replica.prune_log(&stable, 10).unwrap();
    replica.sync().unwrap();
    assert_eq!(
        replica.changes_since(&empty, "", 10).unwrap(),
        Changes::Pruned
    );
    let (keys, _, complete) = docs(replica.changes_since(&stable, "", 10).unwrap());
    assert!(
        keys.is_empty() && complete,
        "a cursor past the pruned log still works"
    );
}

#[test]
fn writes_staged_since_the_last_sync_are_listed_and_not_skipped() {
    let mut replica = Replica::open(MemStore::new(node(1)), ReplicaConfig::default()).unwrap();
    let now = NTP64(1 << 32);
    replica.write(now, "a", &inc(), None).unwrap();
    replica.sync().unwrap();
    let (_, cursor, _) = docs(
        replica
            .changes_since(&VersionVector::new(), "", 10)
            .unwrap(),
    );
    // Staged, not synced: the answer waits for the sync, and its cursor covers it, so
    // it must be listed now or never.
    replica.write(now, "b", &inc(), None).unwrap();
    let (keys, next, complete) = docs(replica.changes_since(&cursor, "", 10).unwrap());
    assert_eq!((keys, complete), (vec!["b".to_owned()], true));
    assert!(next.includes(replica.version_vector()));
}
