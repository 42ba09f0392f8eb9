//! Transport counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a transport's counters, all monotonic since bind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages delivered to [`recv`](super::QuicTransport::recv)'s queue.
    pub frames_in: u64,
    /// Messages handed to QUIC by [`send`](super::QuicTransport::send).
    pub frames_out: u64,
    /// Payload bytes of `frames_in`.
    pub bytes_in: u64,
    /// Payload bytes of `frames_out`.
    pub bytes_out: u64,
    /// Incoming frames larger than `message_bytes_max`, dropped.
    pub dropped_oversized: u64,
    /// Incoming stream frames that were truncated or had trailing bytes, dropped.
    pub dropped_malformed: u64,
    /// Incoming stream frames not complete within `stream_timeout`, dropped.
    pub dropped_timeout: u64,
    /// Incoming datagrams dropped because the receive queue was full.
    pub dropped_queue_full: u64,
    /// Handshakes that failed or timed out, as client or server (a wrong CA, no client
    /// certificate, an unreachable peer).
    pub handshake_failures: u64,
    /// Incoming connections refused at `connections_max`.
    pub connections_refused: u64,
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) frames_in: AtomicU64,
    pub(crate) frames_out: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) dropped_oversized: AtomicU64,
    pub(crate) dropped_malformed: AtomicU64,
    pub(crate) dropped_timeout: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) handshake_failures: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn frame_in(&self, len: usize) {
        bump(&self.frames_in);
        self.bytes_in.fetch_add(len as u64, Ordering::Relaxed);
    }

    pub(crate) fn frame_out(&self, len: usize) {
        bump(&self.frames_out);
        self.bytes_out.fetch_add(len as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            frames_in: get(&self.frames_in),
            frames_out: get(&self.frames_out),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            dropped_oversized: get(&self.dropped_oversized),
            dropped_malformed: get(&self.dropped_malformed),
            dropped_timeout: get(&self.dropped_timeout),
            dropped_queue_full: get(&self.dropped_queue_full),
            handshake_failures: get(&self.handshake_failures),
            connections_refused: get(&self.connections_refused),
        }
    }
}
