//! The JWKS cache against a real HTTP JWKS on 127.0.0.1: rotation, floods, outages, garbage.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use wsauth_authorizer::AuthError;
use wsauth_devkit::{SigningKey, jwks_json};

#[tokio::test]
async fn a_rotated_key_is_accepted_within_one_refetch() {
    let (keys, server, v) = setup(&[("WSAUTH_JWKS_COOLDOWN_SECONDS", "10")]).await;
    assert!(
        v.verify(&keys.rsa.mint(&claims("a")).unwrap(), now())
            .await
            .is_ok()
    );
    assert_eq!(server.hits(), 1);
    let rotated = SigningKey::generate(Algorithm::RS256, "rsa-2").unwrap();
    server.set(Mode::Json(jwks_json([&rotated, &keys.ec])));
    let t = rotated.mint(&claims("a")).unwrap();
    assert!(v.verify(&t, now()).await.is_ok(), "new kid accepted");
    assert_eq!(server.hits(), 2, "exactly one refetch");
    // The retired key is gone with the set that dropped it.
    assert_eq!(
        v.verify(&keys.rsa.mint(&claims("a")).unwrap(), now())
            .await
            .unwrap_err(),
        AuthError::UnknownKid
    );
}

#[tokio::test]
async fn a_flood_of_1000_random_kids_causes_at_most_one_fetch() {
    let (keys, server, v) = setup(&[("WSAUTH_JWKS_COOLDOWN_SECONDS", "60")]).await;
    assert!(
        v.verify(&keys.ec.mint(&claims("a")).unwrap(), now())
            .await
            .is_ok()
    );
    let before = server.hits();
    let v = Arc::new(v);
    let mut tokens = Vec::new();
    for i in 0..1000 {
        let h = json!({"alg":"ES256","kid": format!("random-{i}-{}", i * 7919)});
        tokens.push(keys.ec.sign_parts(&h, &claims("a")).unwrap());
    }
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            let v = v.clone();
            tokio::spawn(async move { v.verify(&t, now()).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap_err(), AuthError::UnknownKid);
    }
    assert!(
        server.hits() - before <= 1,
        "fetches: {}",
        server.hits() - before
    );
    // Good keys still work, with no further fetch.
    assert!(
        v.verify(&keys.ed.mint(&claims("a")).unwrap(), now())
            .await
            .is_ok()
    );
    assert!(server.hits() - before <= 1);
}

#[tokio::test]
async fn concurrent_cold_lookups_share_one_fetch() {
    let (keys, server, v) = setup(&[]).await;
    let v = Arc::new(v);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let v = v.clone();
            let t = keys.rsa.mint(&claims(&format!("u{i}"))).unwrap();
            tokio::spawn(async move { v.verify(&t, now()).await })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().is_ok());
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn idp_outage_keeps_cached_keys_then_fails_closed_after_max_staleness() {
    let (keys, server, v) = setup(&[
        ("WSAUTH_JWKS_MAX_STALE_SECONDS", "2"),
        ("WSAUTH_JWKS_REFRESH_SECONDS", "0"),
        // No backoff here (a_failing_idp_is_asked_less_and_less_often covers it): the recovery
        // is checked at once.
        ("WSAUTH_JWKS_COOLDOWN_SECONDS", "0"),
    ])
    .await;
    let t = keys.rsa.mint(&claims("a")).unwrap();
    assert!(v.verify(&t, now()).await.is_ok());
    server.set(Mode::Status(503));
    // Background refreshes fail; the cached keys keep working.
    for _ in 0..3 {
        assert!(v.verify(&t, now()).await.is_ok());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server.hits() >= 2, "a background refresh was attempted");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = v.verify(&t, now()).await.unwrap_err();
    assert_eq!(err, AuthError::JwksUnavailable);
    assert_eq!(err.outcome(), wsauth_authorizer::Outcome::Internal);
    // The IdP comes back: keys are fetched again on demand.
    server.set(Mode::Json(keys.jwks()));
    assert!(v.verify(&t, now()).await.is_ok());
}

#[tokio::test]
async fn garbage_or_oversized_jwks_keeps_the_cached_keys() {
    let (keys, server, v) = setup(&[("WSAUTH_JWKS_COOLDOWN_SECONDS", "0")]).await;
    let t = keys.ed.mint(&claims("a")).unwrap();
    assert!(v.verify(&t, now()).await.is_ok());
    let unknown = SigningKey::generate(Algorithm::EdDSA, "new").unwrap();
    let ut = unknown.mint(&claims("a")).unwrap();
    for bad in [
        Mode::Body(b"<html>not json</html>".to_vec()),
        Mode::Body(vec![b'x'; 10 * 1024 * 1024]),
        Mode::Json(json!({"keys": "none"})),
        Mode::Status(500),
    ] {
        server.set(bad);
        let before = server.hits();
        // An unknown kid forces a refetch, which fails...
        assert_eq!(
            v.verify(&ut, now()).await.unwrap_err(),
            AuthError::UnknownKid
        );
        assert_eq!(server.hits(), before + 1);
        // ...and the cached keys are intact.
        assert!(v.verify(&t, now()).await.is_ok());
    }
}

