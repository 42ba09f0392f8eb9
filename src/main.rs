//! `lattice`: the one binary. For now it only describes itself; `serve`, `dev`, `sim`
//! and `cert` arrive with the issues that build them.

use clap::Parser;

/// lattice — a multi-master CRDT sync service.
///
/// Every node accepts writes, stores CRDT documents durably, replicates them by gossip
/// and gives clients session-consistent reads. This build holds the CRDT core
/// (lattice-crdt); the server, the simulator and the
/// certificate tools are not built yet.
#[derive(Parser, Debug)]
#[command(name = "lattice", version, about, long_about)]
struct Cli {}

fn main() {
    Cli::parse();
    println!(
        "lattice {} (crdt encoding format {}): nothing to run yet; see --help",
        env!("CARGO_PKG_VERSION"),
        lattice_crdt::codec::FORMAT_VERSION
    );
}
