//! Connection IDs shaped like API Gateway's: base64 of random bytes, never sequential.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Random bytes per connection ID (96 bits: unguessable).
pub const CONNECTION_ID_BYTES: usize = 12;

/// A fresh connection ID from the system CSPRNG, or `None` if the CSPRNG fails (the handshake
/// is then refused: there is no predictable fallback).
pub fn connection_id() -> Option<String> {
    let mut b = [0u8; CONNECTION_ID_BYTES];
    aws_lc_rs::rand::fill(&mut b).ok()?;
    Some(STANDARD.encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base64_of_12_bytes_and_distinct() {
        let a = connection_id().unwrap();
        assert_eq!(STANDARD.decode(&a).unwrap().len(), 12);
        let set: std::collections::HashSet<String> =
            (0..1000).map(|_| connection_id().unwrap()).collect();
        assert_eq!(set.len(), 1000);
    }
}
