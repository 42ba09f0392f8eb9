//! The router served by `axum::serve` on a real loopback socket.

mod common;

use std::future::IntoFuture;

use lattice_api::ApiConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_serves_http_over_loopback() {
    let node = common::start(&common::ca(), 1, &[], ApiConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, node.api.clone()).into_future());
    let body = r#"{"ops":[{"op":"increment","field":"likes","by":1}]}"#;
    let request = format!(
        "POST /v1/docs/posts/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("lattice-session: "),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"fields":{"likes":1},"key":"posts/1"}"#),
        "{answer}"
    );
    server.abort();
    node.runtime.stop().await.unwrap();
}
