//! Size limits and bad frames: dropped, counted, and the connection keeps working.

mod quic_common;

use std::net::SocketAddr;
use std::sync::Arc;

use lattice_gossip::quic::{Kind, Limits, SendError};
use quic_common::{ca, next, node, node_tls, stays_silent, wait_for_stats, within};
use quinn::crypto::rustls::QuicClientConfig;

fn limits_with_message_bytes_max(max: usize) -> Limits {
    let mut limits = Limits::default();
    limits.message_bytes_max = max;
    limits
}

#[tokio::test]
async fn an_oversized_frame_is_dropped_and_counted_and_the_connection_keeps_working() {
    within(async {
        let cluster = ca("test cluster");
        let a = node(&cluster, "node-a", Limits::default());
        let b = node(&cluster, "node-b", limits_with_message_bytes_max(64 << 10));
        // a allows 4 MiB, b only 64 KiB: b refuses the frame from its length prefix and
        // stops the stream; a may or may not see the stop before its write completes.
        let sent = a
            .send(b.local_addr(), vec![1; 100 << 10], Kind::Stream)
            .await;
        assert!(
            matches!(sent, Ok(()) | Err(SendError::Rejected { .. })),
            "{sent:?}"
        );
        wait_for_stats(&b, |s| s.dropped_oversized == 1).await;
        a.send(b.local_addr(), b"small stream".to_vec(), Kind::Stream)
            .await
            .expect("send");
        a.send(b.local_addr(), b"small datagram".to_vec(), Kind::Datagram)
            .await
            .expect("send");
        let mut got = vec![next(&b).await.bytes, next(&b).await.bytes];
        got.sort();
        assert_eq!(got, [b"small datagram".to_vec(), b"small stream".to_vec()]);
        assert!(stays_silent(&b).await, "the oversized frame never arrives");
        let stats = b.stats();
        assert_eq!(
            (stats.frames_in, stats.dropped_oversized),
            (2, 1),
            "{stats:?}"
        );
        assert_eq!(stats.handshake_failures, 0, "one connection throughout");
    })
    .await;
}

#[tokio::test]
async fn a_message_over_the_senders_limit_is_refused_before_sending() {
    within(async {
        let cluster = ca("test cluster");
        let a = node(&cluster, "node-a", limits_with_message_bytes_max(1000));
        let b = node(&cluster, "node-b", Limits::default());
        for kind in [Kind::Datagram, Kind::Stream] {
            let sent = a.send(b.local_addr(), vec![0; 1001], kind).await;
            assert!(matches!(
                sent,
                Err(SendError::TooLarge {
                    len: 1001,
                    max: 1000
                })
            ));
        }
        assert_eq!(a.stats().frames_out, 0);
        assert!(stays_silent(&b).await);
    })
    .await;
}

#[tokio::test]
async fn malformed_frames_from_a_member_are_dropped_and_counted() {
    within(async {
        let cluster = ca("test cluster");
        let b = node(&cluster, "node-b", Limits::default());
        // A member with a valid certificate whose software writes bad frames.
        let tls = node_tls(&cluster, "node-buggy")
            .client_config()
            .expect("client config");
        let tls = QuicClientConfig::try_from(Arc::new(tls)).expect("QUIC TLS");
        let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let client = quinn::Endpoint::client(any).expect("client endpoint");
        let config = quinn::ClientConfig::new(Arc::new(tls));
        let conn = client
            .connect_with(config, b.local_addr(), "node-b")
            .expect("connect");
        let conn = conn.await.expect("handshake");
        let frames: [&[u8]; 4] = [
            &[0, 0],                                     // prefix cut short
            &[0, 0, 0, 10, 1, 2, 3, 4, 5],               // payload cut short
            &[0, 0, 0, 3, 1, 2, 3, 4, 5],                // trailing bytes
            &[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o'], // well formed
        ];
        for frame in frames {
            let mut stream = conn.open_uni().await.expect("stream");
            stream.write_all(frame).await.expect("write");
            stream.finish().expect("finish");
        }
        let message = next(&b).await;
        assert_eq!(
            (message.bytes.as_slice(), message.peer_name.as_str()),
            (&b"hello"[..], "node-buggy")
        );
        let stats = wait_for_stats(&b, |s| s.dropped_malformed == 3).await;
        assert_eq!(stats.frames_in, 1);
        assert!(stays_silent(&b).await);
        assert!(
            conn.close_reason().is_none(),
            "bad frames cost streams, not the connection"
        );
    })
    .await;
}
