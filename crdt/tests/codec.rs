//! Decoding untrusted bytes: errors, never panics, never unbounded allocation.

use lattice_crdt::codec::{self, DecodeError, FORMAT_VERSION};
use lattice_crdt::{
    Counter, DocLimits, Document, Dot, Hlc, Json, JsonLimits, LwwRegister, NodeId, Op, OrSet,
    VersionVector, MAX_DRIFT_DEFAULT, NTP64,
};
use proptest::prelude::*;
use serde_json::json;

fn node(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

/// A document that uses every field type, for encodings worth mutating.
fn sample_document() -> Document {
    let mut hlc = Hlc::new(node(7), MAX_DRIFT_DEFAULT);
    let v = |v| Json::from_value(&v, &JsonLimits::default()).unwrap();
    let ops = vec![
        Op::Increment {
            field: "likes".into(),
            by: 3,
        },
        Op::Add {
            field: "tags".into(),
            value: v(json!("a")),
        },
        Op::Add {
            field: "tags".into(),
            value: v(json!({"x": [1, 2]})),
        },
        Op::Set {
            field: "title".into(),
            value: v(json!("hi")),
        },
    ];
    let mut doc = Document::default();
    doc.write(
        &ops,
        Dot::new(node(7), 1),
        hlc.tick(NTP64(1 << 40)),
        &DocLimits::default(),
    )
    .unwrap();
    doc
}

/// Decodes `bytes` as every lattice type; only errors or values may come out.
fn decode_all(bytes: &[u8]) {
    let max = 1 << 20;
    let _ = codec::decode::<Document>(bytes, max);
    let _ = codec::decode::<Counter>(bytes, max);
    let _ = codec::decode::<OrSet>(bytes, max);
    let _ = codec::decode::<LwwRegister>(bytes, max);
    let _ = codec::decode::<VersionVector>(bytes, max);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend(body);
        decode_all(&bytes);
    }

    #[test]
    fn mutated_encodings_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = codec::encode(&sample_document());
        for (at, byte) in flips {
            let i = at.index(bytes.len() - 1) + 1;
            bytes[i] = byte;
        }
        decode_all(&bytes);
    }

    #[test]
    fn truncated_encodings_are_errors(cut in any::<prop::sample::Index>()) {
        let bytes = codec::encode(&sample_document());
        let cut = cut.index(bytes.len());
        prop_assert!(codec::decode::<Document>(&bytes[..cut], usize::MAX).is_err());
    }
}

#[test]
fn a_document_round_trips_with_its_view() {
    let doc = sample_document();
    let back: Document = codec::decode(&codec::encode(&doc), usize::MAX).unwrap();
    assert_eq!(back, doc);
    assert_eq!(
        back.to_json(),
        json!({"likes": 3, "tags": ["a", {"x": [1, 2]}], "title": "hi"})
    );
}

#[test]
fn unknown_versions_sizes_and_trailing_bytes_are_refused() {
    let mut bytes = codec::encode(&sample_document());
    assert_eq!(
        codec::decode::<Document>(&bytes, 4),
        Err(DecodeError::TooLarge {
            bytes: bytes.len(),
            bytes_max: 4
        })
    );
    assert_eq!(codec::decode::<Document>(&[], 4), Err(DecodeError::Empty));
    bytes.push(0);
    assert_eq!(
        codec::decode::<Document>(&bytes, usize::MAX),
        Err(DecodeError::Trailing(1))
    );
    bytes[0] = FORMAT_VERSION + 1;
    assert_eq!(
        codec::decode::<Document>(&bytes, usize::MAX),
        Err(DecodeError::UnknownVersion {
            found: FORMAT_VERSION + 1
        })
    );
}

#[test]
fn a_huge_declared_length_is_an_error_not_an_allocation() {
    // Version, then a field map claiming u64::MAX / 2 entries in a 12-byte input.
    let mut bytes = vec![FORMAT_VERSION];
    bytes.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    bytes.extend([0, 0]);
    assert!(matches!(
        codec::decode::<Document>(&bytes, usize::MAX),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn non_canonical_json_in_an_encoding_is_refused() {
    let set_with = |text: &str| {
        // store: one element (text, dots [n1:1]); context: n1 prefix 1.
        let mut bytes = vec![FORMAT_VERSION, 1, text.len() as u8];
        bytes.extend(text.as_bytes());
        bytes.extend([1, 1, 1, 1, 1, 1, 0]);
        bytes
    };
    assert!(codec::decode::<OrSet>(&set_with("\"a\""), usize::MAX).is_ok());
    assert!(codec::decode::<OrSet>(&set_with("{\"b\":1,\"a\":2}"), usize::MAX).is_err());
    assert!(codec::decode::<OrSet>(&set_with("[1, 2]"), usize::MAX).is_err());
}
