//! The routes crate's error and its single mapping to an error frame (the codes are the
//! protocol's, [`ErrorCode`]).
//!
//! Clients see `{"type":"error","code":CODE,"message":TEXT}` with a stable code and a short
//! human text; causes (store or @connections failures) go to the logs only.

use serde_json::{Value, json};
use wsauth_protocol::frames::{self, Frame};

pub use wsauth_protocol::ErrorCode;

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
        json!({frames::TYPE: Frame::Error, "code": self.code.as_str(), "message": self.message})
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
