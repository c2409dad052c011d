//! The verifier's settings: issuer, audiences, algorithms, leeway, connect scopes, Cognito
//! checks, the token source and the JWKS cache. Every default is documented on its field.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::{ConfigError, Settings};

/// Cognito's `token_use` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// Access tokens (`client_id` claim, often no `aud`).
    Access,
    /// ID tokens (`aud` is the app client ID).
    Id,
}

impl TokenUse {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenUse::Access => "access",
            TokenUse::Id => "id",
        }
    }
}

/// How the JWKS cache behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksSettings {
    /// The issuer's JWKS. `WSAUTH_JWKS_URL`; default `${WSAUTH_ISSUER}/.well-known/jwks.json`.
    /// Must be `https://` except on loopback.
    pub url: String,
    /// Age after which a request triggers a background refresh (the request does not wait).
    /// `WSAUTH_JWKS_REFRESH_SECONDS`; default 300.
    pub refresh_after: Duration,
    /// Age after which cached keys are no longer used: with the IdP down past this, handshakes
    /// fail closed (500). `WSAUTH_JWKS_MAX_STALE_SECONDS`; default 21600 (6 h).
    pub max_staleness: Duration,
    /// Least time between two refetches triggered by an unknown `kid` (the negative cache).
    /// `WSAUTH_JWKS_COOLDOWN_SECONDS`; default 10.
    pub unknown_kid_cooldown: Duration,
    /// Time limit of one JWKS fetch. `WSAUTH_JWKS_TIMEOUT_MS`; default 3000.
    pub fetch_timeout: Duration,
    /// Largest JWKS body read; a larger one is a failed fetch. Default 256 KiB.
    pub max_body_bytes: usize,
}

/// One issuer's rules: whose tokens, for whom, signed how, and how its users are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRules {
    /// The expected `iss`, exact match. `WSAUTH_ISSUER` (or `issuer` in `WSAUTH_ISSUERS`).
    /// Shared: every identity this issuer's tokens establish names it.
    pub issuer: Arc<str>,
    /// Accepted audiences; `aud` must contain one. `WSAUTH_AUDIENCE` (comma-separated).
    pub audiences: Vec<String>,
    /// Accepted `alg` values. `WSAUTH_ALGORITHMS`; default [`DEFAULT_ALGORITHMS`]
    /// (`RS256,ES256,EdDSA`). HS* and `none`
    /// are refused at start: a JWKS-verified token is never symmetric.
    pub algorithms: Vec<Algorithm>,
    /// Cognito `token_use` to require. `WSAUTH_TOKEN_USE` (`access` or `id`); default unchecked.
    pub token_use: Option<TokenUse>,
    /// Accepted `typ` header values, normalized (lower case, no `application/`).
    /// `WSAUTH_TOKEN_TYPES` (comma-separated, e.g. `at+jwt`); default unchecked.
    pub token_types: Vec<String>,
    /// Cognito app client IDs. `WSAUTH_CLIENT_ID` (comma-separated); default unchecked.
    pub client_ids: Vec<String>,
    /// Put before `sub` to make the user ID (`userIdPrefix`, several issuers only); default none.
    /// With several issuers no prefix begins another (an empty one begins every one), so one
    /// issuer's user ID never equals another's.
    pub user_id_prefix: String,
    /// The issuer's JWKS and the cache's timing.
    pub jwks: JwksSettings,
}

/// Everything the verifier and the authorizer handler need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// The issuers whose tokens are accepted (`WSAUTH_ISSUER` and its companions: one;
    /// `WSAUTH_ISSUERS`: several). A token's `iss` picks its issuer.
    pub issuers: Vec<IssuerRules>,
    /// Clock skew allowed on `exp`, `nbf`, `iat`. `WSAUTH_LEEWAY_SECONDS`; default 30.
    pub leeway_seconds: u64,
    /// The longest accepted token lifetime (`exp` − `iat`, or `exp` − now without `iat`): a
    /// token minted for a year is refused. `WSAUTH_MAX_TOKEN_LIFETIME_SECONDS`; default 86400.
    pub max_token_lifetime_seconds: u64,
    /// Scopes needed to connect at all (Deny → 403). `WSAUTH_CONNECT_SCOPES` (space-separated);
    /// default none.
    pub connect_scopes: Vec<String>,
    /// The one place the handshake token is read. `WSAUTH_TOKEN_SOURCE` (`subprotocol`, `query`
    /// or `header`); default `subprotocol`. A token anywhere else does not count.
    pub token_source: wsauth_protocol::token::TokenSource,
}

