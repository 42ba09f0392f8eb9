//! `POST /v1/sync`: one round trip for an offline-first client coming back online.
//!
//! The client sends the batches of ops it queued while offline, each with an id of its
//! own, and the cursor of its last sync; the node applies the batches (each atomically,
//! in order, each at most once per id: a retried sync applies nothing twice) and
//! answers each batch's outcome, the current state of every document under the
//! client's prefix that changed since its cursor (its own batches included, merged with
//! everyone else's), and the next cursor. When `more` is true the client calls again
//! with that cursor (and no changes) to get the rest.
//!
//! ```json
//! {"since": "<cursor>", "prefix": "carts/",
//!  "changes": [{"id": "c1", "key": "carts/1", "ops": [{"op": "add", "field": "items", "value": "x"}]}]}
//! ```
//!
//! A cursor is a session token; without `since` every document under the prefix that
//! has a change in the log is sent. Bad requests (malformed JSON, an unknown op, a bad
//! key, a key outside the caller's write scope) are refused whole, before anything is
//! applied; a batch the document refuses (a type clash) gets its problem in `results`
//! and the others still apply. If this node's log no longer reaches back to the cursor
//! the answer is 409 `resync_required`: list the prefix with `GET /v1/docs` and take the
//! session token of that listing as the new cursor.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::future::join_all;
use lattice_crdt::{Op, VersionVector};
use lattice_node::{Changes, SessionToken};
use serde_json::{json, Map, Value};

use crate::config::Scope;
use crate::docs::{body_problem, checked_key};
use crate::idempotency::{retry_for, IDEMPOTENCY_KEY_BYTES_MAX};
use crate::problem::Problem;
use crate::session::{self, SESSION_HEADER};
use crate::{auth, ops, ApiState};

/// Most batches in one sync request.
const CHANGES_MAX: usize = 1000;

/// Most log records scanned for one answer (more: `more` is true).
const RECORDS_PER_ANSWER_MAX: usize = 1000;

/// One queued batch, checked.
struct Change {
    id: String,
    key: String,
    ops: Vec<Op>,
    /// `{"ops": [...]}` as canonical JSON: the request the id stands for.
    request: Vec<u8>,
}

/// `POST /v1/sync` (see the module doc).
pub(crate) async fn sync(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = body.map_err(body_problem)?;
    let request: Value = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request("malformed_json", e.to_string()))?;
    let Value::Object(mut request) = request else {
        return Err(invalid("the body must be a JSON object"));
    };
    if let Some(field) = request
        .keys()
        .find(|k| !["since", "prefix", "changes"].contains(&k.as_str()))
    {
        return Err(invalid(format!("unknown field {field:?}")));
    }
    let prefix = match request.remove("prefix") {
        None => String::new(),
        Some(Value::String(prefix)) => prefix,
        Some(_) => return Err(invalid("prefix must be a string")),
    };
    let since = match request.remove("since") {
        None => VersionVector::new(),
        Some(Value::String(text)) => SessionToken::parse(&text)
            .map_err(|e| Problem::bad_request("invalid_value", format!("since: {e}")))?
            .past()
            .clone(),
        Some(_) => return Err(invalid("since must be a cursor string")),
    };
    let mut changes = changes(&state, request.remove("changes"))?;
    let tokens = &state.inner.config.tokens;
    auth::authorize(tokens, &headers, Scope::Read, &prefix)?;
    for change in &changes {
        auth::authorize(tokens, &headers, Scope::Write, &change.key)?;
    }
    let session = session::parse(&headers)?;
    let node = &state.inner.node;
    session::await_session(node, session.as_ref(), state.inner.config.read_wait_max).await?;

    // Sent in order (each future sends on its first poll), durable together.
    let writes = changes.iter_mut().map(|c| {
        let retry = retry_for(&headers, &c.key, &c.id, &c.request);
        node.write_once(&c.key, std::mem::take(&mut c.ops), session.clone(), retry)
    });
    let written = join_all(writes).await;
    let mut token = session.unwrap_or_default();
    let mut results = Vec::with_capacity(changes.len());
    for (change, written) in changes.iter().zip(written) {
        let mut result = json!({"id": change.id, "key": change.key});
        match written {
            Ok(written) => {
                token.merge(&written.token);
                result["status"] = json!(200);
            }
            Err(e) => {
                let problem = Problem::from(e);
                if problem.status.is_server_error() {
                    return Err(problem); // the node failed: the client retries the sync
                }
                result["status"] = json!(problem.status.as_u16());
                result["code"] = json!(problem.code);
                result["detail"] = json!(problem.detail);
            }
        }
        results.push(result);
    }

    let Changes::Docs {
        docs,
        next,
        complete,
    } = node
        .changes_since(&since, &prefix, RECORDS_PER_ANSWER_MAX)
        .await?
    else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "resync_required",
            "this node's log no longer reaches back to the cursor: list the prefix with \
             GET /v1/docs and use that listing's session token as the new cursor",
        ));
    };
    token.merge(&SessionToken::new(next.clone()));
    let docs: Vec<Value> = docs
        .into_iter()
        .map(|(key, fields)| json!({"key": key, "fields": fields}))
        .collect();
    let answer = json!({
        "results": results,
        "docs": docs,
        "since": SessionToken::new(next).encode(),
        "more": !complete,
    });
    Ok((
        [(SESSION_HEADER, session::header_value(&token)?)],
        Json(answer),
    )
        .into_response())
}

/// The queued batches, each checked; the first bad one refuses the request.
fn changes(state: &ApiState, changes: Option<Value>) -> Result<Vec<Change>, Problem> {
    let changes = match changes {
        None => return Ok(Vec::new()),
        Some(Value::Array(changes)) => changes,
        Some(_) => return Err(invalid("changes must be an array")),
    };
    if changes.len() > CHANGES_MAX {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("{} changes; at most {CHANGES_MAX} per sync", changes.len()),
        ));
    }
    changes
        .into_iter()
        .enumerate()
        .map(|(i, change)| {
            change_of(state, change).map_err(|p| Problem {
                detail: format!("changes[{i}]: {}", p.detail),
                ..p
            })
        })
        .collect()
}

fn change_of(state: &ApiState, change: Value) -> Result<Change, Problem> {
    let Value::Object(mut change) = change else {
        return Err(invalid(
            r#"a change is {"id": ..., "key": ..., "ops": [...]}"#,
        ));
    };
    if let Some(field) = change
        .keys()
        .find(|k| !["id", "key", "ops"].contains(&k.as_str()))
    {
        return Err(invalid(format!("unknown field {field:?}")));
    }
    let text = |change: &mut Map<String, Value>, name: &str| match change.remove(name) {
        Some(Value::String(text)) => Ok(text),
        _ => Err(invalid(format!("{name} must be a string"))),
    };
    let id = text(&mut change, "id")?;
    if id.is_empty() || id.len() > IDEMPOTENCY_KEY_BYTES_MAX {
        return Err(invalid(format!(
            "id must be 1 to {IDEMPOTENCY_KEY_BYTES_MAX} bytes"
        )));
    }
    let key = text(&mut change, "key")?;
    checked_key(&key)?;
    let Some(Value::Array(list)) = change.remove("ops") else {
        return Err(invalid("ops must be an array"));
    };
    let ops = ops::parse_ops(&list, &state.inner.limits)?;
    let request = json!({ "ops": list }).to_string().into_bytes();
    Ok(Change {
        id,
        key,
        ops,
        request,
    })
}

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::bad_request("invalid_value", detail)
}
