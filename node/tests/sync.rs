//! Anti-entropy through encoded `SyncMessage`s: replicas that only exchange digests and
//! the answers to them converge, including through snapshots once logs are pruned.

mod common;

use std::collections::VecDeque;

use common::{node, op};
use lattice_crdt::{Op, VersionVector, NTP64};
use lattice_node::store::MemStore;
use lattice_node::{Replica, ReplicaConfig, SyncLimits, SyncMessage};
use proptest::prelude::*;

const KEYS: [&str; 3] = ["x", "y/1", "y/2"];

/// An increment of counter `n` by 1.
fn inc() -> [Op; 1] {
    [Op::Increment {
        field: "n".into(),
        by: 1,
    }]
}

fn cluster(n: u64) -> Vec<Replica<MemStore>> {
    (1..=n)
        .map(|i| Replica::open(MemStore::new(node(i)), ReplicaConfig::default()).unwrap())
        .collect()
}

/// Runs one exchange started by `a` towards `b` until no message is left in flight.
fn exchange(replicas: &mut [Replica<MemStore>], a: usize, b: usize, limits: &SyncLimits) -> usize {
    let mut in_flight = VecDeque::from([(b, replicas[a].digest().encode())]);
    let mut messages = 0;
    while let Some((to, bytes)) = in_flight.pop_front() {
        messages += 1;
        assert!(messages < 10_000, "the exchange does not end");
        let from = if to == a { b } else { a };
        let message = SyncMessage::decode(&bytes, limits).unwrap();
        let outcome = replicas[to]
            .handle_sync(NTP64(1 << 40), message, limits, &|_| false)
            .unwrap();
        replicas[to].sync().unwrap();
        in_flight.extend(outcome.replies.iter().map(|m| (from, m.encode())));
    }
    messages
}

fn prune_all(replicas: &mut [Replica<MemStore>]) {
    let mut stable = VersionVector::new();
    for origin in 1..=replicas.len() as u64 {
        let cut = replicas
            .iter()
            .map(|r| r.version_vector().prefix(node(origin)))
            .min()
            .unwrap();
        stable.insert_range(node(origin), 1..=cut);
    }
    for r in replicas.iter_mut() {
        r.prune_log(&stable, usize::MAX).unwrap();
        r.sync().unwrap();
    }
}

