//! `wsauth-settings`: what a wsauth process takes from its surroundings, in one place: every
//! setting (the `WSAUTH_*` and `AWS_*` variables wsauth itself reads), the wall clock, and the
//! log set-up. Everything else in wsauth receives these as values.
//!
//! [`Settings`] snapshots the environment once at start
//! (a blank variable counts as unset), and each process asks only for the sections it uses: the
//! authorizer [`Settings::auth`]; `connect` [`Settings::store`] and the management endpoint;
//! `routes` all of them (its `refresh` route verifies tokens); `push` no issuer settings at all.
//! A missing or bad value is a [`ConfigError`] naming the variable, and stops start-up.
//!
//! [`VARIABLES`] lists every variable read here; a test holds it to the README's configuration
//! table, and another checks that no other crate reads a `WSAUTH_` or `AWS_` variable itself.
//!
//! # Layout
//!
//! - this file: [`Settings`], the snapshot of the environment, and the typed sections each
//!   process asks for ([`Settings::auth`], [`Settings::store`], [`Settings::route_policy`], …);
//!   one error type, [`ConfigError`], naming the variable.
//! - [`auth`]: the issuers' settings ([`AuthorizerConfig`]).
//! - [`aws`]: the AWS SDK variables wsauth looks at itself (region, access key) and the one
//!   placeholder region of local endpoints.
//! - [`clock`]: the wall clock (seconds and milliseconds since the epoch).
//! - [`telemetry`]: log set-up for the Lambda binaries and wsauth-local, with the crates that
//!   would log tokens held at `info`.

#![deny(missing_docs)]

pub mod auth;
pub mod aws;
pub mod clock;
pub mod telemetry;

use std::collections::BTreeMap;

use wsauth_policy::RoutePolicy;
use wsauth_protocol::token::{TokenSource, UnknownTokenSource};

/// The environment variable naming the token source.
pub const TOKEN_SOURCE_VAR: &str = "WSAUTH_TOKEN_SOURCE";

/// The variable wsauth-local sets for the functions it runs: where their @connections calls go.
pub const LOCAL_GATEWAY_VAR: &str = "WSAUTH_LOCAL_GATEWAY";

pub use auth::{AuthorizerConfig, IssuerRules, JwksSettings, TokenUse};

/// Every variable wsauth reads, as the README's configuration table lists them.
pub const VARIABLES: [&str; 22] = [
    "WSAUTH_ISSUER",
    "WSAUTH_ISSUERS",
    "WSAUTH_AUDIENCE",
    "WSAUTH_JWKS_URL",
    "WSAUTH_ALGORITHMS",
    "WSAUTH_LEEWAY_SECONDS",
    "WSAUTH_CONNECT_SCOPES",
    "WSAUTH_TOKEN_USE",
    "WSAUTH_CLIENT_ID",
    "WSAUTH_TOKEN_TYPES",
    TOKEN_SOURCE_VAR,
    "WSAUTH_TABLE",
    "WSAUTH_REVOCATIONS_TABLE",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "WSAUTH_MANAGEMENT_ENDPOINT",
    LOCAL_GATEWAY_VAR,
    "WSAUTH_ROUTE_POLICY",
    "WSAUTH_JWKS_REFRESH_SECONDS",
    "WSAUTH_JWKS_MAX_STALE_SECONDS",
    "WSAUTH_JWKS_COOLDOWN_SECONDS",
    "WSAUTH_JWKS_TIMEOUT_MS",
    "WSAUTH_MAX_TOKEN_LIFETIME_SECONDS",
];

/// The DynamoDB table when `WSAUTH_TABLE` is unset.
pub const DEFAULT_TABLE: &str = "wsauth-sessions";

/// How long revocations are kept when neither `WSAUTH_MAX_TOKEN_LIFETIME_SECONDS` nor
/// `WSAUTH_LEEWAY_SECONDS` is set (see [`StoreSettings::revocations_kept_seconds`]).
pub const DEFAULT_REVOCATIONS_KEPT_SECONDS: i64 =
    (auth::DEFAULT_MAX_TOKEN_LIFETIME_SECONDS + auth::DEFAULT_LEEWAY_SECONDS) as i64;

/// The revocations table when `WSAUTH_REVOCATIONS_TABLE` is unset.
pub const DEFAULT_REVOCATIONS_TABLE: &str = "wsauth-revocations";

/// A configuration problem, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    /// A problem with `var`.
    pub fn new(var: &'static str, problem: impl Into<String>) -> Self {
        Self {
            var,
            problem: problem.into(),
        }
    }
}

/// Where bindings live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// The DynamoDB table. `WSAUTH_TABLE`; default `wsauth-sessions`.
    pub table: String,
    /// The table of revocations (logouts). `WSAUTH_REVOCATIONS_TABLE`; default
    /// `wsauth-revocations`.
    pub revocations_table: String,
    /// How long a revocation must be kept: no token it revokes can still be valid after it.
    /// `WSAUTH_MAX_TOKEN_LIFETIME_SECONDS` (default 86400) + `WSAUTH_LEEWAY_SECONDS` (default 30).
    pub revocations_kept_seconds: i64,
    /// The AWS SDK's own DynamoDB endpoint override (`AWS_ENDPOINT_URL_DYNAMODB`, e.g. DynamoDB
    /// Local); the SDK reads it itself, wsauth only to tell a local endpoint. Default: AWS.
    pub dynamodb_endpoint: Option<String>,
}

