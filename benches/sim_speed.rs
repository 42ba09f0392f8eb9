//! The simulator's speed figures (lattice-sim, as `lattice sim` runs it), each beside
//! this machine's memory latency measured in the same run.
//!
//! Large simulated clusters are bound by memory latency: a thousand nodes' state fits
//! no cache, so most steps of most events wait on a load from memory, and on a shared
//! host that wait can double from one hour to the next. So beside the large runs' wall
//! times this prints how many dependent loads (a pointer chase through 256 MiB,
//! measured before and after the runs) the same time would buy: a figure meant to
//! follow the code rather than the host's load, as far as the runs' time scales with
//! memory latency.
//!
//! Printed:
//! - 5 nodes, seed 7, 60 s: simulated / wall time, the fastest of five runs (goal at
//!   least 100x);
//! - swarm seeds of 5 nodes, 10 s each: seeds per second;
//! - messages per node per second at 10, 100 and 1,000 nodes: membership only without
//!   faults and with every fault, and the default workload with every fault (the goal is
//!   that they stay flat as the cluster grows);
//! - the 1,000-node, 60 s default run (goal under a minute of wall time), and the same
//!   cluster without the workload as the baseline it is a multiple of.
//!
//! Run: `cargo bench --bench sim_speed` (2–4 minutes after the build, most of it the
//! 1,000-node runs); `-- --quick` leaves out the 1,000-node runs (under 20 s).

use std::hint::black_box;
use std::time::{Duration, Instant};

use lattice_sim::{Faults, Options, RunReport, Simulation};

/// As in the `lattice` binary, whose allocator the figures are of.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Entries of the pointer chase (`u32`s: 256 MiB, far beyond any cache).
const CHASE_ENTRIES: usize = 1 << 26;
/// Loads timed per latency sample.
const CHASE_LOADS: usize = 10_000_000;

/// Nanoseconds per dependent load from memory: the chase follows one cycle through
/// every entry (`next[i] = (a·i + c) mod 2^26`, a full-period linear congruential map),
/// so each load's address is the one before's value and lands on a line of its own.
/// The best of three samples.
fn memory_latency_ns() -> f64 {
    const A: u64 = 6_364_136_223_846_793_005;
    const C: u64 = 1_442_695_040_888_963_407;
    let mask = CHASE_ENTRIES as u64 - 1;
    let next: Vec<u32> = (0..CHASE_ENTRIES as u64)
        .map(|i| (i.wrapping_mul(A).wrapping_add(C) & mask) as u32)
        .collect();
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let mut at = 0u32;
            for _ in 0..CHASE_LOADS {
                at = next[at as usize];
            }
            black_box(at);
            started.elapsed().as_secs_f64() * 1e9 / CHASE_LOADS as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// One run: its report and wall time. Panics, with the reproducing command, if a
/// checker fails: a figure of a failing run means nothing.
fn run(options: Options) -> (RunReport, Duration) {
    let command = options.command();
    let started = Instant::now();
    let report = Simulation::new(options)
        .run()
        .unwrap_or_else(|v| panic!("{command}: {}", v.message));
    (report, started.elapsed())
}

fn options(nodes: usize, seed: u64, secs: u64, faults: Faults, sessions: Option<usize>) -> Options {
    Options {
        nodes,
        seed,
        duration: Duration::from_secs(secs),
        faults,
        swarm: false,
        sessions,
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let latency_before = memory_latency_ns();
    println!("memory latency: {latency_before:.0} ns per dependent load (pointer chase, 256 MiB)");

    // The fastest of five identical runs: one takes a tenth of a second or less, so the
    // caches the pointer chase left cold, or a moment of load from elsewhere, could
    // halve the figure of a single one.
    let (report, wall) = (0..5)
        .map(|_| run(options(5, 7, 60, Faults::ALL, None)))
        .min_by_key(|(_, wall)| *wall)
        .expect("five runs");
    let ratio = report.simulated_ms as f64 / 1e3 / wall.as_secs_f64();
    println!(
        "5 nodes, seed 7, 60 s: {:.3} s wall, {ratio:.0}x simulated/wall (goal >= 100x), trace {}",
        wall.as_secs_f64(),
        report.trace_hash
    );

    let seeds = 100;
    let started = Instant::now();
    for seed in 0..seeds {
        run(Options {
            swarm: true,
            ..options(5, seed, 10, Faults::ALL, None)
        });
    }
    let wall = started.elapsed().as_secs_f64();
    println!(
        "swarm, 5 nodes, 10 s: {seeds} seeds in {wall:.2} s, {:.0} seeds per second",
        seeds as f64 / wall
    );

    let sizes: &[usize] = if quick { &[10, 100] } else { &[10, 100, 1000] };
    println!("messages per node per second, 60 s, seed 1 (wall time in brackets):");
    println!("  nodes  membership only, no faults  membership, every fault  workload, every fault");
    let mut big = None;
    for &nodes in sizes {
        let cell = |(report, wall): &(RunReport, Duration)| {
            format!(
                "{:.1} ({:.2} s)",
                report.messages_per_node_per_sec,
                wall.as_secs_f64()
            )
        };
        let quiet = run(options(nodes, 1, 60, Faults::default(), Some(0)));
        let membership = run(options(nodes, 1, 60, Faults::ALL, Some(0)));
        let workload = run(options(nodes, 1, 60, Faults::ALL, None));
        println!(
            "  {nodes:>5}  {:>26}  {:>23}  {:>21}",
            cell(&quiet),
            cell(&membership),
            cell(&workload)
        );
        if nodes == 1000 {
            big = Some((membership, workload));
        }
    }

    let latency_after = memory_latency_ns();
    let latency = (latency_before + latency_after) / 2.0;
    println!(
        "memory latency: {latency_after:.0} ns per dependent load after the runs ({latency:.0} ns on average)"
    );
    let Some(((_, base_wall), (report, wall))) = big else {
        return;
    };
    let loads = |wall: Duration| wall.as_secs_f64() * 1e9 / latency / 1e6;
    println!(
        "1,000 nodes, 60 s, default workload: {:.1} s wall (goal under 60 s), {:.0} million loads' worth; {} writes acknowledged, trace {}",
        wall.as_secs_f64(),
        loads(wall),
        report.writes_acked,
        report.trace_hash
    );
    println!(
        "baseline, the same without the workload: {:.1} s wall, {:.0} million loads' worth; the run is {:.2}x the baseline",
        base_wall.as_secs_f64(),
        loads(base_wall),
        wall.as_secs_f64() / base_wall.as_secs_f64()
    );
}
