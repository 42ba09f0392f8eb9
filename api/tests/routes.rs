//! The OpenAPI document matches the routes, and metrics count them.

mod common;

use common::{call, get, start};
use lattice_api::{ApiConfig, OPENAPI_JSON, ROUTES};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served_and_every_route_is_documented() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut routes: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    routes.sort();
    assert_eq!(documented, routes, "ROUTES and the OpenAPI document differ");

    let node = start(&common::ca(), 1, &[], ApiConfig::default());
    for (method, path) in &routes {
        if path.ends_with("/events") {
            continue; // a stream never ends; served in tests/events.rs
        }
        let uri = path.replace("{key}", "some/key");
        let body = r#"{"ops":[{"op":"increment","field":"n","by":1}]}"#;
        let a = call(&node.api, &method.to_uppercase(), &uri, &[], body).await;
        assert!(
            a.status != 405 && a.code() != "no_route",
            "{method} {uri}: {} {}",
            a.status,
            a.body
        );
    }
    let served = get(&node.api, "/v1/openapi.json", &[]).await;
    assert_eq!(served.body, doc);
    let metrics = call(&node.api, "GET", "/metrics", &[], "").await;
    assert_eq!(metrics.status, 200);
    let text = {
        let response = tower::ServiceExt::oneshot(
            node.api.clone(),
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    assert!(
        text.contains(r#"lattice_http_requests_total{route="/v1/docs/{*key}",status="200"}"#),
        "{text}"
    );
    assert!(text.contains("lattice_http_request_duration_seconds_bucket"));
    assert!(text.contains("lattice_deltas_sent_total 2"), "{text}"); // the POST and the DELETE
                                                                     // Nothing was refused or dropped, and the counters say so.
    for zero in [
        "lattice_records_refused_total 0",
        "lattice_node_events_dropped_total 0",
    ] {
        assert!(text.contains(zero), "{text}");
    }
    node.runtime.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_means_joined_and_caught_up() {
    let ca = common::ca();
    let a = start(&ca, 1, &[], ApiConfig::default());
    let alone = get(&a.api, "/v1/ready", &[]).await;
    assert_eq!(
        alone.status, 200,
        "a first node without seeds: {}",
        alone.body
    );
    // A seed nobody answers on: not joined.
    let nowhere = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let lost = start(
        &ca,
        3,
        &[nowhere.local_addr().unwrap()],
        ApiConfig::default(),
    );
    let unjoined = get(&lost.api, "/v1/ready", &[]).await;
    assert_eq!(
        (unjoined.status.as_u16(), unjoined.code()),
        (503, "not_ready")
    );
    assert!(unjoined.body["detail"]
        .as_str()
        .unwrap()
        .contains("not joined"));
    // Joining a live seed: ready once a peer has answered an exchange in full.
    let b = start(&ca, 2, &[a.gossip], ApiConfig::default());
    let ready = common::eventually(std::time::Duration::from_secs(15), || async {
        get(&b.api, "/v1/ready", &[]).await.status == 200
    });
    assert!(ready.await, "B never became ready");
    lost.runtime.stop().await.unwrap();
    b.runtime.stop().await.unwrap();
    a.runtime.stop().await.unwrap();
}
