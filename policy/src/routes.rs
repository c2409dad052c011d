//! The route permission table: which scopes a message route requires.
//!
//! The defaults are the protocol's ([`Builtin::default_scopes`]: `sendToUser` needs
//! `messages:send`, `broadcast` needs `messages:broadcast`, `ping`, `whoami`, `refresh` and
//! `$default` need nothing). A deployment
//! merges its own table over them (`WSAUTH_ROUTE_POLICY`, a JSON object of route key → array of
//! scopes). A route key absent from the table is denied: an application route must be declared
//! before it can be reached.

use std::collections::BTreeMap;

use wsauth_protocol::Builtin;

/// Why a route policy could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutePolicyError {
    /// Not a JSON object of string → array of strings.
    #[error("route policy must be a JSON object of route key to an array of scope strings: {0}")]
    Malformed(String),
    /// A route key or a scope is empty or contains whitespace.
    #[error("route policy has an empty or blank route key or scope")]
    Blank,
}

/// What the table says of one message on one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecision {
    /// Every required scope is granted.
    Allowed,
    /// The route is not in the table.
    UnknownRoute,
    /// The route requires scopes the identity lacks (listed).
    MissingScopes(Vec<String>),
}

/// Route key → required scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePolicy {
    routes: BTreeMap<String, Vec<String>>,
}

impl Default for RoutePolicy {
    fn default() -> Self {
        let routes = Builtin::ALL
            .into_iter()
            .map(|b| {
                let scopes = b.default_scopes().iter().map(|s| (*s).to_owned());
                (b.key().to_owned(), scopes.collect())
            })
            .collect();
        Self { routes }
    }
}

impl RoutePolicy {
    /// The defaults with `json` (a `WSAUTH_ROUTE_POLICY` value) merged over them.
    pub fn with_overrides(json: &str) -> Result<Self, RoutePolicyError> {
        let overrides: BTreeMap<String, Vec<String>> =
            serde_json::from_str(json).map_err(|e| RoutePolicyError::Malformed(e.to_string()))?;
        let mut policy = Self::default();
        for (route, scopes) in overrides {
            policy.set(&route, scopes)?;
        }
        Ok(policy)
    }

    /// Declares (or replaces) a route and its required scopes.
    pub fn set(&mut self, route: &str, scopes: Vec<String>) -> Result<(), RoutePolicyError> {
        let blank = |s: &str| s.is_empty() || s.chars().any(char::is_whitespace);
        if blank(route) || scopes.iter().any(|s| blank(s)) {
            return Err(RoutePolicyError::Blank);
        }
        self.routes.insert(route.to_owned(), scopes);
        Ok(())
    }

    /// The scopes `route` requires, or `None` when the route is not declared.
    pub fn required(&self, route: &str) -> Option<&[String]> {
        self.routes.get(route).map(Vec::as_slice)
    }

    /// Decides one message on `route` by the scopes granted.
    pub fn decide(&self, route: &str, granted: &[String]) -> RouteDecision {
        let Some(required) = self.required(route) else {
            return RouteDecision::UnknownRoute;
        };
        let missing: Vec<String> = required
            .iter()
            .filter(|r| !granted.contains(r))
            .cloned()
            .collect();
        if missing.is_empty() {
            RouteDecision::Allowed
        } else {
            RouteDecision::MissingScopes(missing)
        }
    }

    /// Every declared route key.
    pub fn routes(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let p = RoutePolicy::default();
        assert_eq!(p.decide("ping", &[]), RouteDecision::Allowed);
        assert_eq!(p.decide("whoami", &[]), RouteDecision::Allowed);
        assert_eq!(p.decide("refresh", &[]), RouteDecision::Allowed);
        assert_eq!(p.decide("$default", &[]), RouteDecision::Allowed);
        assert_eq!(
            p.decide("sendToUser", &[]),
            RouteDecision::MissingScopes(s(&["messages:send"]))
        );
        assert_eq!(
            p.decide("sendToUser", &s(&["messages:send"])),
            RouteDecision::Allowed
        );
        assert_eq!(
            p.decide("broadcast", &s(&["messages:send"])),
            RouteDecision::MissingScopes(s(&["messages:broadcast"]))
        );
    }

    #[test]
    fn unknown_routes_are_denied_by_default() {
        assert_eq!(
            RoutePolicy::default().decide("deleteEverything", &s(&["admin"])),
            RouteDecision::UnknownRoute
        );
    }

    #[test]
    fn overrides_merge_over_defaults() {
        let p = RoutePolicy::with_overrides(r#"{"ping":["ops"],"chat":["chat:write"]}"#).unwrap();
        assert_eq!(
            p.decide("ping", &[]),
            RouteDecision::MissingScopes(s(&["ops"]))
        );
        assert_eq!(
            p.decide("chat", &s(&["chat:write"])),
            RouteDecision::Allowed
        );
        assert_eq!(
            p.decide("sendToUser", &[]),
            RouteDecision::MissingScopes(s(&["messages:send"]))
        );
    }

    #[test]
    fn malformed_overrides_are_refused_with_a_reason() {
        assert!(matches!(
            RoutePolicy::with_overrides(r#"{"ping":"ops"}"#),
            Err(RoutePolicyError::Malformed(_))
        ));
        assert!(matches!(
            RoutePolicy::with_overrides("[]"),
            Err(RoutePolicyError::Malformed(_))
        ));
        assert_eq!(
            RoutePolicy::with_overrides(r#"{"ping":[""]}"#),
            Err(RoutePolicyError::Blank)
        );
        assert_eq!(
            RoutePolicy::with_overrides(r#"{"":[]}"#),
            Err(RoutePolicyError::Blank)
        );
    }
}
