//! Real QUIC between endpoints of one cluster on 127.0.0.1: messages in every
//! direction, both kinds, large ones, reconnection and shutdown.

mod quic_common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use lattice_gossip::quic::{Kind, Limits, QuicTransport, SendError};
use lattice_gossip::tls::NodeTls;
use quic_common::{ca, next, node, stays_silent, within};

#[tokio::test]
async fn three_nodes_exchange_datagrams_and_streams_in_every_direction() {
    within(async {
        let ca = ca("test cluster");
        let names = ["node-a", "node-b", "node-c"];
        let nodes: Vec<_> = names
            .iter()
            .map(|n| node(&ca, n, Limits::default()))
            .collect();
        send_to_every_other_node(&nodes).await;
        for (j, to) in nodes.iter().enumerate() {
            let mut got = BTreeSet::new();
            for _ in 0..4 {
                let message = next(to).await;
                let i = nodes.iter().position(|n| n.local_addr() == message.from);
                let i = i.expect("`from` is the sender's listening address");
                assert_eq!(message.peer_name, names[i], "name from the certificate");
                let text = String::from_utf8(message.bytes).expect("utf-8");
                assert_eq!(text, format!("{i}->{j} {:?}", message.kind));
                got.insert(text);
            }
            assert_eq!(got.len(), 4, "two kinds from each of two peers");
            assert!(stays_silent(to).await, "nothing else arrives");
        }
        for n in &nodes {
            let stats = n.stats();
            assert_eq!((stats.frames_in, stats.frames_out), (4, 4), "{stats:?}");
            assert_eq!(stats.handshake_failures, 0);
            n.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_large_stream_message_arrives_whole() {
    within(async {
        let ca = ca("test cluster");
        let (a, b) = (
            node(&ca, "node-a", Limits::default()),
            node(&ca, "node-b", Limits::default()),
        );
        let large: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        a.send(b.local_addr(), large.clone(), Kind::Stream)
            .await
            .expect("send");
        b.send(a.local_addr(), large.clone(), Kind::Stream)
            .await
            .expect("send back");
        for (at, from) in [(&b, &a), (&a, &b)] {
            let message = next(at).await;
            assert_eq!(message.from, from.local_addr());
            assert_eq!(message.kind, Kind::Stream);
            assert!(message.bytes == large, "1 MiB arrives byte for byte");
        }
        assert_eq!(b.stats().bytes_in, 1 << 20);
    })
    .await;
}

#[tokio::test]
async fn a_datagram_too_large_for_a_packet_goes_on_a_stream() {
    within(async {
        let ca = ca("test cluster");
        let (a, b) = (
            node(&ca, "node-a", Limits::default()),
            node(&ca, "node-b", Limits::default()),
        );
        a.send(b.local_addr(), vec![7; 10_000], Kind::Datagram)
            .await
            .expect("send");
        let message = next(&b).await;
        assert_eq!((message.kind, message.bytes.len()), (Kind::Stream, 10_000));
    })
    .await;
}

#[tokio::test]
async fn a_connection_closed_by_the_peer_is_re_established() {
    within(async {
        let ca = ca("test cluster");
        let a = node(&ca, "node-a", Limits::default());
        let b = node(&ca, "node-b", Limits::default());
        let b_addr = b.local_addr();
        a.send(b_addr, b"before".to_vec(), Kind::Stream)
            .await
            .expect("send");
        assert_eq!(next(&b).await.bytes, b"before");
        b.close().await;
        drop(b);
        // The same node comes back on the same address; a redials on its next send.
        let b = rebind(&quic_common::node_tls(&ca, "node-b"), b_addr).await;
        a.send(b_addr, b"after".to_vec(), Kind::Stream)
            .await
            .expect("send after restart");
        let message = next(&b).await;
        assert_eq!(
            (message.bytes.as_slice(), message.from),
            (&b"after"[..], a.local_addr())
        );
    })
    .await;
}

#[tokio::test]
async fn close_ends_recv_and_refuses_sends() {
    within(async {
        let ca = ca("test cluster");
        let (a, b) = (
            node(&ca, "node-a", Limits::default()),
            node(&ca, "node-b", Limits::default()),
        );
        a.send(b.local_addr(), b"last".to_vec(), Kind::Stream)
            .await
            .expect("send");
        a.close().await;
        assert_eq!(
            next(&b).await.bytes,
            b"last",
            "close waits for sent streams"
        );
        b.close().await;
        assert_eq!(b.recv().await, None, "recv ends after close");
        let refused = b.send(a.local_addr(), b"x".to_vec(), Kind::Stream).await;
        assert!(matches!(refused, Err(SendError::Closed)), "{refused:?}");
        b.close().await; // A second close does nothing.
    })
    .await;
}

/// Binds `addr` again once the closed transport's socket is released (its driver task
/// lets go of it shortly after the transport is dropped).
async fn rebind(tls: &NodeTls, addr: SocketAddr) -> QuicTransport {
    for _ in 0..100 {
        match QuicTransport::bind(addr, tls, Limits::default()) {
            Ok(transport) => return transport,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
    panic!("{addr} was never released");
}

/// Sends `"{i}->{j} {kind:?}"` from every node `i` to every other node `j`, once per kind.
async fn send_to_every_other_node(nodes: &[QuicTransport]) {
    for (i, from) in nodes.iter().enumerate() {
        for (j, to) in nodes.iter().enumerate().filter(|(j, _)| *j != i) {
            for kind in [Kind::Datagram, Kind::Stream] {
                let text = format!("{i}->{j} {kind:?}");
                let sent = from.send(to.local_addr(), text.into_bytes(), kind).await;
                sent.expect("send");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transport_serves_many_tasks_at_once() {
    within(async {
        let ca = ca("test cluster");
        let a = Arc::new(node(&ca, "node-a", Limits::default()));
        let b = Arc::new(node(&ca, "node-b", Limits::default()));
        // Twenty concurrent first sends to one peer share one handshake.
        let sends: Vec<_> = (0..20u8)
            .map(|i| {
                let (a, to) = (a.clone(), b.local_addr());
                tokio::spawn(async move { a.send(to, vec![i], Kind::Stream).await })
            })
            .collect();
        let receiver = tokio::spawn({
            let b = b.clone();
            async move {
                let mut got = BTreeSet::new();
                while got.len() < 20 {
                    got.insert(b.recv().await.expect("message").bytes[0]);
                }
                got
            }
        });
        for send in sends {
            send.await.expect("task").expect("send");
        }
        assert_eq!(receiver.await.expect("task"), (0..20).collect());
        tokio::spawn(async move { a.close().await })
            .await
            .expect("close");
        assert_eq!(b.stats().handshake_failures, 0);
    })
    .await;
}
