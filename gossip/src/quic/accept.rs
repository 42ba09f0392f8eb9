//! Accepting connections: the server half of every node's endpoint.

use std::sync::Arc;

use quinn::Endpoint;
use tracing::{debug, warn};

use super::receive;
use super::shared::Shared;
use super::stats::bump;

/// Accepts connections until the endpoint closes.
pub(crate) async fn accept_loop(endpoint: Endpoint, shared: Arc<Shared>) {
    while let Some(incoming) = endpoint.accept().await {
        if endpoint.open_connections() >= shared.limits.connections_max.get() {
            bump(&shared.counters.connections_refused);
            warn!(from = %incoming.remote_address(), "refused a connection: connections_max reached");
            incoming.refuse();
            continue;
        }
        tokio::spawn(handshake(incoming, shared.clone()));
    }
    debug!("endpoint closed, no longer accepting");
}

/// Completes one incoming handshake (which verifies the client certificate) and starts
/// reading the connection.
async fn handshake(incoming: quinn::Incoming, shared: Arc<Shared>) {
    let from = incoming.remote_address();
    let conn = match tokio::time::timeout(shared.limits.connect_timeout, incoming).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(reason)) => return handshake_failed(&shared, from, &reason),
        Err(_) => return handshake_failed(&shared, from, &"timed out"),
    };
    let Some(peer_name) = receive::identify(&conn) else {
        conn.close(receive::CLOSE_UNNAMED, b"certificate names no node");
        return handshake_failed(&shared, from, &"certificate names no node");
    };
    let Some(inbox) = shared.inbox() else {
        return; // Closing: the endpoint closes this connection too.
    };
    shared.peers.offer(&conn);
    receive::start(&shared, conn, peer_name, inbox);
}

pub(crate) fn handshake_failed(
    shared: &Shared,
    peer: std::net::SocketAddr,
    reason: &dyn std::fmt::Display,
) {
    bump(&shared.counters.handshake_failures);
    warn!(%peer, %reason, "QUIC handshake failed");
}
