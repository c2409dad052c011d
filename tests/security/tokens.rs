//! Token attacks: each must be refused at the handshake with 401.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use wsauth_devkit::SigningKey;

use crate::common::Via;
use crate::env::{AUDIENCE, Env, ISSUER, b64, claims, now, unb64};
use crate::{Check, status_check};

fn good(env: &Env) -> Value {
    let _ = env;
    claims("alice", "messages:send", 600)
}

async fn unsigned(env: &Env, alg: &str, with_signature: bool) -> Check {
    let h = b64(json!({"alg": alg, "typ": "JWT", "kid": "rsa-1"}).to_string());
    let p = b64(good(env).to_string());
    let token = if with_signature {
        // Signed for real with the RSA key, then relabelled `none`.
        let signed = env.keys.rsa.mint(&good(env)).unwrap_or_default();
        let sig = signed.rsplit('.').next().unwrap_or_default().to_owned();
        format!("{h}.{p}.{sig}")
    } else {
        format!("{h}.{p}.")
    };
    status_check(401, env.status(&env.main, &token).await)
}

/// RFC 8725 §3.1, CVE-2015-9235: `alg: none`, no signature.
pub async fn alg_none_unsigned(env: &Env) -> Check {
    unsigned(env, "none", false).await
}
/// RFC 8725 §3.1: `alg: None` (letter case), no signature.
pub async fn alg_none_capitalized_unsigned(env: &Env) -> Check {
    unsigned(env, "None", false).await
}
/// RFC 8725 §3.1: `alg: NONE`, no signature.
pub async fn alg_none_upper_unsigned(env: &Env) -> Check {
    unsigned(env, "NONE", false).await
}
/// RFC 8725 §3.1: `alg: nOnE`, no signature.
pub async fn alg_none_mixed_unsigned(env: &Env) -> Check {
    unsigned(env, "nOnE", false).await
}
/// RFC 8725 §3.1: `alg: none` carrying a real signature.
pub async fn alg_none_with_signature(env: &Env) -> Check {
    unsigned(env, "none", true).await
}
/// RFC 8725 §3.1: `alg: None` carrying a real signature.
pub async fn alg_none_capitalized_with_signature(env: &Env) -> Check {
    unsigned(env, "None", true).await
}
/// RFC 8725 §3.1: `alg: NONE` carrying a real signature.
pub async fn alg_none_upper_with_signature(env: &Env) -> Check {
    unsigned(env, "NONE", true).await
}
/// RFC 8725 §3.1: `alg: nOnE` carrying a real signature.
pub async fn alg_none_mixed_with_signature(env: &Env) -> Check {
    unsigned(env, "nOnE", true).await
}

