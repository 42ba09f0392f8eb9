//! Real nodes over real QUIC on loopback: three nodes with certificates from one CA form
//! a cluster and replicate; a node whose certificate comes from another CA is refused.

use std::net::SocketAddr;
use std::time::Duration;

use lattice_crdt::{NodeId, Op};
use lattice_gossip::engine::MemberState;
use lattice_gossip::quic::Limits;
use lattice_gossip::tls::{generate_ca, generate_node_cert, CaBundle};
use lattice_gossip::{NodeTls, QuicTransport};
use lattice_node::runtime::{NodeHandle, NodeRuntime};
use lattice_node::store::MemStore;
use lattice_node::{NodeConfig, NodeCore, Replica, ReplicaConfig, SessionToken};
use serde_json::json;

fn start(ca: &CaBundle, id: u64, seeds: &[SocketAddr]) -> (NodeRuntime<MemStore>, SocketAddr) {
    let node = NodeId::new(id).unwrap();
    let replica = Replica::open(MemStore::new(node), ReplicaConfig::default()).unwrap();
    start_replica(ca, replica, seeds, NodeConfig::default())
}

/// Starts `replica` with its own certificate (`node-<id>`) and `config`.
fn start_replica(
    ca: &CaBundle,
    replica: Replica<MemStore>,
    seeds: &[SocketAddr],
    config: NodeConfig,
) -> (NodeRuntime<MemStore>, SocketAddr) {
    let name = format!("node-{}", replica.node().get());
    start_as(ca, &name, replica, seeds, config)
}

/// Starts `replica` with a certificate naming `cert_name`.
fn start_as(
    ca: &CaBundle,
    cert_name: &str,
    replica: Replica<MemStore>,
    seeds: &[SocketAddr],
    config: NodeConfig,
) -> (NodeRuntime<MemStore>, SocketAddr) {
    let id = replica.node().get();
    let tls = NodeTls::from_bundle(&generate_node_cert(ca, cert_name).unwrap()).unwrap();
    let transport =
        QuicTransport::bind("127.0.0.1:0".parse().unwrap(), &tls, Limits::default()).unwrap();
    let addr = transport.local_addr();
    let core = NodeCore::new(replica, addr, config, id);
    (NodeRuntime::start(core, transport, seeds), addr)
}

/// Node `id`'s replica holding one durable write to `key` that no gossip engine saw (as
/// after a restart), and the session token of that write.
fn replica_with_a_write(id: u64, key: &str) -> (Replica<MemStore>, SessionToken) {
    let store = MemStore::new(NodeId::new(id).unwrap());
    let mut replica = Replica::open(store, ReplicaConfig::default()).unwrap();
    let write = vec![Op::Increment {
        field: "n".into(),
        by: 5,
    }];
    let written = replica
        .write(lattice_crdt::NTP64(1 << 32), key, &write, None)
        .unwrap();
    replica.sync().unwrap();
    (replica, written.token)
}

/// Waits up to `limit` for `check` to hold, polling.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn alive_members(h: &NodeHandle) -> usize {
    let members = h.members().await.unwrap();
    members
        .iter()
        .filter(|m| m.state == MemberState::Alive)
        .count()
}