/// The values of [`VARIABLES`], read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    values: BTreeMap<&'static str, String>,
}

impl Settings {
    /// Reads every variable of [`VARIABLES`] from the process environment, once.
    pub fn from_env() -> Self {
        let mut s = Self::default();
        for var in VARIABLES {
            s.set(var, std::env::var(var).ok().as_deref());
        }
        s
    }

    /// Settings with exactly these values (tests, the dev issuer).
    pub fn from_pairs(pairs: &[(&'static str, &str)]) -> Self {
        let mut s = Self::default();
        for (var, value) in pairs {
            s.set(var, Some(value));
        }
        s
    }

    /// Sets (or, with `None` or a blank value, unsets) `var`.
    pub fn set(&mut self, var: &'static str, value: Option<&str>) {
        debug_assert!(VARIABLES.contains(&var), "{var} is not a wsauth setting");
        match value.filter(|v| !v.trim().is_empty()) {
            Some(v) => self.values.insert(var, v.to_owned()),
            None => self.values.remove(var),
        };
    }

    /// The value of `var`, if set and not blank.
    pub fn get(&self, var: &'static str) -> Option<String> {
        debug_assert!(VARIABLES.contains(&var), "{var} is not a wsauth setting");
        self.values.get(var).cloned()
    }

    /// The verifier's settings (authorizer; the `refresh` route).
    pub fn auth(&self) -> Result<AuthorizerConfig, ConfigError> {
        AuthorizerConfig::from_settings(self)
    }

    /// Whether an issuer is configured at all (`wsauth-local` runs its dev issuer without one).
    pub fn has_issuer(&self) -> bool {
        self.get("WSAUTH_ISSUER").is_some() || self.get("WSAUTH_ISSUERS").is_some()
    }

    /// Where the handshake token travels. `WSAUTH_TOKEN_SOURCE`; default `subprotocol`.
    pub fn token_source(&self) -> Result<TokenSource, ConfigError> {
        match self.get(TOKEN_SOURCE_VAR) {
            None => Ok(TokenSource::default()),
            Some(v) => v
                .parse()
                .map_err(|e: UnknownTokenSource| ConfigError::new(TOKEN_SOURCE_VAR, e.to_string())),
        }
    }

    /// The clock skew allowed on a token's `exp`, `nbf` and `iat`, in seconds: the verifier's
    /// leeway, and how far ahead of now a logout revokes (an `iat` from an IdP clock that runs
    /// ahead). `WSAUTH_LEEWAY_SECONDS`; default 30.
    pub fn leeway_seconds(&self) -> Result<i64, ConfigError> {
        let leeway = auth::seconds(self, "WSAUTH_LEEWAY_SECONDS", auth::DEFAULT_LEEWAY_SECONDS)?;
        Ok(i64::try_from(leeway).unwrap_or(i64::MAX))
    }

    /// The session store's settings.
    pub fn store(&self) -> Result<StoreSettings, ConfigError> {
        let table = |var, default: &str| {
            self.get(var)
                .map_or_else(|| default.to_owned(), |t| t.trim().to_owned())
        };
        let lifetime = auth::seconds(
            self,
            "WSAUTH_MAX_TOKEN_LIFETIME_SECONDS",
            auth::DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
        )?;
        let leeway = u64::try_from(self.leeway_seconds()?).unwrap_or(u64::MAX);
        let (bindings, revocations) = (
            table("WSAUTH_TABLE", DEFAULT_TABLE),
            table("WSAUTH_REVOCATIONS_TABLE", DEFAULT_REVOCATIONS_TABLE),
        );
        if bindings == revocations {
            // A message reads both tables in one request, keyed by table name.
            return Err(ConfigError::new(
                "WSAUTH_REVOCATIONS_TABLE",
                format!("must name another table than WSAUTH_TABLE ({bindings})"),
            ));
        }
        Ok(StoreSettings {
            table: bindings,
            revocations_table: revocations,
            revocations_kept_seconds: i64::try_from(lifetime.saturating_add(leeway))
                .unwrap_or(i64::MAX),
            dynamodb_endpoint: self.get("AWS_ENDPOINT_URL_DYNAMODB"),
        })
    }

    /// The @connections endpoint every call goes to, when set (`WSAUTH_MANAGEMENT_ENDPOINT`,
    /// custom domains); otherwise each binding's own.
    pub fn management_endpoint_override(&self) -> Option<String> {
        self.get("WSAUTH_MANAGEMENT_ENDPOINT")
            .map(|e| e.trim().to_owned())
    }

    /// `WSAUTH_LOCAL_GATEWAY`: where wsauth-local listens, when it runs the functions. Every
    /// @connections call, addressed and signed for its endpoint as on AWS, is then sent there
    /// (its `Host` kept). Loopback URLs only: anything else is refused, so that no setting can
    /// send a signed call to another host than the one it was signed for.
    pub fn local_gateway(&self) -> Result<Option<String>, ConfigError> {
        let Some(url) = self.get(LOCAL_GATEWAY_VAR) else {
            return Ok(None);
        };
        let url = url.trim().trim_end_matches('/').to_owned();
        if url.starts_with("http://") && wsauth_protocol::host::is_loopback_url(&url) {
            Ok(Some(url))
        } else {
            Err(ConfigError::new(
                LOCAL_GATEWAY_VAR,
                format!("{url:?}: must be an http:// loopback URL (wsauth-local's)"),
            ))
        }
    }

    /// The route policy: the defaults with `WSAUTH_ROUTE_POLICY` merged over them.
    pub fn route_policy(&self) -> Result<RoutePolicy, ConfigError> {
        match self.get("WSAUTH_ROUTE_POLICY") {
            Some(v) => RoutePolicy::with_overrides(&v)
                .map_err(|e| ConfigError::new("WSAUTH_ROUTE_POLICY", e.to_string())),
            None => Ok(RoutePolicy::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_are_unset_and_sections_have_their_defaults() {
        let s = Settings::from_pairs(&[("WSAUTH_TABLE", "  "), ("WSAUTH_ROUTE_POLICY", "")]);
        let store = s.store().unwrap();
        assert_eq!(store.table, DEFAULT_TABLE);
        assert_eq!(store.revocations_table, DEFAULT_REVOCATIONS_TABLE);
        assert_eq!(store.revocations_kept_seconds, 86_400 + 30);
        let same =
            Settings::from_pairs(&[("WSAUTH_TABLE", "t"), ("WSAUTH_REVOCATIONS_TABLE", "t")]);
        assert_eq!(same.store().unwrap_err().var, "WSAUTH_REVOCATIONS_TABLE");
        assert_eq!(s.route_policy(), Ok(RoutePolicy::default()));
        assert_eq!(s.token_source(), Ok(TokenSource::Subprotocol));
        assert_eq!(s.management_endpoint_override(), None);
        assert_eq!(s.local_gateway(), Ok(None));
        assert!(!s.has_issuer());
    }

    #[test]
    fn each_section_reads_only_its_variables() {
        // `push` asks for the store and the management endpoint only: a broken issuer setting
        // does not stop it.
        let s = Settings::from_pairs(&[
            ("WSAUTH_ISSUER", "http://not-loopback.example"),
            ("WSAUTH_TABLE", "t1"),
            ("WSAUTH_MANAGEMENT_ENDPOINT", "https://ws.example.com/prod"),
        ]);
        assert_eq!(s.store().unwrap().table, "t1");
        assert_eq!(
            s.management_endpoint_override().as_deref(),
            Some("https://ws.example.com/prod")
        );
        assert_eq!(s.auth().unwrap_err().var, "WSAUTH_AUDIENCE");
    }

    #[test]
    fn the_local_gateway_must_be_a_loopback_http_url() {
        let at = |v: &str| Settings::from_pairs(&[("WSAUTH_LOCAL_GATEWAY", v)]).local_gateway();
        assert_eq!(
            at("http://127.0.0.1:3001/"),
            Ok(Some("http://127.0.0.1:3001".into()))
        );
        for bad in [
            "https://127.0.0.1:3001",
            "http://ws.example.com",
            "http://localhost@evil.example",
            "127.0.0.1:3001",
        ] {
            assert_eq!(at(bad).unwrap_err().var, "WSAUTH_LOCAL_GATEWAY", "{bad}");
        }
    }

    #[test]
    fn revocations_are_kept_as_long_as_a_token_may_live() {
        let s = Settings::from_pairs(&[
            ("WSAUTH_REVOCATIONS_TABLE", "r1"),
            ("WSAUTH_MAX_TOKEN_LIFETIME_SECONDS", "3600"),
            ("WSAUTH_LEEWAY_SECONDS", "5"),
        ]);
        let store = s.store().unwrap();
        assert_eq!(store.revocations_table, "r1");
        assert_eq!(store.revocations_kept_seconds, 3605);
        let bad = Settings::from_pairs(&[("WSAUTH_MAX_TOKEN_LIFETIME_SECONDS", "a day")]);
        assert_eq!(
            bad.store().unwrap_err().var,
            "WSAUTH_MAX_TOKEN_LIFETIME_SECONDS"
        );
    }

    #[test]
    fn a_bad_route_policy_or_token_source_names_the_variable() {
        let s = Settings::from_pairs(&[
            ("WSAUTH_ROUTE_POLICY", "{\"chat\": \"x\"}"),
            ("WSAUTH_TOKEN_SOURCE", "cookie"),
        ]);
        assert_eq!(s.route_policy().unwrap_err().var, "WSAUTH_ROUTE_POLICY");
        assert_eq!(s.token_source().unwrap_err().var, "WSAUTH_TOKEN_SOURCE");
    }
}
