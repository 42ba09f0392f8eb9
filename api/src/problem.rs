//! Errors as `application/problem+json` (RFC 9457) with a stable `code`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lattice_crdt::{JsonError, OpError};
use lattice_node::runtime::CallError;
use lattice_node::{ReadError, WriteError};
use serde_json::json;

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECS: &str = "1";

/// A refused request: what went wrong, for the client. Nothing changed.
#[derive(Debug)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable machine-readable code, e.g. `unknown_op`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub detail: String,
}

impl Problem {
    /// A problem with `status`, `code` and `detail`.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 503 `session_unavailable`.
    pub fn session_unavailable() -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "session_unavailable",
            "this node has not yet seen the session's past; retry later or on another node",
        )
    }

    /// 404 `not_found`.
    pub fn not_found(key: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no document {key:?}"),
        )
    }

    /// 500 `internal`, for failures that are not the client's.
    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        if self.status.is_server_error() && self.code != "session_unavailable" {
            tracing::warn!(code = self.code, detail = %self.detail, "request failed");
        } else {
            tracing::debug!(code = self.code, detail = %self.detail, "request refused");
        }
        let title = self.status.canonical_reason().unwrap_or("error");
        let body = json!({
            "type": format!("https://lattice.dev/problems/{}", self.code),
            "title": title,
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<CallError> for Problem {
    fn from(e: CallError) -> Problem {
        match e {
            CallError::Write(e) => write_problem(e),
            CallError::Read(ReadError::Key(k)) => {
                Problem::bad_request("invalid_key", k.to_string())
            }
            CallError::Read(ReadError::SessionNotReady) => Problem::session_unavailable(),
            CallError::Overloaded => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the node is overloaded; retry later",
            ),
            other => Problem::internal(other.to_string()),
        }
    }
}

fn write_problem(e: WriteError) -> Problem {
    match e {
        WriteError::Key(k) => Problem::bad_request("invalid_key", k.to_string()),
        WriteError::Op(op) => op_problem(op),
        WriteError::SessionNotReady => Problem::session_unavailable(),
        WriteError::OwnWritesMissing { .. } => {
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", e.to_string())
        }
        WriteError::RetryMismatch => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_mismatch",
            "this Idempotency-Key was used for a different request",
        ),
        WriteError::DocumentTooLarge { .. } => {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        }
        other => Problem::internal(other.to_string()),
    }
}

/// The problem for a batch the document refused.
pub(crate) fn op_problem(e: OpError) -> Problem {
    let detail = e.to_string();
    match e {
        OpError::TypeMismatch { .. } => Problem::new(StatusCode::CONFLICT, "type_mismatch", detail),
        OpError::Counter { .. } => Problem::new(StatusCode::CONFLICT, "counter_overflow", detail),
        OpError::TooManyOps { .. }
        | OpError::TooManyFields { .. }
        | OpError::SetTooLarge { .. } => {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", detail)
        }
        OpError::Value {
            source: JsonError::TooLarge { .. },
            ..
        } => Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", detail),
        _ => Problem::bad_request("invalid_value", detail),
    }
}
