//! Real `lattice serve` processes over real sockets on loopback, with certificates from
//! `lattice cert`: replication, session tokens, crashes, security, bad requests.

mod common;

use std::time::Duration;

use common::{eventually, Node};
use serde_json::json;

fn inc(by: i64) -> String {
    json!({"ops": [{"op": "increment", "field": "likes", "by": by}]}).to_string()
}

fn likes(node: &Node, key: &str) -> Option<i64> {
    let r = node.get(&format!("/v1/docs/{key}"), &[]);
    (r.status == 200).then(|| r.json()["fields"]["likes"].as_i64().unwrap_or(0))
}

/// A three-node cluster joined through the first node.
fn cluster(dir: &std::path::Path) -> Vec<Node> {
    let mut first = Node::new(dir, 1, vec![]);
    first.start();
    let seed = first.gossip;
    let mut nodes = vec![first];
    for id in 2..=3 {
        let mut node = Node::new(dir, id, vec![seed]);
        node.start();
        nodes.push(node);
    }
    let joined = eventually(Duration::from_secs(20), || {
        nodes.iter().all(|n| {
            let r = n.get("/v1/cluster/members", &[]);
            r.status == 200
                && r.json()
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["state"] == "alive")
                    .count()
                    == 2
        })
    });
    assert!(joined, "the cluster did not form:\n{}", views(&nodes));
    // Every member announces where it serves HTTP.
    let announced = eventually(Duration::from_secs(10), || {
        nodes.iter().all(|n| {
            let members = n.get("/v1/cluster/members", &[]).json();
            nodes.iter().filter(|o| o.id != n.id).all(|o| {
                members
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["id"] == o.id && m["http_addr"] == o.http.to_string().as_str())
            })
        })
    });
    assert!(
        announced,
        "members lack their http_addr:\n{}",
        views(&nodes)
    );
    nodes
}

/// What each node says of its members, and the end of its log: for failure messages.
fn views(nodes: &[Node]) -> String {
    let view = |n: &Node| {
        let members = common::http(n.http, "GET", "/v1/cluster/members", &[], "")
            .map_or_else(|e| e.to_string(), |r| r.body);
        format!("node {} ({}): {members}\n{}", n.id, n.http, n.log_tail())
    };
    nodes.iter().map(view).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_write_on_one_node_is_read_on_another_with_its_session_and_increments_converge() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(dir.path());
    let w = nodes[0].post("/v1/docs/posts/1", &[], &inc(1));
    assert_eq!(w.status, 200, "{}", w.body);
    let token = w
        .header("lattice-session")
        .expect("a session token")
        .to_owned();
    // Read-your-writes on another node, at once: the answer includes the write (the node
    // waits for it), or is a retryable 503 — never the state before the write.
    let r = nodes[1].get("/v1/docs/posts/1", &[("Lattice-Session", &token)]);
    match r.status {
        200 => assert_eq!(r.json()["fields"]["likes"], 1),
        503 => assert_eq!(r.json()["code"], "session_unavailable"),
        other => panic!("unexpected {other}: {}", r.body),
    }
    // Concurrent increments on every node converge to the exact sum everywhere.
    let writers: Vec<_> = nodes
        .iter()
        .map(|n| {
            let addr = n.http;
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let r = common::http(addr, "POST", "/v1/docs/posts/1", &[], &inc(1)).unwrap();
                    assert_eq!(r.status, 200, "{}", r.body);
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|t| t.join().unwrap());
    for n in &nodes {
        assert!(
            eventually(Duration::from_secs(20), || likes(n, "posts/1") == Some(61)),
            "node {} = {:?}",
            n.id,
            likes(n, "posts/1")
        );
    }
}

#[test]
fn a_killed_node_keeps_every_acknowledged_write_and_is_seen_dead_then_alive() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path());
    let victim_addr = nodes[2].http;
    let writer = std::thread::spawn(move || {
        let mut acked = 0;
        for _ in 0..200 {
            match common::http(victim_addr, "POST", "/v1/docs/crash", &[], &inc(1)) {
                Ok(r) if r.status == 200 => acked += 1,
                _ => break,
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(300));
    nodes[2].kill();
    let acked = writer.join().unwrap();
    assert!(acked > 0);
    let dead = eventually(Duration::from_secs(30), || {
        let r = nodes[0].get("/v1/cluster/members", &[]);
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == 3 && m["state"] == "dead")
    });
    assert!(dead, "the killed node is not seen dead");
    nodes[2].start();
    let restored = likes(&nodes[2], "crash").unwrap_or(0);
    assert!(
        restored >= acked,
        "node 3 lost acknowledged writes: {restored} < {acked}"
    );
    for n in &nodes {
        assert!(eventually(Duration::from_secs(30), || likes(n, "crash")
            .unwrap_or(0)
            >= acked));
    }
    let alive = eventually(Duration::from_secs(30), || {
        let r = nodes[0].get("/v1/cluster/members", &[]);
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == 3 && m["state"] == "alive")
    });
    assert!(alive, "the restarted node is not seen alive");
}

