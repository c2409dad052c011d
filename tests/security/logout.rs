//! Logouts that stick (OWASP ASVS V3.3 "session termination"; the "JWT cannot be revoked"
//! weakness): after `logoutUser`/`logoutSession` the same token is refused everywhere, a
//! handshake racing the logout leaves nothing bound, and no token may outlive the revocation.

use serde_json::{Value, json};

use crate::Check;
use crate::common::{self, Seen, Via, Ws, after_second, next, request};
use crate::env::{AUDIENCE, Env, ISSUER, WAIT, now};

/// The suite's leeway (`WSAUTH_LEEWAY_SECONDS` unset: the default).
const LEEWAY: i64 = wsauth_settings::auth::DEFAULT_LEEWAY_SECONDS as i64;

/// Claims of `sub` in session `sid`, issued now, valid `ttl` seconds.
fn claims(sub: &str, sid: &str, ttl: i64) -> Value {
    let now = now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "sid": sid, "iat": now, "exp": now + ttl})
}

fn mint(env: &Env, claims: &Value) -> String {
    let t = env.keys.ec.mint(claims).unwrap_or_default();
    env.remember(&t);
    t
}

async fn status(env: &Env, token: &str) -> u16 {
    env.status(&env.main, token).await
}

/// Whether the server closes `ws` within the suite's wait (frames before the close are skipped).
async fn closes(ws: &mut Ws) -> bool {
    loop {
        match next(ws, WAIT).await {
            Seen::Closed(..) => return true,
            Seen::Json(_) => continue,
            Seen::Timeout => return false,
        }
    }
}

/// A stolen or logged-out token replayed: after `logoutUser` the user's connections close, the
/// same token is refused at the handshake (401) and by `refresh` (`invalid_token`), and only a
/// token issued in a later second connects.
pub async fn logged_out_user_cannot_come_back_with_the_same_token(env: &Env) -> Check {
    let old = mint(env, &claims("logout-victim", "v1", 600));
    let Ok(mut ws) = common::connect(&env.main.url(), &old, Via::Subprotocol).await else {
        return Check::new("a valid token connects", "refused");
    };
    let (s, body) = common::push(
        &env.main,
        json!({"op":"logoutUser","userId":"logout-victim"}),
    )
    .await;
    let closed = closes(&mut ws).await;
    let again = status(env, &old).await;
    // Tokens issued up to the leeway after the logout are revoked too (an IdP clock ahead of
    // ours); one issued after `revokedBefore` connects, here by an IdP clock that far ahead.
    let revoked_before = body["revokedBefore"].as_i64().unwrap_or(i64::MAX);
    after_second(revoked_before - LEEWAY).await;
    let mut later = claims("logout-victim", "v2", 600);
    later["iat"] = json!(revoked_before + 1);
    let fresh = mint(env, &later);
    let (later, refresh) = match common::connect(&env.main.url(), &fresh, Via::Subprotocol).await {
        Ok(mut ws) => {
            let r = request(&mut ws, json!({"action":"refresh","token":old})).await;
            (101, r["code"].as_str().unwrap_or("-").to_owned())
        }
        Err(s) => (s, "-".to_owned()),
    };
    Check::new(
        "push 200 disconnected 1; closed; same token 401; refresh invalid_token; later token 101",
        &format!(
            "push {s} disconnected {}; {}; same token {again}; refresh {refresh}; later token {later}",
            body["disconnected"],
            if closed { "closed" } else { "OPEN" }
        ),
    )
}

/// One device's session ended (`logoutSession`, the token's `sid`): that session stays out,
/// the user's other session is untouched.
pub async fn logged_out_session_stays_out_and_others_stay_in(env: &Env) -> Check {
    let phone = mint(env, &claims("two-devices", "phone", 600));
    let laptop = mint(env, &claims("two-devices", "laptop", 600));
    let (Ok(mut p), Ok(mut l)) = (
        common::connect(&env.main.url(), &phone, Via::Subprotocol).await,
        common::connect(&env.main.url(), &laptop, Via::Subprotocol).await,
    ) else {
        return Check::new("valid tokens connect", "refused");
    };
    let (s, body) =
        common::push(&env.main, json!({"op":"logoutSession","sessionId":"phone"})).await;
    let closed = closes(&mut p).await;
    let pong = request(&mut l, json!({"action":"ping"})).await;
    Check::new(
        "push 200 disconnected 1; phone closed; phone token 401; laptop pong; laptop token 101",
        &format!(
            "push {s} disconnected {}; phone {}; phone token {}; laptop {}; laptop token {}",
            body["disconnected"],
            if closed { "closed" } else { "OPEN" },
            status(env, &phone).await,
            pong["type"].as_str().unwrap_or("-"),
            status(env, &laptop).await
        ),
    )
}

/// A token without `iat` cannot show it was issued after a logout: refused while the
/// revocation lasts.
pub async fn token_without_iat_after_logout_is_refused(env: &Env) -> Check {
    let (s, _) = common::push(&env.main, json!({"op":"logoutUser","userId":"no-iat"})).await;
    let now = now();
    let t = mint(
        env,
        &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "no-iat", "exp": now + 600}),
    );
    let other = mint(
        env,
        &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "never-logged-out", "exp": now + 600}),
    );
    Check::new(
        "push 200; no-iat token 401; another user's no-iat token 101",
        &format!(
            "push {s}; no-iat token {}; another user's no-iat token {}",
            status(env, &t).await,
            status(env, &other).await
        ),
    )
}

