//! API Gateway's WebSocket limits: one home for the figures the handlers respect (they refuse
//! an outgoing message over the size limit, and keep a binding whose handshake may still be in
//! progress) and `wsauth-local` enforces as AWS does.

use std::time::Duration;

/// The message size limit (a message may span several frames), both ways.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// The frame size limit.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

/// The integration timeout: no route (the authorizer and `$connect` included) is answered later
/// than this, so no handshake takes longer.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);
