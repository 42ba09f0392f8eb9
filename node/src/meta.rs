//! What a node announces about itself to the cluster, carried as gossip member metadata
//! (`lattice_gossip::engine::Engine::set_meta`), so that every node can tell clients
//! where each member serves them.

use std::net::SocketAddr;

use lattice_crdt::codec;
use serde::{Deserialize, Serialize};

/// A node's announcement. Encoded with the crdt codec (a version byte, then postcard);
/// a member whose metadata does not decode is shown without it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeMeta {
    /// Where the node serves its HTTP API.
    pub http_addr: Option<SocketAddr>,
}

/// Longest metadata decoded, in bytes (the gossip engine refuses longer).
const META_BYTES_MAX: usize = 256;

impl NodeMeta {
    /// The bytes to announce.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// A member's announcement, if its bytes are one (empty bytes: not yet heard).
    pub fn decode(bytes: &[u8]) -> Option<NodeMeta> {
        codec::decode(bytes, META_BYTES_MAX).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_junk() {
        let meta = NodeMeta {
            http_addr: Some("127.0.0.1:7700".parse().unwrap()),
        };
        let bytes = meta.encode();
        assert!(bytes.len() <= lattice_gossip::engine::META_BYTES_MAX);
        assert_eq!(NodeMeta::decode(&bytes), Some(meta));
        assert_eq!(NodeMeta::decode(&[]), None);
        assert_eq!(NodeMeta::decode(&[0xff; 9]), None);
    }
}
