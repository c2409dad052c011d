//! Logging set-up for the Lambda binaries and wsauth-local: JSON lines for Lambda (CloudWatch
//! parses them, no timestamps: Lambda adds its own), level from `RUST_LOG` (default `info`).
//! Log decisions, reason codes and users; never a token, a signature or a whole event.
//!
//! Some dependencies log what wsauth never may, below `info`: `lambda_runtime` traces every raw
//! event (an authorizer event holds the bearer token, a `refresh` body another), tungstenite
//! traces the handshake request (`Sec-WebSocket-Protocol: …, bearer.<jwt>`) and frames, hyper
//! and the AWS SDK trace requests (a SigV4 canonical request holds the session token). Whatever
//! `RUST_LOG` says, those crates ([`CAPPED_TARGETS`]) log at `info` at most.

use tracing::{Level, Metadata};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Crates whose events below `info` may carry tokens, raw events or credentials: never logged
/// below `info`, whatever `RUST_LOG` enables (a target is capped when it is one of these or
/// one of their modules).
pub const CAPPED_TARGETS: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_sigv4",
    "aws_runtime",
];

/// Whether events of `target` are held at `info` ([`CAPPED_TARGETS`]).
pub fn is_capped(target: &str) -> bool {
    CAPPED_TARGETS.iter().any(|c| {
        target
            .strip_prefix(c)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Whether an event passes the cap: at `info` or above, or from a crate not capped.
fn within_cap(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::INFO || !is_capped(meta.target())
}

/// The filter of every wsauth binary: `directives` (`RUST_LOG`'s syntax), then the cap on
/// [`CAPPED_TARGETS`], which no directive lifts.
pub fn log_filter<S>(directives: &str) -> impl tracing_subscriber::layer::Filter<S> + use<S>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let env = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    env.and(filter_fn(within_cap))
}

/// `RUST_LOG`, or `info` when it is unset.
fn directives() -> String {
    std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "info".into())
}

/// Installs the Lambda binaries' JSON subscriber. Call once, first thing in `main`.
pub fn init_lambda_tracing() {
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_filter(log_filter(&directives()));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// Installs wsauth-local's subscriber (human-readable lines). Call once, first thing in `main`.
pub fn init_local_tracing() {
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_filter(log_filter(&directives()));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// An in-memory log sink whose lines can be read back: the writer the test suites give
/// `tracing_subscriber` to search every log line for tokens. Clones share one buffer.
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|v| v.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is written under `directives` when each capped crate and wsauth trace a secret.
    fn written(directives: &str) -> String {
        let lines = LogCapture::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(lines.clone())
            .with_filter(log_filter(directives));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime", "raw event bearer.SECRET-1");
            tracing::debug!(target: "lambda_runtime::layers::api_client", "SECRET-2");
            tracing::trace!(target: "tungstenite::handshake::server", "Sec-WebSocket-Protocol: SECRET-3");
            tracing::trace!(target: "hyper::proto::h1", "SECRET-4");
            tracing::debug!(target: "aws_sigv4::http_request::sign", "canonical request SECRET-5");
            tracing::info!(target: "lambda_runtime", "runtime started");
            tracing::trace!(target: "wsauth_routes::router", "wsauth's own trace");
            tracing::trace!(target: "hyperactive", "a crate merely named alike");
        });
        lines.text()
    }

    #[test]
    fn capped_crates_never_log_below_info_whatever_rust_log_says() {
        for directives in [
            "trace",
            "lambda_runtime=trace,tungstenite=trace,hyper=trace,aws_sigv4=trace,trace",
            "lambda_runtime::layers=trace,trace",
            "[invoke]=trace,trace",
        ] {
            let out = written(directives);
            assert!(!out.contains("SECRET"), "{directives}: {out}");
            assert!(out.contains("runtime started"), "{directives}: {out}");
            assert!(out.contains("wsauth's own trace"), "{directives}: {out}");
            assert!(out.contains("merely named alike"), "{directives}: {out}");
        }
        let out = written("info");
        assert!(!out.contains("wsauth's own trace"));
        assert!(out.contains("runtime started"));
    }

    #[test]
    fn a_target_is_capped_with_its_modules_only() {
        assert!(is_capped("lambda_runtime"));
        assert!(is_capped("tungstenite::protocol"));
        assert!(!is_capped("tungstenite_ext"));
        assert!(!is_capped("wsauth_local"));
    }
}
