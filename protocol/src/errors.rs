//! The codes of error frames (`{"type":"error","code":CODE,"message":TEXT}`): one spelling each,
//! used by the server's serializer, its frames and the clients.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

spelled! {
    /// An error frame's `code`: every code wsauth sends, in the contract's order (the contract's
    /// `limit_exceeded` comes with channels, which send it).
    pub enum ErrorCode spelled by as_str {
        /// Not JSON, no `action`, or a malformed field.
        BadRequest => "bad_request",
        /// JSON naming no known route.
        UnknownAction => "unknown_action",
        /// The route needs a scope the session lacks, or the route is not declared.
        Forbidden => "forbidden",
        /// The session's `expiresAt` has passed, or it was logged out; the connection is closed.
        SessionExpired => "session_expired",
        /// No binding for this connection; the connection is closed.
        NotBound => "not_bound",
        /// An outgoing message over [`MAX_MESSAGE_BYTES`](crate::limits::MAX_MESSAGE_BYTES).
        PayloadTooLarge => "payload_too_large",
        /// A `refresh` token that does not verify or names another subject or issuer.
        InvalidToken => "invalid_token",
        /// wsauth could not complete the request (store or @connections failure).
        Internal => "internal",
    }
}

impl ErrorCode {
    /// Whether the server closes the connection after sending this error (a client reconnects
    /// with a fresh token).
    pub const fn closes(self) -> bool {
        matches!(self, Self::SessionExpired | Self::NotBound)
    }

    /// The code spelled `s`, if it is one.
    pub fn from_code(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_code(&s).ok_or_else(|| serde::de::Error::unknown_variant(&s, &[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_spelled_and_only_session_ends_close() {
        for c in ErrorCode::ALL {
            let v = serde_json::to_value(c).unwrap();
            assert_eq!(v, serde_json::Value::String(c.as_str().to_owned()));
            assert_eq!(serde_json::from_value::<ErrorCode>(v).unwrap(), c);
        }
        let closing: Vec<_> = ErrorCode::ALL.into_iter().filter(|c| c.closes()).collect();
        assert_eq!(closing, [ErrorCode::SessionExpired, ErrorCode::NotBound]);
        assert!(serde_json::from_str::<ErrorCode>("\"Forbidden\"").is_err());
    }
}
