//! The membership figures and checker: a paused node's deaths are counted as declared
//! with reason, once per declaring node, and a node that stays out of the membership
//! after heal-all fails the run with the command that reproduces it; pinned swarm seeds
//! whose membership once converged late.

mod common;

use std::time::Duration;

use lattice_sim::fault::{Fault, Scheduled};
use lattice_sim::{Faults, Options, Simulation};

fn options(seed: u64) -> Options {
    Options {
        nodes: 5,
        seed,
        duration: Duration::from_secs(40),
        faults: Faults::default(),
        ..Options::default()
    }
}

#[test]
fn a_paused_node_is_declared_dead_with_reason_and_nothing_else_is() {
    let at = |s| Duration::from_secs(s);
    for seed in 0..4 {
        let schedule = vec![
            Scheduled {
                at: at(8),
                fault: Fault::Pause(2),
            },
            Scheduled {
                at: at(30),
                fault: Fault::Resume(2),
            },
        ];
        let report = match Simulation::with_schedule(options(seed), schedule).run() {
            Ok(report) => report,
            Err(v) => panic!("{v}"),
        };
        // Every other node may declare the paused node dead itself, but each only once
        // per suspicion: gossip of the verdict does not count again.
        assert!(
            (1..=4).contains(&report.dead_while_unreachable),
            "seed {seed}: {} declarations about the paused node",
            report.dead_while_unreachable
        );
        assert_eq!(
            report.false_dead, 0,
            "seed {seed}: no loss, no false deaths"
        );
    }
}

#[test]
fn a_node_that_left_fails_membership_convergence() {
    let mut sim = Simulation::new(options(3));
    sim.fabricate_leave(1);
    let v = sim
        .run()
        .expect_err("the others see node 1 as left (then forget it), not alive");
    let left_or_reaped =
        v.message.contains("sees node 1 as Left") || v.message.contains("does not know node 1");
    assert!(left_or_reaped, "{v}");
    assert_eq!(v.command, options(3).command());
    // The same run without the fabrication passes: the failure was the fabrication.
    Simulation::new(options(3))
        .run()
        .expect("the honest run passes");
}

/// Regression, found by the 1,000-node default run (`lattice sim --nodes 1000 --seed 1
/// --duration 60s`): a one-way cut made node 492 declare node 229 dead and reap it; after
/// the heal no news of 229 circulated and no rejoin round retried reaped members, so 492
/// did not know 229 for 17.5 s, until a push-pull. Reaped members are now retried and
/// told. Long (about 100 s in release): `cargo test --release -p lattice-sim --test
/// membership -- --ignored`.
#[test]
#[ignore = "long: a 1,000-node run; run with --release -- --ignored"]
fn thousand_nodes_seed_1_know_each_other_soon_after_heal() {
    let options = Options {
        nodes: 1000,
        seed: 1,
        duration: Duration::from_secs(60),
        ..Options::default()
    };
    let report = match Simulation::new(options).run() {
        Ok(report) => report,
        Err(v) => panic!("{v}"),
    };
    assert!(
        report.membership_convergence_ms <= 5_000,
        "membership converged {} ms after heal",
        report.membership_convergence_ms
    );
}

/// Regression, found by a 50-node swarm hunt (`lattice sim --nodes 50 --seed 300006
/// --duration 60s --swarm`): a node cut off while a paused member's refutation went
/// round held that live member dead 10 s after heal, until a rejoin round picked it.
/// Members held dead are now reminded in turn (now 1.0 s). Long in debug: `cargo test
/// --release -p lattice-sim --test membership -- --ignored`.
#[test]
#[ignore = "long: a 50-node swarm run; run with --release -- --ignored"]
fn fifty_nodes_seed_300006_know_each_other_soon_after_heal() {
    swarm_seed_knows_everyone_within_5_s(50, 300_006);
}

/// Regression, found by a 25-node swarm hunt (`lattice sim --nodes 25 --seed 700034
/// --duration 60s --swarm`): a node restarted while partitioned, its join reaching no
/// seed, learned of members only as they happened to message it, and did not know one
/// 26.7 s after heal, until its first push-pull. It now asks the members it hears from
/// for the full membership until one comes in (now 1.4 s).
#[test]
fn twenty_five_nodes_seed_700034_know_each_other_soon_after_heal() {
    swarm_seed_knows_everyone_within_5_s(25, 700_034);
}

/// Regression, found by an 8-node swarm hunt (`lattice sim --nodes 8 --seed 910057
/// --duration 30s --swarm`): a node restarted while a member was held dead; its join's
/// sync named that member dead but without an address, so the node dropped the news,
/// and when the member came back its news went round past the node. It knew the member
/// 4.9 s after heal, when the member's round-robin probe reached it. A sync now names a
/// doubted member with its address (now 0.4 s; a 50-node seed, 940045, 16.0 → 1.8 s).
#[test]
fn eight_nodes_seed_910057_know_each_other_soon_after_heal() {
    let options = Options {
        duration: Duration::from_secs(30),
        ..common::swarm_60s(8, 910_057)
    };
    knows_everyone_within(options, 2_000);
}

/// The 60 s swarm run of `nodes` and `seed` passes, and every node sees every other
/// alive within 5 s of heal-all.
fn swarm_seed_knows_everyone_within_5_s(nodes: usize, seed: u64) {
    knows_everyone_within(common::swarm_60s(nodes, seed), 5_000);
}

/// The run passes, and every node sees every other alive within `ms` of heal-all.
fn knows_everyone_within(options: Options, ms: u64) {
    let report = common::passed(Simulation::new(options).run());
    assert!(
        report.membership_convergence_ms <= ms,
        "membership converged {} ms after heal",
        report.membership_convergence_ms
    );
}
