//! Logging set-up for the Lambda binaries: JSON lines (CloudWatch parses them), level from
//! `RUST_LOG` (default `info`), no timestamps (Lambda adds its own). Log decisions, reason codes
//! and users; never a token, a signature or a whole event.

/// Installs the JSON subscriber. Call once, first thing in `main`.
pub fn init_lambda_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .try_init();
}
