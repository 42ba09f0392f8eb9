//! The `Lattice-Session` header: a client's causal past, waited for before serving.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use lattice_node::runtime::{CallError, NodeHandle};
use lattice_node::{ReadError, SessionToken};

use crate::problem::Problem;

/// The header carrying a session token, on requests and responses.
pub const SESSION_HEADER: HeaderName = HeaderName::from_static("lattice-session");

/// The request's session, if it sent one; 400 `bad_session` if it is not a token.
pub(crate) fn parse(headers: &HeaderMap) -> Result<Option<SessionToken>, Problem> {
    let Some(value) = headers.get(&SESSION_HEADER) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| Problem::bad_request("bad_session", "the session header is not ASCII"))?;
    SessionToken::parse(text)
        .map(Some)
        .map_err(|e| Problem::bad_request("bad_session", e.to_string()))
}

/// Whether the node refused a read because it lacks the session's past (then wait with
/// [`await_session`] and read again).
pub(crate) fn not_yet(result: &Result<impl Sized, CallError>) -> bool {
    matches!(result, Err(CallError::Read(ReadError::SessionNotReady)))
}

/// Waits up to `max_wait` until the node includes `session`; 503
/// `session_unavailable` if it does not by then.
pub(crate) async fn await_session(
    node: &NodeHandle,
    session: Option<&SessionToken>,
    max_wait: Duration,
) -> Result<(), Problem> {
    let Some(token) = session else {
        return Ok(());
    };
    if node.wait_until(token, max_wait).await? {
        Ok(())
    } else {
        tracing::debug!(
            max_wait_ms = max_wait.as_millis() as u64,
            "session not available in time"
        );
        Err(Problem::session_unavailable())
    }
}

/// The header value for `token` (tokens are URL-safe ASCII).
pub(crate) fn header_value(token: &SessionToken) -> Result<HeaderValue, Problem> {
    HeaderValue::from_str(&token.encode()).map_err(|e| Problem::internal(e.to_string()))
}
