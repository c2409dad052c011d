//! One test per verification rule, against a real JWKS served over HTTP on 127.0.0.1.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use wsauth_authorizer::AuthError;
use wsauth_devkit::SigningKey;

async fn refused(v: &wsauth_authorizer::Verifier, token: &str) -> AuthError {
    v.verify(token, now())
        .await
        .expect_err("token must be refused")
}

#[tokio::test]
async fn valid_tokens_of_each_algorithm_are_accepted_with_their_identity() {
    let (keys, _s, v) = setup(&[]).await;
    for k in keys.all() {
        let t = k.mint(&claims("alice")).unwrap();
        let ok = v.verify(&t, now()).await.unwrap();
        assert_eq!(ok.alg, k.alg());
        assert_eq!(&*ok.kid, k.kid());
        assert_eq!(ok.identity.user_id, "alice");
        assert_eq!(&*ok.identity.issuer, ISSUER);
        assert_eq!(ok.identity.scopes, vec!["messages:send", "profile"]);
        assert_eq!(ok.identity.session_id, "jti-alice");
    }
}

#[tokio::test]
async fn alg_none_in_any_case_is_rejected_with_or_without_signature() {
    let (keys, _s, v) = setup(&[]).await;
    let body = b64(claims("alice").to_string());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = b64(json!({"alg": alg, "kid": "rsa-1"}).to_string());
        assert_eq!(
            refused(&v, &format!("{h}.{body}.")).await,
            AuthError::AlgNone
        );
        let signed = keys
            .rsa
            .sign_parts(&json!({"alg": alg, "kid": "rsa-1"}), &claims("alice"))
            .unwrap();
        assert_eq!(refused(&v, &signed).await, AuthError::AlgNone);
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_rejected_before_any_crypto() {
    use aws_lc_rs::hmac;
    let (keys, server, v) = setup(&[]).await;
    for pubkey in [keys.rsa.public_jwk(), keys.ec.public_jwk()] {
        let h = b64(json!({"alg":"HS256","kid": pubkey["kid"]}).to_string());
        let p = b64(claims("mallory").to_string());
        let k = hmac::Key::new(hmac::HMAC_SHA256, pubkey.to_string().as_bytes());
        let sig = hmac::sign(&k, format!("{h}.{p}").as_bytes());
        let t = format!("{h}.{p}.{}", b64(sig.as_ref()));
        assert_eq!(refused(&v, &t).await, AuthError::AlgNotAllowed);
    }
    assert_eq!(server.hits(), 0, "refused before any key lookup");
}

#[tokio::test]
async fn algorithm_outside_the_allowlist_is_rejected() {
    let (keys, _s, v) = setup(&[("WSAUTH_ALGORITHMS", "ES256")]).await;
    let t = keys.rsa.mint(&claims("alice")).unwrap();
    assert_eq!(refused(&v, &t).await, AuthError::AlgNotAllowed);
    assert!(
        v.verify(&keys.ec.mint(&claims("alice")).unwrap(), now())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn alg_must_fit_the_key_type() {
    let (keys, _s, v) = setup(&[]).await;
    // An ES256 token naming the RSA key's kid.
    let t = keys
        .ec
        .sign_parts(&json!({"alg":"ES256","kid":"rsa-1"}), &claims("alice"))
        .unwrap();
    assert_eq!(refused(&v, &t).await, AuthError::KeyAlgMismatch);
    let t = keys
        .rsa
        .sign_parts(&json!({"alg":"EdDSA","kid":"ed-1"}), &claims("alice"))
        .unwrap();
    assert_eq!(refused(&v, &t).await, AuthError::SignatureEncoding);
}

#[tokio::test]
async fn crit_header_is_rejected() {
    let (keys, _s, v) = setup(&[]).await;
    let mut h = keys.rsa.header();
    h["crit"] = json!(["exp-ext"]);
    h["exp-ext"] = json!(true);
    let t = keys.rsa.sign_parts(&h, &claims("alice")).unwrap();
    assert_eq!(refused(&v, &t).await, AuthError::CritUnsupported);
}

#[tokio::test]
async fn header_members_present_as_null_are_malformed_not_absent() {
    let (keys, _s, v) = setup(&[]).await;
    for member in ["crit", "typ", "kid"] {
        let mut h = keys.rsa.header();
        h[member] = serde_json::Value::Null;
        let t = keys.rsa.sign_parts(&h, &claims("alice")).unwrap();
        assert_eq!(
            refused(&v, &t).await,
            AuthError::Malformed("header"),
            "{member}: null"
        );
    }
    // The same members as the types RFC 7515 gives them still read as before.
    let mut h = keys.rsa.header();
    h["typ"] = json!("JWT");
    let t = keys.rsa.sign_parts(&h, &claims("alice")).unwrap();
    assert!(v.verify(&t, now()).await.is_ok());
}

#[tokio::test]
async fn embedded_and_remote_key_headers_are_ignored() {
    let (_keys, server, v) = setup(&[]).await;
    let attacker = SigningKey::generate(Algorithm::RS256, "rsa-1").unwrap();
    for extra in [
        json!({"jku": "http://127.0.0.1:1/evil.json"}),
        json!({"x5u": "http://127.0.0.1:1/evil.pem"}),
        json!({"jwk": attacker.public_jwk()}),
        json!({"x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}),
    ] {
        let mut h = attacker.header();
        for (k, val) in extra.as_object().unwrap() {
            h[k] = val.clone();
        }
        let t = attacker.sign_parts(&h, &claims("mallory")).unwrap();
        assert_eq!(refused(&v, &t).await, AuthError::BadSignature, "{extra}");
    }
    assert_eq!(server.hits(), 1, "only the configured JWKS was fetched");
}

#[tokio::test]
async fn expiry_is_enforced_with_the_leeway() {
    let (keys, _s, v) = setup(&[("WSAUTH_LEEWAY_SECONDS", "30")]).await;
    let mut c = claims("alice");
    c["exp"] = json!(now() - 20);
    assert!(
        v.verify(&keys.rsa.mint(&c).unwrap(), now()).await.is_ok(),
        "within leeway"
    );
    c["exp"] = json!(now() - 31);
    assert_eq!(
        refused(&v, &keys.rsa.mint(&c).unwrap()).await,
        AuthError::Expired
    );
}

#[tokio::test]
async fn a_token_living_longer_than_the_maximum_lifetime_is_rejected() {
    let (keys, _s, v) = setup(&[("WSAUTH_MAX_TOKEN_LIFETIME_SECONDS", "3600")]).await;
    let mut c = claims("alice");
    c["iat"] = json!(now());
    c["exp"] = json!(now() + 3600);
    assert!(v.verify(&keys.ec.mint(&c).unwrap(), now()).await.is_ok());
    c["exp"] = json!(now() + 3601);
    assert_eq!(
        refused(&v, &keys.ec.mint(&c).unwrap()).await,
        AuthError::LifetimeTooLong
    );
    // Without `iat`, the lifetime left counts.
    c.as_object_mut().unwrap().remove("iat");
    assert_eq!(
        refused(&v, &keys.ec.mint(&c).unwrap()).await,
        AuthError::LifetimeTooLong
    );
    // The default is a day.
    let (keys, _s, v) = setup(&[]).await;
    let mut c = claims("alice");
    c["iat"] = json!(now());
    c["exp"] = json!(now() + 86_401);
    assert_eq!(
        refused(&v, &keys.ec.mint(&c).unwrap()).await,
        AuthError::LifetimeTooLong
    );
}

#[tokio::test]
async fn future_nbf_and_future_iat_are_rejected() {
    let (keys, _s, v) = setup(&[]).await;
    let mut c = claims("alice");
    c["nbf"] = json!(now() + 120);
    assert_eq!(
        refused(&v, &keys.ec.mint(&c).unwrap()).await,
        AuthError::NotYetValid
    );
    let mut c = claims("alice");
    c["iat"] = json!(now() + 120);
    assert_eq!(
        refused(&v, &keys.ec.mint(&c).unwrap()).await,
        AuthError::IssuedInFuture
    );
    let mut c = claims("alice");
    c["iat"] = json!(now() + 10);
    assert!(
        v.verify(&keys.ec.mint(&c).unwrap(), now()).await.is_ok(),
        "within leeway"
    );
}

#[tokio::test]
async fn missing_exp_and_string_exp_are_rejected() {
    let (keys, _s, v) = setup(&[]).await;
    let mut c = claims("alice");
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        refused(&v, &keys.ed.mint(&c).unwrap()).await,
        AuthError::MissingClaim("exp")
    );
    c["exp"] = json!((now() + 600).to_string());
    assert!(matches!(
        refused(&v, &keys.ed.mint(&c).unwrap()).await,
        AuthError::Malformed(_)
    ));
}

#[tokio::test]
async fn issuer_must_match_exactly() {
    let (keys, _s, v) = setup(&[]).await;
    for (iss, err) in [
        (json!("https://evil.test"), AuthError::IssuerMismatch),
        (json!(format!("{ISSUER}/")), AuthError::IssuerMismatch),
        (json!(null), AuthError::MissingClaim("iss")),
    ] {
        let mut c = claims("alice");
        if iss.is_null() {
            c.as_object_mut().unwrap().remove("iss");
        } else {
            c["iss"] = iss;
        }
        assert_eq!(refused(&v, &keys.rsa.mint(&c).unwrap()).await, err);
    }
}

#[tokio::test]
async fn audience_must_contain_a_configured_one() {
    let (keys, _s, v) = setup(&[]).await;
    let mut c = claims("alice");
    c["aud"] = json!("other-api");
    assert_eq!(
        refused(&v, &keys.rsa.mint(&c).unwrap()).await,
        AuthError::AudienceMismatch
    );
    c["aud"] = json!(["other-api", AUDIENCE]);
    assert!(v.verify(&keys.rsa.mint(&c).unwrap(), now()).await.is_ok());
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        refused(&v, &keys.rsa.mint(&c).unwrap()).await,
        AuthError::MissingClaim("aud")
    );
}

#[tokio::test]
async fn cognito_token_use_and_client_id_are_enforced_when_configured() {
    let (keys, _s, v) = setup(&[
        ("WSAUTH_TOKEN_USE", "access"),
        ("WSAUTH_CLIENT_ID", "app-client"),
        ("WSAUTH_AUDIENCE", "app-client"),
    ])
    .await;
    let now = now();
    // A Cognito access token: no aud, client_id instead.
    let access = json!({"iss": ISSUER, "sub": "alice", "exp": now + 600, "iat": now,
        "token_use": "access", "client_id": "app-client", "scope": "messages:send"});
    assert!(
        v.verify(&keys.rsa.mint(&access).unwrap(), now)
            .await
            .is_ok()
    );
    let mut id = access.clone();
    id["token_use"] = json!("id");
    id["aud"] = json!("app-client");
    assert_eq!(
        refused(&v, &keys.rsa.mint(&id).unwrap()).await,
        AuthError::TokenUseMismatch
    );
    let mut other = access.clone();
    other["client_id"] = json!("another-client");
    other["aud"] = json!("app-client");
    assert_eq!(
        refused(&v, &keys.rsa.mint(&other).unwrap()).await,
        AuthError::ClientIdMismatch
    );
}

#[tokio::test]
async fn stripped_or_altered_tokens_are_rejected() {
    let (keys, _s, v) = setup(&[]).await;
    let t = keys.rsa.mint(&claims("alice")).unwrap();
    let (signing_input, _sig) = t.rsplit_once('.').unwrap();
    assert_eq!(
        refused(&v, &format!("{signing_input}.")).await,
        AuthError::SignatureEncoding
    );
    assert!(matches!(
        refused(&v, signing_input).await,
        AuthError::Malformed(_)
    ));
    let parts: Vec<&str> = t.split('.').collect();
    let forged = b64(claims("mallory").to_string());
    assert_eq!(
        refused(&v, &format!("{}.{forged}.{}", parts[0], parts[2])).await,
        AuthError::BadSignature
    );
    let mut h = keys.rsa.header();
    h["typ"] = json!("at+jwt");
    let altered_header = b64(h.to_string());
    assert_eq!(
        refused(&v, &format!("{altered_header}.{}.{}", parts[1], parts[2])).await,
        AuthError::BadSignature
    );
    assert!(matches!(
        refused(&v, &format!("{t}.x.y")).await,
        AuthError::Malformed(_)
    ));
}

#[tokio::test]
async fn ecdsa_zero_signature_cve_2022_21449_is_rejected() {
    let (keys, _s, v) = setup(&[]).await;
    let t = keys.ec.mint(&claims("alice")).unwrap();
    let (si, _) = t.rsplit_once('.').unwrap();
    let zero = b64([0u8; 64]);
    assert_eq!(
        refused(&v, &format!("{si}.{zero}")).await,
        AuthError::SignatureEncoding
    );
}

#[tokio::test]
async fn der_encoded_ecdsa_signature_is_rejected() {
    let (keys, _s, v) = setup(&[]).await;
    let t = keys.ec.mint(&claims("alice")).unwrap();
    let (si, sig) = t.rsplit_once('.').unwrap();
    let raw = unb64(sig);
    let der = wsauth_devkit::hostile::ecdsa_der(&raw);
    assert_eq!(
        refused(&v, &format!("{si}.{}", b64(der))).await,
        AuthError::SignatureEncoding
    );
}

#[tokio::test]
async fn non_canonical_base64url_is_rejected() {
    let (keys, _s, v) = setup(&[]).await;
    let t = keys.ed.mint(&claims("alice")).unwrap();
    let (si, sig) = t.rsplit_once('.').unwrap();
    // 64 bytes encode to 86 chars whose last char carries 4 unused bits; set one of them.
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    let tweaked = alphabet.chars().nth(idx | 1).unwrap();
    let noncanon = format!("{}{}", &sig[..sig.len() - 1], tweaked);
    assert_ne!(noncanon, sig);
    assert!(matches!(
        refused(&v, &format!("{si}.{noncanon}")).await,
        AuthError::Malformed(_)
    ));
    assert!(matches!(
        refused(&v, &format!("{si}.{sig}==")).await,
        AuthError::Malformed(_)
    ));
    let std_alphabet = sig.replace('-', "+").replace('_', "/");
    if std_alphabet != sig {
        assert!(matches!(
            refused(&v, &format!("{si}.{std_alphabet}")).await,
            AuthError::Malformed(_)
        ));
    }
}

#[tokio::test]
async fn a_one_megabyte_token_is_refused_before_parsing() {
    let (_keys, server, v) = setup(&[]).await;
    let huge = format!("{}.{}.{}", "a".repeat(1000), "b".repeat(1_048_576), "c");
    assert_eq!(refused(&v, &huge).await, AuthError::TokenTooLarge);
    let big_kid = SigningKey::generate(Algorithm::EdDSA, &"k".repeat(10_240)).unwrap();
    let t = big_kid.mint(&claims("alice")).unwrap();
    assert!(matches!(
        refused(&v, &t).await,
        AuthError::TokenTooLarge | AuthError::Malformed(_)
    ));
    assert_eq!(server.hits(), 0, "no key lookup for oversized input");
}

#[tokio::test]
async fn a_token_without_kid_is_rejected() {
    let (keys, _s, v) = setup(&[]).await;
    let t = keys
        .rsa
        .sign_parts(&json!({"alg":"RS256"}), &claims("alice"))
        .unwrap();
    assert_eq!(refused(&v, &t).await, AuthError::MissingKid);
}

#[tokio::test]
async fn another_issuers_key_with_the_same_kid_is_rejected() {
    let (_keys, _s, v) = setup(&[]).await;
    let other_issuer_key = SigningKey::generate(Algorithm::RS256, "rsa-1").unwrap();
    let t = other_issuer_key.mint(&claims("alice")).unwrap();
    assert_eq!(refused(&v, &t).await, AuthError::BadSignature);
}

#[tokio::test]
async fn empty_subject_is_rejected() {
    let (keys, _s, v) = setup(&[]).await;
    for sub in [json!(""), json!("  "), json!(null)] {
        let mut c = claims("x");
        c["sub"] = sub;
        let err = refused(&v, &keys.rsa.mint(&c).unwrap()).await;
        assert!(
            matches!(
                err,
                AuthError::MissingClaim("sub") | AuthError::Malformed(_)
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn scopes_come_from_scope_or_scp_and_session_from_sid_jti_or_hash() {
    let (keys, _s, v) = setup(&[]).await;
    let mut c = claims("alice");
    c.as_object_mut().unwrap().remove("scope");
    c["scp"] = json!(["a:read", "b:write"]);
    c["sid"] = json!("sess-1");
    let id = v
        .verify(&keys.rsa.mint(&c).unwrap(), now())
        .await
        .unwrap()
        .identity;
    assert_eq!(id.scopes, vec!["a:read", "b:write"]);
    assert_eq!(id.session_id, "sess-1");
    let mut c = claims("alice");
    c.as_object_mut().unwrap().remove("jti");
    let t = keys.rsa.mint(&c).unwrap();
    let id = v.verify(&t, now()).await.unwrap().identity;
    assert_eq!(id.session_id.len(), 24);
    assert!(!t.contains(&id.session_id));
    assert_eq!(
        id.issued_at,
        c["iat"].as_i64(),
        "iat carried for revocations"
    );
    // A `sid` or `jti` that is no session ID (too long, control characters) is passed over.
    let mut c = claims("alice");
    c["sid"] = json!("s".repeat(513));
    c["jti"] = json!("jti-1");
    let id = v
        .verify(&keys.rsa.mint(&c).unwrap(), now())
        .await
        .unwrap()
        .identity;
    assert_eq!(id.session_id, "jti-1");
    c["jti"] = json!("a\nb");
    let t = keys.rsa.mint(&c).unwrap();
    let id = v.verify(&t, now()).await.unwrap().identity;
    assert_eq!(id.session_id.len(), 24, "the token hash");
}

#[tokio::test]
async fn an_ecdsa_twin_signature_verifies_as_the_same_session() {
    // (r, s) and (r, n - s) are both valid ECDSA signatures of one message: the session ID of
    // a token without `sid`/`jti` must not depend on which one the token carries.
    let (keys, _s, v) = setup(&[]).await;
    let mut c = claims("alice");
    c.as_object_mut().unwrap().remove("jti");
    let t = keys.ec.mint(&c).unwrap();
    let twin = wsauth_devkit::hostile::ecdsa_twin(&t).unwrap();
    assert_ne!(t, twin);
    let a = v.verify(&t, now()).await.unwrap().identity;
    let b = v.verify(&twin, now()).await.unwrap().identity;
    assert_eq!(a.session_id, b.session_id);
    assert_eq!(a.session_id, wsauth_authorizer::verify::token_hash(&twin));
}

#[tokio::test]
async fn unknown_kid_is_rejected_with_401_class_error() {
    let (_keys, _s, v) = setup(&[]).await;
    let stranger = SigningKey::generate(Algorithm::ES256, "who-knows").unwrap();
    let err = refused(&v, &stranger.mint(&claims("alice")).unwrap()).await;
    assert_eq!(err, AuthError::UnknownKid);
    assert_eq!(err.outcome(), wsauth_authorizer::Outcome::Unauthorized);
}

#[tokio::test]
async fn escaped_json_strings_in_claims_are_read_as_their_values() {
    let (keys, _s, v) = setup(&[]).await;
    let k = &keys.rsa;
    let exp = now() + 600;
    // JSON escapes: `\/` and `\u0061` must compare as `/` and `a`, never as their raw text.
    let iss = ISSUER.replace('/', "\\/");
    let payload = format!(
        r#"{{"iss":"{iss}","aud":["other","wsauth-\u0061pi"],"sub":"\u0061lice","exp":{exp},"scope":"messages:send","jti":"j\"1"}}"#
    );
    let input = format!("{}.{}", b64(k.header().to_string()), b64(&payload));
    let token = format!("{input}.{}", b64(k.sign_raw(input.as_bytes()).unwrap()));
    let ok = v.verify(&token, now()).await.unwrap();
    assert_eq!(ok.identity.user_id, "alice");
    assert_eq!(&*ok.identity.issuer, ISSUER);
    assert_eq!(ok.identity.session_id, "j\"1");
    assert_eq!(ok.identity.scopes, vec!["messages:send"]);
}

#[tokio::test]
async fn a_signature_longer_than_any_key_allows_is_malformed_without_a_key_lookup() {
    let (keys, server, v) = setup(&[]).await;
    let t = keys.rsa.mint(&claims("alice")).unwrap();
    let (input, _) = t.rsplit_once('.').unwrap();
    let long = format!("{input}.{}", b64(vec![7u8; 1025]));
    let before = server.hits();
    assert!(matches!(refused(&v, &long).await, AuthError::Malformed(_)));
    assert_eq!(server.hits(), before, "no fetch for a malformed token");
}

/// Strings with JSON escapes (which cannot be borrowed from the payload) mean what they
/// unescape to, in the header (`kid`, `typ`) and in every claim.
#[tokio::test]
async fn json_escapes_in_the_header_and_claims_mean_what_they_unescape_to() {
    let (keys, _s, v) = setup(&[("WSAUTH_TOKEN_TYPES", "at+jwt")]).await;
    let k = &keys.ec;
    let header = r#"{"alg":"ES256","kid":"e\u0063-1","typ":"at\u002bjwt"}"#;
    let claims = format!(
        r#"{{"iss":"https:\/\/issuer.test","aud":["other","wsauth\u002dapi"],"sub":"o'brien \"the\" \\admin","iat":{n},"exp":{e},"scope":"messages\u003asend","jti":"j\u0074i-1"}}"#,
        n = now(),
        e = now() + 600
    );
    let input = format!("{}.{}", b64(header), b64(&claims));
    let token = format!("{input}.{}", b64(k.sign_raw(input.as_bytes()).unwrap()));
    let ok = v.verify(&token, now()).await.unwrap();
    assert_eq!(&*ok.kid, "ec-1");
    assert_eq!(&*ok.identity.issuer, ISSUER);
    assert_eq!(ok.identity.user_id, r#"o'brien "the" \admin"#);
    assert_eq!(ok.identity.scopes, vec!["messages:send"]);
    assert_eq!(ok.identity.session_id, "jti-1");
    // An escaped `kid` naming no key is unknown, as without escapes.
    let header = r#"{"alg":"ES256","kid":"e\u0063-2","typ":"at+jwt"}"#;
    let input = format!("{}.{}", b64(header), b64(&claims));
    let token = format!("{input}.{}", b64(k.sign_raw(input.as_bytes()).unwrap()));
    assert_eq!(refused(&v, &token).await, AuthError::UnknownKid);
}

/// A JSON text is UTF-8 (RFC 8259): a byte that is not, even in a member wsauth does not read,
/// makes the header or the claims malformed.
#[tokio::test]
async fn invalid_utf8_anywhere_in_the_header_or_claims_is_malformed() {
    let (keys, _s, v) = setup(&[]).await;
    let k = &keys.ec;
    let claims = |extra: &[u8]| {
        let mut c = format!(
            r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"a","iat":{n},"exp":{e},"x":""#,
            n = now(),
            e = now() + 600
        )
        .into_bytes();
        c.extend_from_slice(extra);
        c.extend_from_slice(br#""}"#);
        c
    };
    let header = |extra: &[u8]| {
        let mut h = br#"{"alg":"ES256","kid":"ec-1","x":""#.to_vec();
        h.extend_from_slice(extra);
        h.extend_from_slice(br#""}"#);
        h
    };
    let sign = |h: Vec<u8>, c: Vec<u8>| {
        let input = format!("{}.{}", b64(h), b64(c));
        format!("{input}.{}", b64(k.sign_raw(input.as_bytes()).unwrap()))
    };
    assert!(
        v.verify(&sign(header(b"ok"), claims(b"ok")), now())
            .await
            .is_ok()
    );
    assert_eq!(
        refused(&v, &sign(header(b"ok"), claims(b"\xff"))).await,
        AuthError::Malformed("claims")
    );
    assert_eq!(
        refused(&v, &sign(header(b"\xc3"), claims(b"ok"))).await,
        AuthError::Malformed("header")
    );
}
