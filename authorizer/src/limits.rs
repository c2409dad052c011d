//! The verifier's size limits: refused before any parsing or lookup.

/// Largest accepted token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Largest accepted base64url header segment.
pub const MAX_HEADER_B64: usize = 2048;
/// Largest accepted `kid`.
pub const MAX_KID_BYTES: usize = 256;
