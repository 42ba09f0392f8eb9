//! Documents: read, write a batch of ops, delete, list by prefix.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json as JsonBody;
use lattice_crdt::Op;
use lattice_node::validate_key;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Scope;
use crate::idempotency::Stored;
use crate::problem::Problem;
use crate::session::{self, SESSION_HEADER};
use crate::{auth, events, ops, ApiState};

/// The header naming a write's retry identity.
const IDEMPOTENCY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// Longest `Idempotency-Key`, in bytes.
const IDEMPOTENCY_KEY_BYTES_MAX: usize = 256;

/// The path suffix of a document's change stream.
pub(crate) const EVENTS_SUFFIX: &str = "/events";

/// `GET /v1/docs/{key}`, and `GET /v1/docs/{key}/events` (keys hold `/`, so the
/// suffix is split off here).
pub(crate) async fn get(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if let Some(key) = key.strip_suffix(EVENTS_SUFFIX) {
        return events::stream(state, key.to_owned(), headers).await;
    }
    let key = checked_key(&key)?;
    auth::authorize(&state.inner.config.tokens, &headers, Scope::Read, key)?;
    let session = session::parse(&headers)?;
    let node = &state.inner.node;
    session::await_session(node, session.as_ref(), state.inner.config.read_wait_max).await?;
    let read = node.read(key, session).await?;
    let token = session::header_value(&read.token)?;
    let Some(view) = read.view else {
        let mut response = Problem::not_found(key).into_response();
        response.headers_mut().insert(SESSION_HEADER, token);
        return Ok(response);
    };
    Ok((
        [(SESSION_HEADER, token)],
        JsonBody(json!({"key": key, "fields": view})),
    )
        .into_response())
}

/// `POST /v1/docs/{key}`: applies `{"ops": [...]}` atomically; answers the view once
/// the write is durable.
pub(crate) async fn post(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let key = checked_key(&key)?;
    auth::authorize(&state.inner.config.tokens, &headers, Scope::Write, key)?;
    let body = body.map_err(body_problem)?;
    let session = session::parse(&headers)?;
    let ops = ops::parse_batch(&body, &state.inner.limits)?;
    let Some(idem) = idempotency_key(&headers)? else {
        let stored = write(&state, key, ops, session).await?;
        return Ok(stored_response(&stored));
    };
    let scope = format!(
        "{}\n{key}\n{idem}",
        hash(&headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()))
    );
    let request = hash(&body);
    let cell = state.inner.idempotency.cell(scope);
    let stored = cell
        .get_or_try_init(|| async {
            let mut stored = write(&state, key, ops, session).await?;
            stored.request = request;
            Ok::<_, Problem>(stored)
        })
        .await?;
    if stored.request != request {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_mismatch",
            "this Idempotency-Key was used for a different request",
        ));
    }
    tracing::debug!(key, "write answered");
    Ok(stored_response(stored))
}

/// `DELETE /v1/docs/{key}`: removes every field this node has seen (a concurrent write
/// it has not seen survives). Answers 204.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let key = checked_key(&key)?;
    auth::authorize(&state.inner.config.tokens, &headers, Scope::Write, key)?;
    let session = session::parse(&headers)?;
    let stored = write(&state, key, vec![Op::DeleteDocument], session).await?;
    Ok((StatusCode::NO_CONTENT, [(SESSION_HEADER, stored.session)]).into_response())
}

/// Query of `GET /v1/docs`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    prefix: String,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/docs?prefix=P&limit=N&cursor=C`: documents in key order. `next_cursor`
/// is set when more may follow.
pub(crate) async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_request("invalid_value", e.body_text()))?;
    auth::authorize(&state.inner.config.tokens, &headers, Scope::Read, &q.prefix)?;
    let max = state.inner.config.page_len_max.get();
    let limit = q.limit.unwrap_or(max);
    if limit == 0 || limit > max {
        return Err(Problem::bad_request(
            "invalid_value",
            format!("limit must be 1 to {max}"),
        ));
    }
    let session = session::parse(&headers)?;
    let node = &state.inner.node;
    session::await_session(node, session.as_ref(), state.inner.config.read_wait_max).await?;
    let page = node.list(&q.prefix, q.cursor.as_deref(), limit).await?;
    let docs: Vec<Value> = page
        .docs
        .into_iter()
        .map(|(key, fields)| json!({"key": key, "fields": fields}))
        .collect();
    Ok(JsonBody(json!({"docs": docs, "next_cursor": page.next})).into_response())
}

/// Waits for the session, writes, and keeps the answer.
async fn write(
    state: &ApiState,
    key: &str,
    ops: Vec<Op>,
    session: Option<lattice_node::SessionToken>,
) -> Result<Stored, Problem> {
    let node = &state.inner.node;
    session::await_session(node, session.as_ref(), state.inner.config.read_wait_max).await?;
    let written = node.write(key, ops, session).await?;
    Ok(Stored {
        body: json!({"key": key, "fields": written.view}).to_string(),
        session: written.token.encode(),
        request: 0,
    })
}

fn stored_response(stored: &Stored) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (SESSION_HEADER, stored.session.as_str()),
        ],
        stored.body.clone(),
    )
        .into_response()
}

/// A valid document key that is not a change stream's path.
pub(crate) fn checked_key(key: &str) -> Result<&str, Problem> {
    validate_key(key).map_err(|e| Problem::bad_request("invalid_key", e.to_string()))?;
    if key == "events" || key.ends_with(EVENTS_SUFFIX) {
        return Err(Problem::bad_request(
            "invalid_key",
            "a final key segment `events` is reserved for change streams",
        ));
    }
    Ok(key)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
    let Some(value) = headers.get(&IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= IDEMPOTENCY_KEY_BYTES_MAX => Ok(Some(k)),
        _ => Err(Problem::bad_request(
            "invalid_value",
            format!(
                "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_BYTES_MAX} visible ASCII characters"
            ),
        )),
    }
}

fn body_problem(e: BytesRejection) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.body_text())
    } else {
        Problem::bad_request("malformed_json", e.body_text())
    }
}

fn hash(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}
