//! `lattice`: the one binary. It parses, wires and prints; the work happens in the
//! library crates (lattice-crdt, lattice-gossip, lattice-node, lattice-api, lattice-sim).

mod cert;
mod config;
mod dev;
mod logging;
mod serve;
mod sim_cmd;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: the node's work is many small, short-lived
/// allocations (decoded deltas, messages, staged records). Measured on `lattice sim
/// --nodes 1000 --seed 1 --duration 60s`, alone and back to back with the same code on
/// the system allocator: 7–16% less wall time, about 200 MB more peak memory (mimalloc's
/// v2 line was no faster there, and used more).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// lattice — a multi-master CRDT sync service.
///
/// Every node accepts writes, stores CRDT documents durably, replicates them by gossip
/// over QUIC with mutual TLS, and gives clients session-consistent reads.
#[derive(Parser, Debug)]
#[command(name = "lattice", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs one node.
    Serve(config::ServeArgs),
    /// Runs a whole cluster on loopback in one process, for trying lattice.
    Dev(dev::DevArgs),
    /// Runs a deterministic simulation of a whole cluster from one seed.
    Sim(sim_cmd::SimArgs),
    /// Creates the cluster CA and node certificates.
    #[command(subcommand)]
    Cert(cert::CertCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Cert(command) => cert::run(command),
        Command::Sim(args) => match sim_cmd::run(args) {
            Ok(code) => return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
