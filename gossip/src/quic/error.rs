//! Errors of the transport's operations, one enum per operation.

use std::net::SocketAddr;

use crate::tls::TlsError;

/// Why [`QuicTransport::bind`](super::QuicTransport::bind) failed; nothing is left
/// running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// A [`Limits`](super::Limits) field is out of its documented range.
    #[error("invalid limits: {0}")]
    InvalidLimits(&'static str),
    /// The TLS material could not be turned into a configuration.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// rustls' configuration is unusable for QUIC (e.g. no TLS 1.3 suite).
    #[error("TLS configuration unusable for QUIC: {0}")]
    Quic(String),
    /// The UDP socket could not be bound, or no tokio runtime is running.
    #[error("binding the UDP socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Why [`QuicTransport::send`](super::QuicTransport::send) failed. Unless a variant says
/// otherwise, the message was not sent (a datagram that was sent may still be lost: it
/// is best-effort).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The message exceeds [`Limits::message_bytes_max`](super::Limits::message_bytes_max).
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The message's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The transport was closed.
    #[error("transport closed")]
    Closed,
    /// [`Limits::connections_max`](super::Limits::connections_max) connections are open.
    #[error("connection limit of {max} reached")]
    TooManyPeers {
        /// The limit.
        max: usize,
    },
    /// No connection could be started (e.g. an unusable address).
    #[error("cannot connect to {to}: {source}")]
    Connect {
        /// The peer.
        to: SocketAddr,
        /// quinn's reason.
        source: quinn::ConnectError,
    },
    /// The handshake failed: the peer is unreachable, refused us, or has no certificate
    /// from the cluster CA. Counted in [`Stats::handshake_failures`](super::Stats).
    #[error("handshake with {to} failed: {source}")]
    Handshake {
        /// The peer.
        to: SocketAddr,
        /// quinn's reason.
        source: quinn::ConnectionError,
    },
    /// The handshake did not finish within
    /// [`Limits::connect_timeout`](super::Limits::connect_timeout). Counted as a handshake
    /// failure.
    #[error("handshake with {to} timed out")]
    ConnectTimeout {
        /// The peer.
        to: SocketAddr,
    },
    /// The connection broke while sending; part of a stream message may have been sent,
    /// but the receiver drops incomplete frames.
    #[error("connection to {to} lost: {source}")]
    ConnectionLost {
        /// The peer.
        to: SocketAddr,
        /// quinn's reason.
        source: quinn::ConnectionError,
    },
    /// The receiver stopped the stream (code 1: too large for it, 2: malformed) or it
    /// was reset.
    #[error("peer {to} rejected the stream: {detail}")]
    Rejected {
        /// The peer.
        to: SocketAddr,
        /// What happened.
        detail: String,
    },
    /// Writing the stream did not finish within
    /// [`Limits::stream_timeout`](super::Limits::stream_timeout); the stream was reset.
    #[error("sending to {to} timed out")]
    Timeout {
        /// The peer.
        to: SocketAddr,
    },
}
