//! JWKS attacks: floods, poisoned key sets, outages, garbage.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::json;
use wsauth_devkit::Mode;
use wsauth_devkit::SigningKey;

use crate::Check;
use crate::env::{Env, claims};

/// DoS on the IdP ("kid flooding"): 1,000 tokens with random `kid`s cause at most one JWKS fetch.
pub async fn random_kid_flood_costs_at_most_one_fetch(env: &Env) -> Check {
    // A fresh instance, its cache warm and its refetch budget unused.
    let jwks = wsauth_devkit::JwksServer::start(env.keys.jwks())
        .await
        .expect("JWKS server");
    let cfg = crate::env::config(&jwks.url, &[("WSAUTH_JWKS_COOLDOWN_SECONDS", "60")]);
    let local = crate::common::Local::external(wsauth_local::GatewayOptions::default(), cfg).await;
    let warm = env
        .status(
            &local,
            &env.keys
                .rsa
                .mint(&claims("alice", "", 600))
                .unwrap_or_default(),
        )
        .await;
    let before = jwks.hits();
    let mut tokens = Vec::new();
    for i in 0..1000u32 {
        let mut seed = [0u8; 8];
        let _ = aws_lc_rs::rand::fill(&mut seed);
        let kid = format!("rnd-{i}-{}", u64::from_le_bytes(seed));
        let t = env
            .keys
            .ec
            .sign_parts(&json!({"alg":"ES256","kid":kid}), &claims("alice", "", 600))
            .unwrap_or_default();
        tokens.push(t);
    }
    let mut statuses = std::collections::BTreeMap::new();
    for chunk in tokens.chunks(50) {
        let mut set = tokio::task::JoinSet::new();
        for t in chunk {
            let url = local.url();
            let t = t.clone();
            set.spawn(async move {
                match crate::common::connect(&url, &t, crate::common::Via::Subprotocol).await {
                    Ok(_) => 101,
                    Err(s) => s,
                }
            });
        }
        while let Some(r) = set.join_next().await {
            *statuses.entry(r.unwrap_or(0)).or_insert(0u32) += 1;
        }
    }
    let fetches = jwks.hits() - before;
    Check::new(
        "warm 101; 1000 × 401, ≤ 1 fetch",
        &format!(
            "warm {warm}; {} , {} fetch{}",
            statuses
                .iter()
                .map(|(s, n)| format!("{n} × {s}"))
                .collect::<Vec<_>>()
                .join(", "),
            fetches,
            if fetches == 1 { "" } else { "es" }
        )
        .replace(" ,", ","),
    )
    .pass_if(warm == 101 && statuses.get(&401) == Some(&1000) && fetches <= 1)
}

async fn mixed_status(env: &Env, kid: &str) -> u16 {
    // Signed by the good key but naming the unusable key's kid: must not verify.
    let t = env
        .mixed_good
        .sign_parts(&json!({"alg":"ES256","kid":kid}), &claims("alice", "", 600))
        .unwrap_or_default();
    env.status(&env.mixed, &t).await
}

async fn skipped_key(env: &Env, kid: &str) -> Check {
    let bad = mixed_status(env, kid).await;
    let good = env
        .status(
            &env.mixed,
            &env.mixed_good
                .mint(&claims("alice", "", 600))
                .unwrap_or_default(),
        )
        .await;
    Check::new(
        "skipped: 401; good key: 101",
        &format!("skipped: {bad}; good key: {good}"),
    )
}

/// RFC 8725 §3.1 / JWKS poisoning: an `oct` (symmetric) key in the JWKS is skipped.
pub async fn jwks_oct_key_is_skipped(env: &Env) -> Check {
    skipped_key(env, "hmac").await
}
/// RFC 7517 §4.2: a `use: enc` key is skipped.
pub async fn jwks_encryption_key_is_skipped(env: &Env) -> Check {
    skipped_key(env, "enc").await
}
/// NIST SP 800-131A: a 1024-bit RSA key is skipped.
pub async fn jwks_1024_bit_rsa_key_is_skipped(env: &Env) -> Check {
    skipped_key(env, "weak").await
}
/// Robustness: an unknown `kty` is skipped, the set still loads.
pub async fn jwks_unknown_kty_is_skipped(env: &Env) -> Check {
    skipped_key(env, "future").await
}

/// Availability vs. safety: the JWKS endpoint down → cached keys keep working; past the
/// maximum staleness the handshake fails closed (500).
pub async fn jwks_outage_uses_cache_then_fails_closed(env: &Env) -> Check {
    let token = env
        .keys
        .rsa
        .mint(&claims("alice", "", 600))
        .unwrap_or_default();
    let warm = env.status(&env.stale, &token).await;
    env.stale_jwks.set(Mode::Status(503));
    let during = env.status(&env.stale, &token).await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let after = env.status(&env.stale, &token).await;
    env.stale_jwks.set(Mode::Json(env.keys.jwks()));
    let recovered = env.status(&env.stale, &token).await;
    Check::new(
        "up 101, down 101, stale 500, back 101",
        &format!("up {warm}, down {during}, stale {after}, back {recovered}"),
    )
}

async fn garbage(env: &Env, mode: Mode) -> Check {
    let token = env
        .keys
        .ed
        .mint(&claims("alice", "", 600))
        .unwrap_or_default();
    let warm = env.status(&env.fragile, &token).await;
    env.fragile_jwks.set(mode);
    let before = env.fragile_jwks.hits();
    // An unknown kid forces a refetch of the garbage.
    let stranger = SigningKey::generate(Algorithm::EdDSA, "stranger")
        .ok()
        .and_then(|k| k.mint(&claims("alice", "", 600)).ok())
        .unwrap_or_default();
    let unknown = env.status(&env.fragile, &stranger).await;
    let refetched = env.fragile_jwks.hits() > before;
    let cached = env.status(&env.fragile, &token).await;
    env.fragile_jwks.set(Mode::Json(env.keys.jwks()));
    Check::new(
        "refetched, unknown 401, cached key 101",
        &format!(
            "{}, unknown {unknown}, cached key {cached} (warm {warm})",
            if refetched {
                "refetched"
            } else {
                "not refetched"
            }
        ),
    )
    .pass_if(refetched && unknown == 401 && cached == 101 && warm == 101)
}

/// Robustness: the JWKS endpoint answering garbage → no crash, cached keys kept.
pub async fn jwks_garbage_keeps_cached_keys(env: &Env) -> Check {
    garbage(env, Mode::Body(b"<html>502 Bad Gateway</html>".to_vec())).await
}
/// Resource exhaustion: a 10 MB JWKS body → refused, no crash, cached keys kept.
pub async fn jwks_ten_megabyte_body_keeps_cached_keys(env: &Env) -> Check {
    let mut body = br#"{"keys":[{"kty":"RSA","n":""#.to_vec();
    body.extend(std::iter::repeat_n(b'A', 10 * 1024 * 1024));
    body.extend(br#"","e":"AQAB","kid":"big"}]}"#);
    garbage(env, Mode::Body(body)).await
}
