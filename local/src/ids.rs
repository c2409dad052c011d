//! Connection IDs shaped like API Gateway's: 16 characters of URL-safe base64 ending in `=`
//! (e.g. `JC1dgf9yoAMCK-g=`), from 11 random bytes; never sequential. The `=` and the URL-safe
//! alphabet reach @connections as they do on AWS (percent-encoded in the path). Also the
//! management API's request IDs and the trace header API Gateway adds to events.

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

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `n` random bytes in hex (empty bytes' hex if the CSPRNG fails: callers use it for IDs that
/// need not be secret).
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = aws_lc_rs::rand::fill(&mut b);
    hex(&b)
}

/// A request ID as AWS's APIs return them (`x-amzn-RequestId`): a random UUID (version 4),
/// or `None` if the CSPRNG fails.
pub fn request_id() -> Option<String> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).ok()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// An X-Ray trace header as API Gateway adds it to the events (`X-Amzn-Trace-Id`):
/// `Root=1-{epoch seconds, 8 hex digits}-{96 random bits, 24 hex digits}`.
pub fn trace_id(now_epoch: i64) -> String {
    format!("Root=1-{:08x}-{}", now_epoch.max(0), random_hex(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_trace_ids_have_aws_shapes() {
        let r = request_id().unwrap();
        let parts: Vec<usize> = r.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{r}");
        assert_eq!(&r[14..15], "4");
        assert_ne!(request_id().unwrap(), r);
        let t = trace_id(0x5f84_c7a9);
        assert!(t.starts_with("Root=1-5f84c7a9-"), "{t}");
        assert_eq!(t.len(), "Root=1-5f84c7a9-".len() + 24);
    }

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
