//! JSON values in canonical form, so equal values compare equal and order totally.
//!
//! A [`Json`] holds the canonical text of a value: no whitespace, object keys sorted by
//! their UTF-8 bytes, strings and numbers as serde_json writes them. Numbers keep the
//! spelling of their kind, so `1` and `1.0` are different values. Values order by that
//! text, which is how set elements sort in the JSON view.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// Bounds on a JSON value from a client or a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonLimits {
    /// Deepest nesting of arrays and objects (a scalar has depth 0). At most
    /// [`JsonLimits::DEPTH_CEILING`]; 32 suits documents a person reads.
    pub depth_max: usize,
    /// Largest canonical text, in bytes. Bounds the memory one value can take.
    pub bytes_max: usize,
}

impl JsonLimits {
    /// The hardest bound on depth, applied to everything decoded from bytes.
    pub const DEPTH_CEILING: usize = 64;
}

impl Default for JsonLimits {
    fn default() -> Self {
        JsonLimits {
            depth_max: 32,
            bytes_max: 64 * 1024,
        }
    }
}

/// Why a JSON value was refused. Nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The value nests deeper than allowed.
    #[error("JSON value nests deeper than {depth_max} levels")]
    TooDeep {
        /// The bound that was exceeded.
        depth_max: usize,
    },
    /// The value's canonical text is larger than allowed.
    #[error("JSON value is {bytes} bytes; at most {bytes_max} are allowed")]
    TooLarge {
        /// The canonical size of the value.
        bytes: usize,
        /// The bound that was exceeded.
        bytes_max: usize,
    },
    /// The text is not JSON.
    #[error("not valid JSON: {0}")]
    Syntax(String),
    /// The text is JSON but not in canonical form (only in encoded data).
    #[error("JSON text is not in canonical form")]
    NotCanonical,
}

/// A JSON value in canonical text form. Cheap to clone. Equality, order and hash are
/// those of the text.
#[derive(Clone)]
pub struct Json {
    text: Arc<str>,
    /// Nesting depth, known from construction, so limits are checked without parsing.
    depth: u8,
}

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Json {}

impl PartialOrd for Json {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Json {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl std::hash::Hash for Json {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl Json {
    /// The canonical form of `value`, if it is within `limits`.
    pub fn from_value(value: &Value, limits: &JsonLimits) -> Result<Json, JsonError> {
        let depth_max = limits.depth_max.min(JsonLimits::DEPTH_CEILING);
        let depth = check_depth(value, 0, depth_max)?;
        let mut text = String::new();
        write_canonical(value, &mut text);
        if text.len() > limits.bytes_max {
            return Err(JsonError::TooLarge {
                bytes: text.len(),
                bytes_max: limits.bytes_max,
            });
        }
        Ok(Json {
            text: text.into(),
            depth: u8::try_from(depth).expect("depth is at most the ceiling"),
        })
    }

    /// Parses JSON text and brings it to canonical form.
    pub fn parse(text: &str, limits: &JsonLimits) -> Result<Json, JsonError> {
        if text.len() > limits.bytes_max.saturating_mul(4).saturating_add(64) {
            return Err(JsonError::TooLarge {
                bytes: text.len(),
                bytes_max: limits.bytes_max,
            });
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| JsonError::Syntax(e.to_string()))?;
        Json::from_value(&value, limits)
    }

    /// Checks this value against `limits` (values decoded from bytes are checked only
    /// against the ceilings).
    pub fn check(&self, limits: &JsonLimits) -> Result<(), JsonError> {
        if self.text.len() > limits.bytes_max {
            return Err(JsonError::TooLarge {
                bytes: self.text.len(),
                bytes_max: limits.bytes_max,
            });
        }
        if usize::from(self.depth) > limits.depth_max {
            return Err(JsonError::TooDeep {
                depth_max: limits.depth_max,
            });
        }
        Ok(())
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value as a serde_json tree.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.text).expect("canonical JSON text always parses")
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let limits = JsonLimits {
            depth_max: JsonLimits::DEPTH_CEILING,
            bytes_max: text.len(),
        };
        let json = Json::parse(&text, &limits).map_err(serde::de::Error::custom)?;
        if json.as_str() != text {
            return Err(serde::de::Error::custom(JsonError::NotCanonical));
        }
        Ok(json)
    }
}

/// The nesting depth of `value` (at `depth` already), refused beyond `depth_max`. The
/// recursion stops at `depth_max`, so the stack stays bounded.
fn check_depth(value: &Value, depth: usize, depth_max: usize) -> Result<usize, JsonError> {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(map) => Box::new(map.values()),
        _ => return Ok(depth),
    };
    if depth >= depth_max {
        return Err(JsonError::TooDeep { depth_max });
    }
    let mut deepest = depth + 1;
    for child in children {
        deepest = deepest.max(check_depth(child, depth + 1, depth_max)?);
    }
    Ok(deepest)
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_values_have_one_canonical_text() {
        let limits = JsonLimits::default();
        let a = Json::parse(r#"{ "b": [1, 2.5, "x"], "a": null }"#, &limits).unwrap();
        let b = Json::from_value(&json!({"a": null, "b": [1, 2.5, "x"]}), &limits).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), r#"{"a":null,"b":[1,2.5,"x"]}"#);
    }

    #[test]
    fn limits_are_enforced() {
        let limits = JsonLimits {
            depth_max: 2,
            bytes_max: 10,
        };
        assert!(Json::from_value(&json!([[1]]), &limits).is_ok());
        assert_eq!(
            Json::from_value(&json!([[[1]]]), &limits),
            Err(JsonError::TooDeep { depth_max: 2 })
        );
        assert!(matches!(
            Json::from_value(&json!("a long string"), &limits),
            Err(JsonError::TooLarge { .. })
        ));
        assert!(matches!(
            Json::parse("{nope", &limits),
            Err(JsonError::Syntax(_))
        ));
    }
}
