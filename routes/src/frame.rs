//! The one frame a recipient gets: `{"type":"message","from":F,"data":D}`, from a user's
//! `sendToUser`/`broadcast` or from a backend push (`from` is then `$server`), refused before any
//! @connections call when it would exceed API Gateway's 128 KiB message limit.

use serde_json::{Value, json};

use wsauth_protocol::frames::{self, Frame};

use wsauth_protocol::limits::MAX_MESSAGE_BYTES;

/// The sender named in server pushes.
pub use wsauth_protocol::frames::SERVER_SENDER;

/// The outgoing message would exceed [`MAX_MESSAGE_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("message exceeds {MAX_MESSAGE_BYTES} bytes")]
pub struct FrameTooLarge;

/// The bytes of the message frame from `from` carrying `data`.
pub fn message_frame(from: &str, data: Value) -> Result<Vec<u8>, FrameTooLarge> {
    let bytes = json!({frames::TYPE: Frame::Message, "from": from, "data": data})
        .to_string()
        .into_bytes();
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(FrameTooLarge);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_sender_and_data_and_refuse_oversize() {
        let f = message_frame("alice", json!({"x": 1})).unwrap();
        let v: Value = serde_json::from_slice(&f).unwrap();
        assert_eq!(
            v,
            json!({"type": "message", "from": "alice", "data": {"x": 1}})
        );
        let big = "x".repeat(MAX_MESSAGE_BYTES);
        assert_eq!(message_frame(SERVER_SENDER, json!(big)), Err(FrameTooLarge));
    }
}
