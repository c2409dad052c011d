//! JWKS attacks: floods, poisoned key sets, outages, garbage.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::json;
use wsauth_devkit::Mode;
use wsauth_devkit::SigningKey;

use crate::Check;
use crate::env::{Env, claims};

/// A token of alice's for ten minutes, signed by `key` (empty when it cannot sign).
fn alice(key: &SigningKey) -> String {
    key.mint(&claims("alice", "", 600)).unwrap_or_default()
}

/// DoS on the IdP ("kid flooding"): 1,000 tokens with random `kid`s cause at most one JWKS fetch.
pub async fn random_kid_flood_costs_at_most_one_fetch(env: &Env) -> Check {
    // A fresh instance, its cache warm and its refetch budget unused.
    let jwks = wsauth_devkit::JwksServer::start(env.keys.jwks())
        .await
        .expect("JWKS server");
    let cfg = crate::env::config(&jwks.url, &[("WSAUTH_JWKS_COOLDOWN_SECONDS", "60")]);
    let local = crate::common::Local::external(wsauth_local::GatewayOptions::default(), cfg).await;
    let warm = env.status(&local, &alice(&env.keys.rsa)).await;
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
    let token = alice(&env.keys.rsa);
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
    let token = alice(&env.keys.ed);
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

async fn server(set: serde_json::Value) -> wsauth_devkit::JwksServer {
    wsauth_devkit::JwksServer::start(set)
        .await
        .expect("JWKS server")
}

/// A token of `sub` for issuer `iss`, signed by `key`.
fn token_for(key: &SigningKey, iss: &str, sub: &str) -> String {
    let mut c = claims(sub, "", 600);
    c["iss"] = json!(iss);
    key.mint(&c).unwrap_or_default()
}

/// Key confusion across tenants: two issuers whose keys share a `kid`. Each token verifies with
/// its own issuer's key only, and the user IDs carry each issuer's prefix.
pub async fn two_issuers_sharing_a_kid_stay_apart(env: &Env) -> Check {
    let (Ok(ka), Ok(kb)) = (
        SigningKey::generate(Algorithm::ES256, "shared"),
        SigningKey::generate(Algorithm::ES256, "shared"),
    ) else {
        return Check::new("keys", "key generation failed");
    };
    let (ja, jb) = (
        server(wsauth_devkit::jwks_json([&ka])).await,
        server(wsauth_devkit::jwks_json([&kb])).await,
    );
    let issuers = json!([
        {"issuer": "https://a.test", "audience": [crate::env::AUDIENCE], "jwksUrl": ja.url, "userIdPrefix": "a|"},
        {"issuer": "https://b.test", "audience": [crate::env::AUDIENCE], "jwksUrl": jb.url, "userIdPrefix": "b|"},
    ])
    .to_string();
    let settings = wsauth_settings::Settings::from_pairs(&[("WSAUTH_ISSUERS", &issuers)]);
    let local =
        crate::common::Local::external(wsauth_local::GatewayOptions::default(), settings).await;
    let mut seen = Vec::new();
    for (key, iss) in [
        (&ka, "https://a.test"),
        (&kb, "https://b.test"),
        (&kb, "https://a.test"),
        (&ka, "https://b.test"),
    ] {
        let t = token_for(key, iss, "alice");
        env.remember(&t);
        match crate::common::connect(&local.url(), &t, crate::common::Via::Subprotocol).await {
            Ok(mut ws) => {
                let who = crate::common::request(&mut ws, json!({"action": "whoami"})).await;
                seen.push(who["userId"].as_str().unwrap_or("?").to_owned());
            }
            Err(s) => seen.push(s.to_string()),
        }
    }
    Check::new("a|alice b|alice 401 401", &seen.join(" "))
}

/// User IDs of two issuers that could collide: with prefixes `""` and `"b|"`, issuer A's
/// `sub: "b|alice"` would be issuer B's `alice` (push, logout and disconnect would reach both
/// people). Such a configuration (an empty prefix beside others, or one prefix beginning
/// another) stops start-up naming `WSAUTH_ISSUERS`; prefix-free ones start.
pub async fn overlapping_user_id_prefixes_stop_start_up(_env: &Env) -> Check {
    let entry = |iss: &str, prefix: Option<&str>| {
        let mut e = json!({"issuer": iss, "audience": [crate::env::AUDIENCE],
                           "jwksUrl": "http://127.0.0.1:9/jwks"});
        if let Some(p) = prefix {
            e["userIdPrefix"] = json!(p);
        }
        e
    };
    let mut seen = Vec::new();
    for (a, b) in [
        (None, Some("b|")),
        (Some("a"), Some("ab|")),
        (Some("a|"), Some("b|")),
    ] {
        let issuers = json!([entry("https://a.test", a), entry("https://b.test", b)]).to_string();
        let settings = wsauth_settings::Settings::from_pairs(&[("WSAUTH_ISSUERS", &issuers)]);
        let opts = wsauth_local::GatewayOptions {
            settings: settings.clone(),
            ..wsauth_local::GatewayOptions::default()
        };
        let started = wsauth_local::bind(
            "127.0.0.1:0",
            opts,
            wsauth_local::IssuerMode::External(Box::new(match settings.auth() {
                Ok(c) => c,
                Err(e) => {
                    seen.push(format!(
                        "{:?}/{:?}: {}",
                        a.unwrap_or(""),
                        b.unwrap_or(""),
                        e.var
                    ));
                    continue;
                }
            })),
            wsauth_local::StoreKind::Memory,
        )
        .await;
        seen.push(format!(
            "{:?}/{:?}: {}",
            a.unwrap_or(""),
            b.unwrap_or(""),
            if started.is_ok() { "starts" } else { "refused" }
        ));
    }
    Check::new(
        r#"""/"b|": WSAUTH_ISSUERS, "a"/"ab|": WSAUTH_ISSUERS, "a|"/"b|": starts"#,
        &seen.join(", "),
    )
}

/// An `iss` nobody configured is refused before any key is looked up: no JWKS fetch, even with
/// a `kid` the cache has never seen.
pub async fn an_unconfigured_issuer_costs_no_fetch(env: &Env) -> Check {
    let Ok(stranger) = SigningKey::generate(Algorithm::ES256, "never-seen") else {
        return Check::new("key", "key generation failed");
    };
    let before = env.jwks.hits();
    let s = env
        .status(
            &env.main,
            &token_for(&stranger, "https://evil.test", "alice"),
        )
        .await;
    let fetches = env.jwks.hits() - before;
    Check::new("401, 0 fetches", &format!("{s}, {fetches} fetches"))
}

/// Key revocation at the IdP: a key the JWKS no longer lists is refused after one refetch
/// (not kept for the staleness bound); then an emptied JWKS refuses everything.
pub async fn removed_and_emptied_keys_stop_verifying(env: &Env) -> Check {
    let jwks = server(env.keys.jwks()).await;
    let cfg = crate::env::config(&jwks.url, &[("WSAUTH_JWKS_COOLDOWN_SECONDS", "0")]);
    let local = crate::common::Local::external(wsauth_local::GatewayOptions::default(), cfg).await;
    let rsa = alice(&env.keys.rsa);
    let ec = alice(&env.keys.ec);
    let before = env.status(&local, &rsa).await;
    jwks.set(Mode::Json(wsauth_devkit::jwks_json([
        &env.keys.ec,
        &env.keys.ed,
    ])));
    let hits = jwks.hits();
    let Ok(rotated) = SigningKey::generate(Algorithm::EdDSA, "rotated") else {
        return Check::new("key", "key generation failed");
    };
    let _ = env.status(&local, &alice(&rotated)).await;
    let refetches = jwks.hits() - hits;
    let (removed, kept) = (
        env.status(&local, &rsa).await,
        env.status(&local, &ec).await,
    );
    jwks.set(Mode::Json(json!({"keys": []})));
    let _ = env.status(&local, &alice(&rotated)).await;
    let emptied = env.status(&local, &ec).await;
    Check::new(
        "before 101, 1 refetch, removed 401, kept 101, emptied 401",
        &format!(
            "before {before}, {refetches} refetch, removed {removed}, kept {kept}, emptied {emptied}"
        ),
    )
}

/// DoS on a failing IdP: while its JWKS fails, a flood of unknown `kid`s costs it a bounded
/// number of requests (exponential backoff from the cooldown, cold start included).
pub async fn failing_idp_under_a_kid_flood_is_asked_rarely(env: &Env) -> Check {
    let jwks = server(env.keys.jwks()).await;
    jwks.set(Mode::Status(503));
    let cfg = crate::env::config(&jwks.url, &[("WSAUTH_JWKS_COOLDOWN_SECONDS", "1")]);
    let local = crate::common::Local::external(wsauth_local::GatewayOptions::default(), cfg).await;
    let started = std::time::Instant::now();
    let mut refused = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        let kid = format!("flood-{refused}");
        let Ok(k) = SigningKey::generate(Algorithm::EdDSA, &kid) else {
            break;
        };
        if env.status(&local, &alice(&k)).await != 101 {
            refused += 1;
        }
    }
    let fetches = jwks.hits();
    Check::new(
        "every handshake refused, at most 3 fetches in 2.5 s",
        &format!("{refused} refused, {fetches} fetches"),
    )
    .pass_if(refused > 20 && fetches <= 3)
}
