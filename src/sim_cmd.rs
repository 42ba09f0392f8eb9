//! `lattice sim`: runs the deterministic simulator (lattice-sim) and prints its report.
//!
//! The simulation itself never reads a clock; only this wrapper does, to print the
//! simulated-time / wall-time ratio and seeds per second.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use lattice_sim::{parse_duration, Failure, Faults, Options, Simulation, Summary};

/// The flags of `lattice sim`.
#[derive(Args, Debug)]
pub(crate) struct SimArgs {
    /// Cluster size (1 to 4096).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=4096))]
    nodes: u32,
    /// The seed; the same seed and flags replay the same run bit for bit.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Simulated length of the faulty phase, e.g. 300s, 2m, 500ms. Heal-all and a quiet
    /// period until convergence follow.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    duration: Duration,
    /// Faults to inject: a comma list of partition, crash, pause, skew, loss (or all,
    /// none).
    #[arg(long, default_value = "all", value_parser = Faults::parse)]
    faults: Faults,
    /// Draw the fault profile (which faults, how hard) from the seed.
    #[arg(long)]
    swarm: bool,
    /// Run this many seeds: seed, seed + 1, ….
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// Client sessions of the workload (default: one per node, 2 to 32; 0: no
    /// workload, membership and anti-entropy only).
    #[arg(long)]
    sessions: Option<usize>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write an SVG plot to this file: the convergence-time distribution over the
    /// seeds and the first passing run's membership timeline with its faults.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

/// Runs the simulation(s); the exit code is 0 if every checker passed, 1 otherwise.
pub(crate) fn run(args: SimArgs) -> anyhow::Result<i32> {
    let options = Options {
        nodes: args.nodes as usize,
        seed: args.seed,
        duration: args.duration,
        faults: args.faults,
        swarm: args.swarm,
        sessions: args.sessions,
    };
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut simulated = Duration::ZERO;
    for k in 0..args.seeds {
        let run = Options {
            seed: options.seed.wrapping_add(k),
            ..options.clone()
        };
        let mut progress = |now: Duration, total: Duration| {
            if started.elapsed() > Duration::from_secs(2) {
                progress_line(k, args.seeds, now, total);
            }
        };
        let mut sim = Simulation::new(run);
        let result = sim.run_with_progress(&mut progress);
        if k + 1 == args.seeds {
            // The process ends after the report: the OS takes the memory back at once.
            std::mem::forget(sim);
        }
        match result {
            Ok(report) => {
                simulated += Duration::from_millis(report.simulated_ms);
                summary.runs.push(report);
            }
            Err(v) => summary.failures.push(Failure {
                seed: v.seed,
                message: format!("at {} ms simulated: {}", v.at_ms, v.message),
                command: v.command,
            }),
        }
    }
    if started.elapsed() > Duration::from_secs(2) {
        eprintln!();
    }
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    print!("{summary}");
    let ratio = simulated.as_secs_f64() / wall;
    let seeds_per_sec = args.seeds as f64 / wall;
    // Large clusters run slower than real time: keep two significant digits there.
    let digits = if ratio < 10.0 { 2 } else { 0 };
    println!("speed:        {ratio:.digits$}x simulated/wall time, {seeds_per_sec:.2} seeds per second ({wall:.2} s wall)");
    if let Some(path) = &args.json {
        let mut json = summary.to_json();
        json["wall_seconds"] = wall.into();
        json["simulated_per_wall"] = ratio.into();
        json["seeds_per_second"] = seeds_per_sec.into();
        std::fs::write(path, format!("{json:#}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        std::fs::write(path, lattice_sim::plot::svg(&summary))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("plot:         {}", path.display());
    }
    Ok(if summary.failures.is_empty() { 0 } else { 1 })
}

fn progress_line(seed: u64, seeds: u64, now: Duration, total: Duration) {
    let fraction = (now.as_secs_f64() / total.as_secs_f64().max(1e-9)).min(1.0);
    let filled = (fraction * 30.0) as usize;
    eprint!(
        "\rseed {}/{seeds} [{}{}] {:>5.0}/{} s simulated",
        seed + 1,
        "#".repeat(filled),
        " ".repeat(30 - filled),
        now.as_secs_f64(),
        total.as_secs()
    );
    let _ = std::io::stderr().flush();
}