fn assert_converged(replicas: &[Replica<MemStore>]) {
    for r in &replicas[1..] {
        assert_eq!(r.version_vector(), replicas[0].version_vector());
        for key in KEYS {
            assert_eq!(
                r.document(key).unwrap().store(),
                replicas[0].document(key).unwrap().store()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn digests_and_answers_converge_replicas(
        writes in prop::collection::vec((0usize..3, 0usize..KEYS.len(), prop::collection::vec(op(), 1..3)), 1..30),
        exchanges in prop::collection::vec((0usize..3, 0usize..3), 0..10),
        prune_at in any::<prop::sample::Index>(),
    ) {
        let limits = SyncLimits { records_max: 2, snapshot_docs_max: 1, ..SyncLimits::default() };
        let mut replicas = cluster(3);
        let prune_at = prune_at.index(writes.len());
        for (i, (at, key, ops)) in writes.iter().enumerate() {
            let ops: &[Op] = ops;
            if replicas[*at].write(NTP64(1 << 40), KEYS[*key], ops, None).is_ok() {
                replicas[*at].sync().unwrap();
            }
            if let Some(&(a, b)) = exchanges.get(i) {
                if a != b {
                    exchange(&mut replicas, a, b, &limits);
                }
            }
            if i == prune_at {
                prune_all(&mut replicas);
            }
        }
        // A ring of exchanges, twice, repairs everything.
        for _ in 0..2 {
            for a in 0..3 {
                exchange(&mut replicas, a, (a + 1) % 3, &limits);
            }
        }
        assert_converged(&replicas);
        // A newcomer after pruning catches up by snapshot.
        prune_all(&mut replicas);
        let mut all: Vec<_> = replicas.into_iter().chain(cluster(4).pop()).collect();
        exchange(&mut all, 3, 0, &limits);
        assert_converged(&all);
    }
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let limits = SyncLimits::default();
    for bytes in [
        &b""[..],
        &[1, 2, 3][..],
        &[1, 0xff, 0xff, 0xff, 0xff, 0x0f][..],
    ] {
        assert!(SyncMessage::decode(bytes, &limits).is_err());
    }
}

/// Regression (found by the simulator with aggressive pruning: `lattice sim --nodes 4
/// --seed 7 --duration 20s` with a 3-dot log): a snapshot's base was the server's
/// version vector including a record staged this round, whose document the pages (read
/// from the store) lacked, so the peer adopted a dot without its effect and never asked
/// for it again.
#[test]
fn a_snapshot_never_claims_a_dot_its_pages_lack() {
    let limits = SyncLimits::default();
    let mut r = cluster(3);
    let now = NTP64(1 << 40);
    let inc = inc();
    r[0].write(now, "y/1", &inc, None).unwrap();
    r[0].sync().unwrap();
    let stable = r[0].version_vector().clone();
    r[0].prune_log(&stable, usize::MAX).unwrap();
    r[0].sync().unwrap();
    // Node 3's write reaches node 1 and is staged there, not yet synced.
    r[2].write(now, "x", &inc, None).unwrap();
    let record = r[2].sync().unwrap().records[0].encode();
    r[0].apply_remote(now, &record[..]).unwrap();
    // Node 2 asks node 1 for everything: node 1's log is pruned, so it answers with a
    // snapshot, within the same round.
    let mut in_flight = VecDeque::from([(0, r[1].digest())]);
    while let Some((to, message)) = in_flight.pop_front() {
        let outcome = r[to]
            .handle_sync(now, message, &limits, &|_| false)
            .unwrap();
        if to == 1 {
            r[1].sync().unwrap();
        }
        let from = 1 - to;
        in_flight.extend(outcome.replies.into_iter().map(|m| (from, m)));
        assert!(in_flight.len() < 100);
    }
    let claims = r[1].version_vector().max_seq(node(3)) > 0;
    let holds = r[1].document("x").unwrap().to_json()["n"] == 1;
    assert!(
        !claims || holds,
        "node 2 claims node 3's write without holding it"
    );
    // Once node 1 has synced, the write reaches node 2 like any other.
    r[0].sync().unwrap();
    exchange(&mut r, 1, 0, &limits);
    assert_eq!(r[1].document("x").unwrap().to_json()["n"], 1);
}

/// A digest's answer leaves out the records the caller says dissemination is still
/// pushing, and says it is complete; an urgent digest (a session waiting) gets them all.
#[test]
fn a_digest_leaves_pushed_records_to_dissemination_and_an_urgent_one_gets_them() {
    let mut r = cluster(2);
    let now = NTP64(1 << 40);
    let inc = inc();
    let mut firsts = Vec::new();
    for _ in 0..3 {
        r[0].write(now, "x", &inc, None).unwrap();
        firsts.push(r[0].sync().unwrap().records[0].first);
    }
    let limits = SyncLimits::default();
    let pushing = |dot: lattice_crdt::Dot| dot == firsts[1];
    let answer = |r: &mut [Replica<MemStore>], message: SyncMessage| {
        let outcome = r[0].handle_sync(now, message, &limits, &pushing).unwrap();
        match &outcome.replies[0] {
            SyncMessage::Records { records, complete } => (records.len(), *complete),
            other => panic!("expected records, got {other:?}"),
        }
    };
    let digest = r[1].digest();
    assert_eq!(
        answer(&mut r, digest),
        (2, true),
        "the pushed record is left out"
    );
    let urgent = r[1].urgent_digest();
    assert_eq!(
        answer(&mut r, urgent),
        (3, true),
        "an urgent digest gets every record"
    );
}

/// Two replicas that each hold a record the other lacks, both still being pushed: the
/// exchange ends after one digest back, instead of trading digests for as long as the
/// records are pushed.
#[test]
fn digests_sent_back_ask_for_no_digest_in_return() {
    let mut r = cluster(2);
    let now = NTP64(1 << 40);
    let inc = inc();
    for replica in r.iter_mut() {
        replica.write(now, "x", &inc, None).unwrap();
        replica.sync().unwrap();
    }
    let limits = SyncLimits::default();
    let mut in_flight = VecDeque::from([(1, r[0].digest())]);
    let mut messages = 0;
    while let Some((to, message)) = in_flight.pop_front() {
        messages += 1;
        assert!(messages < 100, "the exchange does not end");
        let outcome = r[to].handle_sync(now, message, &limits, &|_| true).unwrap();
        in_flight.extend(outcome.replies.into_iter().map(|m| (1 - to, m)));
    }
    // Digest, then records (none: withheld) and a digest back, then records (none).
    assert_eq!(messages, 4);
}

/// A snapshot from a peer that has not seen a remove yet merges into the whole
/// document, not the one kept relative to the version vector: the removed element's
/// dot is only in the vector there, and must keep the element removed. Once from the
/// cache, once read back from the store after a restart.
#[test]
fn a_stale_snapshot_does_not_bring_back_what_was_removed() {
    for restart in [false, true] {
        let mut r = cluster(2);
        let now = NTP64(1 << 40);
        let one = || lattice_crdt::Json::from_value(&serde_json::json!(1), &Default::default());
        let add = [Op::Add {
            field: "s".into(),
            value: one().unwrap(),
        }];
        r[0].write(now, "x", &add, None).unwrap();
        let record = r[0].sync().unwrap().records[0].encode();
        r[1].apply_remote(now, &record[..]).unwrap();
        r[1].sync().unwrap();
        let remove = [Op::Remove {
            field: "s".into(),
            value: one().unwrap(),
        }];
        r[1].write(now, "x", &remove, None).unwrap();
        r[1].sync().unwrap();
        if restart {
            let store = r.remove(1).into_store();
            r.push(Replica::open(store, ReplicaConfig::default()).unwrap());
        }
        let base = r[0].version_vector().clone();
        let page = r[0].snapshot_page(None, 10).unwrap();
        assert_eq!(page.next, None);
        r[1].apply_snapshot_page(now, &base, None, &page).unwrap();
        r[1].finish_snapshot(&base);
        r[1].sync().unwrap();
        assert_eq!(
            r[1].document("x").unwrap().to_json(),
            serde_json::json!({}),
            "restart: {restart}"
        );
    }
}

/// A replica that caught up by snapshot holds documents, not the records of the dots the
/// snapshot brought: a peer lacking those dots gets a snapshot from it too, not an
/// answer that says it is complete without them (found by the 25-node swarm seed
/// 90287, whose last lagging node waited 28 s for a peer that had pruned the log).
#[test]
fn a_replica_serves_a_snapshot_for_the_dots_a_snapshot_brought_it() {
    let limits = SyncLimits::default();
    let mut r = cluster(3);
    let now = NTP64(1 << 40);
    for _ in 0..3 {
        r[0].write(now, "x", &inc(), None).unwrap();
        r[0].sync().unwrap();
    }
    let stable = r[0].version_vector().clone();
    r[0].prune_log(&stable, usize::MAX).unwrap();
    r[0].sync().unwrap();
    exchange(&mut r, 1, 0, &limits);
    assert_eq!(
        r[1].version_vector(),
        r[0].version_vector(),
        "node 2 took a snapshot"
    );
    assert_eq!(
        r[1].catch_up(&VersionVector::new(), 10).unwrap(),
        lattice_node::CatchUp::SnapshotNeeded
    );
    exchange(&mut r, 2, 1, &limits);
    assert_eq!(r[2].document("x").unwrap().to_json()["n"], 3);
    assert_converged(&r);
    // It remembers across a restart, and its own later writes it serves from its log.
    r[1].write(now, "y/1", &inc(), None).unwrap();
    r[1].sync().unwrap();
    let reopened = Replica::open(r.remove(1).into_store(), ReplicaConfig::default()).unwrap();
    match reopened.catch_up(r[1].version_vector(), 10).unwrap() {
        lattice_node::CatchUp::Records { records, complete } => {
            assert!(complete);
            assert_eq!(records.len(), 1, "node 2's own write");
        }
        other => panic!("expected records, got {other:?}"),
    }
    assert_eq!(
        reopened.catch_up(&VersionVector::new(), 10).unwrap(),
        lattice_node::CatchUp::SnapshotNeeded
    );
}

/// The pruning point is durable and outlives later syncs that prune nothing: a
/// reopened replica still answers a peer that lacks pruned dots with a snapshot, never
/// with the records after the gap.
#[test]
fn a_reopened_replica_remembers_what_it_pruned() {
    let mut r = cluster(1).remove(0);
    let now = NTP64(1 << 40);
    let inc = inc();
    for _ in 0..2 {
        r.write(now, "x", &inc, None).unwrap();
        r.sync().unwrap();
    }
    let stable = r.version_vector().clone();
    assert_eq!(r.prune_log(&stable, usize::MAX).unwrap(), 2);
    r.sync().unwrap();
    r.write(now, "x", &inc, None).unwrap();
    r.sync().unwrap();
    let r = Replica::open(r.into_store(), ReplicaConfig::default()).unwrap();
    assert_eq!(
        r.catch_up(&VersionVector::new(), 10).unwrap(),
        lattice_node::CatchUp::SnapshotNeeded
    );
}

#[test]
fn records_from_peers_pass_on_before_the_sync_and_local_writes_only_after() {
    let mut r = cluster(3);
    let now = NTP64(1 << 32);
    let inc = inc();
    let records = |r: &Replica<MemStore>| match r.catch_up(&VersionVector::new(), 10).unwrap() {
        lattice_node::CatchUp::Records { records, complete } => {
            assert!(complete);
            records
        }
        other => panic!("{other:?}"),
    };
    r[0].write(now, "x", &inc, None).unwrap();
    r[0].sync().unwrap();
    let from_0 = records(&r[0]);
    r[1].apply_remote(now, &from_0[0][..]).unwrap();
    r[1].write(now, "x", &inc, None).unwrap();
    // Node 1 synced neither: it passes on node 0's record (durable there), not its own.
    assert_eq!(records(&r[1]), from_0);
    r[1].sync().unwrap();
    assert_eq!(records(&r[1]).len(), 2);
}
