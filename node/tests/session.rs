//! Session tokens across replicas: a replica serves a token only when it holds the
//! token's past, and then a read shows everything the session wrote or read.

use lattice_crdt::{NodeId, Op, NTP64};
use lattice_node::store::MemStore;
use lattice_node::{CatchUp, ReadError, Replica, ReplicaConfig, SessionToken, WriteError};
use proptest::prelude::*;
use serde_json::json;

fn replica(n: u64) -> Replica<MemStore> {
    Replica::open(
        MemStore::new(NodeId::new(n).unwrap()),
        ReplicaConfig::default(),
    )
    .unwrap()
}

fn inc(by: i64) -> Vec<Op> {
    vec![Op::Increment {
        field: "n".into(),
        by,
    }]
}

/// Pulls everything `into` lacks from `from`.
fn pull(into: &mut Replica<MemStore>, from: &Replica<MemStore>, now: NTP64) {
    match from.catch_up(into.version_vector(), usize::MAX).unwrap() {
        CatchUp::Records { records, .. } => {
            for r in records {
                into.apply_remote(now, &r[..]).unwrap();
            }
        }
        CatchUp::SnapshotNeeded => unreachable!("nothing is pruned here"),
    }
    into.sync().unwrap();
}

#[test]
fn a_session_moves_between_nodes_without_going_back_in_time() {
    let now = NTP64(1 << 40);
    let (mut a, mut b) = (replica(1), replica(2));
    let written = a.write(now, "k", &inc(5), None).unwrap();
    a.sync().unwrap();
    // Read-your-writes: b has not seen the write, so it must not answer.
    assert!(!b.can_serve(&written.token));
    assert!(matches!(
        b.read("k", Some(&written.token)),
        Err(ReadError::SessionNotReady)
    ));
    // Monotonic writes: nor may it take the session's next write.
    assert!(matches!(
        b.write(now, "k", &inc(1), Some(&written.token)),
        Err(WriteError::SessionNotReady)
    ));
    pull(&mut b, &a, now);
    let read = b.read("k", Some(&written.token)).unwrap();
    assert_eq!(read.view, Some(json!({"n": 5})));
    // The token only grows, and the text form round-trips.
    assert!(read.token.past().includes(written.token.past()));
    let parsed = SessionToken::parse(&read.token.encode()).unwrap();
    assert_eq!(parsed, read.token);
    // Writes-follow-reads: a write at b after that read is causally after a's write.
    let second = b.write(now, "k", &inc(1), Some(&parsed)).unwrap();
    assert_eq!(second.view, json!({"n": 6}));
}

proptest! {
    #[test]
    fn can_serve_is_inclusion_and_reads_show_the_sessions_writes(
        script in prop::collection::vec((0usize..3, any::<bool>(), 0usize..3), 1..30)
    ) {
        let now = NTP64(1 << 40);
        let mut nodes: Vec<_> = (1..=3).map(replica).collect();
        let mut session = SessionToken::default();
        let mut total = 0i64;
        for (at, write, from) in script {
            if write && nodes[at].can_serve(&session) {
                let w = nodes[at].write(now, "k", &inc(1), Some(&session)).unwrap();
                nodes[at].sync().unwrap();
                total += 1;
                session = w.token;
            } else if at != from {
                let (into, src) = if at < from {
                    let (l, r) = nodes.split_at_mut(from);
                    (&mut l[at], &r[0])
                } else {
                    let (l, r) = nodes.split_at_mut(at);
                    (&mut r[0], &l[from])
                };
                pull(into, src, now);
            }
            for node in &nodes {
                let serves = node.can_serve(&session);
                prop_assert_eq!(serves, node.version_vector().includes(session.past()));
                if serves {
                    let read = node.read("k", Some(&session)).unwrap();
                    let seen = read.view.map_or(0, |v| v["n"].as_i64().unwrap());
                    prop_assert_eq!(seen, total, "a read with the token missed the session's writes");
                }
            }
        }
    }
}