fn hs256(key_bytes: &[u8], kid: &str, claims: &Value) -> String {
    use aws_lc_rs::hmac;
    let h = b64(json!({"alg":"HS256","typ":"JWT","kid":kid}).to_string());
    let p = b64(claims.to_string());
    let k = hmac::Key::new(hmac::HMAC_SHA256, key_bytes);
    let sig = hmac::sign(&k, format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", b64(sig.as_ref()))
}

/// RFC 8725 §2.1 "algorithm confusion" (CVE-2016-10555): HS256 keyed with the issuer's RSA public key.
pub async fn hs256_with_rsa_public_key(env: &Env) -> Check {
    let jwk = env.keys.rsa.public_jwk();
    let mut worst = 0;
    for key in [
        jwk.to_string().into_bytes(),
        unb64(jwk["n"].as_str().unwrap_or_default()),
    ] {
        let s = env
            .status(&env.main, &hs256(&key, "rsa-1", &good(env)))
            .await;
        worst = worst.max(s);
    }
    status_check(401, worst)
}

/// RFC 8725 §2.1 "algorithm confusion": HS256 keyed with the issuer's EC public key.
pub async fn hs256_with_ec_public_key(env: &Env) -> Check {
    let jwk = env.keys.ec.public_jwk();
    let mut point = vec![4u8];
    point.extend(unb64(jwk["x"].as_str().unwrap_or_default()));
    point.extend(unb64(jwk["y"].as_str().unwrap_or_default()));
    let mut worst = 0;
    for key in [jwk.to_string().into_bytes(), point] {
        worst = worst.max(
            env.status(&env.main, &hs256(&key, "ec-1", &good(env)))
                .await,
        );
    }
    status_check(401, worst)
}

async fn with_kid(env: &Env, kid: &str) -> Check {
    let t = env
        .keys
        .ec
        .sign_parts(&json!({"alg":"ES256","typ":"JWT","kid":kid}), &good(env))
        .unwrap_or_default();
    status_check(401, env.status(&env.main, &t).await)
}

/// OWASP JWT cheat sheet, "kid injection": path traversal in `kid`.
pub async fn kid_path_traversal(env: &Env) -> Check {
    with_kid(env, "../../../../../../dev/null").await
}
/// "kid injection": SQL payload in `kid`.
pub async fn kid_sql_injection(env: &Env) -> Check {
    with_kid(env, "x' UNION SELECT 'secret' -- ").await
}
/// "kid injection": shell payload in `kid`.
pub async fn kid_shell_injection(env: &Env) -> Check {
    with_kid(env, "key|$(curl 127.0.0.1:1)`id`").await
}
/// Resource exhaustion: a `kid` of 10 KB.
pub async fn kid_of_10_kb(env: &Env) -> Check {
    with_kid(env, &"k".repeat(10 * 1024)).await
}

async fn key_header(env: &Env, member: &str, value: Value) -> Check {
    let attacker = SigningKey::generate(Algorithm::RS256, "attacker").ok();
    let Some(attacker) = attacker else {
        return Check::new("401", "attacker key generation failed");
    };
    let mut h = attacker.header();
    h[member] = value;
    let t = attacker.sign_parts(&h, &good(env)).unwrap_or_default();
    // Also with the issuer's own kid, so the only way in would be trusting the header's key.
    let mut h2 = h.clone();
    h2["kid"] = json!("rsa-1");
    let t2 = attacker.sign_parts(&h2, &good(env)).unwrap_or_default();
    let a = env.status(&env.main, &t).await;
    let b = env.status(&env.main, &t2).await;
    status_check(401, a.max(b))
}

/// RFC 8725 §3.10 / CVE-2018-0114 class: `jku` pointing at the attacker's JWKS.
pub async fn jku_header_is_ignored(env: &Env) -> Check {
    key_header(env, "jku", json!("http://127.0.0.1:9/attacker-jwks.json")).await
}
/// RFC 8725 §3.10: `x5u` pointing at the attacker's certificate.
pub async fn x5u_header_is_ignored(env: &Env) -> Check {
    key_header(env, "x5u", json!("http://127.0.0.1:9/attacker.pem")).await
}
/// CVE-2018-0114: embedded `jwk` with the attacker's public key.
pub async fn embedded_jwk_is_ignored(env: &Env) -> Check {
    let attacker = SigningKey::generate(Algorithm::RS256, "attacker").ok();
    let jwk = attacker.map(|a| a.public_jwk()).unwrap_or(Value::Null);
    key_header(env, "jwk", jwk).await
}
/// RFC 8725 §3.10: `x5c` with an attacker's certificate chain.
pub async fn x5c_header_is_ignored(env: &Env) -> Check {
    key_header(env, "x5c", json!(["MIIBszCCAVmgAwIBAgIUattacker"])).await
}

async fn claims_case(env: &Env, edit: impl FnOnce(&mut Value)) -> Check {
    let mut c = good(env);
    edit(&mut c);
    let t = env.keys.rsa.mint(&c).unwrap_or_default();
    status_check(401, env.status(&env.main, &t).await)
}

/// RFC 7519 §4.1.4: expired beyond the leeway.
pub async fn expired_beyond_leeway(env: &Env) -> Check {
    claims_case(env, |c| c["exp"] = json!(now() - 31)).await
}
/// RFC 7519 §4.1.5: `nbf` in the future.
pub async fn nbf_in_the_future(env: &Env) -> Check {
    claims_case(env, |c| c["nbf"] = json!(now() + 300)).await
}
/// RFC 8725 §3.8 (pre-dated tokens): `iat` in the future.
pub async fn iat_in_the_future(env: &Env) -> Check {
    claims_case(env, |c| c["iat"] = json!(now() + 300)).await
}
/// RFC 8725 §3.8: missing `exp` (a token that never expires).
pub async fn missing_exp(env: &Env) -> Check {
    claims_case(env, |c| {
        c.as_object_mut().map(|o| o.remove("exp"));
    })
    .await
}
/// Type confusion: `exp` as a string.
pub async fn exp_as_string(env: &Env) -> Check {
    claims_case(env, |c| c["exp"] = json!((now() + 600).to_string())).await
}
/// RFC 8725 §3.8: wrong `iss`.
pub async fn wrong_issuer(env: &Env) -> Check {
    claims_case(env, |c| c["iss"] = json!("https://attacker.test")).await
}
/// RFC 8725 §3.8: `iss` with a trailing slash (no normalisation).
pub async fn issuer_with_trailing_slash(env: &Env) -> Check {
    claims_case(env, |c| c["iss"] = json!(format!("{ISSUER}/"))).await
}
/// RFC 8725 §3.8: missing `iss`.
pub async fn missing_issuer(env: &Env) -> Check {
    claims_case(env, |c| {
        c.as_object_mut().map(|o| o.remove("iss"));
    })
    .await
}
/// RFC 8725 §3.9: wrong `aud` (a token for another service).
pub async fn wrong_audience(env: &Env) -> Check {
    claims_case(env, |c| c["aud"] = json!("another-service")).await
}
/// RFC 8725 §3.9: missing `aud`.
pub async fn missing_audience(env: &Env) -> Check {
    claims_case(env, |c| {
        c.as_object_mut().map(|o| o.remove("aud"));
    })
    .await
}
/// RFC 8725 §3.11 (token substitution): a Cognito ID token where an access token is required.
pub async fn cognito_id_token_where_access_required(env: &Env) -> Check {
    let n = now();
    let id = json!({"iss": ISSUER, "aud": "app-client", "sub": "alice", "exp": n + 600,
        "iat": n, "token_use": "id", "email": "alice@example.com"});
    let access = json!({"iss": ISSUER, "client_id": "app-client", "sub": "alice",
        "exp": n + 600, "iat": n, "token_use": "access", "scope": "messages:send"});
    let t_id = env.keys.rsa.mint(&id).unwrap_or_default();
    let t_access = env.keys.rsa.mint(&access).unwrap_or_default();
    let refused = env.status(&env.cognito, &t_id).await;
    let accepted = env.status(&env.cognito, &t_access).await;
    Check::new(
        "id token 401, access token 101",
        &format!("id token {refused}, access token {accepted}"),
    )
}
/// RFC 7515 §4.1.11: `crit` naming an unknown extension.
pub async fn crit_unknown_extension(env: &Env) -> Check {
    let mut h = env.keys.rsa.header();
    h["crit"] = json!(["urn:example:unknown"]);
    h["urn:example:unknown"] = json!(true);
    let t = env.keys.rsa.sign_parts(&h, &good(env)).unwrap_or_default();
    status_check(401, env.status(&env.main, &t).await)
}
/// RFC 7515 §4.1: `crit` is an array, `typ` and `kid` strings. Present as `null` they are
/// malformed, never read as absent (a `"crit": null` passing for no `crit` at all).
pub async fn header_members_present_as_null(env: &Env) -> Check {
    let mut seen = Vec::new();
    for member in ["crit", "typ", "kid"] {
        let mut h = env.keys.rsa.header();
        h[member] = Value::Null;
        let t = env.keys.rsa.sign_parts(&h, &good(env)).unwrap_or_default();
        seen.push(format!("{member} {}", env.status(&env.main, &t).await));
    }
    Check::new("crit 401, typ 401, kid 401", &seen.join(", "))
}
/// "Signature stripping": the signature segment removed.
pub async fn signature_stripped(env: &Env) -> Check {
    let t = env.keys.rsa.mint(&good(env)).unwrap_or_default();
    let (si, _) = t.rsplit_once('.').unwrap_or_default();
    let a = env.status(&env.main, &format!("{si}.")).await;
    let b = env.status(&env.main, si).await;
    status_check(401, a.max(b))
}
/// Integrity: the header altered after signing.
pub async fn header_altered_after_signing(env: &Env) -> Check {
    let t = env.keys.ed.mint(&good(env)).unwrap_or_default();
    let parts: Vec<&str> = t.split('.').collect();
    let mut h = env.keys.ed.header();
    h["typ"] = json!("at+jwt");
    let forged = format!("{}.{}.{}", b64(h.to_string()), parts[1], parts[2]);
    status_check(401, env.status(&env.main, &forged).await)
}
/// Integrity: the payload altered after signing (privilege escalation attempt).
pub async fn payload_altered_after_signing(env: &Env) -> Check {
    let t = env.keys.ed.mint(&good(env)).unwrap_or_default();
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = good(env);
    c["sub"] = json!("admin");
    c["scope"] = json!("messages:send messages:broadcast admin");
    let forged = format!("{}.{}.{}", parts[0], b64(c.to_string()), parts[2]);
    status_check(401, env.status(&env.main, &forged).await)
}
/// CVE-2022-21449 "psychic signatures": ECDSA with r = s = 0.
pub async fn ecdsa_psychic_signature(env: &Env) -> Check {
    let t = env.keys.ec.mint(&good(env)).unwrap_or_default();
    let (si, _) = t.rsplit_once('.').unwrap_or_default();
    status_check(
        401,
        env.status(&env.main, &format!("{si}.{}", b64([0u8; 64])))
            .await,
    )
}
/// RFC 7518 §3.4: a DER-encoded ECDSA signature (JWS requires the raw r‖s form).
pub async fn ecdsa_der_signature(env: &Env) -> Check {
    let t = env.keys.ec.mint(&good(env)).unwrap_or_default();
    let (si, sig) = t.rsplit_once('.').unwrap_or_default();
    let raw = unb64(sig);
    if raw.len() != 64 {
        return Check::new("401", "could not build the DER signature");
    }
    let der = wsauth_devkit::hostile::ecdsa_der(&raw);
    status_check(
        401,
        env.status(&env.main, &format!("{si}.{}", b64(der))).await,
    )
}
/// RFC 7515 §2 / malleability: non-canonical base64url (unused bits set, padding).
pub async fn non_canonical_base64url(env: &Env) -> Check {
    let t = env.keys.ed.mint(&good(env)).unwrap_or_default();
    let (si, sig) = t.rsplit_once('.').unwrap_or_default();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = sig.chars().last().unwrap_or('A');
    let idx = alphabet.find(last).unwrap_or(0);
    let tweaked = alphabet.chars().nth(idx | 1).unwrap_or('B');
    let noncanon = format!("{}{}", &sig[..sig.len().saturating_sub(1)], tweaked);
    let a = env.status(&env.main, &format!("{si}.{noncanon}")).await;
    let b = env.status(&env.main, &format!("{si}.{sig}==")).await;
    status_check(401, a.max(b))
}
/// Resource exhaustion: a 1 MB token is refused before the authorizer parses anything (the HTTP
/// layer answers 431, as API Gateway's own request limits would) and costs no JWKS fetch.
pub async fn one_megabyte_token_is_refused_cheaply(env: &Env) -> Check {
    let before = env.jwks.hits();
    let huge = format!("{}.{}.{}", "a".repeat(100), "b".repeat(1024 * 1024), "c");
    // A URL cannot carry it at all; the subprotocol header can (and is the configured source).
    let s = env.status(&env.main, &huge).await;
    let refused = s == 401 || s == 431;
    let fetches = env.jwks.hits() - before;
    Check::new(
        "refused (401 or 431), 0 JWKS fetches",
        &format!(
            "{} ({s}), {fetches} JWKS fetches",
            if refused { "refused" } else { "ACCEPTED" }
        ),
    )
    .pass_if(refused && fetches == 0)
}
/// Resource exhaustion: a 64 KB token reaches the authorizer and is refused by its size cap.
pub async fn sixty_four_kilobyte_token_hits_the_size_cap(env: &Env) -> Check {
    let before = env.jwks.hits();
    let mut c = good(env);
    c["pad"] = json!("p".repeat(64 * 1024));
    let t = env.keys.rsa.mint(&c).unwrap_or_default();
    let s = env.status(&env.main, &t).await;
    Check::new(
        "401, 0 JWKS fetches",
        &format!("{s}, {} JWKS fetches", env.jwks.hits() - before),
    )
}
/// Centrifugo CVE-2026-49998 class: a key of another issuer sharing the same `kid`.
pub async fn another_issuers_key_with_the_same_kid(env: &Env) -> Check {
    let other = SigningKey::generate(Algorithm::RS256, "rsa-1").ok();
    let t = other
        .and_then(|k| k.mint(&good(env)).ok())
        .unwrap_or_default();
    status_check(401, env.status(&env.main, &t).await)
}
/// RFC 7519 §4.1.2: an empty `sub` (an anonymous identity).
pub async fn empty_subject(env: &Env) -> Check {
    claims_case(env, |c| c["sub"] = json!("")).await
}
/// Control: a valid token of each algorithm connects (the suite is not refusing everything).
pub async fn control_valid_tokens_connect(env: &Env) -> Check {
    let mut seen = Vec::new();
    for k in [&env.keys.rsa, &env.keys.ec, &env.keys.ed] {
        let t = k.mint(&good(env)).unwrap_or_default();
        seen.push(env.status(&env.main, &t).await.to_string());
    }
    Check::new("101 101 101", &seen.join(" "))
}
/// CWE-598 and parity with API Gateway: exactly the configured source counts. A valid token sent
/// in the query string or the `Authorization` header, while the subprotocol is configured, is
/// no token at all: 401, and the authorizer never runs (no JWKS fetch).
pub async fn token_outside_the_configured_source_is_refused(env: &Env) -> Check {
    let t = env.keys.ec.mint(&good(env)).unwrap_or_default();
    let before = env.jwks.hits();
    let q = env.status_via(&env.main, &t, Via::Query).await;
    let h = env.status_via(&env.main, &t, Via::Header).await;
    let p = env.status_via(&env.main, &t, Via::Subprotocol).await;
    Check::new(
        "query 401, header 401, subprotocol 101",
        &format!("query {q}, header {h}, subprotocol {p}"),
    )
    .pass_if(q == 401 && h == 401 && p == 101 && env.jwks.hits() == before)
}
/// Contract: a valid token lacking the audience's required scopes is not our business at
/// connect time unless `WSAUTH_CONNECT_SCOPES` is set; with it, 403.
pub async fn missing_connect_scope_is_403(env: &Env) -> Check {
    let _ = AUDIENCE;
    let cfg = crate::env::config(&env.jwks.url, &[("WSAUTH_CONNECT_SCOPES", "ws:connect")]);
    let local = crate::common::Local::external(wsauth_local::GatewayOptions::default(), cfg).await;
    let without = env.keys.rsa.mint(&good(env)).unwrap_or_default();
    let mut c = good(env);
    c["scope"] = json!("ws:connect");
    let with = env.keys.rsa.mint(&c).unwrap_or_default();
    let a = env.status(&local, &without).await;
    let b = env.status(&local, &with).await;
    Check::new("without 403, with 101", &format!("without {a}, with {b}"))
}
/// RFC 8725 §3.11, RFC 9068: with `WSAUTH_TOKEN_TYPES=at+jwt`, an OIDC ID token (`typ: JWT`)
/// or a token without `typ` is refused; `at+jwt` and `application/at+jwt` pass.
pub async fn id_token_refused_where_at_jwt_is_required(env: &Env) -> Check {
    let cfg = crate::env::config(&env.jwks.url, &[("WSAUTH_TOKEN_TYPES", "at+jwt")]);
    let local = crate::common::Local::external(wsauth_local::GatewayOptions::default(), cfg).await;
    let k = &env.keys.ec;
    let sign = |typ: Option<&str>| {
        let mut h = json!({"alg": "ES256", "kid": k.kid()});
        if let Some(t) = typ {
            h["typ"] = json!(t);
        }
        k.sign_parts(&h, &good(env)).unwrap_or_default()
    };
    let mut seen = Vec::new();
    for typ in [
        Some("JWT"),
        None,
        Some("at+jwt"),
        Some("application/AT+JWT"),
    ] {
        seen.push(env.status(&local, &sign(typ)).await.to_string());
    }
    Check::new("401 401 101 101", &seen.join(" "))
}
async fn subject_case(env: &Env, sub: &str) -> Check {
    let mut c = good(env);
    c["sub"] = json!(sub);
    let t = env.keys.ec.mint(&c).unwrap_or_default();
    status_check(401, env.status(&env.main, &t).await)
}
/// Identity spoofing: a `sub` of `$server` would make a user's messages look like backend
/// pushes.
pub async fn subject_dollar_server_is_refused(env: &Env) -> Check {
    subject_case(env, "$server").await
}
/// Log injection (CWE-117): a `sub` with a newline.
pub async fn subject_with_a_newline_is_refused(env: &Env) -> Check {
    subject_case(env, "alice\nlevel=ERROR forged").await
}
/// Resource abuse: a `sub` of 2,000 bytes (over DynamoDB-safe 512) is a 401, not a 500.
pub async fn subject_of_2000_bytes_is_refused(env: &Env) -> Check {
    subject_case(env, &"s".repeat(2000)).await
}
/// RFC 6749 §3.3: scopes are separated by U+0020 only; `x\u{a0}messages:broadcast` is one
/// (unknown) scope and grants nothing.
pub async fn no_break_space_does_not_split_scopes(env: &Env) -> Check {
    let mut ws = env.open("nbsp", "x\u{a0}messages:broadcast", 600).await;
    let r = crate::common::request(&mut ws, json!({"action": "broadcast", "data": 1})).await;
    Check::new("forbidden", r["code"].as_str().unwrap_or("-"))
}
