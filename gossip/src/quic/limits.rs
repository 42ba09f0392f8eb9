//! Bounds on everything the transport holds or waits for.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use quinn::{IdleTimeout, TransportConfig, VarInt};

use super::BindError;

/// Bytes of QUIC datagrams buffered per connection, each way; when full, the oldest
/// datagrams are dropped (datagrams are best-effort by contract).
const DATAGRAM_BUFFER_BYTES: usize = 1 << 20;

/// Every limit of a [`QuicTransport`](super::QuicTransport). Start from
/// [`Limits::default`] and change fields; [`QuicTransport::bind`](super::QuicTransport::bind)
/// rejects inconsistent values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest message in bytes, sent or received, datagram or stream (default 4 MiB, at
    /// most `u32::MAX`). Larger outgoing messages are refused; larger incoming frames are
    /// dropped and counted. Raise it for big anti-entropy batches; each open stream may
    /// buffer up to this much.
    pub message_bytes_max: usize,
    /// Received messages waiting for [`recv`](super::QuicTransport::recv) (default 1024).
    /// When full, datagrams are dropped and counted, streams wait (flow control pushes
    /// back on the sender).
    pub recv_queue_len_max: NonZeroUsize,
    /// Open connections, in and out, and remembered peers (default 256). Size it above the
    /// cluster size; further incoming connections are refused and counted.
    pub connections_max: NonZeroUsize,
    /// Concurrent incoming streams a peer may open on one connection (default 64). Senders
    /// beyond it wait for a slot.
    pub streams_per_connection_max: NonZeroU32,
    /// Longest wait for a handshake, in either direction (default 5 s). A dead peer costs a
    /// sender this much.
    pub connect_timeout: Duration,
    /// A connection with no traffic (keep-alives included) for this long is closed
    /// (default 30 s). Must exceed [`keep_alive_interval`](Self::keep_alive_interval).
    pub idle_timeout: Duration,
    /// Interval of keep-alive pings on idle connections (default 5 s); a cut-off peer's
    /// connection then dies after [`idle_timeout`](Self::idle_timeout).
    pub keep_alive_interval: Duration,
    /// Longest time to write or to receive one stream message (default 30 s); a slower
    /// stream is reset and the message dropped.
    pub stream_timeout: Duration,
    /// Longest wait in [`close`](super::QuicTransport::close) for sent streams to be
    /// acknowledged, and again for connections to drain (default 2 s each).
    pub close_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            message_bytes_max: 4 << 20,
            recv_queue_len_max: NonZeroUsize::new(1024).expect("non-zero"),
            connections_max: NonZeroUsize::new(256).expect("non-zero"),
            streams_per_connection_max: NonZeroU32::new(64).expect("non-zero"),
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            keep_alive_interval: Duration::from_secs(5),
            stream_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(2),
        }
    }
}

impl Limits {
    /// Checks the invariants the field docs state.
    pub(crate) fn validate(&self) -> Result<(), BindError> {
        let fail = |reason| Err(BindError::InvalidLimits(reason));
        if self.message_bytes_max == 0 || u32::try_from(self.message_bytes_max).is_err() {
            return fail("message_bytes_max must be in 1..=u32::MAX");
        }
        if self.keep_alive_interval.is_zero() || self.keep_alive_interval >= self.idle_timeout {
            return fail("keep_alive_interval must be non-zero and below idle_timeout");
        }
        let zero = [
            self.connect_timeout,
            self.stream_timeout,
            self.close_timeout,
        ];
        if zero.iter().any(Duration::is_zero) {
            return fail("timeouts must be non-zero");
        }
        Ok(())
    }

    /// The QUIC transport parameters these limits imply, shared by both directions.
    pub(crate) fn transport_config(&self) -> Result<Arc<TransportConfig>, BindError> {
        let idle = IdleTimeout::try_from(self.idle_timeout)
            .map_err(|_| BindError::InvalidLimits("idle_timeout too large"))?;
        let mut config = TransportConfig::default();
        config
            .max_idle_timeout(Some(idle))
            .keep_alive_interval(Some(self.keep_alive_interval))
            .max_concurrent_bidi_streams(VarInt::from_u32(0))
            .max_concurrent_uni_streams(self.streams_per_connection_max.get().into())
            .datagram_receive_buffer_size(Some(DATAGRAM_BUFFER_BYTES))
            .datagram_send_buffer_size(DATAGRAM_BUFFER_BYTES);
        Ok(Arc::new(config))
    }
}
