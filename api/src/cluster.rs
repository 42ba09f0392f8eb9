//! Cluster membership, liveness and readiness.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lattice_gossip::engine::MemberState;
use lattice_node::NodeMeta;
use serde_json::{json, Value};

use crate::config::Scope;
use crate::problem::Problem;
use crate::{auth, ApiState};

/// `GET /v1/cluster/members`: every member this node knows of, itself excluded.
/// `http_addr` is where the member serves this API, as it announced it (null until this
/// node has heard the announcement).
pub(crate) async fn members(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    auth::authorize(&state.inner.config.tokens, &headers, Scope::Read, "")?;
    let members: Vec<Value> = state
        .inner
        .node
        .members()
        .await?
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id.get(),
                "gossip_addr": m.addr.to_string(),
                "http_addr": NodeMeta::decode(&m.meta)
                    .and_then(|meta| meta.http_addr)
                    .map(|a| a.to_string()),
                "state": state_name(m.state),
                "incarnation": m.incarnation,
                "phi": m.phi,
            })
        })
        .collect();
    Ok(Json(members).into_response())
}

/// `GET /v1/health`: the process answers.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /v1/ready`: 200 once the node has joined (it was started without seeds, or
/// another member is alive) and caught up (a peer answered its anti-entropy digest in
/// full since it started, or it is alone); else 503 `not_ready` saying which is missing.
/// A node that is not ready still serves requests, with what it has.
pub(crate) async fn ready(State(state): State<ApiState>) -> Result<Response, Problem> {
    let unavailable =
        |detail: &str| Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", detail);
    let readiness = state
        .inner
        .node
        .readiness()
        .await
        .map_err(|e| unavailable(&e.to_string()))?;
    if !readiness.joined {
        return Err(unavailable(
            "not joined: no seed or other member has answered yet",
        ));
    }
    if !readiness.caught_up {
        return Err(unavailable(
            "catching up: no peer has answered an anti-entropy exchange in full yet",
        ));
    }
    Ok(Json(json!({"status": "ready", "joined": true, "caught_up": true})).into_response())
}

/// The member state as the API spells it.
fn state_name(state: MemberState) -> &'static str {
    match state {
        MemberState::Alive => "alive",
        MemberState::Suspect => "suspect",
        MemberState::Dead => "dead",
        MemberState::Left => "left",
    }
}
