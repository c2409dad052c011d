//! The JOSE header: read and checked ([`read_header`]), and kept per thread once a token under it
//! verified ([`KnownHeader`]), so that tokens sharing a header segment skip its decoding.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use wsauth_settings::auth::parse_algorithm;

use crate::claims::Text;
use crate::error::AuthError;
use crate::limits::MAX_KID_BYTES;

/// The JOSE header members wsauth reads. Key-carrying members (`jku`, `x5u`, `jwk`, `x5c`)
/// are deliberately absent: keys come only from the configured JWKS.
///
/// A member present as `null` is malformed, never read as absent (RFC 7515 §4.1: `crit` is an
/// array, `kid` and `typ` strings): `{"crit": null}` must not pass for a header without `crit`.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Text<'a>,
    #[serde(default, borrow, deserialize_with = "present")]
    kid: Option<Text<'a>>,
    #[serde(default, deserialize_with = "present")]
    crit: Option<NotNull>,
    #[serde(default, borrow, deserialize_with = "present")]
    typ: Option<Text<'a>>,
}

/// A member that is there: `Some` of its value, and `null` refused (serde's `Option` reads
/// `null` as `None`, which would make a present member absent).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Any JSON value but `null`, skipped.
struct NotNull;

impl<'de> Deserialize<'de> for NotNull {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NotNull;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value other than null")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<NotNull, E> {
                Err(E::invalid_type(serde::de::Unexpected::Unit, &self))
            }
            fn visit_bool<E>(self, _: bool) -> Result<NotNull, E> {
                Ok(NotNull)
            }
            fn visit_i64<E>(self, _: i64) -> Result<NotNull, E> {
                Ok(NotNull)
            }
            fn visit_u64<E>(self, _: u64) -> Result<NotNull, E> {
                Ok(NotNull)
            }
            fn visit_f64<E>(self, _: f64) -> Result<NotNull, E> {
                Ok(NotNull)
            }
            fn visit_str<E>(self, _: &str) -> Result<NotNull, E> {
                Ok(NotNull)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<NotNull, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(NotNull)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<NotNull, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(NotNull)
            }
        }
        d.deserialize_any(V)
    }
}

/// What [`read_header`] keeps of the header, borrowed from its decoded bytes.
pub(super) struct CheckedHeader<'b> {
    pub(super) alg: Algorithm,
    pub(super) kid: Cow<'b, str>,
    pub(super) typ: Option<Cow<'b, str>>,
}

/// The header's checks: an `alg` wsauth supports (never `none`, never symmetric), no `crit`, a
/// `kid` within the cap.
pub(super) fn read_header(header_json: &[u8]) -> Result<CheckedHeader<'_>, AuthError> {
    // Valid UTF-8 as a whole (RFC 8259), unknown members included, as the claims.
    let header: Header<'_> = std::str::from_utf8(header_json)
        .ok()
        .and_then(|json| serde_json::from_str(json).ok())
        .ok_or(AuthError::Malformed("header"))?;
    if header.alg.eq_ignore_ascii_case("none") {
        return Err(AuthError::AlgNone);
    }
    let alg = parse_algorithm(&header.alg).ok_or(AuthError::AlgNotAllowed)?;
    if header.crit.is_some() {
        return Err(AuthError::CritUnsupported);
    }
    let kid = header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(AuthError::MissingKid)?
        .0;
    if kid.len() > MAX_KID_BYTES {
        return Err(AuthError::Malformed("kid too long"));
    }
    let typ = header.typ.map(|t| t.0);
    Ok(CheckedHeader { alg, kid, typ })
}

/// A header segment of a token that verified, kept parsed. Tokens of one issuer and key share
/// one header segment, byte for byte, and what [`read_header`] makes of it depends on those bytes
/// alone: each thread keeps the last few it met, so that their base64, UTF-8 and JSON work is done
/// once. Only the headers of tokens that verified enter, so tokens without a valid signature can
/// neither fill nor churn it.
///
/// It is shared by every [`Verifier`](super::Verifier) on the thread, which is sound only while
/// [`read_header`] depends on nothing but the bytes (its algorithms and caps are constants, not
/// configuration): a header check that depends on an issuer's rules belongs after it, in
/// [`Verifier::check`](super::Verifier::check).
pub(super) struct KnownHeader {
    encoded: Box<str>,
    alg: Algorithm,
    kid: Box<str>,
    typ: Option<Box<str>>,
}

/// How many header segments each thread keeps: enough for several issuers and a key rotation.
const KNOWN_HEADERS: usize = 8;

thread_local! {
    /// This thread's known headers, and the slot the next one takes (oldest first out).
    static KNOWN: RefCell<([Option<Rc<KnownHeader>>; KNOWN_HEADERS], usize)> =
        RefCell::new((Default::default(), 0));
}

impl KnownHeader {
    /// The known header whose segment is exactly `encoded`.
    pub(super) fn find(encoded: &str) -> Option<Rc<KnownHeader>> {
        // `try_with`: no cache while the thread's storage is torn down, rather than a panic.
        KNOWN
            .try_with(|known| {
                known
                    .borrow()
                    .0
                    .iter()
                    .flatten()
                    .find(|k| *k.encoded == *encoded)
                    .cloned()
            })
            .ok()
            .flatten()
    }