async fn likes(h: &NodeHandle) -> Option<serde_json::Value> {
    h.read("post/1", None).await.unwrap().view
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_form_a_cluster_and_replicate_and_a_stranger_is_refused() {
    let ca = generate_ca("lattice test cluster").unwrap();
    let (a, a_addr) = start(&ca, 1, &[]);
    let (b, _) = start(&ca, 2, &[a_addr]);
    let (c, _) = start(&ca, 3, &[a_addr]);
    let handles = [a.handle(), b.handle(), c.handle()];
    for h in &handles {
        let joined = eventually(Duration::from_secs(15), || async {
            alive_members(h).await == 2
        });
        assert!(joined.await, "a node does not see the other two");
    }

    let inc = |by| {
        vec![Op::Increment {
            field: "likes".into(),
            by,
        }]
    };
    for (i, h) in handles.iter().enumerate() {
        h.write("post/1", inc(i as i64 + 1), None).await.unwrap();
    }
    for h in &handles {
        let converged = eventually(Duration::from_secs(15), || async {
            likes(h).await == Some(json!({"likes": 6}))
        });
        assert!(
            converged.await,
            "a node did not converge: {:?}",
            likes(h).await
        );
    }

    // A node with a certificate from another CA cannot join, probe or push a delta.
    let other_ca = generate_ca("someone else").unwrap();
    let (stranger, _) = start(&other_ca, 9, &[a_addr]);
    let s = stranger.handle();
    s.write("post/1", inc(100), None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(alive_members(&s).await, 0, "the stranger sees members");
    for h in &handles {
        let members = h.members().await.unwrap();
        assert!(
            members.iter().all(|m| m.id != NodeId::new(9).unwrap()),
            "the stranger was admitted"
        );
        assert_eq!(
            likes(h).await,
            Some(json!({"likes": 6})),
            "the stranger's write got in"
        );
    }

    for rt in [stranger, a, b, c] {
        rt.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_repaired_by_anti_entropy_are_published() {
    let ca = generate_ca("lattice test cluster").unwrap();
    // Dissemination cannot bring A's write to B: only an anti-entropy repair can. B
    // would keep a repair staged for an hour, but someone follows its changes: it
    // syncs and publishes at once.
    let (replica, _) = replica_with_a_write(1, "old/1");
    let (a, a_addr) = start_replica(&ca, replica, &[], NodeConfig::default());
    let mut lazy = NodeConfig::default();
    lazy.commit.peer_delay = Duration::from_secs(3600);
    let b_replica = Replica::open(
        MemStore::new(NodeId::new(2).unwrap()),
        ReplicaConfig::default(),
    );
    let (b, _) = start_replica(&ca, b_replica.unwrap(), &[a_addr], lazy);
    let mut changes = b.handle().subscribe();
    let change = tokio::time::timeout(Duration::from_secs(15), changes.recv())
        .await
        .expect("a change within 15 s")
        .unwrap();
    assert_eq!(change.key, "old/1");
    assert_eq!(change.view, Some(json!({"n": 5})));
    let (stats, _) = b.handle().stats().await.unwrap();
    assert!(
        stats.repairs >= 1 && stats.deltas_applied == 0,
        "not a repair: {stats:?}"
    );
    b.stop().await.unwrap();
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_session_pulls_what_it_lacks_from_a_peer() {
    let ca = generate_ca("lattice test cluster").unwrap();
    // A holds a write its gossip engine never saw, and anti-entropy runs once an hour:
    // only B's pull, when a session needs that write, can bring it soon. B would keep
    // what it pulled staged for an hour, but the read waits for it: it syncs at once.
    let (replica, token) = replica_with_a_write(1, "pulled/1");
    let slow = || {
        let mut config = NodeConfig::default();
        config.gossip.anti_entropy_interval = Duration::from_secs(3600);
        config.commit.peer_delay = Duration::from_secs(3600);
        config
    };
    let (a, a_addr) = start_replica(&ca, replica, &[], slow());
    let b_replica = Replica::open(
        MemStore::new(NodeId::new(2).unwrap()),
        ReplicaConfig::default(),
    );
    let (b, _) = start_replica(&ca, b_replica.unwrap(), &[a_addr], slow());
    let b = b.handle();
    let joined = eventually(Duration::from_secs(15), || async {
        alive_members(&b).await == 1
    });
    assert!(joined.await, "B did not join A");
    assert!(
        b.wait_until(&token, Duration::from_secs(5)).await.unwrap(),
        "the session's write was not pulled within 5 s"
    );
    let read = tokio::time::timeout(Duration::from_secs(10), b.read("pulled/1", Some(token)))
        .await
        .expect("the read waited for the commit delay")
        .unwrap();
    assert_eq!(read.view, Some(json!({"n": 5})));
    let (stats, _) = b.stats().await.unwrap();
    assert!(
        stats.syncs >= 1,
        "the read was answered before what it shows was durable"
    );
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_speak_for_another_node_id() {
    let ca = generate_ca("lattice test cluster").unwrap();
    let (a, a_addr) = start(&ca, 1, &[]);
    // A valid cluster certificate, for node 9, on a node that calls itself node 4.
    let replica = Replica::open(
        MemStore::new(NodeId::new(4).unwrap()),
        ReplicaConfig::default(),
    );
    let (impostor, _) = start_as(
        &ca,
        "node-9",
        replica.unwrap(),
        &[a_addr],
        NodeConfig::default(),
    );
    let a_handle = a.handle();
    let refused = eventually(Duration::from_secs(5), || async {
        a_handle.stats().await.unwrap().1.malformed_dropped > 0
    });
    assert!(refused.await, "A never refused the impostor's messages");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let members = a_handle.members().await.unwrap();
    assert!(members.is_empty(), "the impostor got in: {members:?}");
    impostor.stop().await.unwrap();
    a.stop().await.unwrap();
}
