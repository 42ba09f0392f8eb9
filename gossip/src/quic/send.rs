//! Sending: dialling peers, datagrams, and one stream per message.

use std::net::SocketAddr;

use bytes::Bytes;
use quinn::{ConnectError, Connection, SendDatagramError, SendStream, WriteError};
use tracing::debug;

use super::accept::handshake_failed;
use super::peers::is_live;
use super::{frame, receive, Kind, QuicTransport, SendError};

/// The TLS server name sent when dialling. Servers are verified by their chain to the
/// cluster CA, not by name (see [`crate::tls`]), so this only fills the SNI field.
const SERVER_NAME: &str = "lattice-node";

impl QuicTransport {
    /// Sends one message to the node listening at `to`, connecting first if needed.
    ///
    /// [`Kind::Datagram`] sends an unreliable QUIC datagram, or falls back to a stream
    /// when the message exceeds the connection's datagram size; [`Kind::Stream`] sends
    /// it reliably on a new unidirectional stream. Returns once the message is handed to
    /// QUIC (a stream's bytes are written into flow-control credit), not once delivered.
    /// If a cached connection turns out dead, it redials once, so a message can, rarely,
    /// arrive twice; it never arrives corrupted or partial.
    pub async fn send(&self, to: SocketAddr, bytes: Vec<u8>, kind: Kind) -> Result<(), SendError> {
        let max = self.shared.limits.message_bytes_max;
        if bytes.len() > max {
            return Err(SendError::TooLarge {
                len: bytes.len(),
                max,
            });
        }
        let bytes = Bytes::from(bytes);
        let (conn, fresh) = self.connection(to).await?;
        match self.send_on(&conn, to, bytes.clone(), kind).await {
            Err(SendError::ConnectionLost { .. }) if !fresh => {
                let (conn, _) = self.connection(to).await?;
                self.send_on(&conn, to, bytes, kind).await
            }
            result => result,
        }
    }

    /// A live connection to `to`, and whether it was just dialled.
    async fn connection(&self, to: SocketAddr) -> Result<(Connection, bool), SendError> {
        if self.shared.inbox().is_none() {
            return Err(SendError::Closed);
        }
        let max = self.shared.limits.connections_max.get();
        let mut slot = self
            .shared
            .peers
            .lock(to)
            .await
            .map_err(|_| SendError::TooManyPeers { max })?;
        if is_live(&slot) {
            if let Some(conn) = slot.as_ref() {
                return Ok((conn.clone(), false));
            }
        }
        let conn = self.dial(to).await?;
        *slot = Some(conn.clone());
        Ok((conn, true))
    }

    /// Connects to `to` (verifying its certificate) and starts reading the connection.
    async fn dial(&self, to: SocketAddr) -> Result<Connection, SendError> {
        let shared = &self.shared;
        let inbox = shared.inbox().ok_or(SendError::Closed)?;
        let max = shared.limits.connections_max.get();
        if self.endpoint.open_connections() >= max {
            return Err(SendError::TooManyPeers { max });
        }
        let connecting = self
            .endpoint
            .connect(to, SERVER_NAME)
            .map_err(|e| match e {
                ConnectError::EndpointStopping => SendError::Closed,
                source => SendError::Connect { to, source },
            })?;
        let conn = match tokio::time::timeout(shared.limits.connect_timeout, connecting).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(source)) => {
                handshake_failed(shared, to, &source);
                return Err(SendError::Handshake { to, source });
            }
            Err(_) => {
                handshake_failed(shared, to, &"timed out");
                return Err(SendError::ConnectTimeout { to });
            }
        };
        let Some(peer_name) = receive::identify(&conn) else {
            conn.close(receive::CLOSE_UNNAMED, b"certificate names no node");
            handshake_failed(shared, to, &"certificate names no node");
            let detail = "its certificate names no node".to_owned();
            return Err(SendError::Rejected { to, detail });
        };
        receive::start(shared, conn.clone(), peer_name, inbox);
        Ok(conn)
    }

    async fn send_on(
        &self,
        conn: &Connection,
        to: SocketAddr,
        bytes: Bytes,
        kind: Kind,
    ) -> Result<(), SendError> {
        let len = bytes.len();
        let fits = conn.max_datagram_size().is_some_and(|max| len <= max);
        if kind == Kind::Datagram && fits {
            match conn.send_datagram(bytes.clone()) {
                Ok(()) => {
                    self.shared.counters.frame_out(len);
                    return Ok(());
                }
                Err(SendDatagramError::ConnectionLost(source)) => {
                    return Err(SendError::ConnectionLost { to, source });
                }
                // The path shrank or the peer takes no datagrams: a stream still works.
                Err(reason) => debug!(%to, %reason, "datagram refused, sending a stream"),
            }
        }
        self.send_stream(conn, to, bytes).await
    }

    async fn send_stream(
        &self,
        conn: &Connection,
        to: SocketAddr,
        bytes: Bytes,
    ) -> Result<(), SendError> {
        let len = bytes.len();
        let limit = self.shared.limits.stream_timeout;
        // Waits while the peer grants no new stream (streams_per_connection_max).
        let mut stream = match tokio::time::timeout(limit, conn.open_uni()).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(SendError::ConnectionLost { to, source }),
            Err(_) => return Err(SendError::Timeout { to }),
        };
        let mut chunks = [Bytes::copy_from_slice(&frame::prefix(len)), bytes];
        match tokio::time::timeout(limit, stream.write_all_chunks(&mut chunks)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(write_error(to, error)),
            Err(_) => {
                // Reset, not finish: the receiver must not take a cut frame as whole.
                let _ = stream.reset(frame::STOP_TIMEOUT);
                return Err(SendError::Timeout { to });
            }
        }
        stream
            .finish()
            .map_err(|_| write_error(to, WriteError::ClosedStream))?;
        self.shared.counters.frame_out(len);
        self.await_ack(stream);
        Ok(())
    }

    /// Keeps the stream until its receiver has acknowledged it, so `close` can wait for
    /// it; bounded by `stream_timeout`.
    fn await_ack(&self, stream: SendStream) {
        let in_flight = self.shared.stream_in_flight();
        let limit = self.shared.limits.stream_timeout;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(limit, stream.stopped()).await;
            drop(in_flight);
        });
    }
}

fn write_error(to: SocketAddr, error: WriteError) -> SendError {
    match error {
        WriteError::ConnectionLost(source) => SendError::ConnectionLost { to, source },
        WriteError::Stopped(code) => SendError::Rejected {
            to,
            detail: format!("stopped with code {code}"),
        },
        other => SendError::Rejected {
            to,
            detail: other.to_string(),
        },
    }
}
