//! Helpers shared by the `quic_*` tests: clusters of real endpoints on 127.0.0.1.

#![allow(dead_code)] // Each test file uses a different subset.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::QuicClientConfig;

use lattice_gossip::quic::{Incoming, Limits, QuicTransport, Stats};
use lattice_gossip::tls::{generate_ca, generate_node_cert, CaBundle, NodeTls};

/// Every test finishes well within this, or fails.
pub(crate) const TEST_TIME_MAX: Duration = Duration::from_secs(20);
/// How long a test waits to be sure something does *not* arrive.
pub(crate) const SILENCE: Duration = Duration::from_millis(300);

/// Runs a test body, failing it if it takes longer than [`TEST_TIME_MAX`].
pub(crate) async fn within<T>(body: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIME_MAX, body)
        .await
        .expect("test exceeded its time limit")
}

/// A fresh cluster CA.
pub(crate) fn ca(name: &str) -> CaBundle {
    generate_ca(name).expect("generate CA")
}

/// TLS material for node `name` of `ca`'s cluster.
pub(crate) fn node_tls(ca: &CaBundle, name: &str) -> NodeTls {
    let bundle = generate_node_cert(ca, name).expect("generate node certificate");
    NodeTls::from_bundle(&bundle).expect("load node bundle")
}

/// A transport for node `name` of `ca`'s cluster on 127.0.0.1, any free port.
pub(crate) fn node(ca: &CaBundle, name: &str, limits: Limits) -> QuicTransport {
    let addr = "127.0.0.1:0".parse().expect("address");
    QuicTransport::bind(addr, &node_tls(ca, name), limits).expect("bind")
}

/// The next message, failing the test if none arrives within a few seconds.
pub(crate) async fn next(transport: &QuicTransport) -> Incoming {
    tokio::time::timeout(Duration::from_secs(5), transport.recv())
        .await
        .expect("no message within 5 s")
        .expect("transport closed")
}

/// Whether nothing arrives for [`SILENCE`].
pub(crate) async fn stays_silent(transport: &QuicTransport) -> bool {
    tokio::time::timeout(SILENCE, transport.recv())
        .await
        .is_err()
}

/// Waits until `done(stats)` holds (polling), failing the test after a few seconds.
pub(crate) async fn wait_for_stats(
    transport: &QuicTransport,
    done: impl Fn(&Stats) -> bool,
) -> Stats {
    for _ in 0..500 {
        let stats = transport.stats();
        if done(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "counters never reached the expected values: {:?}",
        transport.stats()
    );
}

/// A bare quinn client (no `QuicTransport`) dialling `to` with rustls config `tls`, for
/// tests that must misbehave in ways the transport never would.
pub(crate) fn raw_client(tls: rustls::ClientConfig, to: SocketAddr) -> quinn::Connecting {
    let tls = QuicClientConfig::try_from(Arc::new(tls)).expect("QUIC-capable TLS config");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let client = quinn::Endpoint::client(any).expect("client endpoint");
    let config = quinn::ClientConfig::new(Arc::new(tls));
    client.connect_with(config, to, "node-a").expect("connect")
}
