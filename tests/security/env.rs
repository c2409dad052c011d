//! The suite's world: an issuer it controls (keys, JWKS served on 127.0.0.1), and wsauth-local
//! instances configured through the contract's variables against it.

use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use wsauth_devkit::JwksServer;
use wsauth_devkit::SigningKey;
use wsauth_local::GatewayOptions;

use crate::common::{self, Local, Via};

pub const ISSUER: &str = "https://issuer.security.test";
pub const AUDIENCE: &str = "wsauth-security";

pub use wsauth_devkit::Keys;

pub struct Env {
    pub keys: Keys,
    /// JWKS of the main instance (cooldown 60 s: floods cost one fetch).
    pub jwks: JwksServer,
    pub main: Local,
    /// `WSAUTH_TOKEN_USE=access`, `WSAUTH_CLIENT_ID=app-client`.
    pub cognito: Local,
    /// Max staleness 2 s, background refresh always: for the outage cases.
    pub stale_jwks: JwksServer,
    pub stale: Local,
    /// Cooldown 0: every unknown kid refetches (for garbage-JWKS cases).
    pub fragile_jwks: JwksServer,
    pub fragile: Local,
    /// A JWKS of mostly unusable keys plus one good one.
    pub _mixed_jwks: JwksServer,
    pub mixed: Local,
    pub mixed_good: SigningKey,
    /// Every token the suite used, to search the logs for.
    pub tokens: Mutex<Vec<String>>,
}

pub fn config(url: &str, extra: &[(&'static str, &str)]) -> wsauth_settings::Settings {
    wsauth_devkit::authorizer_settings(ISSUER, AUDIENCE, url, extra)
}

async fn jwks_server(v: Value) -> JwksServer {
    JwksServer::start(v)
        .await
        .expect("JWKS server on 127.0.0.1")
}

impl Env {
    pub async fn start() -> Self {
        let keys = Keys::new();
        let jwks = jwks_server(keys.jwks()).await;
        let main = Local::external(
            GatewayOptions::default(),
            config(&jwks.url, &[("WSAUTH_JWKS_COOLDOWN_SECONDS", "60")]),
        )
        .await;
        let cognito = Local::external(
            GatewayOptions::default(),
            config(
                &jwks.url,
                &[
                    ("WSAUTH_TOKEN_USE", "access"),
                    ("WSAUTH_CLIENT_ID", "app-client"),
                    ("WSAUTH_AUDIENCE", "app-client"),
                ],
            ),
        )
        .await;
        let stale_jwks = jwks_server(keys.jwks()).await;
        let stale = Local::external(
            GatewayOptions::default(),
            config(
                &stale_jwks.url,
                &[
                    ("WSAUTH_JWKS_MAX_STALE_SECONDS", "2"),
                    ("WSAUTH_JWKS_REFRESH_SECONDS", "0"),
                    // No backoff: the case checks recovery right after the IdP is back.
                    ("WSAUTH_JWKS_COOLDOWN_SECONDS", "0"),
                ],
            ),
        )
        .await;
        let fragile_jwks = jwks_server(keys.jwks()).await;
        let fragile = Local::external(
            GatewayOptions::default(),
            config(&fragile_jwks.url, &[("WSAUTH_JWKS_COOLDOWN_SECONDS", "0")]),
        )
        .await;
        let mixed_good = SigningKey::generate(Algorithm::ES256, "good").expect("key");
        let b64 = |b: &[u8]| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        };
        let mut weak_n = vec![0xC3u8; 128];
        weak_n[127] |= 1;
        let mixed_set = json!({"keys": [
            {"kty":"oct","kid":"hmac","k": b64(b"a shared secret of thirty-two b!")},
            {"kty":"RSA","kid":"enc","use":"enc","n": b64(&[0xC5u8; 256]),"e":"AQAB"},
            {"kty":"RSA","kid":"weak","n": b64(&weak_n),"e":"AQAB"},
            {"kty":"PQC","kid":"future","pub":"AAAA"},
            mixed_good.public_jwk(),
        ]});
        let mixed_jwks = jwks_server(mixed_set).await;
        let mixed = Local::external(GatewayOptions::default(), config(&mixed_jwks.url, &[])).await;
        Env {
            keys,
            jwks,
            main,
            cognito,
            stale_jwks,
            stale,
            fragile_jwks,
            fragile,
            _mixed_jwks: mixed_jwks,
            mixed,
            mixed_good,
            tokens: Mutex::new(Vec::new()),
        }
    }

    pub fn remember(&self, token: &str) {
        if let Ok(mut t) = self.tokens.lock() {
            t.push(token.to_owned());
        }
    }

    /// The handshake status of `token` on `local`, sent in the subprotocol list (the default
    /// token source), 101 when the upgrade succeeded.
    pub async fn status(&self, local: &Local, token: &str) -> u16 {
        self.status_via(local, token, Via::Subprotocol).await
    }

    /// The handshake status of `token` sent through `via`.
    pub async fn status_via(&self, local: &Local, token: &str, via: Via) -> u16 {
        self.remember(token);
        match common::connect(&local.url(), token, via).await {
            Ok(_) => 101,
            Err(s) => s,
        }
    }

    /// Opens a connection for `sub` with `scope` on the main instance.
    pub async fn open(&self, sub: &str, scope: &str, ttl: i64) -> common::Ws {
        let t = self.keys.ec.mint(&claims(sub, scope, ttl)).expect("mint");
        self.remember(&t);
        common::connect(&self.main.url(), &t, Via::Subprotocol)
            .await
            .expect("a valid token connects")
    }
}

pub fn now() -> i64 {
    wsauth_settings::clock::now_epoch()
}

/// Claims that verify on the main instance.
pub fn claims(sub: &str, scope: &str, ttl: i64) -> Value {
    let now = now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now,
           "exp": now + ttl, "scope": scope})
}

pub use wsauth_devkit::hostile::{b64, unb64};

pub const WAIT: Duration = Duration::from_secs(5);
