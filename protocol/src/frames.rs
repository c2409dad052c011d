//! The `type` of every frame the server sends.

/// The `type` member of a frame.
pub const TYPE: &str = "type";

/// `{"type":"pong"}`, the reply to `ping`.
pub const PONG: &str = "pong";
/// `{"type":"whoami","userId","connectionId","scopes","expiresAt"}`.
pub const WHOAMI: &str = "whoami";
/// `{"type":"sent","delivered"}` (and `to` for `sendToUser`).
pub const SENT: &str = "sent";
/// `{"type":"refreshed","expiresAt"}`.
pub const REFRESHED: &str = "refreshed";

/// The replies of the built-in routes that succeed.
pub const REPLIES: [&str; 4] = [PONG, WHOAMI, SENT, REFRESHED];

/// `{"type":"message","from","data"}`: what a recipient of `sendToUser`, `broadcast` or a push
/// gets.
pub const MESSAGE: &str = "message";
/// `{"type":"error","code","message"}`.
pub const ERROR: &str = "error";

/// Every frame type the server sends today (channels add theirs).
pub const ALL: [&str; 6] = [PONG, WHOAMI, SENT, REFRESHED, MESSAGE, ERROR];

/// The `from` of a backend push (no user ID starts with `$`).
pub const SERVER_SENDER: &str = "$server";
