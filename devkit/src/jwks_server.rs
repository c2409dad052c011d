//! A real JWKS endpoint on 127.0.0.1 (port 0) whose answers a test switches (keys, an error
//! status, any body), counting every fetch.

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
