//! Route keys: API Gateway's three special routes, and wsauth's built-in message routes with the
//! scopes each requires by default (a deployment may override them: `WSAUTH_ROUTE_POLICY`).

/// The handshake route (the authorizer runs on it, then the `connect` function).
pub const CONNECT: &str = "$connect";
/// The route API Gateway invokes after a connection closed.
pub const DISCONNECT: &str = "$disconnect";
/// The route of a message that is not JSON or names no known route.
pub const DEFAULT: &str = "$default";

spelled! {
    /// A route wsauth answers itself, spelled by its route key (`action`).
    pub enum Builtin spelled by key {
        /// `ping` → `{"type":"pong"}`.
        Ping => "ping",
        /// `whoami` → the session as the binding holds it.
        WhoAmI => "whoami",
        /// `sendToUser {"to","data"}` → every live connection of `to`.
        SendToUser => "sendToUser",
        /// `broadcast {"data"}` → every other connection.
        Broadcast => "broadcast",
        /// `refresh {"token"}` → the session renewed on the live connection.
        Refresh => "refresh",
        /// `$default`: a frame that is not JSON, or names no known route.
        Default => DEFAULT,
    }
}

/// How API Gateway selects a message's route: the `action` member of its JSON body.
pub const ROUTE_SELECTION_EXPRESSION: &str = "$request.body.action";
/// The member of a message that names its route.
pub const ACTION: &str = "action";
/// The member of a message (and of its reply) that correlates the two.
pub const ID: &str = "id";

/// The scopes a built-in route requires by default ([`Builtin::default_scopes`]).
pub mod scopes {
    /// `sendToUser`'s.
    pub const SEND: &str = "messages:send";
    /// `broadcast`'s.
    pub const BROADCAST: &str = "messages:broadcast";
}

impl Builtin {
    /// The scopes the route requires unless the deployment says otherwise.
    pub const fn default_scopes(self) -> &'static [&'static str] {
        match self {
            Self::SendToUser => &[scopes::SEND],
            Self::Broadcast => &[scopes::BROADCAST],
            Self::Ping | Self::WhoAmI | Self::Refresh | Self::Default => &[],
        }
    }

    /// Whether the route answers its sender, i.e. is deployed with a route response
    /// (`routeResponseSelectionExpression: $default`). On API Gateway a route without one is
    /// one-way: whatever its integration returns, replies and error frames alike, never reaches
    /// the client (what wsauth posts through @connections, such as a session's end, still
    /// does). Every built-in route answers (the contract names a reply for each).
    pub const fn answers(self) -> bool {
        match self {
            Self::Ping
            | Self::WhoAmI
            | Self::SendToUser
            | Self::Broadcast
            | Self::Refresh
            | Self::Default => true,
        }
    }

    /// The built-in route of `key`, if it is one.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.key() == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_round_trip() {
        for b in Builtin::ALL {
            assert_eq!(Builtin::from_key(b.key()), Some(b));
        }
        assert_eq!(Builtin::from_key("$connect"), None);
        assert_eq!(Builtin::from_key("Ping"), None);
        assert_eq!(Builtin::Default.key(), DEFAULT);
    }
}
