//! The routes crate's error enum and its single mapping to an error frame.
//!
//! Clients see `{"type":"error","code":CODE,"message":TEXT}` with a stable code and a short
//! human text; causes (store or @connections failures) go to the logs only.

use serde::Serialize;
use serde_json::{Value, json};

/// The error codes of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, no `action`, or a malformed field.
    BadRequest,
    /// JSON naming no known route.
    UnknownAction,
    /// The route needs a scope the session lacks, or the route is not declared.
    Forbidden,
    /// The session's `expiresAt` has passed; the connection is closed.
    SessionExpired,
    /// No binding for this connection; the connection is closed.
    NotBound,
    /// An outgoing message over 128 KiB.
    PayloadTooLarge,
    /// A `refresh` token that does not verify or names another subject or issuer.
    InvalidToken,
    /// wsauth could not complete the request (store or @connections failure).
    Internal,
}

impl ErrorCode {
    /// The code as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownAction => "unknown_action",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::NotBound => "not_bound",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::Internal => "internal",
        }
    }

    /// Whether the server closes the connection after sending this error.
    pub fn closes(self) -> bool {
        matches!(self, ErrorCode::SessionExpired | ErrorCode::NotBound)
    }
}

impl From<crate::frame::FrameTooLarge> for RouteError {
    fn from(e: crate::frame::FrameTooLarge) -> Self {
        RouteError::new(ErrorCode::PayloadTooLarge, e.to_string())
    }
}

/// A refusal or failure of one message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct RouteError {
    /// What the client is told.
    pub code: ErrorCode,
    /// A short text for the client (no internals).
    pub message: String,
}

impl RouteError {
    /// An error with a client-facing message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// An internal failure: the client sees a generic text; `cause` is logged here.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// The error frame.
    pub fn frame(&self) -> Value {
        json!({"type": "error", "code": self.code.as_str(), "message": self.message})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_the_contract() {
        let e = RouteError::new(ErrorCode::PayloadTooLarge, "too big");
        assert_eq!(
            e.frame(),
            json!({"type":"error","code":"payload_too_large","message":"too big"})
        );
        assert!(ErrorCode::NotBound.closes() && ErrorCode::SessionExpired.closes());
        assert!(!ErrorCode::Forbidden.closes());
        assert_eq!(
            serde_json::to_value(ErrorCode::InvalidToken).unwrap(),
            json!("invalid_token")
        );
    }
}
