//! Swarm seeds of small clusters: each seed draws its own fault profile and schedule,
//! and every checker must pass. Four test functions so the harness runs them in
//! parallel; about 300 seeds in all, bounded to stay near a minute in debug on 2 cores.
//! Larger runs are `#[ignore]`d: `cargo test -p lattice-sim --release -- --ignored`.

mod common;

use std::time::Duration;

use lattice_sim::{Faults, Options, Simulation};

/// Runs `seeds` swarm seeds; on failure the panic message holds every failing seed
/// and its reproduce command.
fn swarm(seeds: std::ops::Range<u64>, secs: u64) {
    let mut failures = Vec::new();
    for seed in seeds {
        let options = Options {
            nodes: 3 + (seed % 3) as usize,
            seed,
            duration: Duration::from_secs(secs),
            faults: Faults::ALL,
            swarm: true,
            sessions: None,
        };
        if let Err(v) = Simulation::new(options).run() {
            failures.push(v.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing seeds:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn swarm_seeds_0_to_75() {
    swarm(0..75, 15);
}

#[test]
fn swarm_seeds_75_to_150() {
    swarm(75..150, 15);
}

#[test]
fn swarm_seeds_150_to_225() {
    swarm(150..225, 15);
}

#[test]
fn swarm_seeds_225_to_300() {
    swarm(225..300, 15);
}

#[test]
#[ignore = "long: 2,000 seeds of 60 s; run with --release -- --ignored"]
fn swarm_many_long_seeds() {
    swarm(1_000..3_000, 60);
}

#[test]
#[ignore = "long: a 300 s run of 10 nodes with every fault; run with --release -- --ignored"]
fn ten_nodes_five_minutes() {
    let options = Options {
        nodes: 10,
        seed: 42,
        duration: Duration::from_secs(300),
        ..Options::default()
    };
    if let Err(v) = Simulation::new(options).run() {
        panic!("{v}");
    }
}

/// Regression, found by the 25-node swarm hunt (`lattice sim --nodes 25 --seed 90287
/// --duration 60s --swarm`): a node that caught up by snapshot answered peers from its
/// log, which lacked the records of the dots the snapshot brought, and called the answer
/// complete; the last lagging node converged only 32.5 s after heal, once it asked a
/// peer whose log was really pruned. Such dots now count as pruned (a snapshot is sent).
#[test]
fn twenty_five_nodes_seed_90287_converge_soon_after_heal() {
    let report = common::passed(Simulation::new(common::swarm_60s(25, 90_287)).run());
    assert!(
        report.convergence_ms <= 10_000,
        "converged {} ms after heal",
        report.convergence_ms
    );
}
