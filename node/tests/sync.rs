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
            .handle_sync(NTP64(1 << 40), message, limits)
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
