//! Connection IDs shaped like API Gateway's: 16 characters of URL-safe base64 ending in `=`
//! (e.g. `JC1dgf9yoAMCK-g=`), from 11 random bytes; never sequential. The `=` and the URL-safe
//! alphabet reach @connections as they do on AWS (percent-encoded in the path).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;

/// Random bytes per connection ID (88 bits: unguessable; base64 gives 15 characters and `=`).
pub const CONNECTION_ID_BYTES: usize = 11;

/// A fresh connection ID from the system CSPRNG, or `None` if the CSPRNG fails (the handshake
/// is then refused: there is no predictable fallback).
pub fn connection_id() -> Option<String> {
    let mut b = [0u8; CONNECTION_ID_BYTES];
    aws_lc_rs::rand::fill(&mut b).ok()?;
    Some(URL_SAFE.encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_api_gateways_and_are_distinct() {
        let a = connection_id().unwrap();
        assert_eq!(a.len(), 16);
        assert!(a.ends_with('='));
        assert!(!a.contains('+') && !a.contains('/'));
        assert_eq!(URL_SAFE.decode(&a).unwrap().len(), CONNECTION_ID_BYTES);
        let set: std::collections::HashSet<String> =
            (0..1000).map(|_| connection_id().unwrap()).collect();
        assert_eq!(set.len(), 1000);
    }
}