#[tokio::test]
async fn a_successful_fetch_is_authoritative_removed_keys_stop_verifying_at_once() {
    let (keys, server, v) = setup(&[("WSAUTH_JWKS_COOLDOWN_SECONDS", "0")]).await;
    let (rsa, ec) = (
        keys.rsa.mint(&claims("a")).unwrap(),
        keys.ec.mint(&claims("a")).unwrap(),
    );
    assert!(v.verify(&rsa, now()).await.is_ok() && v.verify(&ec, now()).await.is_ok());
    // The issuer drops the RSA key (compromised): the next refetch makes it unknown at once,
    // within the staleness bound.
    server.set(Mode::Json(jwks_json([&keys.ec, &keys.ed])));
    let unknown = SigningKey::generate(Algorithm::EdDSA, "rotated").unwrap();
    let _ = v.verify(&unknown.mint(&claims("a")).unwrap(), now()).await;
    assert_eq!(
        v.verify(&rsa, now()).await.unwrap_err(),
        AuthError::UnknownKid
    );
    assert!(v.verify(&ec, now()).await.is_ok());
    // An emptied set (or one of unusable keys only) is a set: nothing verifies.
    for empty in [
        json!({"keys": []}),
        json!({"keys": [{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}),
    ] {
        server.set(Mode::Json(empty));
        let _ = v.verify(&unknown.mint(&claims("a")).unwrap(), now()).await;
        assert_eq!(
            v.verify(&ec, now()).await.unwrap_err(),
            AuthError::UnknownKid
        );
    }
}

#[tokio::test]
async fn a_failing_idp_is_asked_less_and_less_often() {
    // Cooldown 1 s: failures back off 1 s, 2 s, 4 s, … (cold start included).
    let keys = Keys::new();
    let server = JwksServer::start(keys.jwks()).await;
    server.set(Mode::Status(503));
    let v = std::sync::Arc::new(verifier(config(
        &server.url,
        &[("WSAUTH_JWKS_COOLDOWN_SECONDS", "1")],
    )));
    let started = std::time::Instant::now();
    let mut refused = 0;
    while started.elapsed() < std::time::Duration::from_millis(3500) {
        let stranger = SigningKey::generate(Algorithm::EdDSA, "random").unwrap();
        if v.verify(&stranger.mint(&claims("a")).unwrap(), now())
            .await
            .is_err()
        {
            refused += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused > 50, "{refused} lookups");
    // Attempts at 0 s, 1 s, 3 s: three fetches for over fifty lookups in 3.5 s.
    assert!(server.hits() <= 3, "{} fetches", server.hits());
    // Back up: once the backoff has passed, the keys are fetched and used.
    server.set(Mode::Json(keys.jwks()));
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(
        v.verify(&keys.ec.mint(&claims("a")).unwrap(), now())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn unusable_keys_are_skipped_and_good_keys_still_work() {
    let keys = Keys::new();
    let mut set = keys.jwks();
    let weak_n = b64(vec![0xC1u8; 128]);
    let list = set["keys"].as_array_mut().unwrap();
    list.insert(0, json!({"kty":"oct","kid":"hmac","k":"c2VjcmV0"}));
    list.insert(
        1,
        json!({"kty":"RSA","kid":"enc","use":"enc","n":b64(vec![0xC1u8;256]),"e":"AQAB"}),
    );
    list.insert(2, json!({"kty":"RSA","kid":"weak","n":weak_n,"e":"AQAB"}));
    list.insert(3, json!({"kty":"PQC","kid":"future"}));
    let server = JwksServer::start(set).await;
    let v = verifier(config(&server.url, &[]));
    for k in keys.all() {
        assert!(
            v.verify(&k.mint(&claims("a")).unwrap(), now())
                .await
                .is_ok()
        );
    }
    assert_eq!(v.caches()[0].stats().keys, 3);
}

#[tokio::test]
async fn keys_are_fetched_at_init_and_refreshed_in_the_background() {
    let keys = Keys::new();
    let server = JwksServer::start(keys.jwks()).await;
    let cfg = config(&server.url, &[("WSAUTH_JWKS_REFRESH_SECONDS", "1")]);
    let auth = wsauth_authorizer::Authorizer::init(cfg).await.unwrap();
    assert_eq!(server.hits(), 1, "fetched at cold start");
    let v = auth.verifier();
    assert!(
        v.verify(&keys.rsa.mint(&claims("a")).unwrap(), now())
            .await
            .is_ok()
    );
    assert_eq!(server.hits(), 1, "served from cache");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Stale beyond refresh_after: the request is served at once and a refresh starts.
    assert!(
        v.verify(&keys.rsa.mint(&claims("a")).unwrap(), now())
            .await
            .is_ok()
    );
    for _ in 0..50 {
        if server.hits() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn jwks_unreachable_with_nothing_cached_fails_closed() {
    let keys = Keys::new();
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let v = verifier(config(&url, &[]));
    let err = v
        .verify(&keys.rsa.mint(&claims("a")).unwrap(), now())
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::JwksUnavailable);
}
