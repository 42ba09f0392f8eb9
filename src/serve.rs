//! `lattice serve`: one node — its store, the cluster transport, and the HTTP API.

use anyhow::Context;
use lattice_gossip::quic::Limits;
use lattice_gossip::{NodeTls, QuicTransport};
use lattice_node::runtime::NodeRuntime;
use lattice_node::store::SledStore;
use lattice_node::{NodeConfig, NodeCore, Replica, ReplicaConfig};
use tracing::info;

use crate::config::{ServeArgs, ServeConfig};

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    crate::logging::init(&config.node_id.to_string());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let node = start(&config).await?;
        info!(http = %config.http, gossip = %config.gossip, "serving; Ctrl-C or SIGTERM stops");
        shutdown_signal().await;
        info!("stopping: flushing and leaving the cluster");
        node.stop().await.context("stopping the node")?;
        Ok(())
    })
}

/// Opens the node's store and certificates and starts it on the cluster transport.
pub(crate) async fn start(config: &ServeConfig) -> anyhow::Result<NodeRuntime<SledStore>> {
    let tls = NodeTls::load(&config.tls_dir)
        .with_context(|| format!("loading certificates from {}", config.tls_dir.display()))?;
    let store_dir = config.data_dir.join("store");
    let store = SledStore::open(&store_dir, config.node_id)
        .with_context(|| format!("opening the store in {}", store_dir.display()))?;
    let replica = Replica::open(store, ReplicaConfig::default()).context("opening the replica")?;
    let transport = QuicTransport::bind(config.gossip, &tls, Limits::default())
        .with_context(|| format!("binding the gossip address {}", config.gossip))?;
    let core = NodeCore::new(
        replica,
        transport.local_addr(),
        NodeConfig::default(),
        config.node_id.get(),
    );
    Ok(NodeRuntime::start(core, transport, &config.join))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
