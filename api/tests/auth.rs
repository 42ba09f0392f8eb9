//! Bearer tokens: read and write scopes over key prefixes.

mod common;

use common::{call, get, post, start};
use lattice_api::{ApiConfig, Scope, TokenRule};

const INC: &str = r#"{"ops":[{"op":"increment","field":"likes","by":1}]}"#;

fn rule(token: &str, scope: Scope, prefixes: &[&str]) -> TokenRule {
    TokenRule {
        token: token.into(),
        scope,
        prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_allow_only_their_scope_and_prefixes() {
    let config = ApiConfig {
        tokens: vec![
            rule("writer", Scope::Write, &["carts/"]),
            rule("reader", Scope::Read, &["carts/"]),
            rule("admin", Scope::Read, &[""]),
        ],
        ..ApiConfig::default()
    };
    let node = start(&common::ca(), 1, &[], config);
    let api = &node.api;
    let bearer = |t: &'static str| {
        (
            "authorization",
            match t {
                "writer" => "Bearer writer",
                "reader" => "Bearer reader",
                "admin" => "Bearer admin",
                _ => "Bearer nope",
            },
        )
    };
    let status = |a: &common::Answer| (a.status.as_u16(), a.code().to_owned());

    assert_eq!(
        status(&post(api, "/v1/docs/carts/1", &[], INC).await),
        (401, "unauthorized".into())
    );
    assert_eq!(
        status(&post(api, "/v1/docs/carts/1", &[bearer("nope")], INC).await),
        (401, "unauthorized".into())
    );
    assert_eq!(
        status(&post(api, "/v1/docs/carts/1", &[bearer("reader")], INC).await),
        (403, "forbidden".into())
    );
    assert_eq!(
        status(&post(api, "/v1/docs/users/1", &[bearer("writer")], INC).await),
        (403, "forbidden".into())
    );
    assert_eq!(
        post(api, "/v1/docs/carts/1", &[bearer("writer")], INC)
            .await
            .status,
        200
    );
    assert_eq!(
        get(api, "/v1/docs/carts/1", &[bearer("reader")])
            .await
            .status,
        200
    );
    assert_eq!(
        get(api, "/v1/docs/carts/1", &[bearer("writer")])
            .await
            .status,
        200
    );
    assert_eq!(
        status(&get(api, "/v1/docs/carts/1", &[]).await),
        (401, "unauthorized".into())
    );
    assert_eq!(
        status(&get(api, "/v1/docs?prefix=", &[bearer("reader")]).await),
        (403, "forbidden".into())
    );
    assert_eq!(
        get(api, "/v1/docs?prefix=carts/", &[bearer("reader")])
            .await
            .status,
        200
    );
    assert_eq!(
        status(&call(api, "DELETE", "/v1/docs/carts/1", &[bearer("reader")], "").await),
        (403, "forbidden".into())
    );
    assert_eq!(
        status(&get(api, "/v1/cluster/members", &[bearer("reader")]).await),
        (403, "forbidden".into())
    );
    assert_eq!(
        get(api, "/v1/cluster/members", &[bearer("admin")])
            .await
            .status,
        200
    );
    assert_eq!(get(api, "/v1/health", &[]).await.status, 200);
    assert_eq!(
        status(&call(api, "GET", "/metrics", &[bearer("reader")], "").await),
        (403, "forbidden".into())
    );
    assert_eq!(
        call(api, "GET", "/metrics", &[bearer("admin")], "")
            .await
            .status,
        200
    );
    let r = post(api, "/v1/docs/carts/1", &[], INC).await;
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_eq!(
        get(api, "/v1/docs/carts/1", &[bearer("admin")]).await.body["fields"]["likes"],
        1
    );
    node.runtime.stop().await.unwrap();
}
