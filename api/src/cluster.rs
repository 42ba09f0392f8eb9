//! Cluster membership, liveness and readiness.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lattice_gossip::engine::MemberState;
use serde_json::{json, Value};

use crate::config::Scope;
use crate::problem::Problem;
use crate::{auth, ApiState};

/// `GET /v1/cluster/members`: every member this node knows of, itself excluded.
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
                "http_addr": null,
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

/// `GET /v1/ready`: the node's thread answers calls. (It does not yet check that the
/// node has joined and caught up.)
pub(crate) async fn ready(State(state): State<ApiState>) -> Result<Response, Problem> {
    match state.inner.node.members().await {
        Ok(members) => {
            Ok(Json(json!({"status": "ready", "members": members.len()})).into_response())
        }
        Err(e) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            e.to_string(),
        )),
    }
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
