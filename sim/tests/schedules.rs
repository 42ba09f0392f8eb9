//! Proptest over fault schedules: any mix of partitions, crashes, restarts, pauses and
//! clock jumps at any times, on 3–5 nodes, and every checker still passes after heal.

use std::time::Duration;

use lattice_sim::fault::{Fault, Scheduled};
use lattice_sim::{Faults, Options, Simulation};
use proptest::prelude::*;

const SECS: u64 = 12;

fn fault(nodes: usize) -> impl Strategy<Value = Fault> {
    let node = 0..nodes;
    prop_oneof![
        (
            prop::collection::vec(any::<bool>(), nodes),
            any::<bool>(),
            1u32..4
        )
            .prop_map(|(side, one_way, id)| Fault::Partition { id, side, one_way }),
        (1u32..4).prop_map(|id| Fault::Heal { id }),
        node.clone().prop_map(Fault::Crash),
        node.clone().prop_map(Fault::Restart),
        node.clone().prop_map(Fault::Pause),
        node.clone().prop_map(Fault::Resume),
        (node, -400i64..400).prop_map(|(n, ms)| Fault::ClockJump(n, ms)),
    ]
}

fn case() -> impl Strategy<Value = (usize, u64, Vec<Scheduled>)> {
    (3usize..=5, any::<u64>()).prop_flat_map(|(nodes, seed)| {
        let scheduled = (0..SECS * 1_000, fault(nodes)).prop_map(|(ms, fault)| Scheduled {
            at: Duration::from_millis(ms),
            fault,
        });
        (
            Just(nodes),
            Just(seed),
            prop::collection::vec(scheduled, 0..24),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_fault_schedule_keeps_every_invariant((nodes, seed, mut schedule) in case()) {
        schedule.sort_by_key(|s| s.at);
        let options = Options {
            nodes,
            seed,
            duration: Duration::from_secs(SECS),
            faults: Faults::parse("loss,skew").unwrap(),
            swarm: false,
            sessions: None,
        };
        if let Err(v) = Simulation::with_schedule(options, schedule.clone()).run() {
            prop_assert!(false, "{v}\nschedule: {schedule:?}");
        }
    }
}

/// A clock that jumps far beyond the maximum drift (500 ms): node 1 runs 5 s ahead for
/// most of the faulty phase, so the others refuse its register writes, stamped by a
/// clock they cannot trust yet (the report counts them and names the first). Nothing
/// acknowledged is lost and every session guarantee holds: once heal-all corrects the
/// clock and the others' clocks pass those stamps, anti-entropy brings the records and
/// every replica converges.
#[test]
fn a_clock_far_ahead_gets_its_writes_refused_until_the_others_catch_up() {
    let options = Options {
        nodes: 4,
        seed: 2,
        duration: Duration::from_secs(20),
        faults: Faults::default(),
        swarm: false,
        sessions: Some(8),
    };
    let schedule = vec![Scheduled {
        at: Duration::from_secs(2),
        fault: Fault::ClockJump(1, 5_000),
    }];
    let report = match Simulation::with_schedule(options, schedule).run() {
        Ok(report) => report,
        Err(v) => panic!("{v}"),
    };
    assert!(report.records_refused > 0, "{report:?}");
    let first = report.first_refusal.as_deref().unwrap_or_default();
    assert!(first.contains("ahead of the local clock"), "{first}");
}
