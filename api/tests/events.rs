//! The change stream: the current state, then every change, local or replicated.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::{eventually, get, post, start};
use http_body_util::BodyExt;
use lattice_api::ApiConfig;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Reads SSE frames from `body` until one carries `data:`; returns that data as JSON.
async fn next_change(body: &mut Body) -> Value {
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .expect("the stream is open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
        if let Some(end) = text.find("\n\n") {
            let event = &text[..end];
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                assert!(event.contains("event: change"), "{event}");
                return serde_json::from_str(data).unwrap();
            }
            text = text[end + 2..].to_owned();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_sees_local_and_replicated_changes() {
    let ca = common::ca();
    let a = start(&ca, 1, &[], ApiConfig::default());
    let b = start(&ca, 2, &[a.gossip], ApiConfig::default());
    let joined = eventually(Duration::from_secs(15), || async {
        let m = get(&a.api, "/v1/cluster/members", &[]).await;
        m.body
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["state"] == "alive"))
    });
    assert!(joined.await);
    let request = Request::get("/v1/docs/feed/1/events")
        .body(Body::empty())
        .unwrap();
    let response = a.api.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    assert_eq!(
        next_change(&mut body).await,
        json!({"key": "feed/1", "fields": null})
    );

    let inc = r#"{"ops":[{"op":"increment","field":"n","by":1}]}"#;
    assert_eq!(post(&a.api, "/v1/docs/feed/1", &[], inc).await.status, 200);
    assert_eq!(next_change(&mut body).await["fields"], json!({"n": 1}));
    assert_eq!(
        post(&a.api, "/v1/docs/feed/other", &[], inc).await.status,
        200
    );
    assert_eq!(post(&b.api, "/v1/docs/feed/1", &[], inc).await.status, 200);
    assert_eq!(
        next_change(&mut body).await,
        json!({"key": "feed/1", "fields": {"n": 2}})
    );
    drop(body);
    b.runtime.stop().await.unwrap();
    a.runtime.stop().await.unwrap();
}