impl AuthorizerConfig {
    /// The position (in [`issuers`](Self::issuers)) and rules of the issuer named `iss`, if it
    /// is configured: how the verifier picks the issuer of a token.
    pub fn issuer(&self, iss: &str) -> Option<(usize, &IssuerRules)> {
        self.issuers
            .iter()
            .enumerate()
            .find(|(_, i)| *i.issuer == *iss)
    }
}

/// Every algorithm wsauth can verify (asymmetric only).
pub const SUPPORTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The algorithms accepted when `WSAUTH_ALGORITHMS` (or an issuer's `algorithms`) is unset.
pub const DEFAULT_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// `algs` as `WSAUTH_ALGORITHMS` spells them (`RS256,ES256,EdDSA`).
pub fn alg_list(algs: &[Algorithm]) -> String {
    algs.iter()
        .map(|a| alg_name(*a))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses an `alg` name exactly as JOSE spells it; only asymmetric algorithms are known.
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    SUPPORTED.iter().copied().find(|a| alg_name(*a) == name)
}

/// The JOSE name of an algorithm.
pub fn alg_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        _ => "unsupported",
    }
}

/// Whether `url` may serve a JWKS: `https://`, or `http://` on a loopback host only.
pub fn check_jwks_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        // The contract's loopback names, exactly (not all of 127.0.0.0/8).
        "http" if matches!(host, "127.0.0.1" | "[::1]" | "::1" | "localhost") => Ok(()),
        "http" => Err("must be https:// (plain http is allowed on loopback only)".into()),
        _ => Err("must be an https:// URL".into()),
    }
}

/// A `typ` value as compared: lower case, without the optional `application/` prefix
/// (RFC 7515 §4.1.9).
pub fn normalize_token_type(t: &str) -> String {
    let t = t.trim().to_ascii_lowercase();
    t.strip_prefix("application/")
        .map(str::to_owned)
        .unwrap_or(t)
}

fn list(v: &str, sep: impl Fn(char) -> bool) -> Vec<String> {
    v.split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `WSAUTH_LEEWAY_SECONDS` when unset.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;

/// `WSAUTH_MAX_TOKEN_LIFETIME_SECONDS` when unset: a day.
pub const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS: u64 = 86_400;

pub(crate) fn seconds(s: &Settings, var: &'static str, default: u64) -> Result<u64, ConfigError> {
    match s.get(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| ConfigError::new(var, format!("expected a whole number, got {v:?}"))),
    }
}

/// One entry of `WSAUTH_ISSUERS`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IssuerEntry {
    issuer: String,
    audience: Vec<String>,
    #[serde(default)]
    jwks_url: Option<String>,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    client_id: Vec<String>,
    #[serde(default)]
    token_types: Vec<String>,
    #[serde(default)]
    user_id_prefix: String,
}

fn algorithms(
    var: &'static str,
    names: Option<Vec<String>>,
) -> Result<Vec<Algorithm>, ConfigError> {
    let Some(names) = names else {
        return Ok(DEFAULT_ALGORITHMS.to_vec());
    };
    let mut algs = Vec::new();
    for name in names {
        let alg = parse_algorithm(&name).ok_or_else(|| {
            ConfigError::new(
                var,
                format!(
                    "{name:?} is not accepted (use {}; symmetric and `none` never are)",
                    alg_list(&SUPPORTED).replace(',', ", ")
                ),
            )
        })?;
        algs.push(alg);
    }
    if algs.is_empty() {
        return Err(ConfigError::new(var, "names no algorithm"));
    }
    Ok(algs)
}

