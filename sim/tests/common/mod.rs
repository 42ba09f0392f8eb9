//! Helpers shared by the simulator's test files.

use std::time::Duration;

use lattice_sim::{Faults, Options, RunReport};

/// The options of `lattice sim --nodes N --seed S --duration 60s --swarm`: the runs the
/// swarm hunts pin.
pub(crate) fn swarm_60s(nodes: usize, seed: u64) -> Options {
    Options {
        nodes,
        seed,
        duration: Duration::from_secs(60),
        faults: Faults::ALL,
        swarm: true,
        sessions: None,
    }
}

/// The report of a run that must pass; a violation fails the test with the message
/// and the command that reproduces it.
pub(crate) fn passed(run: Result<RunReport, lattice_sim::Violation>) -> RunReport {
    match run {
        Ok(report) => report,
        Err(v) => panic!("{v}"),
    }
}
