//! Documents: read, write a batch of ops, delete, list by prefix.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json as JsonBody;
use lattice_crdt::Op;
use lattice_node::{validate_key, Retry, SessionToken, Written};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Scope;
use crate::problem::Problem;
use crate::session::{self, SESSION_HEADER};
use crate::{auth, events, idempotency, ops, ApiState};

/// Set to `true` on the answer to a repeated `Idempotency-Key`: the first attempt's
/// result, nothing applied now.
const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");

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
    // One call into the node when it already holds the session's past (the common case);
    // otherwise wait for it, then read.
    let mut read = node.read(key, session.clone()).await;
    if session::not_yet(&read) {
        session::await_session(node, session.as_ref(), state.inner.config.read_wait_max).await?;
        read = node.read(key, session).await;
    }
    let read = read?;
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
    let retry = idempotency::retry(&headers, key, &body)?;
    let written = write(&state, key, ops, session, retry).await?;
    let token = session::header_value(&written.token)?;
    let mut response = (
        [(SESSION_HEADER, token)],
        JsonBody(json!({"key": key, "fields": written.view})),
    )
        .into_response();
    if written.replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    Ok(response)
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
    let written = write(&state, key, vec![Op::DeleteDocument], session, None).await?;
    let token = session::header_value(&written.token)?;
    Ok((StatusCode::NO_CONTENT, [(SESSION_HEADER, token)]).into_response())
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

/// Waits for the session, then writes (once per retry id, when there is one). Writes
/// wait on a disk sync anyway, so the extra call into the node costs little here.
async fn write(
    state: &ApiState,
    key: &str,
    ops: Vec<Op>,
    session: Option<SessionToken>,
    retry: Option<Retry>,
) -> Result<Written, Problem> {
    let node = &state.inner.node;
    session::await_session(node, session.as_ref(), state.inner.config.read_wait_max).await?;
    Ok(match retry {
        None => node.write(key, ops, session).await?,
        Some(retry) => node.write_once(key, ops, session, retry).await?,
    })
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

pub(crate) fn body_problem(e: BytesRejection) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.body_text())
    } else {
        Problem::bad_request("malformed_json", e.body_text())
    }
}
