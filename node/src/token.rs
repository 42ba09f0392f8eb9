//! Session tokens: the causal past of a client session, carried by the client.
//!
//! A token is a version vector, encoded compactly (the crdt codec) and then as
//! unpadded URL-safe base64, so it fits a header or a query string. Every read and write
//! hands the client a token that covers what it saw or wrote; a replica serves a request
//! that carries a token only when its own version vector includes the token
//! ([`crate::Replica::can_serve`]). That gives, across nodes and failover:
//!
//! - **read-your-writes**: a write's token holds its dots, so a read with it sees it;
//! - **monotonic reads**: a read's token holds everything that replica had, so a later
//!   read elsewhere sees at least as much;
//! - **monotonic writes**: a write is accepted only where the session's earlier writes
//!   are, so it is causally after them everywhere;
//! - **writes-follow-reads**: likewise, a write is causally after what the session read.
//!
//! Tokens from one session on several devices merge with [`SessionToken::merge`] (a join).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lattice_crdt::{codec, VersionVector};
use thiserror::Error;

/// The longest token accepted, in characters.
pub const TOKEN_CHARS_MAX: usize = 4096;

/// A client session's causal past.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionToken(VersionVector);

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is longer than [`TOKEN_CHARS_MAX`].
    #[error("session token is {0} characters; at most {TOKEN_CHARS_MAX} are allowed")]
    TooLong(usize),
    /// The token is not base64url.
    #[error("session token is not URL-safe base64")]
    NotBase64,
    /// The token decodes to something that is not a version vector.
    #[error("session token is malformed: {0}")]
    Malformed(codec::DecodeError),
}

impl SessionToken {
    /// The token covering exactly `past`.
    pub fn new(past: VersionVector) -> SessionToken {
        SessionToken(past)
    }

    /// The causal past the token covers.
    pub fn past(&self) -> &VersionVector {
        &self.0
    }

    /// Joins another token of the same session into this one.
    pub fn merge(&mut self, other: &SessionToken) {
        self.0.join(&other.0);
    }

    /// The token's text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(codec::encode(&self.0))
    }

    /// Parses a token's text form.
    pub fn parse(text: &str) -> Result<SessionToken, TokenError> {
        if text.len() > TOKEN_CHARS_MAX {
            return Err(TokenError::TooLong(text.len()));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| TokenError::NotBase64)?;
        codec::decode(&bytes, TOKEN_CHARS_MAX)
            .map(SessionToken)
            .map_err(TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use lattice_crdt::{Dot, NodeId};
    use proptest::prelude::*;

    use super::*;

    fn token(dots: &[(u64, u64)]) -> SessionToken {
        SessionToken::new(
            dots.iter()
                .map(|&(o, s)| Dot::new(NodeId::new(o).unwrap(), s))
                .collect(),
        )
    }

    proptest! {
        #[test]
        fn tokens_round_trip_and_merge_is_a_join(
            a in prop::collection::vec((1u64..5, 1u64..1000), 0..20),
            b in prop::collection::vec((1u64..5, 1u64..1000), 0..20),
        ) {
            let (ta, tb) = (token(&a), token(&b));
            let text = ta.encode();
            prop_assert!(text.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
            prop_assert_eq!(SessionToken::parse(&text).unwrap(), ta.clone());
            let mut ab = ta.clone();
            ab.merge(&tb);
            let mut ba = tb.clone();
            ba.merge(&ta);
            prop_assert_eq!(&ab, &ba);
            prop_assert!(ab.past().includes(ta.past()) && ab.past().includes(tb.past()));
        }

        #[test]
        fn arbitrary_text_is_an_error_or_a_token(text in "\\PC{0,64}") {
            let _ = SessionToken::parse(&text);
        }
    }

    #[test]
    fn a_typical_token_is_short() {
        let t = token(&[(1, 1), (2, 1), (3, 1)]);
        let mut long = t.clone();
        for o in 1..=5 {
            long.merge(&SessionToken::new(
                (1..=100_000)
                    .map(|s| Dot::new(NodeId::new(o).unwrap(), s))
                    .collect(),
            ));
        }
        assert!(long.encode().len() < 40, "{}", long.encode());
    }

    #[test]
    fn bad_tokens_are_clear_errors() {
        assert_eq!(SessionToken::parse("***"), Err(TokenError::NotBase64));
        assert!(matches!(
            SessionToken::parse("AAAA"),
            Err(TokenError::Malformed(_))
        ));
        assert_eq!(
            SessionToken::parse(&"A".repeat(TOKEN_CHARS_MAX + 1)),
            Err(TokenError::TooLong(TOKEN_CHARS_MAX + 1))
        );
        assert_eq!(
            SessionToken::parse(""),
            Err(TokenError::Malformed(codec::DecodeError::Empty))
        );
    }
}
