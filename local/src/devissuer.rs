//! The dev issuer: a signing key kept under `.wsauth/`, its JWKS, and tokens minted with it, so
//! that `wsauth-local token` mints tokens a running `wsauth-local serve` accepts.
//!
//! Only used when `WSAUTH_ISSUER` is not set. Issuer and audience are both `wsauth-local`.

use crate::ids::random_hex;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use wsauth_authorizer::AuthorizerConfig;
use wsauth_devkit::{SigningKey, jwks_json};
use wsauth_settings::Settings;

/// The dev issuer's `iss`.
pub const DEV_ISSUER: &str = "wsauth-local";
/// The dev issuer's `aud`.
pub const DEV_AUDIENCE: &str = "wsauth-local";
/// Where the key lives, relative to the working directory.
pub const DEV_DIR: &str = ".wsauth";
const KEY_FILE: &str = "dev-issuer.json";

/// The dev issuer's key.
pub struct DevIssuer {
    key: SigningKey,
    path: PathBuf,
}

impl DevIssuer {
    /// Loads the key from `dir`, creating it (and `dir`) on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, String> {
        let path = dir.join(KEY_FILE);
        if let Ok(raw) = std::fs::read(&path) {
            return Self::parse(&raw, &path);
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let kid = format!("dev-{}", random_hex(6));
        let key = SigningKey::generate(Algorithm::ES256, &kid).map_err(|e| e.to_string())?;
        let pkcs8 = key.to_pkcs8().map_err(|e| e.to_string())?;
        let doc = json!({"kid": kid, "alg": "ES256", "pkcs8": STANDARD.encode(pkcs8)});
        let tmp = dir.join(format!("{KEY_FILE}.{}", random_hex(4)));
        write_private(&tmp, doc.to_string().as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        // Another process may have created the key meanwhile: the first one wins.
        if std::fs::hard_link(&tmp, &path).is_err() && !path.exists() {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("cannot create {}", path.display()));
        }
        let _ = std::fs::remove_file(&tmp);
        let raw =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&raw, &path)
    }

    fn parse(raw: &[u8], path: &Path) -> Result<Self, String> {
        let bad = || {
            format!(
                "{} is not a wsauth dev key; delete it to make a new one",
                path.display()
            )
        };
        let v: Value = serde_json::from_slice(raw).map_err(|_| bad())?;
        let kid = v["kid"].as_str().ok_or_else(bad)?;
        let der = STANDARD
            .decode(v["pkcs8"].as_str().ok_or_else(bad)?)
            .map_err(|_| bad())?;
        let key = SigningKey::from_pkcs8(Algorithm::ES256, kid, &der).map_err(|_| bad())?;
        Ok(Self {
            key,
            path: path.to_owned(),
        })
    }

    /// Where the key is stored.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public JWKS.
    pub fn jwks(&self) -> Value {
        jwks_json([&self.key])
    }

    /// A token for `sub` with space-separated `scope`, valid `ttl` seconds from `now`.
    pub fn mint(&self, sub: &str, scope: &str, ttl: i64, now: i64) -> Result<String, String> {
        let claims = json!({"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": sub, "scope": scope,
            "iat": now, "nbf": now, "exp": now + ttl, "jti": random_hex(8)});
        self.key.mint(&claims).map_err(|e| e.to_string())
    }

    /// The authorizer configuration that accepts this issuer's tokens. The other settings
    /// (connect scopes, leeway, algorithms, token source) still apply.
    pub fn authorizer_config(
        &self,
        settings: &Settings,
        jwks_url: &str,
    ) -> Result<AuthorizerConfig, String> {
        let mut s = settings.clone();
        s.set("WSAUTH_ISSUER", Some(DEV_ISSUER));
        s.set("WSAUTH_AUDIENCE", Some(DEV_AUDIENCE));
        s.set("WSAUTH_JWKS_URL", Some(jwks_url));
        s.set("WSAUTH_TOKEN_USE", None);
        s.set("WSAUTH_CLIENT_ID", None);
        s.auth().map_err(|e| e.to_string())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
}
