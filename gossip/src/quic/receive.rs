//! Reading an established connection: its datagrams and its unidirectional streams.

use std::net::SocketAddr;
use std::sync::Arc;

use quinn::{Connection, RecvStream};
use rustls::pki_types::CertificateDer;
use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::{debug, warn};

use super::frame::{self, FrameError};
use super::shared::Shared;
use super::stats::bump;
use super::{Incoming, Kind};

/// Application close code for a connection whose certificate names no node.
pub(crate) const CLOSE_UNNAMED: quinn::VarInt = quinn::VarInt::from_u32(2);

/// A connection and the verified peer at its other end.
#[derive(Debug, Clone)]
struct Link {
    conn: Connection,
    from: SocketAddr,
    peer_name: String,
}

impl Link {
    fn message(&self, bytes: Vec<u8>, kind: Kind) -> Incoming {
        Incoming {
            from: self.from,
            peer_name: self.peer_name.clone(),
            bytes,
            kind,
        }
    }
}

/// The node name in the peer's certificate chain, which rustls has verified against
/// the cluster CA during the handshake.
pub(crate) fn identify(conn: &Connection) -> Option<String> {
    let chain = conn
        .peer_identity()?
        .downcast::<Vec<CertificateDer<'static>>>()
        .ok()?;
    crate::tls::name_of(chain.first()?)
}

/// Reads `conn` until it closes, delivering messages into `inbox`.
pub(crate) fn start(
    shared: &Arc<Shared>,
    conn: Connection,
    peer_name: String,
    inbox: mpsc::Sender<Incoming>,
) {
    let link = Link {
        from: conn.remote_address(),
        conn,
        peer_name,
    };
    debug!(peer = %link.peer_name, from = %link.from, "connection up");
    tokio::spawn(read_datagrams(link.clone(), shared.clone(), inbox.clone()));
    tokio::spawn(accept_streams(link, shared.clone(), inbox));
}

async fn read_datagrams(link: Link, shared: Arc<Shared>, inbox: mpsc::Sender<Incoming>) {
    while let Ok(bytes) = link.conn.read_datagram().await {
        let len = bytes.len();
        if len > shared.limits.message_bytes_max {
            bump(&shared.counters.dropped_oversized);
            warn!(peer = %link.peer_name, len, "dropped oversized datagram");
            continue;
        }
        match inbox.try_send(link.message(bytes.to_vec(), Kind::Datagram)) {
            Ok(()) => shared.counters.frame_in(len),
            Err(TrySendError::Full(_)) => bump(&shared.counters.dropped_queue_full),
            Err(TrySendError::Closed(_)) => return,
        }
    }
}

async fn accept_streams(link: Link, shared: Arc<Shared>, inbox: mpsc::Sender<Incoming>) {
    loop {
        match link.conn.accept_uni().await {
            // At most `streams_per_connection_max` of these run per connection: QUIC
            // flow control grants the peer no more streams until one finishes.
            Ok(recv) => {
                tokio::spawn(read_stream(
                    link.clone(),
                    shared.clone(),
                    inbox.clone(),
                    recv,
                ));
            }
            Err(reason) => {
                debug!(peer = %link.peer_name, from = %link.from, %reason, "connection down");
                return;
            }
        }
    }
}

async fn read_stream(
    link: Link,
    shared: Arc<Shared>,
    inbox: mpsc::Sender<Incoming>,
    mut recv: RecvStream,
) {
    let limits = &shared.limits;
    let read = frame::read(&mut recv, limits.message_bytes_max);
    let bytes = match tokio::time::timeout(limits.stream_timeout, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => return reject(&link, &shared, &mut recv, error),
        Err(_) => {
            bump(&shared.counters.dropped_timeout);
            warn!(peer = %link.peer_name, "dropped a stream frame that took too long");
            let _ = recv.stop(frame::STOP_TIMEOUT);
            return;
        }
    };
    let len = bytes.len();
    // Waits while the queue is full: the stream's flow control pushes back on the peer.
    if inbox.send(link.message(bytes, Kind::Stream)).await.is_ok() {
        shared.counters.frame_in(len);
    }
}

/// Counts and logs a stream that yielded no message, and tells the sender why.
fn reject(link: &Link, shared: &Shared, recv: &mut RecvStream, error: FrameError) {
    let peer = &link.peer_name;
    let code = match error {
        FrameError::Oversized(len) => {
            bump(&shared.counters.dropped_oversized);
            warn!(%peer, len, max = shared.limits.message_bytes_max, "dropped oversized stream frame");
            frame::STOP_OVERSIZED
        }
        FrameError::Truncated | FrameError::Trailing => {
            bump(&shared.counters.dropped_malformed);
            warn!(%peer, ?error, "dropped malformed stream frame");
            frame::STOP_MALFORMED
        }
        FrameError::Gone(reason) => {
            debug!(%peer, %reason, "stream abandoned");
            return;
        }
    };
    // Stopping only fails if the stream is already finished, which is fine.
    let _ = recv.stop(code);
}
