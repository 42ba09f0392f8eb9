//! lattice-api: the HTTP API of a lattice node (axum, JSON, under `/v1`).
//!
//! [`router`] serves documents (read, a batch of ops applied atomically, delete, list
//! by prefix), a Server-Sent Events stream per document, one-round-trip sync for
//! offline-first clients (`POST /v1/sync`), cluster membership, health,
//! readiness, Prometheus metrics and the OpenAPI document ([`OPENAPI_JSON`]). Every
//! document read and write answers a `Lattice-Session` header; a request that sends
//! one waits (bounded by [`ApiConfig::read_wait_max`]) until this node includes it,
//! or gets 503 `session_unavailable`. Errors are `application/problem+json` with a
//! stable `code` ([`Problem`]). Bearer tokens scope reads and writes to key prefixes
//! ([`TokenRule`]). A POST with an `Idempotency-Key` is applied once: the node keeps a
//! durable receipt with the write (`ReplicaConfig::retry_window`, default 24 h), so a
//! retry, also after a restart or crash of the node, answers the first result.
//!
//! The node's core is driven by [`NodeHandle`]; this crate is a thin driver around it.

#![deny(missing_docs)]

mod auth;
mod cluster;
mod config;
mod docs;
mod events;
mod idempotency;
mod metrics;
mod ops;
mod problem;
mod session;
mod sync;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{middleware, Router};
use lattice_crdt::DocLimits;
use lattice_node::runtime::NodeHandle;

pub use config::{ApiConfig, Scope, TokenRule};
pub use problem::Problem;
pub use session::SESSION_HEADER;

/// The OpenAPI 3 document of [`router`], served at `GET /v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Every route [`router`] serves, as (method, OpenAPI path template).
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/docs/{key}"),
    ("get", "/v1/docs/{key}"),
    ("delete", "/v1/docs/{key}"),
    ("get", "/v1/docs"),
    ("get", "/v1/docs/{key}/events"),
    ("post", "/v1/sync"),
    ("get", "/v1/cluster/members"),
    ("get", "/v1/health"),
    ("get", "/v1/ready"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
];

/// What every handler shares. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ApiState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    node: NodeHandle,
    config: ApiConfig,
    limits: DocLimits,
    metrics: metrics::Metrics,
}

impl ApiState {
    /// State for serving `node` with `config`; `limits` are the node's document limits
    /// (`ReplicaConfig::limits`), checked here before a batch reaches the node.
    pub fn new(node: NodeHandle, config: ApiConfig, limits: DocLimits) -> ApiState {
        ApiState {
            inner: Arc::new(Inner {
                node,
                config,
                limits,
                metrics: metrics::Metrics::default(),
            }),
        }
    }
}

/// The API's routes over `state`. Mount it as is; serve it with
/// `axum::serve(listener, router(state))`.
pub fn router(state: ApiState) -> Router {
    let body_bytes_max = state.inner.config.body_bytes_max;
    Router::new()
        .route(
            "/v1/docs/{*key}",
            get(docs::get).post(docs::post).delete(docs::delete),
        )
        .route("/v1/docs", get(docs::list))
        .route("/v1/sync", post(sync::sync))
        .route("/v1/cluster/members", get(cluster::members))
        .route("/v1/health", get(cluster::health))
        .route("/v1/ready", get(cluster::ready))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/openapi.json", get(openapi))
        .fallback(no_route)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(body_bytes_max))
        .with_state(state)
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

async fn no_route(uri: Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("no route {}", uri.path()),
    )
}
