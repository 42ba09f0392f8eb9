//! Documents over the API: write, read, delete, list, bad requests, idempotency.

mod common;

use common::{call, get, post, start};
use lattice_api::ApiConfig;
use serde_json::json;

const INC: &str = r#"{"ops":[{"op":"increment","field":"likes","by":1}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_read_back_and_deleted() {
    let node = start(&common::ca(), 1, &[], ApiConfig::default());
    let api = &node.api;
    let body = r#"{"ops":[
        {"op":"increment","field":"likes","by":2},
        {"op":"decrement","field":"likes","by":1},
        {"op":"add","field":"tags","value":"x"},
        {"op":"add","field":"tags","value":"y"},
        {"op":"remove","field":"tags","value":"y"},
        {"op":"set","field":"title","value":{"en":"Hi"}},
        {"op":"set","field":"gone","value":1},
        {"op":"delete_field","field":"gone"},
        {"op":"set","field":"cleared","value":1},
        {"op":"clear","field":"cleared"}]}"#;
    let w = post(api, "/v1/docs/posts/1", &[], body).await;
    assert_eq!(w.status, 200, "{}", w.body);
    let expected = json!({"likes": 1, "tags": ["x"], "title": {"en": "Hi"}});
    assert_eq!(w.body, json!({"key": "posts/1", "fields": expected}));
    assert!(!w.session().is_empty());

    let r = get(
        api,
        "/v1/docs/posts/1",
        &[("lattice-session", &w.session())],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["fields"], expected);
    assert!(!r.session().is_empty());

    let missing = get(api, "/v1/docs/posts/2", &[]).await;
    assert_eq!(
        (missing.status.as_u16(), missing.code()),
        (404, "not_found")
    );
    assert_eq!(missing.headers["content-type"], "application/problem+json");

    let d = call(api, "DELETE", "/v1/docs/posts/1", &[], "").await;
    assert_eq!(d.status, 204);
    assert_eq!(get(api, "/v1/docs/posts/1", &[]).await.status, 404);
    node.runtime.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_listed_by_prefix_in_pages() {
    let node = start(&common::ca(), 1, &[], ApiConfig::default());
    let api = &node.api;
    for key in ["a/1", "a/2", "a/3", "a/4", "a/5", "b/1"] {
        assert_eq!(
            post(api, &format!("/v1/docs/{key}"), &[], INC).await.status,
            200
        );
    }
    let mut keys = Vec::new();
    let mut uri = "/v1/docs?prefix=a/&limit=2".to_owned();
    loop {
        let page = get(api, &uri, &[]).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for d in page.body["docs"].as_array().unwrap() {
            keys.push(d["key"].as_str().unwrap().to_owned());
            assert_eq!(d["fields"], json!({"likes": 1}));
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => uri = format!("/v1/docs?prefix=a/&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(keys, ["a/1", "a/2", "a/3", "a/4", "a/5"]);
    let bad = get(api, "/v1/docs?limit=0", &[]).await;
    assert_eq!((bad.status.as_u16(), bad.code()), (400, "invalid_value"));
    node.runtime.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_their_codes_and_change_nothing() {
    let config = ApiConfig {
        body_bytes_max: 4096,
        ..ApiConfig::default()
    };
    let node = start(&common::ca(), 1, &[], config);
    let api = &node.api;
    assert_eq!(post(api, "/v1/docs/p", &[], INC).await.status, 200);
    let big = format!(
        r#"{{"ops":[{{"op":"set","field":"t","value":"{}"}}]}}"#,
        "x".repeat(5000)
    );
    let deep = format!(
        r#"{{"ops":[{{"op":"set","field":"t","value":{}1{}}}]}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    let long_key = format!("/v1/docs/{}", "k".repeat(257));
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/v1/docs/p", "{\"ops\":[".into(), 400, "malformed_json"),
        (
            "/v1/docs/p",
            r#"{"ops":[{"op":"multiply","field":"likes"}]}"#.into(),
            400,
            "unknown_op",
        ),
        (
            "/v1/docs/p",
            r#"{"ops":[{"op":"increment","field":"likes","by":"1"}]}"#.into(),
            400,
            "invalid_value",
        ),
        (
            "/v1/docs/p",
            r#"{"ops":[{"op":"increment","field":"likes","bye":1}]}"#.into(),
            400,
            "invalid_value",
        ),
        ("/v1/docs/p", r#"{"nope":[]}"#.into(), 400, "invalid_value"),
        ("/v1/docs/p", deep, 400, "invalid_value"),
        ("/v1/docs/p", big, 413, "too_large"),
        (
            "/v1/docs/p",
            r#"{"ops":[{"op":"add","field":"likes","value":1}]}"#.into(),
            409,
            "type_mismatch",
        ),
        (
            "/v1/docs/p",
            format!(
                r#"{{"ops":[{{"op":"increment","field":"likes","by":{}}}]}}"#,
                i64::MAX
            ),
            409,
            "counter_overflow",
        ),
        ("/v1/docs/p%20q", INC.into(), 400, "invalid_key"),
        ("/v1/docs/p/events", INC.into(), 400, "invalid_key"),
        (&long_key, INC.into(), 400, "invalid_key"),
    ];
    for (uri, body, status, code) in cases {
        let a = post(api, uri, &[], &body).await;
        assert_eq!(
            (a.status.as_u16(), a.code()),
            (status, code),
            "{uri} {:.80}: {}",
            body,
            a.body
        );
        assert_eq!(a.headers["content-type"], "application/problem+json");
        for field in ["type", "title", "status", "detail"] {
            assert!(!a.body[field].is_null(), "problem without {field}");
        }
    }
    let bad_session = post(
        api,
        "/v1/docs/p",
        &[("lattice-session", "!!not a token")],
        INC,
    )
    .await;
    assert_eq!(
        (bad_session.status.as_u16(), bad_session.code()),
        (400, "bad_session")
    );
    let bad_read = get(api, "/v1/docs/p", &[("lattice-session", "AAAA####")]).await;
    assert_eq!(bad_read.code(), "bad_session");
    let after = get(api, "/v1/docs/p", &[]).await;
    assert_eq!(
        after.body["fields"],
        json!({"likes": 1}),
        "a bad request changed the document"
    );
    let no_route = get(api, "/v2/nothing", &[]).await;
    assert_eq!(
        (no_route.status.as_u16(), no_route.code()),
        (404, "no_route")
    );
    node.runtime.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_increments_once() {
    let node = start(&common::ca(), 1, &[], ApiConfig::default());
    let api = &node.api;
    let idem = [("idempotency-key", "retry-1")];
    let first = post(api, "/v1/docs/c", &idem, INC).await;
    let again = post(api, "/v1/docs/c", &idem, INC).await;
    assert_eq!((first.status.as_u16(), again.status.as_u16()), (200, 200));
    assert_eq!(first.body, again.body);
    assert_eq!(first.session(), again.session());
    // Concurrent repeats run the write once too.
    let idem = [("idempotency-key", "retry-2")];
    let (a, b) = tokio::join!(
        post(api, "/v1/docs/c", &idem, INC),
        post(api, "/v1/docs/c", &idem, INC)
    );
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
    assert_eq!(
        get(api, "/v1/docs/c", &[]).await.body["fields"],
        json!({"likes": 2})
    );
    let other = post(
        api,
        "/v1/docs/c",
        &idem,
        r#"{"ops":[{"op":"increment","field":"likes","by":5}]}"#,
    )
    .await;
    assert_eq!(
        (other.status.as_u16(), other.code()),
        (422, "idempotency_mismatch")
    );
    assert_eq!(
        get(api, "/v1/docs/c", &[]).await.body["fields"],
        json!({"likes": 2})
    );
    node.runtime.stop().await.unwrap();
}
