//! `lattice serve`: one node — its store, the cluster transport, and the HTTP API.

use std::net::SocketAddr;

use anyhow::Context;
use lattice_api::{router, ApiConfig, ApiState};
use lattice_gossip::quic::Limits;
use lattice_gossip::tls::cert_name;
use lattice_gossip::{NodeTls, QuicTransport};
use lattice_node::runtime::NodeRuntime;
use lattice_node::store::SledStore;
use lattice_node::{NodeConfig, NodeCore, NodeMeta, Replica, ReplicaConfig};
use tracing::{info, warn};

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
        // The bound addresses, not the configured ones: port 0 picks a free port.
        info!(http = %node.http_addr, gossip = %node.gossip_addr, "serving; Ctrl-C or SIGTERM stops");
        shutdown_signal().await;
        node.stop().await
    })
}

/// A running node: the replica and cluster transport, and its HTTP server.
pub(crate) struct Running {
    /// Where the HTTP API listens.
    pub(crate) http_addr: SocketAddr,
    /// Where the cluster transport listens.
    pub(crate) gossip_addr: SocketAddr,
    node: NodeRuntime<SledStore>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    stop_http: tokio::sync::oneshot::Sender<()>,
}

impl Running {
    /// Stops accepting requests, lets those in flight finish, flushes, and leaves.
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        info!("stopping: no new requests, flushing, leaving the cluster");
        let _ = self.stop_http.send(());
        self.http
            .await
            .context("joining the HTTP server")?
            .context("serving HTTP")?;
        self.node.stop().await.context("stopping the node")?;
        Ok(())
    }
}

/// Starts the node and its HTTP API.
pub(crate) async fn start(config: &ServeConfig) -> anyhow::Result<Running> {
    check_exposure(config)?;
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .with_context(|| format!("binding the HTTP address {}", config.http))?;
    let http_addr = listener.local_addr().context("reading the HTTP address")?;
    let (node, gossip_addr) = start_node(config, http_addr)?;
    let api = ApiConfig {
        tokens: config.tokens.clone(),
        ..ApiConfig::default()
    };
    let state = ApiState::new(node.handle(), api, ReplicaConfig::default().limits);
    let (stop_http, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async {
        let _ = stopped.await;
    });
    let http = tokio::spawn(async move { server.await });
    Ok(Running {
        http_addr,
        gossip_addr,
        node,
        http,
        stop_http,
    })
}

/// Without tokens anyone who reaches the API can read and write: allow that only on
/// loopback, and say so.
fn check_exposure(config: &ServeConfig) -> anyhow::Result<()> {
    if !config.tokens.is_empty() {
        return Ok(());
    }
    if !config.http.ip().is_loopback() {
        anyhow::bail!(
            "no API tokens are configured, so the HTTP API may only bind a loopback address, not {}; \
             add [[tokens]] to --config or use --http 127.0.0.1:PORT",
            config.http
        );
    }
    warn!(
        "no API tokens configured: the HTTP API is open to anyone on this machine (loopback only)"
    );
    Ok(())
}

/// Opens the node's store and certificates and starts it on the cluster transport,
/// announcing `http_addr` to the other members; returns it with the transport's address.
fn start_node(
    config: &ServeConfig,
    http_addr: SocketAddr,
) -> anyhow::Result<(NodeRuntime<SledStore>, SocketAddr)> {
    let tls = NodeTls::load(&config.tls_dir)
        .with_context(|| format!("loading certificates from {}", config.tls_dir.display()))?;
    let expected = cert_name(config.node_id);
    let named = tls.node_name();
    if named.as_deref() != Some(expected.as_str()) {
        anyhow::bail!(
            "the certificate in {} names {}, but this is node {}: peers accept a node only \
             under its own name, so its certificate must be named {expected} \
             (lattice cert node --name {expected})",
            config.tls_dir.display(),
            named.as_deref().unwrap_or("nobody"),
            config.node_id.get(),
        );
    }
    let store_dir = config.data_dir.join("store");
    let store = SledStore::open(&store_dir, config.node_id)
        .with_context(|| format!("opening the store in {}", store_dir.display()))?;
    let replica_config = ReplicaConfig {
        retry_window: config.idempotency_window,
        ..ReplicaConfig::default()
    };
    let replica = Replica::open(store, replica_config).context("opening the replica")?;
    let transport = QuicTransport::bind(config.gossip, &tls, Limits::default())
        .with_context(|| format!("binding the gossip address {}", config.gossip))?;
    let gossip_addr = transport.local_addr();
    let mut core = NodeCore::new(
        replica,
        gossip_addr,
        NodeConfig::default(),
        config.node_id.get(),
    );
    let meta = NodeMeta {
        http_addr: Some(http_addr),
    };
    core.set_meta(&meta)
        .context("announcing the HTTP address")?;
    Ok((
        NodeRuntime::start(core, transport, &config.join),
        gossip_addr,
    ))
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
