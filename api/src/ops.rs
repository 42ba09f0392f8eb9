//! The request body of `POST /v1/docs/{key}`: `{"ops": [...]}`, checked into [`Op`]s.

use lattice_crdt::{DocLimits, Json, JsonError, Op};
use serde_json::{Map, Value};

use crate::problem::Problem;
use axum::http::StatusCode;

/// Parses a write body. Refuses malformed JSON, unknown ops, missing or mistyped
/// arguments, and batches or values over `limits`, before anything is applied.
pub(crate) fn parse_batch(body: &[u8], limits: &DocLimits) -> Result<Vec<Op>, Problem> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request("malformed_json", e.to_string()))?;
    let ops = match value {
        Value::Object(mut o) if o.len() == 1 => o.remove("ops"),
        _ => None,
    };
    let Some(Value::Array(ops)) = ops else {
        return Err(invalid(r#"the body must be {"ops": [...]}"#));
    };
    parse_ops(&ops, limits)
}

/// Parses a JSON array of ops (a batch), checking its length and each op.
pub(crate) fn parse_ops(ops: &[Value], limits: &DocLimits) -> Result<Vec<Op>, Problem> {
    if ops.len() > limits.ops_per_batch_max {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the batch holds {} ops; at most {} are allowed",
                ops.len(),
                limits.ops_per_batch_max
            ),
        ));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(op, limits).map_err(|p| at(i, p)))
        .collect()
}

fn parse_op(op: &Value, limits: &DocLimits) -> Result<Op, Problem> {
    let Value::Object(op_map) = op else {
        return Err(invalid("an op must be an object"));
    };
    let op = op_map;
    let name = match op.get("op") {
        Some(Value::String(name)) => name.as_str(),
        _ => return Err(invalid(r#"an op needs "op": "<name>""#)),
    };
    let (allowed, op) = match name {
        "increment" | "decrement" => {
            let field = field(op)?;
            let by = by(op)?;
            let op = if name == "increment" {
                Op::Increment { field, by }
            } else {
                Op::Decrement { field, by }
            };
            (&["op", "field", "by"][..], op)
        }
        "add" | "remove" | "set" => {
            let field = field(op)?;
            let value = value(op, limits)?;
            let op = match name {
                "add" => Op::Add { field, value },
                "remove" => Op::Remove { field, value },
                _ => Op::Set { field, value },
            };
            (&["op", "field", "value"][..], op)
        }
        "clear" => (&["op", "field"][..], Op::Clear { field: field(op)? }),
        "delete_field" => (&["op", "field"][..], Op::DeleteField { field: field(op)? }),
        other => {
            return Err(Problem::bad_request(
                "unknown_op",
                format!("unknown op {other:?}; ops are increment, decrement, add, remove, set, clear, delete_field"),
            ))
        }
    };
    match op_map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(format!("{name} takes no argument {k:?}"))),
        None => Ok(op),
    }
}

fn field(op: &Map<String, Value>) -> Result<String, Problem> {
    match op.get("field") {
        Some(Value::String(f)) => Ok(f.clone()),
        _ => Err(invalid(r#"this op needs "field": "<name>""#)),
    }
}

fn by(op: &Map<String, Value>) -> Result<i64, Problem> {
    match op.get("by") {
        None => Ok(1),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| invalid(r#""by" must be an integer from -2^63 to 2^63-1"#)),
    }
}

fn value(op: &Map<String, Value>, limits: &DocLimits) -> Result<Json, Problem> {
    let Some(value) = op.get("value") else {
        return Err(invalid(r#"this op needs "value""#));
    };
    Json::from_value(value, &limits.json).map_err(|e| match e {
        JsonError::TooLarge { .. } => {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        }
        _ => invalid(e.to_string()),
    })
}

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::bad_request("invalid_value", detail)
}

fn at(index: usize, mut p: Problem) -> Problem {
    p.detail = format!("ops[{index}]: {}", p.detail);
    p
}
