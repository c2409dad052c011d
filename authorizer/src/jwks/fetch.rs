//! Fetching a JWKS: a small trait ([`Fetcher`]) so that the cache policy can be tested with a
//! fake, and [`HttpFetcher`], the real one (reqwest, bounded time and size, no redirects).

use async_trait::async_trait;
use wsauth_settings::JwksSettings;

use super::keys::JwksError;

/// Fetches the raw JWKS body.
#[async_trait]
pub trait Fetcher: Send + Sync + 'static {
    /// One fetch: the body, or why there is none.
    async fn fetch(&self) -> Result<Vec<u8>, JwksError>;
}

/// The JWKS over HTTPS (or HTTP on loopback): one request, `fetch_timeout` at most, the body cut
/// at `max_body_bytes`, redirects not followed.
pub struct HttpFetcher {
    client: reqwest::Client,
    url: String,
    max_body_bytes: usize,
}

impl HttpFetcher {
    /// A fetcher for `settings.url`.
    pub fn new(settings: &JwksSettings) -> Result<Self, JwksError> {
        let client = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wsauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| JwksError::Transport(e.to_string()))?;
        Ok(Self {
            client,
            url: settings.url.clone(),
            max_body_bytes: settings.max_body_bytes,
        })
    }
}

#[async_trait]
impl Fetcher for HttpFetcher {
    async fn fetch(&self) -> Result<Vec<u8>, JwksError> {
        let transport = |e: reqwest::Error| JwksError::Transport(e.without_url().to_string());
        let mut resp = self
            .client
            .get(&self.url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(transport)?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(JwksError::Status(resp.status().as_u16()));
        }
        let cap = self.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > cap as u64) {
            return Err(JwksError::TooLarge(cap));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > cap {
                return Err(JwksError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
