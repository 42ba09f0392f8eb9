//! lattice-sim: the deterministic simulator behind `lattice sim`.
//!
//! It runs N real node cores ([`lattice_node::NodeCore`]: replica + gossip engine, over
//! [`MemStore`](lattice_node::store::MemStore)s that share one
//! [`RecordPool`](lattice_node::store::RecordPool), so each log record is held once) in
//! one thread, in virtual time, from one seed: a simulated network (per-link latency and jitter, loss, duplication,
//! reordering, partitions symmetric, one-way and isolating), per-node clock offset,
//! drift and jumps fed to the HLC, crashes that lose unsynced writes, restarts, pauses,
//! and a workload of client sessions that write every op kind, read with session
//! tokens and move between nodes. In swarm mode the fault profile itself is drawn from
//! the seed. After the faulty phase everything heals and the run waits for
//! convergence.
//!
//! Checkers run on every answer and at the end: session guarantees (read-your-writes,
//! monotonic reads, monotonic writes and writes-follow-reads), HLC timestamps strictly
//! increasing per node across restarts, convergence within [`QUIET_MAX`] of heal-all
//! (identical documents, and every node seeing every other alive), no acknowledged
//! write lost, and counters, sets and registers equal to a model of the acknowledged
//! ops, deletes included (see [`check`] for the model). The failure detector is judged
//! per declaration: a node's own suspicion of a member timing out while the member was
//! up and reachable from it is a false death ([`RunReport::false_dead`]). A violation is a
//! [`Violation`] carrying the command that reproduces it; a passing run is a
//! [`RunReport`] with its trace hash: same options, same hash.
//!
//! It sits on top of lattice-node, lattice-gossip and lattice-crdt; the `lattice`
//! binary's `sim` subcommand is a thin CLI over [`run_seeds`].

#![deny(missing_docs)]

pub mod check;
mod clock;
pub mod fault;
mod net;
mod options;
pub mod plot;
mod report;
mod rng;
mod sim;
pub mod timeline;
mod trace;
mod workload;

pub use options::{format_duration, parse_duration, Faults, FaultsError, Options};
pub use report::{Failure, RunReport, Summary};
pub use sim::{Simulation, Violation, QUIET_MAX};

/// Runs `seeds` seeds from `options.seed` on (seed, seed + 1, …), calling
/// `progress(done, total)` after each, and collects the reports.
pub fn run_seeds(options: &Options, seeds: u64, progress: &mut dyn FnMut(u64, u64)) -> Summary {
    let mut summary = Summary::default();
    for k in 0..seeds {
        let run = Options {
            seed: options.seed.wrapping_add(k),
            ..options.clone()
        };
        match Simulation::new(run.clone()).run() {
            Ok(report) => summary.runs.push(report),
            Err(v) => summary.failures.push(Failure {
                seed: v.seed,
                message: v.message,
                command: v.command,
            }),
        }
        progress(k + 1, seeds);
    }
    summary
}
