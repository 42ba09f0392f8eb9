//! `lattice cert`: the cluster CA and node certificates (mutual TLS between nodes).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use lattice_gossip::tls::{generate_ca, generate_node_cert, load_ca, write_ca, write_node};

/// Certificate commands.
#[derive(Subcommand, Debug)]
pub(crate) enum CertCommand {
    /// Creates a cluster CA (ca.pem, ca.key) in DIR.
    Ca {
        /// Where to write the CA.
        #[arg(long)]
        out: PathBuf,
        /// The CA's name.
        #[arg(long, default_value = "lattice cluster CA")]
        name: String,
    },
    /// Creates a node certificate signed by the CA in --ca, with the node's tls dir
    /// layout (ca.pem, node.pem, node.key) in DIR.
    Node {
        /// The directory holding the CA (ca.pem, ca.key).
        #[arg(long)]
        ca: PathBuf,
        /// The node's name, node-ID for node id ID (e.g. node-1): `lattice serve
        /// --node-id ID` refuses a certificate of another name, and peers accept its
        /// membership messages only as that node.
        #[arg(long)]
        name: String,
        /// Where to write the node's files.
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) fn run(command: CertCommand) -> anyhow::Result<()> {
    match command {
        CertCommand::Ca { out, name } => {
            let ca = generate_ca(&name).context("generating the CA")?;
            write_ca(&ca, &out).with_context(|| format!("writing the CA to {}", out.display()))?;
            println!("wrote the cluster CA to {}", out.display());
        }
        CertCommand::Node { ca, name, out } => {
            let ca =
                load_ca(&ca).with_context(|| format!("loading the CA from {}", ca.display()))?;
            let node = generate_node_cert(&ca, &name).context("generating the node certificate")?;
            write_node(&node, &out).with_context(|| format!("writing to {}", out.display()))?;
            println!("wrote the certificate of {name} to {}", out.display());
        }
    }
    Ok(())
}
