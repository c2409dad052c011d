//! The segments of a compact JWS: split at the first two dots ([`split_token`]) and decoded as
//! strict base64url into uninitialized memory ([`decode_into`]); and the signature's form, checked
//! against the key before any crypto runs ([`check_signature_form`]).

use std::mem::MaybeUninit;

use base64_simd::Out;

use crate::error::AuthError;
use crate::jwks::KeyKind;

/// The segments of a compact JWS: up to the first dot, up to the second, and the rest (which
/// the caller finds free of dots when it decodes it); `None` with fewer than three.
pub(super) fn split_token(token: &str) -> Option<(&str, &str, &str)> {
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (Some(first), Some(second)) = (dots.next(), dots.next()) else {
        return None;
    };
    // '.' is ASCII: every index here is a char boundary.
    Some((
        token.get(..first)?,
        token.get(first + 1..second)?,
        token.get(second + 1..)?,
    ))
}

/// Decodes `seg` (strict base64url: no padding, no non-canonical trailing bits, URL alphabet
/// only) into the start of `out`, uninitialized memory, so that nothing is allocated or zeroed;
/// returns the bytes and what is left of `out`. A segment that does not fit is malformed.
pub(super) fn decode_into<'b>(
    seg: &str,
    out: &'b mut [MaybeUninit<u8>],
    what: &'static str,
) -> Result<(&'b [u8], &'b mut [MaybeUninit<u8>]), AuthError> {
    let b64 = base64_simd::URL_SAFE_NO_PAD;
    let malformed = |_| AuthError::Malformed(what);
    let n = b64.decoded_length(seg.as_bytes()).map_err(malformed)?;
    if n > out.len() {
        return Err(AuthError::Malformed(what));
    }
    let (mine, rest) = out.split_at_mut(n);
    let bytes = b64
        .decode(seg.as_bytes(), Out::from_uninit_slice(mine))
        .map_err(malformed)?;
    Ok((bytes, rest))
}

/// Refuses a signature whose form does not fit the key before any crypto runs: wrong length
/// (which catches DER-encoded ECDSA signatures), or an ECDSA r or s of zero (CVE-2022-21449).
pub fn check_signature_form(kind: KeyKind, sig: &[u8]) -> Result<(), AuthError> {
    if sig.len() != kind.signature_len() {
        return Err(AuthError::SignatureEncoding);
    }
    if matches!(kind, KeyKind::P256 | KeyKind::P384) {
        let (r, s) = sig.split_at(sig.len() / 2);
        if r.iter().all(|&b| b == 0) || s.iter().all(|&b| b == 0) {
            return Err(AuthError::SignatureEncoding);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    #[test]
    fn ecdsa_zero_and_der_signatures_are_refused_before_crypto() {
        assert_eq!(
            check_signature_form(KeyKind::P256, &[0u8; 64]),
            Err(AuthError::SignatureEncoding)
        );
        let mut r_zero = [1u8; 64];
        r_zero[..32].fill(0);
        assert_eq!(
            check_signature_form(KeyKind::P256, &r_zero),
            Err(AuthError::SignatureEncoding)
        );
        let mut s_zero = [1u8; 64];
        s_zero[32..].fill(0);
        assert_eq!(
            check_signature_form(KeyKind::P256, &s_zero),
            Err(AuthError::SignatureEncoding)
        );
        let der = [0x30u8; 71];
        assert_eq!(
            check_signature_form(KeyKind::P256, &der),
            Err(AuthError::SignatureEncoding)
        );
        assert!(check_signature_form(KeyKind::P256, &[1u8; 64]).is_ok());
        assert!(check_signature_form(KeyKind::Ed25519, &[0u8; 64]).is_ok());
        assert_eq!(
            check_signature_form(KeyKind::Rsa { modulus_bytes: 256 }, &[1u8; 255]),
            Err(AuthError::SignatureEncoding)
        );
    }

    /// The strict reference: the `base64` crate's URL_SAFE_NO_PAD (no padding, canonical
    /// trailing bits, URL alphabet only), which the verifier used before `base64-simd`.
    fn reference(seg: &str) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(seg).ok()
    }

    fn simd(seg: &str) -> Option<Vec<u8>> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 512];
        decode_into(seg, &mut buf, "test")
            .ok()
            .map(|(b, _)| b.to_vec())
    }

    #[test]
    fn segment_decoding_accepts_exactly_what_the_strict_reference_accepts() {
        // Every string of up to three characters over the alphabet and the characters a
        // lenient decoder would let through (padding, the standard alphabet, whitespace, '.').
        let chars: Vec<char> =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .\n\0\u{e9}"
                .chars()
                .collect();
        let mut seg = String::new();
        let mut checked = 0;
        for len in 0..=3u32 {
            for mut i in 0..chars.len().pow(len) {
                seg.clear();
                for _ in 0..len {
                    seg.push(chars[i % chars.len()]);
                    i /= chars.len();
                }
                assert_eq!(simd(&seg), reference(&seg), "{seg:?}");
                checked += 1;
            }
        }
        assert!(checked > 250_000);
        // Longer segments: every length up to 100, each with its last character varied over
        // the whole alphabet (non-canonical trailing bits), and one bad character anywhere.
        let valid = URL_SAFE_NO_PAD.encode((0..=255u8).collect::<Vec<_>>());
        for len in 0..100 {
            let mut s: String = valid.chars().take(len).collect();
            assert_eq!(simd(&s), reference(&s), "{s:?}");
            for c in chars.iter().copied() {
                s.pop();
                s.push(c);
                assert_eq!(simd(&s), reference(&s), "{s:?}");
            }
        }
        // Every character a lenient decoder might let through, at every position of segments up
        // to 200 characters long: the decoder works 32 and 8 characters at a time in its fast
        // paths and character by character only in the tail.
        let valid: String = valid.chars().cycle().take(200).collect();
        for len in [11, 12, 37, 38, 39, 43, 64, 100, 171, 200] {
            for at in 0..len {
                for c in ['=', '+', '/', ' ', '\n', '.', '\0', '\u{e9}', '\u{7f}'] {
                    let mut bad: Vec<char> = valid.chars().take(len).collect();
                    bad[at] = c;
                    let bad: String = bad.into_iter().collect();
                    assert_eq!(simd(&bad), None, "{bad:?}");
                    assert_eq!(reference(&bad), None, "{bad:?}");
                }
            }
            let good: String = valid.chars().take(len).collect();
            assert_eq!(simd(&good), reference(&good), "{good:?}");
        }
    }

    #[test]
    fn a_segment_larger_than_its_room_is_malformed_not_a_panic() {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4];
        let seg = URL_SAFE_NO_PAD.encode([7u8; 5]);
        assert_eq!(
            decode_into(&seg, &mut buf, "payload encoding").map(|(b, _)| b.len()),
            Err(AuthError::Malformed("payload encoding"))
        );
        let seg = URL_SAFE_NO_PAD.encode([7u8; 4]);
        assert_eq!(
            decode_into(&seg, &mut buf, "x").map(|(b, _)| b.to_vec()),
            Ok(vec![7u8; 4])
        );
    }
}
