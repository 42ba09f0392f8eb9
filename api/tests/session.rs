//! Session consistency across two nodes: never stale, 200 or 503.

mod common;

use std::time::Duration;

use common::{eventually, get, post, start};
use lattice_api::ApiConfig;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_read_on_another_node_is_never_stale() {
    let ca = common::ca();
    let config = ApiConfig {
        read_wait_max: Duration::from_millis(3000),
        ..ApiConfig::default()
    };
    let a = start(&ca, 1, &[], config.clone());
    let b = start(&ca, 2, &[a.gossip], config);
    let joined = eventually(Duration::from_secs(15), || async {
        let m = get(&b.api, "/v1/cluster/members", &[]).await;
        m.body
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["state"] == "alive"))
    });
    assert!(joined.await, "b never saw a");
    let members = get(&a.api, "/v1/cluster/members", &[]).await.body;
    let member = &members[0];
    for field in [
        "id",
        "gossip_addr",
        "http_addr",
        "state",
        "incarnation",
        "phi",
    ] {
        assert!(
            member.get(field).is_some(),
            "member without {field}: {member}"
        );
    }

    let mut served = 0;
    for i in 1..=20 {
        let body = format!(r#"{{"ops":[{{"op":"set","field":"n","value":{i}}}]}}"#);
        let w = post(&a.api, "/v1/docs/s", &[], &body).await;
        assert_eq!(w.status, 200);
        let token = w.session();
        let r = get(&b.api, "/v1/docs/s", &[("lattice-session", &token)]).await;
        match r.status.as_u16() {
            200 => {
                assert_eq!(r.body["fields"], json!({"n": i}), "stale read on b");
                served += 1;
            }
            503 => {
                assert_eq!(r.code(), "session_unavailable");
                assert!(r.headers.contains_key("retry-after"));
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
        // The session also carries writes: b applies on top of what a acknowledged.
        let w2 = post(
            &b.api,
            "/v1/docs/s2",
            &[("lattice-session", &token)],
            r#"{"ops":[{"op":"increment","field":"k","by":1}]}"#,
        )
        .await;
        assert!(matches!(w2.status.as_u16(), 200 | 503), "{}", w2.body);
    }
    assert!(served > 0, "b never served a session read within the wait");
    b.runtime.stop().await.unwrap();
    a.runtime.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_from_an_unreachable_node_gets_503() {
    let ca = common::ca();
    let config = ApiConfig {
        read_wait_max: Duration::from_millis(200),
        ..ApiConfig::default()
    };
    let lonely = start(&ca, 1, &[], config.clone());
    let other = start(&ca, 2, &[], config);
    let w = post(
        &other.api,
        "/v1/docs/x",
        &[],
        r#"{"ops":[{"op":"set","field":"v","value":1}]}"#,
    )
    .await;
    let r = get(
        &lonely.api,
        "/v1/docs/x",
        &[("lattice-session", &w.session())],
    )
    .await;
    assert_eq!((r.status.as_u16(), r.code()), (503, "session_unavailable"));
    assert_eq!(r.headers["retry-after"], "1");
    let p = post(
        &lonely.api,
        "/v1/docs/x",
        &[("lattice-session", &w.session())],
        r#"{"ops":[{"op":"set","field":"v","value":2}]}"#,
    )
    .await;
    assert_eq!((p.status.as_u16(), p.code()), (503, "session_unavailable"));
    assert_eq!(
        get(&lonely.api, "/v1/docs/x", &[]).await.status,
        404,
        "a refused write changed state"
    );
    other.runtime.stop().await.unwrap();
    lonely.runtime.stop().await.unwrap();
}
