//! lattice-gossip: how nodes find each other, know who is alive, and spread bytes.
//!
//! - [`engine`]: SWIM membership (Das, Gupta, Motivala 2002) with Lifeguard's local
//!   health awareness and suspicion refinements (arXiv 1707.00788), phi-accrual failure
//!   estimation per member (Hayashibara 2004), and dissemination of opaque payloads, as a
//!   sans-IO state machine: inputs carry `now`, outputs are polled, randomness is seeded.
//! - [`quic`] and [`tls`]: the production transport, QUIC (quinn, rustls with ring)
//!   with mutual TLS under a cluster CA; the only tokio/quinn code in the crate.
//!
//! The crate does not know what a document is: payloads are bytes, and the node asks for
//! anti-entropy partners through engine events.

#![deny(missing_docs)]

pub mod engine;
pub mod quic;
pub mod tls;

pub use engine::{
    Config, Engine, Event, Kind, MemberInfo, MemberState, MessageError, Stats, Transmit,
};
pub use quic::QuicTransport;
pub use tls::NodeTls;
