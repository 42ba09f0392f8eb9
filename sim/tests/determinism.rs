//! The same seed and options give the same run bit for bit (same trace hash); another
//! seed gives another run.

use std::time::Duration;

use lattice_sim::{Options, Simulation};

fn hash(seed: u64, swarm: bool) -> String {
    let options = Options {
        nodes: 4,
        seed,
        duration: Duration::from_secs(20),
        swarm,
        ..Options::default()
    };
    match Simulation::new(options).run() {
        Ok(report) => report.trace_hash,
        Err(v) => panic!("{v}"),
    }
}

#[test]
fn same_seed_same_trace_hash() {
    for (seed, swarm) in [(1, false), (2, true), (3, true)] {
        assert_eq!(
            hash(seed, swarm),
            hash(seed, swarm),
            "seed {seed} swarm {swarm}"
        );
    }
}

#[test]
fn different_seeds_different_trace_hashes() {
    let hashes: std::collections::BTreeSet<String> = (10..16).map(|s| hash(s, true)).collect();
    assert_eq!(hashes.len(), 6, "{hashes:?}");
    assert_ne!(hash(1, false), hash(1, true));
}
