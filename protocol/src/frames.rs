//! The `type` of every frame the server sends.

use serde::{Serialize, Serializer};

/// The `type` member of a frame.
pub const TYPE: &str = "type";

/// The `from` of a backend push (no user ID starts with `$`).
pub const SERVER_SENDER: &str = "$server";

spelled! {
    /// A frame's `type`: every frame the server sends today (channels add theirs). Serializes as
    /// its spelling, so `json!({TYPE: Frame::Pong})` is `{"type":"pong"}`.
    pub enum Frame spelled by as_str {
        /// `{"type":"pong"}`, the reply to `ping`.
        Pong => "pong",
        /// `{"type":"whoami","userId","connectionId","scopes","expiresAt"}`.
        WhoAmI => "whoami",
        /// `{"type":"sent","delivered"}` (and `to` for `sendToUser`).
        Sent => "sent",
        /// `{"type":"refreshed","expiresAt"}`.
        Refreshed => "refreshed",
        /// `{"type":"message","from","data"}`: what a recipient of `sendToUser`, `broadcast` or
        /// a push gets.
        Message => "message",
        /// `{"type":"error","code","message"}`.
        Error => "error",
    }
}

impl Serialize for Frame {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
