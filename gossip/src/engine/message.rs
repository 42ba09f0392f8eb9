//! The wire format: one version byte, then a postcard-encoded [`Envelope`].
//!
//! Every message names its sender (id, address, incarnation: a message is direct
//! evidence that the sender is alive at that incarnation), the node it is meant for when
//! known, one body, and piggybacked membership updates. Sizes are checked before
//! decoding, trailing bytes are refused, and decoding arbitrary bytes returns an error,
//! never panics (postcard caps pre-allocation; proptested in `tests/engine_messages.rs`).

use std::sync::Arc;

use lattice_crdt::NodeId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The wire version this engine speaks. Bump it on any incompatible change.
pub(crate) const WIRE_VERSION: u8 = 4;

/// Longest metadata a member may announce about itself, in bytes.
pub const META_BYTES_MAX: usize = 256;

/// Why [`Engine::handle_message`](super::Engine::handle_message) refused bytes. The
/// message was dropped and counted in [`Stats::malformed_dropped`](super::Stats);
/// nothing else changed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageError {
    /// No bytes at all.
    #[error("empty gossip message")]
    Empty,
    /// Longer than the engine accepts (`stream_bytes_max`); not decoded.
    #[error("gossip message of {len} bytes exceeds {max}")]
    TooLarge {
        /// The message length.
        len: usize,
        /// The accepted maximum.
        max: usize,
    },
    /// Made by an incompatible engine version.
    #[error("gossip wire version {0} unsupported (this node speaks {WIRE_VERSION})")]
    Version(u8),
    /// Not a valid message of this version.
    #[error("malformed gossip message: {0}")]
    Malformed(String),
    /// A valid message followed by junk.
    #[error("gossip message has {0} trailing bytes")]
    TrailingBytes(usize),
    /// Claims to come from this very node (a misconfigured duplicate id, or a loop).
    #[error("gossip message claims to come from this node")]
    FromSelf,
    /// Claims a sender other than the node the transport authenticated.
    #[error("gossip message claims to come from {claimed}, but the peer's certificate names {certified}")]
    Impostor {
        /// The sender the message names.
        claimed: NodeId,
        /// The node the peer's certificate names.
        certified: NodeId,
    },
}

/// One message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Envelope<A> {
    pub(crate) sender: NodeId,
    pub(crate) sender_addr: A,
    pub(crate) incarnation: u64,
    /// The intended recipient, when the sender knows its id (not for seed contacts).
    pub(crate) to: Option<NodeId>,
    pub(crate) body: Body<A>,
    /// Must stay the last field: piggyback sizing relies on it.
    pub(crate) updates: Vec<Update<A>>,
}

/// What a message is for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Body<A> {
    /// SWIM probe; answer with `Ack { seq }`.
    Ping { seq: u32 },
    /// Answer to a ping.
    Ack { seq: u32 },
    /// Please probe `target` for me; answer `IndirectAck` or (Lifeguard) `Nack`.
    PingReq {
        seq: u32,
        target: NodeId,
        target_addr: A,
    },
    /// `target` of my probe `seq` answered the relay.
    IndirectAck { seq: u32 },
    /// The relay reached no one for probe `seq` (Lifeguard: the relay is alive).
    Nack { seq: u32 },
    /// Only piggybacked updates.
    Gossip,
    /// Disseminated payloads: some whole, and the ids of others the sender holds, for
    /// the receiver to ask for those it lacks (`Want`).
    Push {
        payloads: Vec<WirePayload>,
        #[serde(with = "id_run")]
        have: Vec<[u8; 16]>,
    },
    /// Please send these payloads whole (ids from a `Push` this node lacks).
    Want(#[serde(with = "id_run")] Vec<[u8; 16]>),
    /// Full membership (push–pull): on join, and to heal partitions. `reply` answers.
    Sync {
        reply: bool,
        members: Vec<Update<A>>,
    },
}

/// A payload on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct WirePayload {
    /// As a run of bytes, like `bytes` (a tuple of 16 numbers costs a call per byte).
    #[serde(with = "serde_bytes")]
    pub(crate) id: [u8; 16],
    /// Forwarding hops so far (0 from the origin).
    pub(crate) hops: u16,
    /// As one run of bytes, not a sequence of numbers: the same encoding, written and
    /// read with one copy. Shared: the payload held for pushing, each copy pushed, and
    /// the one delivered are the same bytes.
    #[serde(with = "shared_bytes")]
    pub(crate) bytes: Arc<[u8]>,
}

