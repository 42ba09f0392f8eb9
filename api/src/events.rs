//! `GET /v1/docs/{key}/events`: Server-Sent Events of a document's new state.

use std::convert::Infallible;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use lattice_node::runtime::NodeHandle;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use crate::config::Scope;
use crate::docs::checked_key;
use crate::problem::Problem;
use crate::{auth, session, ApiState};

/// Streams the document's current state, then its state after every change (local or
/// replicated). Each event is `event: change` with `{"key", "fields"}` (`fields` is
/// null once the document holds nothing). A receiver that falls behind gets the
/// current state instead of the changes it missed.
pub(crate) async fn stream(
    state: ApiState,
    key: String,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    checked_key(&key)?;
    auth::authorize(&state.inner.config.tokens, &headers, Scope::Read, &key)?;
    let session = session::parse(&headers)?;
    let node = state.inner.node.clone();
    session::await_session(&node, session.as_ref(), state.inner.config.read_wait_max).await?;
    let changes = node.subscribe();
    let first = node.read(&key, None).await?;
    let token = session::header_value(&first.token)?;
    let initial = stream::once(std::future::ready(Ok(event(&key, first.view.as_ref()))));
    let updates = stream::unfold((changes, node, key), next_event);
    let sse = Sse::new(initial.chain(updates)).keep_alive(KeepAlive::default());
    Ok(([(session::SESSION_HEADER, token)], sse).into_response())
}

type Following = (Receiver<lattice_node::runtime::Change>, NodeHandle, String);

async fn next_event(
    (mut changes, node, key): Following,
) -> Option<(Result<Event, Infallible>, Following)> {
    loop {
        let view = match changes.recv().await {
            Ok(change) if change.key == key => change.view,
            Ok(_) => continue,
            Err(RecvError::Lagged(_)) => node.read(&key, None).await.ok()?.view,
            Err(RecvError::Closed) => return None,
        };
        let event = event(&key, view.as_ref());
        return Some((Ok(event), (changes, node, key)));
    }
}

fn event(key: &str, view: Option<&Value>) -> Event {
    Event::default()
        .event("change")
        .data(json!({"key": key, "fields": view}).to_string())
}
