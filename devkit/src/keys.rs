//! An issuer's three test keys, and a test configuration of the verifier.

use serde_json::Value;
use wsauth_authorizer::AuthorizerConfig;
use wsauth_settings::Settings;

/// A configuration for `issuer` and `audience` with its JWKS at `jwks_url` (1 s fetch timeout),
/// `extra` variables set over it.
///
/// # Panics
/// When the result is not a valid configuration: a test's own mistake.
pub fn authorizer_config(
    issuer: &str,
    audience: &str,
    jwks_url: &str,
    extra: &[(&'static str, &str)],
) -> AuthorizerConfig {
    match authorizer_settings(issuer, audience, jwks_url, extra).auth() {
        Ok(c) => c,
        Err(e) => panic!("test configuration: {e}"),
    }
}

/// The settings behind [`authorizer_config`] (what a Lambda's environment would hold).
pub fn authorizer_settings(
    issuer: &str,
    audience: &str,
    jwks_url: &str,
    extra: &[(&'static str, &str)],
) -> Settings {
    let mut settings = Settings::from_pairs(&[
        ("WSAUTH_ISSUER", issuer),
        ("WSAUTH_AUDIENCE", audience),
        ("WSAUTH_JWKS_URL", jwks_url),
        ("WSAUTH_JWKS_TIMEOUT_MS", "1000"),
    ]);
    for (var, value) in extra {
        settings.set(var, Some(value));
    }
    settings
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