/// Shared bytes on the wire: one run of bytes, as `serde_bytes` writes a `Vec<u8>`.
mod shared_bytes {
    use std::fmt;
    use std::sync::Arc;

    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &Arc<[u8]>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<[u8]>, D::Error> {
        d.deserialize_bytes(Shared)
    }

    struct Shared;

    impl Visitor<'_> for Shared {
        type Value = Arc<[u8]>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a run of bytes")
        }

        fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Self::Value, E> {
            Ok(bytes.into())
        }
    }
}

/// Payload ids on the wire: one run of bytes, 16 per id (read and written with one
/// copy, where a sequence of 16-number tuples costs a call per byte). A run whose length
/// is not a multiple of 16 is malformed.
mod id_run {
    use std::fmt;

    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(ids: &[[u8; 16]], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(ids.as_flattened())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 16]>, D::Error> {
        d.deserialize_bytes(IdRun)
    }

    struct IdRun;

    impl Visitor<'_> for IdRun {
        type Value = Vec<[u8; 16]>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("payload ids, 16 bytes each")
        }

        fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Self::Value, E> {
            if bytes.len() % 16 != 0 {
                return Err(E::invalid_length(bytes.len(), &self));
            }
            let id = |chunk: &[u8]| <[u8; 16]>::try_from(chunk).expect("chunks of 16");
            Ok(bytes.chunks_exact(16).map(id).collect())
        }
    }
}

/// News about one member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Update<A> {
    Alive {
        id: NodeId,
        addr: A,
        incarnation: u64,
        /// What the member announces about itself (at most [`META_BYTES_MAX`]).
        #[serde(with = "serde_bytes")]
        meta: Vec<u8>,
    },
    Suspect {
        id: NodeId,
        incarnation: u64,
        from: NodeId,
    },
    Dead {
        id: NodeId,
        incarnation: u64,
        from: NodeId,
    },
    Left {
        id: NodeId,
        incarnation: u64,
    },
}

impl<A> Update<A> {
    /// Whether the update is within the wire's bounds.
    pub(crate) fn is_bounded(&self) -> bool {
        !matches!(self, Update::Alive { meta, .. } if meta.len() > META_BYTES_MAX)
    }

    /// The member the news is about.
    pub(crate) fn subject(&self) -> NodeId {
        match self {
            Update::Alive { id, .. }
            | Update::Suspect { id, .. }
            | Update::Dead { id, .. }
            | Update::Left { id, .. } => *id,
        }
    }
}

/// Encodes a message: version byte, then postcard.
#[cfg(test)]
pub(crate) fn encode<A: Serialize>(envelope: &Envelope<A>) -> Vec<u8> {
    encode_sized(envelope, 0)
}

/// Encodes a message (version byte, then postcard) into a buffer made for `bytes` bytes
/// (its size as measured before its updates were chosen, plus their room), so that it is
/// not copied as it grows.
pub(crate) fn encode_sized<A: Serialize>(envelope: &Envelope<A>, bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.max(1));
    out.push(WIRE_VERSION);
    postcard::to_extend(envelope, out).expect("engine messages always encode")
}

/// Encodes a message without updates of its own (as [`encode_sized`]), carrying
/// `forced` and then `count` updates already encoded one after the other in `encoded`:
/// the same bytes as the message with all of them in `updates`, without encoding each
/// queued update again for each of its transmissions.
pub(crate) fn encode_with_updates<A: Serialize>(
    envelope: &Envelope<A>,
    forced: &[Update<A>],
    count: usize,
    encoded: &[u8],
    bytes: usize,
) -> Vec<u8> {
    debug_assert!(envelope.updates.is_empty(), "the updates come apart");
    let mut out = encode_sized(envelope, bytes);
    // `updates` is the last field: its length, 0, is the last byte. The whole length
    // takes its place, as postcard writes a sequence's length.
    out.pop();
    out = postcard::to_extend(&(forced.len() + count), out).expect("a length encodes");
    for update in forced {
        out = postcard::to_extend(update, out).expect("engine messages always encode");
    }
    out.extend_from_slice(encoded);
    out
}

/// The encoded size of `value` in bytes (without the version byte).
pub(crate) fn encoded_len<T: Serialize>(value: &T) -> usize {
    postcard::experimental::serialized_size(value).expect("engine messages always encode")
}

/// The encoded size of a message carrying `count` more updates totalling `bytes`, given
/// the size of the message without updates (`base`, version byte included).
pub(crate) fn len_with_updates(base: usize, count: usize, bytes: usize) -> usize {
    base - 1 + varint_len(count) + bytes
}

fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}

/// Decodes a message of at most `max` bytes, refusing anything else.
pub(crate) fn decode<A: DeserializeOwned>(
    bytes: &[u8],
    max: usize,
) -> Result<Envelope<A>, MessageError> {
    let (&version, rest) = bytes.split_first().ok_or(MessageError::Empty)?;
    if bytes.len() > max {
        return Err(MessageError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    if version != WIRE_VERSION {
        return Err(MessageError::Version(version));
    }
    let (envelope, trailing) = postcard::take_from_bytes::<Envelope<A>>(rest)
        .map_err(|e| MessageError::Malformed(e.to_string()))?;
    if !trailing.is_empty() {
        return Err(MessageError::TrailingBytes(trailing.len()));
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    /// Payload ids and bytes go out as runs of bytes: a length, then the bytes.
    #[test]
    fn payloads_and_ids_are_runs_of_bytes() {
        let bytes: Vec<u8> = (0..=255).cycle().take(300).collect();
        let payload = WirePayload {
            id: [7; 16],
            hops: 3,
            bytes: bytes.clone().into(),
        };
        let encoded = postcard::to_allocvec(&payload).unwrap();
        let mut expected = vec![16];
        expected.extend([7; 16]);
        expected.extend([3, 0xac, 0x02]); // hops, then 300 as a varint
        expected.extend(&bytes);
        assert_eq!(encoded, expected);
        assert_eq!(
            postcard::from_bytes::<WirePayload>(&encoded).unwrap(),
            payload
        );

        let want: Body<u32> = Body::Want(vec![[1; 16], [2; 16]]);
        let encoded = postcard::to_allocvec(&want).unwrap();
        assert_eq!(encoded[1], 32, "one run of 32 bytes");
        assert_eq!(postcard::from_bytes::<Body<u32>>(&encoded).unwrap(), want);
        let mut short = encoded[..encoded.len() - 1].to_vec();
        short[1] = 31;
        assert!(
            postcard::from_bytes::<Body<u32>>(&short).is_err(),
            "a run that is not whole ids is refused"
        );
    }

    fn sample() -> Envelope<u32> {
        Envelope {
            sender: node(1),
            sender_addr: 7,
            incarnation: 3,
            to: Some(node(2)),
            body: Body::PingReq {
                seq: 9,
                target: node(3),
                target_addr: 8,
            },
            updates: vec![Update::Suspect {
                id: node(3),
                incarnation: 1,
                from: node(1),
            }],
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let bytes = encode(&sample());
        assert_eq!(decode::<u32>(&bytes, 1200).unwrap(), sample());
        assert_eq!(decode::<u32>(&[], 1200), Err(MessageError::Empty));
        assert!(matches!(
            decode::<u32>(&bytes, 4),
            Err(MessageError::TooLarge { .. })
        ));
        let mut wrong = bytes.clone();
        wrong[0] = 99;
        assert_eq!(decode::<u32>(&wrong, 1200), Err(MessageError::Version(99)));
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            decode::<u32>(&long, 1200),
            Err(MessageError::TrailingBytes(1))
        );
    }

    /// A message whose queued updates come encoded is the same message, byte for byte,
    /// however many there are (their count is a varint of one byte or more).
    #[test]
    fn updates_encoded_apart_make_the_same_message() {
        let mut env = sample();
        let update = env.updates.pop().unwrap();
        let forced = [Update::Left {
            id: node(9),
            incarnation: 4,
        }];
        for count in [0usize, 1, 126, 127, 200] {
            let queued: Vec<u8> = (0..count)
                .flat_map(|_| postcard::to_allocvec(&update).unwrap())
                .collect();
            let mut whole = env.clone();
            whole.updates = forced.to_vec();
            whole
                .updates
                .extend(std::iter::repeat_n(update.clone(), count));
            assert_eq!(
                encode_with_updates(&env, &forced, count, &queued, 0),
                encode(&whole),
                "{count} queued"
            );
        }
    }

    #[test]
    fn piggyback_size_prediction_is_exact() {
        let mut env = sample();
        let update = env.updates.pop().unwrap();
        let base = encode(&env).len();
        let one = encoded_len(&update);
        for count in [1usize, 2, 127, 128, 300] {
            env.updates = vec![update.clone(); count];
            assert_eq!(
                encode(&env).len(),
                len_with_updates(base, count, one * count)
            );
        }
    }
}
