//! Reads of a node on sled, served off the node thread while writers keep it busy:
//! read-your-writes and monotonic reads hold for every session.

use std::time::Duration;

use lattice_crdt::{NodeId, Op};
use lattice_gossip::quic::Limits;
use lattice_gossip::tls::{generate_ca, generate_node_cert};
use lattice_gossip::{NodeTls, QuicTransport};
use lattice_node::runtime::NodeRuntime;
use lattice_node::store::SledStore;
use lattice_node::{NodeConfig, NodeCore, Replica, ReplicaConfig, SessionToken};

const WRITERS: u64 = 4;
const WRITES: u64 = 150;

fn count(view: &Option<serde_json::Value>, field: &str) -> u64 {
    view.as_ref().and_then(|v| v[field].as_u64()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_read_their_writes_and_never_go_back_while_writes_sync() {
    let dir = tempfile::tempdir().unwrap();
    let ca = generate_ca("lattice reads test").unwrap();
    let tls = NodeTls::from_bundle(&generate_node_cert(&ca, "node-1").unwrap()).unwrap();
    let transport =
        QuicTransport::bind("127.0.0.1:0".parse().unwrap(), &tls, Limits::default()).unwrap();
    let store = SledStore::open(dir.path(), NodeId::new(1).unwrap()).unwrap();
    let replica = Replica::open(store, ReplicaConfig::default()).unwrap();
    let core = NodeCore::new(replica, transport.local_addr(), NodeConfig::default(), 1);
    let runtime = NodeRuntime::start(core, transport, &[]);
    let node = runtime.handle();

    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            let field = format!("w{w}");
            for k in 1..=WRITES {
                let op = vec![Op::Increment {
                    field: field.clone(),
                    by: 1,
                }];
                let written = node.write("doc", op, None).await.unwrap();
                let read = node.read("doc", Some(written.token)).await.unwrap();
                assert!(count(&read.view, &field) >= k, "writer {w} lost write {k}");
            }
        }));
    }
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let node = node.clone();
            tokio::spawn(async move {
                let mut token: Option<SessionToken> = None;
                let mut last = [0u64; WRITERS as usize];
                let mut reads = 0;
                while last.iter().sum::<u64>() < WRITERS * WRITES {
                    let read = node.read("doc", token.clone()).await.unwrap();
                    for (w, seen) in last.iter_mut().enumerate() {
                        let now = count(&read.view, &format!("w{w}"));
                        assert!(now >= *seen, "monotonic reads: w{w} went {seen} -> {now}");
                        *seen = now;
                    }
                    token = Some(read.token);
                    reads += 1;
                    tokio::task::yield_now().await;
                }
                reads
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for r in readers {
        let reads = tokio::time::timeout(Duration::from_secs(30), r)
            .await
            .expect("readers see every write")
            .unwrap();
        assert!(reads > 0);
    }
    runtime.stop().await.unwrap();
    assert!(
        matches!(
            node.read("doc", None).await,
            Err(lattice_node::runtime::CallError::Stopped)
        ),
        "a stopped node answers no reads"
    );
}