fn token_use(var: &'static str, v: Option<&str>) -> Result<Option<TokenUse>, ConfigError> {
    match v.map(str::trim) {
        None => Ok(None),
        Some("access") => Ok(Some(TokenUse::Access)),
        Some("id") => Ok(Some(TokenUse::Id)),
        Some(other) => Err(ConfigError::new(
            var,
            format!("must be `access` or `id`, got {other:?}"),
        )),
    }
}

fn jwks_settings(s: &Settings, url: String) -> Result<JwksSettings, ConfigError> {
    Ok(JwksSettings {
        url,
        refresh_after: Duration::from_secs(seconds(s, "WSAUTH_JWKS_REFRESH_SECONDS", 300)?),
        max_staleness: Duration::from_secs(seconds(s, "WSAUTH_JWKS_MAX_STALE_SECONDS", 21_600)?),
        unknown_kid_cooldown: Duration::from_secs(seconds(s, "WSAUTH_JWKS_COOLDOWN_SECONDS", 10)?),
        fetch_timeout: Duration::from_millis(seconds(s, "WSAUTH_JWKS_TIMEOUT_MS", 3000)?),
        max_body_bytes: 256 * 1024,
    })
}

fn default_jwks_url(issuer: &str) -> String {
    format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'))
}

impl AuthorizerConfig {
    /// Reads the verifier's variables from `s`.
    pub(crate) fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let issuers = match (s.get("WSAUTH_ISSUERS"), s.get("WSAUTH_ISSUER")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "WSAUTH_ISSUERS",
                    "set WSAUTH_ISSUERS or WSAUTH_ISSUER (and its companions), not both",
                ));
            }
            (Some(json), None) => Self::several(s, &json)?,
            (None, _) => vec![Self::single(s)?],
        };
        Ok(Self {
            issuers,
            leeway_seconds: seconds(s, "WSAUTH_LEEWAY_SECONDS", DEFAULT_LEEWAY_SECONDS)?,
            max_token_lifetime_seconds: seconds(
                s,
                "WSAUTH_MAX_TOKEN_LIFETIME_SECONDS",
                DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
            )?,
            connect_scopes: s
                .get("WSAUTH_CONNECT_SCOPES")
                .map(|v| list(&v, |c| c == ' '))
                .unwrap_or_default(),
            token_source: s.token_source()?,
        })
    }

    /// The one issuer of `WSAUTH_ISSUER` and its companion variables.
    fn single(s: &Settings) -> Result<IssuerRules, ConfigError> {
        let get = |var: &'static str| s.get(var);
        let issuer = get("WSAUTH_ISSUER")
            .map(|s| s.trim().to_owned())
            .ok_or_else(|| ConfigError::new("WSAUTH_ISSUER", "required (the expected `iss`)"))?;
        let audiences = get("WSAUTH_AUDIENCE")
            .map(|v| list(&v, |c| c == ','))
            .unwrap_or_default();
        if audiences.is_empty() {
            return Err(ConfigError::new(
                "WSAUTH_AUDIENCE",
                "required (comma-separated accepted audiences)",
            ));
        }
        let url = get("WSAUTH_JWKS_URL")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| default_jwks_url(&issuer));
        let var = if get("WSAUTH_JWKS_URL").is_some() {
            "WSAUTH_JWKS_URL"
        } else {
            "WSAUTH_ISSUER"
        };
        check_jwks_url(&url).map_err(|p| ConfigError::new(var, format!("JWKS URL {url}: {p}")))?;
        Ok(IssuerRules {
            issuer: issuer.into(),
            audiences,
            algorithms: algorithms(
                "WSAUTH_ALGORITHMS",
                get("WSAUTH_ALGORITHMS").map(|v| list(&v, |c| c == ',' || c.is_whitespace())),
            )?,
            token_use: token_use("WSAUTH_TOKEN_USE", get("WSAUTH_TOKEN_USE").as_deref())?,
            token_types: get("WSAUTH_TOKEN_TYPES")
                .map(|v| {
                    list(&v, |c| c == ',')
                        .iter()
                        .map(|t| normalize_token_type(t))
                        .collect()
                })
                .unwrap_or_default(),
            client_ids: get("WSAUTH_CLIENT_ID")
                .map(|v| list(&v, |c| c == ','))
                .unwrap_or_default(),
            user_id_prefix: String::new(),
            jwks: jwks_settings(s, url)?,
        })
    }

    /// The issuers of `WSAUTH_ISSUERS`: distinct issuers, distinct user ID prefixes.
    fn several(s: &Settings, json: &str) -> Result<Vec<IssuerRules>, ConfigError> {
        const VAR: &str = "WSAUTH_ISSUERS";
        let entries: Vec<IssuerEntry> = serde_json::from_str(json).map_err(|e| {
            ConfigError::new(
                VAR,
                format!(
                    "a JSON array of {{issuer, audience[], jwksUrl?, algorithms?, tokenUse?, \
                     clientId?, tokenTypes?, userIdPrefix?}}: {e}"
                ),
            )
        })?;
        if entries.is_empty() {
            return Err(ConfigError::new(VAR, "names no issuer"));
        }
        let mut issuers: Vec<IssuerRules> = Vec::new();
        for e in entries {
            let issuer = e.issuer.trim().to_owned();
            let what = |p: &str| ConfigError::new(VAR, format!("issuer {issuer:?}: {p}"));
            if issuer.is_empty() {
                return Err(ConfigError::new(VAR, "an entry has an empty `issuer`"));
            }
            if issuers.iter().any(|i| *i.issuer == *issuer) {
                return Err(what("listed twice"));
            }
            // One namespace of user IDs: no prefix is another's prefix (an empty one is
            // everyone's), so `a` + sub₁ = `b` + sub₂ cannot hold for two issuers.
            if let Some(other) = issuers.iter().find(|i| {
                i.user_id_prefix.starts_with(&e.user_id_prefix)
                    || e.user_id_prefix.starts_with(&i.user_id_prefix)
            }) {
                return Err(what(&format!(
                    "its `userIdPrefix` {:?} and issuer {:?}'s {:?} overlap (one begins the \
                     other, or both are empty): their users' IDs could collide; give every \
                     issuer a distinct non-empty prefix that begins no other, e.g. \"a|\" and \"b|\"",
                    e.user_id_prefix, &*other.issuer, other.user_id_prefix
                )));
            }
            if e.user_id_prefix.starts_with('$') || e.user_id_prefix.chars().any(char::is_control) {
                return Err(what(
                    "its `userIdPrefix` starts with `$` or holds a control character: no user ID \
                     could be made with it",
                ));
            }
            let audiences: Vec<String> = e
                .audience
                .iter()
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty())
                .collect();
            if audiences.is_empty() {
                return Err(what("`audience` names no audience"));
            }
            let url = e.jwks_url.unwrap_or_else(|| default_jwks_url(&issuer));
            check_jwks_url(&url).map_err(|p| what(&format!("JWKS URL {url}: {p}")))?;
            issuers.push(IssuerRules {
                audiences,
                algorithms: algorithms(VAR, e.algorithms)?,
                token_use: token_use(VAR, e.token_use.as_deref())?,
                token_types: e
                    .token_types
                    .iter()
                    .map(|t| normalize_token_type(t))
                    .collect(),
                client_ids: e.client_id,
                user_id_prefix: e.user_id_prefix,
                jwks: jwks_settings(s, url)?,
                issuer: issuer.into(),
            });
        }
        Ok(issuers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsauth_protocol::token::TokenSource;

    fn cfg(pairs: &[(&'static str, &str)]) -> Result<AuthorizerConfig, ConfigError> {
        Settings::from_pairs(pairs).auth()
    }

    const BASE: [(&str, &str); 2] = [
        ("WSAUTH_ISSUER", "https://issuer.example.com/"),
        ("WSAUTH_AUDIENCE", "api, web"),
    ];

    #[test]
    fn several_issuers_parse_with_distinct_issuers_and_prefixes() {
        let two = r#"[{"issuer":"https://a.example","audience":["api"],"userIdPrefix":"a|"},
                      {"issuer":"https://b.example","audience":["api"],"userIdPrefix":"b|",
                       "jwksUrl":"https://b.example/keys","algorithms":["ES256"],
                       "tokenTypes":["application/AT+JWT"]}]"#;
        let c = cfg(&[("WSAUTH_ISSUERS", two)]).unwrap();
        assert_eq!(c.issuers.len(), 2);
        let (index, b) = c.issuer("https://b.example").unwrap();
        assert_eq!(index, 1);
        assert_eq!(b.user_id_prefix, "b|");
        assert_eq!(b.jwks.url, "https://b.example/keys");
        assert_eq!(b.algorithms, vec![Algorithm::ES256]);
        assert_eq!(b.token_types, vec!["at+jwt"]);
        assert_eq!(
            c.issuer("https://a.example").unwrap().1.jwks.url,
            "https://a.example/.well-known/jwks.json"
        );
        assert!(c.issuer("https://c.example").is_none());
        for bad in [
            r#"[{"issuer":"https://a.example","audience":["api"]},{"issuer":"https://b.example","audience":["api"]}]"#,
            // Prefixes that overlap: one begins the other, or one is empty (issue #24: A's
            // `sub: "b|alice"` would be B's `alice`).
            r#"[{"issuer":"https://a.example","audience":["api"]},{"issuer":"https://b.example","audience":["api"],"userIdPrefix":"b|"}]"#,
            r#"[{"issuer":"https://a.example","audience":["api"],"userIdPrefix":"b|"},{"issuer":"https://b.example","audience":["api"]}]"#,
            r#"[{"issuer":"https://a.example","audience":["api"],"userIdPrefix":"a"},{"issuer":"https://b.example","audience":["api"],"userIdPrefix":"ab|"}]"#,
            r#"[{"issuer":"https://a.example","audience":["api"],"userIdPrefix":"$a|"}]"#,
            r#"[{"issuer":"https://a.example","audience":["api"],"userIdPrefix":"a|"},{"issuer":"https://a.example","audience":["x"],"userIdPrefix":"b|"}]"#,
            r#"[{"issuer":"https://a.example","audience":[]}]"#,
            r#"[{"issuer":"http://a.example","audience":["api"]}]"#,
            r#"[{"issuer":"https://a.example","audience":["api"],"algorithms":["HS256"]}]"#,
            r#"[{"issuer":"https://a.example","audience":["api"],"extra":1}]"#,
            r#"[]"#,
            r#"{"issuer":"https://a.example"}"#,
        ] {
            assert_eq!(
                cfg(&[("WSAUTH_ISSUERS", bad)]).unwrap_err().var,
                "WSAUTH_ISSUERS",
                "{bad}"
            );
        }
        let mut both = BASE.to_vec();
        both.push(("WSAUTH_ISSUERS", two));
        assert_eq!(cfg(&both).unwrap_err().var, "WSAUTH_ISSUERS");
    }

    #[test]
    fn defaults_are_strict_and_documented() {
        let c = cfg(&BASE).unwrap();
        let i = &c.issuers[0];
        assert_eq!(i.audiences, vec!["api", "web"]);
        assert_eq!(
            i.algorithms,
            vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
        );
        assert_eq!(c.leeway_seconds, 30);
        assert_eq!(
            i.jwks.url,
            "https://issuer.example.com/.well-known/jwks.json"
        );
        assert!(c.connect_scopes.is_empty());
        assert_eq!(i.token_use, None);
        assert_eq!(i.user_id_prefix, "");
        assert_eq!(c.token_source, TokenSource::Subprotocol);
    }

    #[test]
    fn token_source_is_one_of_three_and_a_bad_value_names_the_variable() {
        for (v, want) in [
            ("subprotocol", TokenSource::Subprotocol),
            ("query", TokenSource::Query),
            ("header", TokenSource::Header),
        ] {
            let mut p = BASE.to_vec();
            p.push(("WSAUTH_TOKEN_SOURCE", v));
            assert_eq!(cfg(&p).unwrap().token_source, want);
        }
        for bad in ["Query", "cookie", "query,header"] {
            let mut p = BASE.to_vec();
            p.push(("WSAUTH_TOKEN_SOURCE", bad));
            let e = cfg(&p).unwrap_err();
            assert_eq!(e.var, "WSAUTH_TOKEN_SOURCE", "{bad}");
            assert!(e.to_string().contains("subprotocol"), "{e}");
        }
    }

    #[test]
    fn missing_issuer_or_audience_names_the_variable() {
        let e = cfg(&[("WSAUTH_AUDIENCE", "a")]).unwrap_err();
        assert_eq!(e.var, "WSAUTH_ISSUER");
        let e = cfg(&[("WSAUTH_ISSUER", "https://i")]).unwrap_err();
        assert_eq!(e.var, "WSAUTH_AUDIENCE");
        assert!(e.to_string().starts_with("WSAUTH_AUDIENCE: "));
    }

    #[test]
    fn symmetric_and_none_algorithms_are_refused_at_start() {
        for bad in ["HS256", "none", "RS256,HS512", "rs256"] {
            let mut p = BASE.to_vec();
            p.push(("WSAUTH_ALGORITHMS", bad));
            assert_eq!(cfg(&p).unwrap_err().var, "WSAUTH_ALGORITHMS", "{bad}");
        }
    }

    #[test]
    fn plain_http_jwks_is_refused_except_on_loopback() {
        let mut p = BASE.to_vec();
        p.push(("WSAUTH_JWKS_URL", "http://idp.example.com/jwks"));
        assert_eq!(cfg(&p).unwrap_err().var, "WSAUTH_JWKS_URL");
        for ok in [
            "http://127.0.0.1:9/jwks",
            "http://localhost/jwks",
            "http://[::1]:80/j",
        ] {
            let mut p = BASE.to_vec();
            p.push(("WSAUTH_JWKS_URL", ok));
            assert!(cfg(&p).is_ok(), "{ok}");
        }
        // The contract names three loopback hosts, and only those.
        for refused in ["http://127.0.0.2/jwks", "http://127.0.0.1.nip.io/jwks"] {
            let mut p = BASE.to_vec();
            p.push(("WSAUTH_JWKS_URL", refused));
            assert_eq!(cfg(&p).unwrap_err().var, "WSAUTH_JWKS_URL", "{refused}");
        }
        let e = cfg(&[("WSAUTH_ISSUER", "http://idp"), ("WSAUTH_AUDIENCE", "a")]).unwrap_err();
        assert_eq!(e.var, "WSAUTH_ISSUER");
    }

    #[test]
    fn cognito_and_scope_settings_parse() {
        let mut p = BASE.to_vec();
        p.extend([
            ("WSAUTH_TOKEN_USE", "access"),
            ("WSAUTH_CLIENT_ID", "c1,c2"),
            ("WSAUTH_CONNECT_SCOPES", "ws:connect  chat"),
            ("WSAUTH_LEEWAY_SECONDS", "5"),
        ]);
        let c = cfg(&p).unwrap();
        assert_eq!(c.issuers[0].token_use, Some(TokenUse::Access));
        assert_eq!(c.issuers[0].client_ids, vec!["c1", "c2"]);
        assert_eq!(c.connect_scopes, vec!["ws:connect", "chat"]);
        assert_eq!(c.leeway_seconds, 5);
        let mut p = BASE.to_vec();
        p.push(("WSAUTH_TOKEN_USE", "refresh"));
        assert_eq!(cfg(&p).unwrap_err().var, "WSAUTH_TOKEN_USE");
        let mut p = BASE.to_vec();
        p.push(("WSAUTH_LEEWAY_SECONDS", "-1"));
        assert_eq!(cfg(&p).unwrap_err().var, "WSAUTH_LEEWAY_SECONDS");
    }
}