#[test]
fn a_node_with_another_cas_certificate_cannot_join() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Node::new(dir.path(), 1, vec![]);
    a.start();
    let other = tempfile::tempdir().unwrap();
    let mut stranger = Node::new(other.path(), 2, vec![a.gossip]);
    stranger.start();
    let r = stranger.post("/v1/docs/x", &[], &inc(5));
    assert_eq!(r.status, 200);
    std::thread::sleep(Duration::from_secs(4));
    let members = a.get("/v1/cluster/members", &[]).json();
    assert_eq!(
        members.as_array().unwrap().len(),
        0,
        "the stranger joined: {members}"
    );
    assert_eq!(a.get("/v1/docs/x", &[]).status, 404);
}

#[test]
fn an_idempotent_retry_increments_once_also_after_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Node::new(dir.path(), 1, vec![]);
    a.start();
    let key = [("Idempotency-Key", "retry-1")];
    let first = a.post("/v1/docs/idem", &key, &inc(1));
    let again = a.post("/v1/docs/idem", &key, &inc(1));
    assert_eq!((first.status, again.status), (200, 200));
    assert_eq!(first.json(), again.json());
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(likes(&a, "idem"), Some(1));
    // The client's retry after a crash of the node: the acknowledged write is not
    // applied again, and the first answer comes back.
    a.kill();
    a.start();
    let after = a.post("/v1/docs/idem", &key, &inc(1));
    assert_eq!(after.status, 200);
    assert_eq!(after.json(), first.json());
    assert_eq!(after.header("idempotent-replayed"), Some("true"));
    assert_eq!(likes(&a, "idem"), Some(1));
    let other = a.post("/v1/docs/idem", &[("Idempotency-Key", "retry-2")], &inc(1));
    assert_eq!(other.status, 200);
    assert_eq!(likes(&a, "idem"), Some(2));
}

/// A bad request: its body, its headers, and the problem code it must get.
type BadRequest = (String, Vec<(&'static str, &'static str)>, &'static str);

#[test]
fn bad_requests_get_problem_codes_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Node::new(dir.path(), 1, vec![]);
    a.start();
    assert_eq!(a.post("/v1/docs/ok", &[], &inc(2)).status, 200);
    let big = format!(
        "{{\"ops\":[{{\"op\":\"set\",\"field\":\"t\",\"value\":\"{}\"}}]}}",
        "x".repeat(2 << 20)
    );
    let cases: Vec<BadRequest> = vec![
        ("{not json".into(), vec![], "malformed_json"),
        (
            json!({"ops": [{"op": "frobnicate", "field": "likes"}]}).to_string(),
            vec![],
            "unknown_op",
        ),
        (
            json!({"ops": [{"op": "add", "field": "likes", "value": 1}]}).to_string(),
            vec![],
            "type_mismatch",
        ),
        (big, vec![], "too_large"),
        (inc(1), vec![("Lattice-Session", "***")], "bad_session"),
    ];
    for (body, headers, code) in cases {
        let r = a.post("/v1/docs/ok", &headers, &body);
        assert!(
            (400..500).contains(&r.status),
            "{code}: {} {}",
            r.status,
            r.body
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{code}"
        );
        assert_eq!(r.json()["code"], code, "{}", r.body);
    }
    let r = a.post("/v1/docs/bad%20key", &[], &inc(1));
    assert!((400..500).contains(&r.status));
    assert_eq!(
        likes(&a, "ok"),
        Some(2),
        "a refused request changed the document"
    );
}
