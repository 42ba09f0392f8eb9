//! Mutual TLS: only holders of a certificate from the cluster CA get a connection, and
//! nothing an outsider sends reaches `recv`.

mod quic_common;

use std::sync::Arc;

use lattice_gossip::quic::{Kind, Limits, SendError};
use lattice_gossip::tls::{CaBundle, ALPN};
use quic_common::{ca, node, node_tls, raw_client, stays_silent, wait_for_stats, within};
use rustls::RootCertStore;

#[tokio::test]
async fn a_node_of_another_ca_is_refused_in_both_directions() {
    within(async {
        let (ours, theirs) = (ca("our cluster"), ca("their cluster"));
        let a = node(&ours, "node-a", Limits::default());
        // Same node name as a real member, different CA: the name buys nothing.
        let intruder = node(&theirs, "node-b", Limits::default());
        let sent = intruder
            .send(a.local_addr(), b"let me in".to_vec(), Kind::Stream)
            .await;
        assert!(matches!(sent, Err(SendError::Handshake { .. })), "{sent:?}");
        let sent = a
            .send(
                intruder.local_addr(),
                b"who are you".to_vec(),
                Kind::Datagram,
            )
            .await;
        assert!(matches!(sent, Err(SendError::Handshake { .. })), "{sent:?}");
        // Each side failed once as client and once as server.
        let stats = wait_for_stats(&a, |s| s.handshake_failures >= 2).await;
        assert_eq!((stats.frames_in, stats.frames_out), (0, 0));
        let stats = wait_for_stats(&intruder, |s| s.handshake_failures >= 2).await;
        assert_eq!((stats.frames_in, stats.frames_out), (0, 0));
        assert!(stays_silent(&a).await && stays_silent(&intruder).await);
    })
    .await;
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    within(async {
        let cluster = ca("our cluster");
        let a = node(&cluster, "node-a", Limits::default());
        let connecting = raw_client(client_without_certificate(&cluster), a.local_addr());
        // TLS 1.3 lets the client finish first; the server then rejects the empty
        // certificate and closes. Whatever the client managed to send goes nowhere.
        if let Ok(conn) = connecting.await {
            let _ = conn.send_datagram(b"sneaky datagram".to_vec().into());
            if let Ok(mut stream) = conn.open_uni().await {
                let _ = stream
                    .write_all(&[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o'])
                    .await;
                let _ = stream.finish();
            }
            let reason = conn.closed().await;
            assert!(
                matches!(reason, quinn::ConnectionError::ConnectionClosed(_)),
                "closed by the server's TLS alert: {reason:?}"
            );
        }
        let stats = wait_for_stats(&a, |s| s.handshake_failures >= 1).await;
        assert_eq!(stats.frames_in, 0);
        assert!(stays_silent(&a).await);
    })
    .await;
}

/// A client that trusts `cluster`'s CA and names the server correctly, but shows no
/// certificate of its own.
fn client_without_certificate(cluster: &CaBundle) -> rustls::ClientConfig {
    let mut roots = RootCertStore::empty();
    roots
        .add(node_tls(cluster, "probe").ca[0].clone())
        .expect("CA");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls
}
