//! Shared test helpers: a real node over QUIC on loopback, and calls to the router.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use lattice_api::{router, ApiConfig, ApiState};
use lattice_crdt::{DocLimits, NodeId};
use lattice_gossip::quic::Limits;
use lattice_gossip::tls::{generate_ca, generate_node_cert, CaBundle};
use lattice_gossip::{NodeTls, QuicTransport};
use lattice_node::runtime::NodeRuntime;
use lattice_node::store::MemStore;
use lattice_node::{NodeConfig, NodeCore, Replica, ReplicaConfig};
use serde_json::Value;
use tower::ServiceExt;

/// A started node and its API.
pub struct Node {
    pub runtime: NodeRuntime<MemStore>,
    pub gossip: SocketAddr,
    pub api: Router,
}

pub fn ca() -> CaBundle {
    generate_ca("lattice api tests").unwrap()
}

/// Starts node `id` joining through `seeds`, with an API over `config`.
pub fn start(ca: &CaBundle, id: u64, seeds: &[SocketAddr], config: ApiConfig) -> Node {
    let tls =
        NodeTls::from_bundle(&generate_node_cert(ca, &format!("node-{id}")).unwrap()).unwrap();
    let transport =
        QuicTransport::bind("127.0.0.1:0".parse().unwrap(), &tls, Limits::default()).unwrap();
    let gossip = transport.local_addr();
    let node = NodeId::new(id).unwrap();
    let replica = Replica::open(MemStore::new(node), ReplicaConfig::default()).unwrap();
    let core = NodeCore::new(replica, gossip, NodeConfig::default(), id);
    let runtime = NodeRuntime::start(core, transport, seeds);
    let api = router(ApiState::new(
        runtime.handle(),
        config,
        DocLimits::default(),
    ));
    Node {
        runtime,
        gossip,
        api,
    }
}

/// An answer: status, headers, body as JSON (or Null when it is not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn session(&self) -> String {
        self.headers["lattice-session"].to_str().unwrap().to_owned()
    }
}

/// Sends one request to `api`.
pub async fn call(
    api: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = api
        .clone()
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

pub async fn post(api: &Router, uri: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    call(api, "POST", uri, headers, body.to_owned()).await
}

pub async fn get(api: &Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
    call(api, "GET", uri, headers, Body::empty()).await
}

/// Waits up to `limit` for `check` to hold, polling.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
