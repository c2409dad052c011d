//! Test support (feature `testing`): a real JWKS endpoint on 127.0.0.1 whose answers a test
//! switches (keys, an error status, any body), counting every fetch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

/// What the JWKS endpoint answers.
#[derive(Clone)]
pub enum Mode {
    /// 200 with this JSON.
    Json(Value),
    /// This status, empty body.
    Status(u16),
    /// 200 with these bytes.
    Body(Vec<u8>),
}

/// A JWKS server on 127.0.0.1, port 0.
#[derive(Clone)]
pub struct JwksServer {
    /// `http://127.0.0.1:{port}/.well-known/jwks.json`.
    pub url: String,
    mode: Arc<Mutex<Mode>>,
    hits: Arc<AtomicU64>,
}

async fn serve_jwks(State(s): State<JwksServer>) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let mode = s
        .mode
        .lock()
        .map(|m| m.clone())
        .unwrap_or(Mode::Status(500));
    match mode {
        Mode::Json(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Mode::Status(code) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        Mode::Body(b) => (StatusCode::OK, b).into_response(),
    }
}

impl JwksServer {
    /// Starts serving `initial`.
    pub async fn start(initial: Value) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr()?);
        let server = JwksServer {
            url,
            mode: Arc::new(Mutex::new(Mode::Json(initial))),
            hits: Arc::new(AtomicU64::new(0)),
        };
        let app = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .with_state(server.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(server)
    }

    /// Changes what the endpoint answers from now on.
    pub fn set(&self, mode: Mode) {
        if let Ok(mut m) = self.mode.lock() {
            *m = mode;
        }
    }

    /// Fetches served so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A configuration for `issuer` and `audience` with its JWKS at `jwks_url` (1 s fetch timeout),
/// `extra` variables set over it.
///
/// # Panics
/// When the result is not a valid configuration: a test's own mistake.
pub fn config(
    issuer: &str,
    audience: &str,
    jwks_url: &str,
    extra: &[(&str, &str)],
) -> crate::AuthorizerConfig {
    let mut vars: Vec<(String, String)> = vec![
        ("WSAUTH_ISSUER".into(), issuer.into()),
        ("WSAUTH_AUDIENCE".into(), audience.into()),
        ("WSAUTH_JWKS_URL".into(), jwks_url.into()),
        ("WSAUTH_JWKS_TIMEOUT_MS".into(), "1000".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(k2, _)| k2 != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    match crate::AuthorizerConfig::from_lookup(&move |k| {
        vars.iter().find(|(k2, _)| k2 == k).map(|(_, v)| v.clone())
    }) {
        Ok(c) => c,
        Err(e) => panic!("test configuration: {e}"),
    }
}

/// An issuer's three keys: RSA 2048 (`rsa-1`), EC P-256 (`ec-1`), Ed25519 (`ed-1`).
pub struct Keys {
    /// RS256.
    pub rsa: crate::issuer::SigningKey,
    /// ES256.
    pub ec: crate::issuer::SigningKey,
    /// EdDSA.
    pub ed: crate::issuer::SigningKey,
}

impl Keys {
    /// Fresh keys.
    ///
    /// # Panics
    /// When key generation fails (the test cannot proceed).
    pub fn new() -> Self {
        let key = |alg, kid| match crate::issuer::SigningKey::generate(alg, kid) {
            Ok(k) => k,
            Err(e) => panic!("key generation: {e}"),
        };
        Self {
            rsa: key(jsonwebtoken::Algorithm::RS256, "rsa-1"),
            ec: key(jsonwebtoken::Algorithm::ES256, "ec-1"),
            ed: key(jsonwebtoken::Algorithm::EdDSA, "ed-1"),
        }
    }

    /// Their public JWKS.
    pub fn jwks(&self) -> Value {
        crate::issuer::jwks_json([&self.rsa, &self.ec, &self.ed])
    }

    /// All three.
    pub fn all(&self) -> [&crate::issuer::SigningKey; 3] {
        [&self.rsa, &self.ec, &self.ed]
    }
}

impl Default for Keys {
    fn default() -> Self {
        Self::new()
    }
}

/// A raw `r‖s` ECDSA signature re-encoded as ASN.1 DER (what JWS forbids).
pub fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let mut v = x.to_vec();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = int(r);
    body.extend(int(s));
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    der
}
