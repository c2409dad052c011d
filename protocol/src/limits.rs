//! The limits a client can hit: API Gateway's (which `wsauth-local` enforces as AWS does and the
//! handlers respect) and wsauth's own. Every message that states a limit is built from these.

use std::time::Duration;

/// API Gateway's message size limit (a message may span several frames), both ways.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// API Gateway's frame size limit.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

/// API Gateway's integration timeout: no route (the authorizer and `$connect` included) is
/// answered later than this.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// API Gateway closes a connection with no data either way for this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// API Gateway closes every connection after this long.
pub const MAX_CONNECTION_DURATION: Duration = Duration::from_secs(2 * 60 * 60);

/// The longest message `id`, in characters.
pub const MAX_ID_CHARS: usize = 64;

/// The longest user ID or session ID, in bytes of UTF-8.
pub const MAX_USER_ID_BYTES: usize = 512;
