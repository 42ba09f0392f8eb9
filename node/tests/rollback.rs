//! A node whose store went back in time (it lost synced writes) must not reuse its
//! dots: once a peer's digest shows writes of its own that it lacks, it refuses writes
//! until they are repaired, then goes on after them.

mod common;

use common::node;
use lattice_crdt::{Op, NTP64};
use lattice_node::store::MemStore;
use lattice_node::{CatchUp, Replica, ReplicaConfig, WriteError};

fn inc() -> Vec<Op> {
    vec![Op::Increment {
        field: "n".into(),
        by: 1,
    }]
}

#[test]
fn a_rolled_back_replica_refuses_writes_until_its_own_dots_are_back() {
    let now = NTP64(1 << 32);
    let mut first = Replica::open(MemStore::new(node(1)), ReplicaConfig::default()).unwrap();
    for _ in 0..3 {
        first.write(now, "k", &inc(), None).unwrap();
    }
    first.sync().unwrap();
    let on_disk_then = first.store().clone();
    for _ in 0..2 {
        first.write(now, "k", &inc(), None).unwrap();
    }
    first.sync().unwrap();
    // The same node restarts from a store that lost writes 4 and 5; a peer holds them.
    let mut back = Replica::open(on_disk_then, ReplicaConfig::default()).unwrap();
    back.note_peer_version(first.version_vector());
    let refused = back.write(now, "k", &inc(), None);
    assert!(
        matches!(
            refused,
            Err(WriteError::OwnWritesMissing {
                have: 3,
                held_elsewhere: 5
            })
        ),
        "{refused:?}"
    );
    let CatchUp::Records { records, .. } = first.catch_up(back.version_vector(), 10).unwrap()
    else {
        panic!("the log holds them");
    };
    for record in records {
        back.apply_remote(now, &record[..]).unwrap();
    }
    let written = back.write(now, "k", &inc(), None).unwrap();
    assert_eq!(
        written.view["n"], 6,
        "the repaired writes count, and the new one"
    );
    assert_eq!(
        back.version_vector().max_seq(node(1)),
        6,
        "a new dot, none reused"
    );
}
