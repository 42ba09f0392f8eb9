//! `lattice dev`: a whole cluster on this machine in one command, for trying lattice.
//!
//! It creates a CA and node certificates under its data directory the first time (and
//! reuses them after), starts N nodes on loopback in this process, prints their
//! addresses, and runs until Ctrl-C. Node i serves HTTP on 127.0.0.1:(7700 + 2·(i−1))
//! and gossips on the port after it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use lattice_crdt::NodeId;
use lattice_gossip::tls::{generate_ca, generate_node_cert, load_ca, write_ca, write_node};
use tracing::info;

use crate::config::{ServeConfig, IDEMPOTENCY_WINDOW_DEFAULT};

/// The flags of `lattice dev`.
#[derive(Args, Debug)]
pub(crate) struct DevArgs {
    /// How many nodes to run (1 to 16).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=16))]
    nodes: u16,
    /// Where the cluster keeps its certificates and data.
    #[arg(long, default_value = "lattice-dev")]
    data_dir: PathBuf,
    /// The first HTTP port; each node takes two ports from here.
    #[arg(long, default_value_t = 7700)]
    base_port: u16,
}

pub(crate) fn run(args: DevArgs) -> anyhow::Result<()> {
    crate::logging::init("dev");
    let configs = prepare(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut nodes = Vec::new();
        for config in &configs {
            nodes.push(crate::serve::start(config).await?);
        }
        println!(
            "lattice dev: {} nodes running (Ctrl-C stops them)",
            configs.len()
        );
        for config in &configs {
            println!(
                "  node {}  http://{}  gossip {}",
                config.node_id, config.http, config.gossip
            );
        }
        crate::serve::shutdown_signal().await;
        info!("stopping every node");
        for node in nodes {
            node.stop().await.context("stopping a node")?;
        }
        Ok(())
    })
}

/// Certificates (made once) and the settings of each node.
fn prepare(args: &DevArgs) -> anyhow::Result<Vec<ServeConfig>> {
    let ca_dir = args.data_dir.join("ca");
    let ca = if ca_dir.join("ca.pem").exists() {
        load_ca(&ca_dir).context("loading the dev CA")?
    } else {
        let ca = generate_ca("lattice dev CA").context("generating the dev CA")?;
        write_ca(&ca, &ca_dir).context("writing the dev CA")?;
        ca
    };
    let first_gossip = loopback(args.base_port, 1);
    (1..=args.nodes)
        .map(|i| {
            let data_dir = args.data_dir.join(format!("node-{i}"));
            let tls_dir = data_dir.join("tls");
            ensure_node_cert(&ca, i, &tls_dir)?;
            let offset = 2 * (i - 1);
            Ok(ServeConfig {
                node_id: NodeId::new(u64::from(i)).expect("i >= 1"),
                http: loopback(args.base_port, offset),
                gossip: loopback(args.base_port, offset + 1),
                join: if i == 1 { vec![] } else { vec![first_gossip] },
                tokens: Vec::new(),
                idempotency_window: IDEMPOTENCY_WINDOW_DEFAULT,
                data_dir,
                tls_dir,
            })
        })
        .collect()
}

fn ensure_node_cert(
    ca: &lattice_gossip::tls::CaBundle,
    i: u16,
    tls_dir: &Path,
) -> anyhow::Result<()> {
    if tls_dir.join("node.pem").exists() {
        return Ok(());
    }
    let node =
        generate_node_cert(ca, &format!("node-{i}")).context("generating a node certificate")?;
    write_node(&node, tls_dir).with_context(|| format!("writing {}", tls_dir.display()))
}

fn loopback(base: u16, offset: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], base.saturating_add(offset)))
}
