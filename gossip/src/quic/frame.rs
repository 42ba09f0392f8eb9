//! The stream frame: one message per unidirectional stream, as a 4-byte big-endian
//! length, then exactly that many bytes, then the end of the stream.
//!
//! The length comes first so a receiver refuses an oversized message before buffering
//! it; the end of the stream must follow so a frame cannot be silently cut or padded.
//! Datagrams need no frame: QUIC keeps their boundaries.

use quinn::{ReadExactError, ReadToEndError, RecvStream, VarInt};

/// Bytes of the length prefix.
pub(crate) const PREFIX_BYTES: usize = 4;
/// Stream stop code: the frame exceeds the receiver's `message_bytes_max`.
pub(crate) const STOP_OVERSIZED: VarInt = VarInt::from_u32(1);
/// Stream stop code: the frame is truncated or has trailing bytes.
pub(crate) const STOP_MALFORMED: VarInt = VarInt::from_u32(2);
/// Stream stop code: the frame did not arrive within `stream_timeout`.
pub(crate) const STOP_TIMEOUT: VarInt = VarInt::from_u32(3);

/// Why a stream did not yield a message.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The prefix announced this many bytes, more than allowed.
    Oversized(u64),
    /// The stream ended before the prefix or the payload was complete.
    Truncated,
    /// Bytes followed the payload.
    Trailing,
    /// The stream was reset or the connection lost: nothing malformed, just gone.
    Gone(quinn::ReadError),
}

/// The prefix for a payload of `len` bytes; the caller has checked `len` against
/// `message_bytes_max`, which is at most `u32::MAX`.
pub(crate) fn prefix(len: usize) -> [u8; PREFIX_BYTES] {
    u32::try_from(len)
        .expect("message_bytes_max is at most u32::MAX")
        .to_be_bytes()
}

/// Reads one frame whose payload may be at most `max` bytes.
pub(crate) async fn read(recv: &mut RecvStream, max: usize) -> Result<Vec<u8>, FrameError> {
    let mut prefix = [0; PREFIX_BYTES];
    recv.read_exact(&mut prefix).await.map_err(|e| match e {
        ReadExactError::FinishedEarly(_) => FrameError::Truncated,
        ReadExactError::ReadError(e) => FrameError::Gone(e),
    })?;
    let announced = u32::from_be_bytes(prefix);
    let len = usize::try_from(announced).unwrap_or(usize::MAX);
    if len > max {
        return Err(FrameError::Oversized(announced.into()));
    }
    // read_to_end grows the buffer as bytes arrive, so a lying prefix costs nothing.
    let payload = recv.read_to_end(len).await.map_err(|e| match e {
        ReadToEndError::TooLong => FrameError::Trailing,
        ReadToEndError::Read(e) => FrameError::Gone(e),
    })?;
    if payload.len() != len {
        return Err(FrameError::Truncated);
    }
    Ok(payload)
}
