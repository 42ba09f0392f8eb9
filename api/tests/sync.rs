//! `POST /v1/sync`: an offline-first client sends its queued batches and its cursor, and
//! gets back each batch's outcome and what changed since, once per batch id.

mod common;

use common::{get, post, start, Answer};
use lattice_api::ApiConfig;
use serde_json::{json, Value};

async fn sync(api: &axum::Router, body: Value) -> Answer {
    post(api, "/v1/sync", &[], &body.to_string()).await
}

fn keys(answer: &Answer) -> Vec<String> {
    let docs = answer.body["docs"].as_array().unwrap();
    docs.iter()
        .map(|d| d["key"].as_str().unwrap().to_owned())
        .collect()
}

fn add(value: &str) -> Value {
    json!([{"op": "add", "field": "items", "value": value}])
}

fn inc() -> Value {
    json!([{"op": "increment", "field": "n", "by": 1}])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_back_online_sends_its_queue_and_gets_what_changed_once() {
    let node = start(&common::ca(), 1, &[], ApiConfig::default());
    let api = &node.api;
    let first = sync(
        api,
        json!({"prefix": "carts/", "changes": [
            {"id": "c1", "key": "carts/1", "ops": add("x")},
            {"id": "c2", "key": "carts/2", "ops": inc()},
        ]}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let statuses: Vec<&Value> = first.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["status"])
        .collect();
    assert_eq!(statuses, [&json!(200), &json!(200)]);
    assert_eq!(keys(&first), ["carts/1", "carts/2"]);
    assert_eq!(first.body["more"], false);
    let cursor = first.body["since"].as_str().unwrap().to_owned();

    // While the client is away: another client changes one of its carts, and a
    // document outside its prefix.
    let y = r#"{"ops":[{"op":"add","field":"items","value":"y"}]}"#;
    assert_eq!(post(api, "/v1/docs/carts/1", &[], y).await.status, 200);
    assert_eq!(post(api, "/v1/docs/other/9", &[], y).await.status, 200);

    // The client retries its last sync (it never saw the answer) with its old cursor.
    let again = sync(
        api,
        json!({"since": cursor, "prefix": "carts/", "changes": [
            {"id": "c2", "key": "carts/2", "ops": inc()},
        ]}),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["results"][0]["status"], 200);
    assert_eq!(
        keys(&again),
        ["carts/1"],
        "only what changed since, in the prefix"
    );
    assert_eq!(
        again.body["docs"][0]["fields"],
        json!({"items": ["x", "y"]})
    );
    let n = get(api, "/v1/docs/carts/2", &[]).await.body["fields"]["n"].clone();
    assert_eq!(n, 1, "the retried batch applied twice");

    let quiet = sync(
        api,
        json!({"since": again.body["since"], "prefix": "carts/"}),
    )
    .await;
    assert_eq!((quiet.status.as_u16(), keys(&quiet).len()), (200, 0));
    node.runtime.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_batches_refuse_the_sync_and_a_type_clash_is_reported_per_batch() {
    let node = start(&common::ca(), 1, &[], ApiConfig::default());
    let api = &node.api;
    let bad = sync(
        api,
        json!({"changes": [
            {"id": "a", "key": "k/1", "ops": inc()},
            {"id": "b", "key": "k/2", "ops": [{"op": "frobnicate", "field": "n"}]},
        ]}),
    )
    .await;
    assert_eq!(
        (bad.status.as_u16(), bad.body["code"].as_str()),
        (400, Some("unknown_op"))
    );
    assert!(bad.body["detail"]
        .as_str()
        .unwrap()
        .starts_with("changes[1]"));
    assert_eq!(
        get(api, "/v1/docs/k/1", &[]).await.status,
        404,
        "nothing applied"
    );
    for body in [
        json!([]),
        json!({"bogus": 1}),
        json!({"changes": [{"id": "", "key": "k/1", "ops": []}]}),
        json!({"since": "***"}),
    ] {
        let answer = sync(api, body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
    }

    let clash = sync(
        api,
        json!({"changes": [
            {"id": "a", "key": "k/1", "ops": inc()},
            {"id": "b", "key": "k/1", "ops": [{"op": "add", "field": "n", "value": "x"}]},
            {"id": "c", "key": "k/3", "ops": inc()},
        ]}),
    )
    .await;
    assert_eq!(clash.status, 200, "{}", clash.body);
    let results = &clash.body["results"];
    assert_eq!(results[0]["status"], 200);
    assert_eq!(
        (results[1]["status"].clone(), results[1]["code"].clone()),
        (json!(409), json!("type_mismatch"))
    );
    assert_eq!(results[2]["status"], 200);
    assert_eq!(keys(&clash), ["k/1", "k/3"]);
    node.runtime.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_absence_pages_with_more_until_nothing_is_left() {
    let node = start(&common::ca(), 1, &[], ApiConfig::default());
    let api = &node.api;
    for round in 0..2 {
        let changes: Vec<Value> = (0..700)
            .map(|i| json!({"id": format!("{round}-{i}"), "key": format!("p/{round}/{i}"), "ops": inc()}))
            .collect();
        let answer = sync(api, json!({"prefix": "none/", "changes": changes})).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let mut cursor: Option<Value> = None;
    let mut seen = std::collections::BTreeSet::new();
    let mut calls = 0;
    loop {
        let mut body = json!({"prefix": "p/"});
        if let Some(since) = &cursor {
            body["since"] = since.clone();
        }
        let page = sync(api, body).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(keys(&page));
        cursor = Some(page.body["since"].clone());
        calls += 1;
        if page.body["more"] == false {
            break;
        }
        assert!(calls < 10, "paging does not end");
    }
    assert_eq!(
        calls, 2,
        "1,400 changes come in pages of at most 1,000 records"
    );
    assert_eq!(seen.len(), 1400, "every changed document, once paging ends");
    node.runtime.stop().await.unwrap();
}