/// A token minted to outlive any revocation (a year-long `exp`): refused outright, so a
/// revocation kept `WSAUTH_MAX_TOKEN_LIFETIME_SECONDS` always outlives what it revokes.
pub async fn token_longer_lived_than_the_bound_is_refused(env: &Env) -> Check {
    let now = now();
    let long = mint(
        env,
        &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 86_401}),
    );
    let no_iat = mint(
        env,
        &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now + 86_460}),
    );
    Check::new(
        "exp - iat over a day 401; no iat, exp over a day away 401",
        &format!(
            "exp - iat over a day {}; no iat, exp over a day away {}",
            status(env, &long).await,
            status(env, &no_iat).await
        ),
    )
}

/// The race a naive logout loses: handshakes in flight while the logout sweeps. Whatever the
/// interleaving, nothing of the revoked token stays bound and no socket keeps being served.
pub async fn handshakes_racing_a_logout_leave_nothing_bound(env: &Env) -> Check {
    use futures_util::SinkExt;
    let (mut through, mut refused, mut served, mut left) = (0, 0, 0, 0);
    for round in 0..8 {
        let user = format!("racer-{round}");
        let token = mint(env, &claims(&user, &format!("race-{round}"), 600));
        let connects = futures_util::future::join_all((0..3u64).map(|k| {
            let token = token.clone();
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(k * 3 + round % 3)).await;
                common::connect(&env.main.url(), &token, Via::Subprotocol).await
            }
        }));
        // Started a little later each round, so that some handshakes finish first.
        let logout = async {
            tokio::time::sleep(std::time::Duration::from_millis(round * 3)).await;
            common::push(&env.main, json!({"op":"logoutUser","userId":user})).await
        };
        let (opened, (_, body)) = tokio::join!(connects, logout);
        let t = body["revokedBefore"].as_i64().unwrap_or(i64::MAX);
        left += env
            .main
            .gateway
            .store()
            .user_bindings(&user)
            .await
            .map(|v| v.iter().filter(|b| b.issued_by(t)).count())
            .unwrap_or(99);
        for attempt in opened {
            let Ok(mut ws) = attempt else {
                refused += 1;
                continue;
            };
            through += 1;
            let ping = tokio_tungstenite::tungstenite::Message::Text(r#"{"action":"ping"}"#.into());
            let _ = ws.send(ping).await;
            while let Seen::Json(v) = next(&mut ws, WAIT).await {
                if v["type"] == "pong" {
                    served += 1;
                }
            }
        }
    }
    Check::new(
        "0 bindings left, 0 sockets served after the logout",
        &format!(
            "{left} bindings left, {served} sockets served after the logout ({through} handshakes got through and were swept, {refused} refused 401)"
        ),
    )
    .pass_if(left == 0 && served == 0)
}

/// ECDSA malleability: (r, s) and (r, n − s) both verify. A token without `sid`/`jti` gets its
/// session ID from what is signed, not from its signature, so the twin a holder can make is the
/// same session: `logoutSession` of the one keeps the other out.
pub async fn an_ecdsa_twin_is_logged_out_with_its_token(env: &Env) -> Check {
    let now = now();
    let t = mint(
        env,
        &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "twin-holder", "iat": now, "exp": now + 600}),
    );
    let Some(twin) = wsauth_devkit::hostile::ecdsa_twin(&t) else {
        return Check::new("an ES256 token", "no twin");
    };
    env.remember(&twin);
    let twin_before = status(env, &twin).await;
    let session = wsauth_authorizer::verify::token_hash(&t);
    let (s, body) = common::push(
        &env.main,
        json!({"op":"logoutSession","sessionId": session}),
    )
    .await;
    Check::new(
        "twin 101; logoutSession 200; token 401; twin 401",
        &format!(
            "twin {twin_before}; logoutSession {s}; token {}; twin {}",
            status(env, &t).await,
            status(env, &twin).await
        ),
    )
    .pass_if(
        twin_before == 101
            && s == 200
            && body["revokedBefore"].is_i64()
            && status(env, &t).await == 401
            && status(env, &twin).await == 401,
    )
}

/// An IdP whose clock runs ahead of ours (within the leeway the verifier allows): a token it
/// issued just before the logout carries an `iat` after our "now", and must be logged out too.
pub async fn a_token_from_an_idp_clock_ahead_is_logged_out(env: &Env) -> Check {
    let ahead = LEEWAY - 10;
    let mut c = claims("clock-ahead", "ahead-1", 600);
    c["iat"] = json!(now() + ahead);
    let t = mint(env, &c);
    let Ok(mut ws) = common::connect(&env.main.url(), &t, Via::Subprotocol).await else {
        return Check::new("a token issued 20 s ahead connects", "refused");
    };
    let (s, body) =
        common::push(&env.main, json!({"op":"logoutUser","userId":"clock-ahead"})).await;
    let closed = closes(&mut ws).await;
    Check::new(
        "push 200; closed; same token 401",
        &format!(
            "push {s}; {}; same token {}",
            if closed { "closed" } else { "OPEN" },
            status(env, &t).await
        ),
    )
    .pass_if(
        s == 200
            && closed
            && body["revokedBefore"].as_i64() >= c["iat"].as_i64()
            && status(env, &t).await == 401,
    )
}
