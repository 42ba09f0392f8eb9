//! The production transport: QUIC (quinn) with mutual TLS under the cluster CA.
//!
//! One [`QuicTransport`] per node owns one UDP socket and one quinn endpoint, used both
//! to accept and to dial, so the remote address of any connection is the peer's
//! listening address: the `from` of a received message is where to reply.
//!
//! - **Security**: every connection is mutually authenticated ([`crate::tls`]). A peer
//!   without a certificate from the cluster CA fails the handshake, on both sides, and
//!   nothing it sends reaches [`QuicTransport::recv`]. 0-RTT is off.
//! - **Messages**: [`Kind::Datagram`] rides on QUIC datagrams (unreliable; a message too
//!   large for a datagram goes on a stream instead); [`Kind::Stream`] takes one
//!   unidirectional stream per message, framed as in `frame.rs`: a 4-byte big-endian
//!   length, the payload, the end of the stream.
//! - **Limits**: see [`Limits`]. A frame over `message_bytes_max` is dropped and counted
//!   and its stream stopped (code 1); a truncated or padded frame likewise (code 2). The
//!   connection stays up for the frames that follow: one bad frame costs one stream.
//! - **Connections** are cached per peer address, shared by both directions, and
//!   re-established by the next send after they close. Keep-alives hold them open;
//!   an unreachable peer's connection dies after `idle_timeout`.
//!
//! This is the only tokio code in the crate; it must run inside a tokio runtime.

mod accept;
mod error;
mod frame;
mod limits;
mod peers;
mod receive;
mod send;
mod shared;
mod stats;

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{ClientConfig, Endpoint, ServerConfig, VarInt};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

pub use error::{BindError, SendError};
pub use limits::Limits;
pub use stats::Stats;

use crate::tls::NodeTls;
use shared::Shared;

/// Application close code of a transport that is shutting down.
const CLOSE_SHUTDOWN: VarInt = VarInt::from_u32(0);

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A QUIC datagram: unreliable and unordered, one packet, no head-of-line blocking.
    /// For probes and acks. Falls back to [`Kind::Stream`] when too large.
    Datagram,
    /// A unidirectional stream of its own: reliable, any size up to
    /// [`Limits::message_bytes_max`]. For deltas and anti-entropy.
    Stream,
}

/// A message received from a verified cluster member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The peer's listening address (send replies here).
    pub from: SocketAddr,
    /// The peer's node name, from its certificate (first DNS SAN, else common name).
    pub peer_name: String,
    /// The message.
    pub bytes: Vec<u8>,
    /// How it travelled (a `Kind::Datagram` send too large for a datagram arrives as
    /// `Stream`).
    pub kind: Kind,
}

/// A node's QUIC endpoint: dials and accepts mutually authenticated connections,
/// sends messages ([`send`](Self::send)) and queues received ones
/// ([`recv`](Self::recv)). Share it behind an `Arc`: every method takes `&self`.
#[derive(Debug)]
pub struct QuicTransport {
    endpoint: Endpoint,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    received: Mutex<mpsc::Receiver<Incoming>>,
    accepting: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl QuicTransport {
    /// Binds a UDP socket at `addr` (port 0 picks a free one) and starts accepting
    /// connections from nodes of `tls`'s cluster. Must be called inside a tokio runtime.
    pub fn bind(addr: SocketAddr, tls: &NodeTls, limits: Limits) -> Result<Self, BindError> {
        limits.validate()?;
        let transport = limits.transport_config()?;
        let server_tls = QuicServerConfig::try_from(Arc::new(tls.server_config()?))
            .map_err(|e| BindError::Quic(e.to_string()))?;
        let mut server = ServerConfig::with_crypto(Arc::new(server_tls));
        // A peer is known by its address: it may not move its connection elsewhere.
        server
            .transport_config(transport.clone())
            .migration(false)
            .max_incoming(limits.connections_max.get());
        let client_tls = QuicClientConfig::try_from(Arc::new(tls.client_config()?))
            .map_err(|e| BindError::Quic(e.to_string()))?;
        let mut client = ClientConfig::new(Arc::new(client_tls));
        client.transport_config(transport);

        let mut endpoint = Endpoint::server(server, addr)?;
        endpoint.set_default_client_config(client);
        let local_addr = endpoint.local_addr()?;
        let (inbox, received) = mpsc::channel(limits.recv_queue_len_max.get());
        let shared = Arc::new(Shared::new(limits, inbox));
        let accepting = tokio::spawn(accept::accept_loop(endpoint.clone(), shared.clone()));
        Ok(Self {
            endpoint,
            local_addr,
            shared,
            received: Mutex::new(received),
            accepting: std::sync::Mutex::new(Some(accepting)),
        })
    }

    /// The address the socket is bound to (with the real port if bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next received message, waiting for one; `None` once the transport is closed
    /// and every message received before was taken. Concurrent callers each get
    /// different messages.
    pub async fn recv(&self) -> Option<Incoming> {
        self.received.lock().await.recv().await
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Shuts down gracefully: refuses new sends, waits (up to `close_timeout`) for sent
    /// streams to be acknowledged by their receivers' QUIC stacks (which hand them to
    /// the application even after the close), closes every connection and waits (up to
    /// `close_timeout`) for peers to be told. The UDP socket is released once the
    /// transport is dropped too. Messages already received stay available
    /// to [`recv`](Self::recv), which then returns `None`. Calling it again does nothing.
    pub async fn close(&self) {
        if !self.shared.close_inbox() {
            return;
        }
        let limit = self.shared.limits.close_timeout;
        let _ = tokio::time::timeout(limit, self.shared.in_flight.wait_idle()).await;
        self.endpoint.close(CLOSE_SHUTDOWN, b"shutting down");
        self.shared.peers.clear();
        let _ = tokio::time::timeout(limit, self.endpoint.wait_idle()).await;
        let accepting = self
            .accepting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = accepting {
            // The loop ends as soon as the endpoint is closed.
            let _ = tokio::time::timeout(limit, task).await;
        }
    }
}

impl Drop for QuicTransport {
    /// Without [`close`](Self::close), dropping still stops every task: it closes the
    /// endpoint at once, abandoning unacknowledged streams.
    fn drop(&mut self) {
        self.shared.close_inbox();
        self.endpoint.close(CLOSE_SHUTDOWN, b"dropped");
    }
}