    /// Keeps `header`, read from the segment `encoded`, in place of the oldest.
    pub(super) fn remember(encoded: &str, header: &CheckedHeader<'_>) {
        let entry = Rc::new(KnownHeader {
            encoded: encoded.into(),
            alg: header.alg,
            kid: header.kid.as_ref().into(),
            typ: header.typ.as_deref().map(Into::into),
        });
        let _torn_down = KNOWN.try_with(|known| {
            let (slots, next) = &mut *known.borrow_mut();
            if let Some(slot) = slots.get_mut(*next) {
                *slot = Some(entry);
            }
            *next = (*next + 1) % KNOWN_HEADERS;
        });
    }

    /// The header as [`read_header`] read it.
    pub(super) fn checked(&self) -> CheckedHeader<'_> {
        CheckedHeader {
            alg: self.alg,
            kid: Cow::Borrowed(&self.kid),
            typ: self.typ.as_deref().map(Cow::Borrowed),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::verify::test_support::{check, claims, header_of, with_alice};

    // Each test runs on a thread of its own: it starts with no known header.

    #[test]
    fn a_verified_tokens_header_is_kept_and_read_alike() {
        let (key, v, alice) = with_alice(Algorithm::RS256, "kept");
        assert!(KnownHeader::find(header_of(&alice)).is_none());
        let first = check(&v, &alice).unwrap();
        assert!(KnownHeader::find(header_of(&alice)).is_some());
        // Read from the known header: the same answer.
        assert_eq!(check(&v, &alice).unwrap(), first);
        // Another token under the same header.
        let bob = key.mint(&claims("bob", 600)).unwrap();
        assert_eq!(header_of(&bob), header_of(&alice));
        assert_eq!(check(&v, &bob).unwrap().identity.user_id, "bob");
        // A known header does not excuse the rest: a bad signature and an expired token under it
        // are refused.
        let (signing_input, _) = bob.rsplit_once('.').unwrap();
        let (_, alice_sig) = alice.rsplit_once('.').unwrap();
        let forged = format!("{signing_input}.{alice_sig}");
        assert_eq!(check(&v, &forged), Err(Some(AuthError::BadSignature)));
        let expired = key.mint(&claims("carol", -3600)).unwrap();
        assert_eq!(header_of(&expired), header_of(&alice));
        assert_eq!(check(&v, &expired), Err(Some(AuthError::Expired)));
    }

    #[test]
    fn refused_tokens_leave_no_header_behind() {
        let (key, v, alice) = with_alice(Algorithm::ES256, "refused");
        let bob = key.mint(&claims("bob", 600)).unwrap();
        let header = header_of(&alice).to_owned();
        // A bad signature, an expired token, a wrong audience: none enters.
        let (signing_input, _) = bob.rsplit_once('.').unwrap();
        let (_, alice_sig) = alice.rsplit_once('.').unwrap();
        let forged = format!("{signing_input}.{alice_sig}");
        assert_eq!(check(&v, &forged), Err(Some(AuthError::BadSignature)));
        let expired = key.mint(&claims("carol", -3600)).unwrap();
        assert_eq!(check(&v, &expired), Err(Some(AuthError::Expired)));
        let mut other_audience = claims("dave", 600);
        other_audience["aud"] = json!("someone-else");
        let other_audience = key.mint(&other_audience).unwrap();
        assert_eq!(
            check(&v, &other_audience),
            Err(Some(AuthError::AudienceMismatch))
        );
        assert!(KnownHeader::find(&header).is_none());
        // A token that verifies does.
        check(&v, &alice).unwrap();
        assert!(KnownHeader::find(&header).is_some());
    }

    #[test]
    fn a_header_one_byte_apart_is_read_anew() {
        let (key, v, alice) = with_alice(Algorithm::EdDSA, "apart");
        check(&v, &alice).unwrap();
        // The same header but for the `kid`, signed by the same key: read anew, so its `kid` is
        // the one looked up (and not cached: the key is asked for).
        let unknown = key
            .sign_parts(
                &json!({"alg": "EdDSA", "kid": "apary", "typ": "JWT"}),
                &claims("alice", 600),
            )
            .unwrap();
        assert!(KnownHeader::find(header_of(&unknown)).is_none());
        assert_eq!(check(&v, &unknown), Err(None));
        // One byte apart in the encoding itself: not a known header either.
        let mut encoded = header_of(&alice).to_owned();
        let last = if encoded.ends_with('A') { "B" } else { "A" };
        encoded.replace_range(encoded.len() - 1.., last);
        assert!(KnownHeader::find(&encoded).is_none());
    }

    #[test]
    fn the_ninth_header_takes_the_oldest_slot() {
        let header = |i: usize| CheckedHeader {
            alg: Algorithm::RS256,
            kid: Cow::Owned(format!("kid-{i}")),
            typ: None,
        };
        for i in 0..=KNOWN_HEADERS {
            KnownHeader::remember(&format!("header-{i}"), &header(i));
        }
        assert!(KnownHeader::find("header-0").is_none());
        for i in 1..=KNOWN_HEADERS {
            let known = KnownHeader::find(&format!("header-{i}")).unwrap();
            assert_eq!(*known.kid, format!("kid-{i}"));
        }
    }
}
