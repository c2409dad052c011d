//! How a client carries its token on the handshake: the one configured token source, and the
//! WebSocket subprotocol convention browsers need.
//!
//! [`TokenSource`] is the single home of the `WSAUTH_TOKEN_SOURCE` values, the identity source
//! API Gateway checks for each, and where the authorizer reads the token. Exactly one source
//! counts: a token anywhere else is no token at all (API Gateway answers 401 without invoking the
//! authorizer when the configured source is missing).
//!
//! Browsers cannot set headers on a WebSocket handshake, so with the default source a client
//! offers two subprotocols: `wsauth` and `bearer.<jwt>`. The authorizer reads the token from the
//! second; `$connect` selects the first (a browser fails the handshake if the server selects none
//! of the offered ones, and echoing `bearer.<jwt>` would send the token back).

use std::fmt;
use std::str::FromStr;

/// The subprotocol `$connect` selects.
pub const SUBPROTOCOL: &str = "wsauth";
/// The prefix of the subprotocol entry that carries the token.
pub const BEARER_PROTOCOL_PREFIX: &str = "bearer.";
/// The query parameter that carries the token ([`TokenSource::Query`]).
pub const QUERY_PARAMETER: &str = "token";
/// The `Authorization` scheme that carries the token ([`TokenSource::Header`]).
pub const AUTHORIZATION_SCHEME: &str = "Bearer";

spelled! {
    /// Where the handshake token travels (`WSAUTH_TOKEN_SOURCE`, spelled by [`as_str`]).
    /// Exactly one per deployment.
    ///
    /// [`as_str`]: TokenSource::as_str
    #[derive(Default)]
    pub enum TokenSource spelled by as_str {
        /// `Sec-WebSocket-Protocol: wsauth, bearer.<jwt>` (the default: works from browsers and
        /// keeps tokens out of URLs and access logs).
        #[default]
        Subprotocol => "subprotocol",
        /// The query parameter `token` (`?token=<jwt>`).
        Query => "query",
        /// `Authorization: Bearer <jwt>`.
        Header => "header",
    }
}

/// A `WSAUTH_TOKEN_SOURCE` value that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTokenSource(pub String);

impl fmt::Display for UnknownTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "must be `subprotocol`, `query` or `header`, got {:?}",
            self.0
        )
    }
}

impl std::error::Error for UnknownTokenSource {}

impl TokenSource {
    /// The authorizer's identity source as API Gateway names it (what `serverless.yml` lists).
    pub fn identity_source(self) -> &'static str {
        match self {
            Self::Subprotocol => "route.request.header.Sec-WebSocket-Protocol",
            Self::Query => "route.request.querystring.token",
            Self::Header => "route.request.header.Authorization",
        }
    }

    /// The header that carries the token, or `None` for the query string.
    pub fn header_name(self) -> Option<&'static str> {
        match self {
            Self::Subprotocol => Some("sec-websocket-protocol"),
            Self::Query => None,
            Self::Header => Some("authorization"),
        }
    }
}

impl FromStr for TokenSource {
    type Err = UnknownTokenSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| UnknownTokenSource(s.to_owned()))
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Splits `Sec-WebSocket-Protocol` header values into the protocols offered.
pub fn offered_protocols<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> impl Iterator<Item = &'a str> {
    values
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// The `Sec-WebSocket-Protocol` value a client offers with [`TokenSource::Subprotocol`]:
/// `wsauth, bearer.<token>`.
pub fn subprotocol_offer(token: &str) -> String {
    format!("{SUBPROTOCOL}, {BEARER_PROTOCOL_PREFIX}{token}")
}

/// The `Authorization` value a client sends with [`TokenSource::Header`]: `Bearer <token>`.
pub fn authorization_value(token: &str) -> String {
    format!("{AUTHORIZATION_SCHEME} {token}")
}

/// Whether the client offered the `wsauth` subprotocol.
pub fn offers_wsauth<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    offered_protocols(values).any(|p| p == SUBPROTOCOL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_are_split_and_trimmed() {
        let v: Vec<&str> = offered_protocols(["wsauth, bearer.a.b.c", " x ,,"]).collect();
        assert_eq!(v, vec!["wsauth", "bearer.a.b.c", "x"]);
        assert!(offers_wsauth(["chat, wsauth"]));
        assert!(!offers_wsauth(["wsauthx, bearer.t"]));
        assert!(!offers_wsauth([]));
        let offer = subprotocol_offer("a.b.c");
        assert_eq!(offer, "wsauth, bearer.a.b.c");
        assert!(offers_wsauth([offer.as_str()]));
        assert_eq!(authorization_value("t"), "Bearer t");
    }

    #[test]
    fn token_sources_parse_exactly_and_name_their_identity_source() {
        assert_eq!(TokenSource::default(), TokenSource::Subprotocol);
        for t in TokenSource::ALL {
            assert_eq!(t.as_str().parse::<TokenSource>(), Ok(t));
        }
        assert_eq!(
            "query"
                .parse::<TokenSource>()
                .map(TokenSource::identity_source),
            Ok("route.request.querystring.token")
        );
        // Pinned here, not only derived: the deploy's identity sources and the authorizer's
        // reading depend on these exact strings.
        let sources = TokenSource::ALL.map(TokenSource::identity_source);
        assert_eq!(
            sources,
            [
                "route.request.header.Sec-WebSocket-Protocol",
                "route.request.querystring.token",
                "route.request.header.Authorization",
            ]
        );
        for bad in ["", "Query", "bearer", "subprotocols", "header,query"] {
            assert!(bad.parse::<TokenSource>().is_err(), "{bad}");
        }
    }
}
