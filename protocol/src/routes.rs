//! Route keys: API Gateway's three special routes, and wsauth's built-in message routes with the
//! scopes each requires by default (a deployment may override them: `WSAUTH_ROUTE_POLICY`).

/// The handshake route (the authorizer runs on it, then the `connect` function).
pub const CONNECT: &str = "$connect";
/// The route API Gateway invokes after a connection closed.
pub const DISCONNECT: &str = "$disconnect";
/// The route of a message that is not JSON or names no known route.
pub const DEFAULT: &str = "$default";
/// A route wsauth answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `ping` → `{"type":"pong"}`.
    Ping,
    /// `whoami` → the session as the binding holds it.
    WhoAmI,
    /// `sendToUser {"to","data"}` → every live connection of `to`.
    SendToUser,
    /// `broadcast {"data"}` → every other connection.
    Broadcast,
    /// `refresh {"token"}` → the session renewed on the live connection.
    Refresh,
    /// `$default`: a frame that is not JSON, or names no known route.
    Default,
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
    /// Every built-in route, in the contract's order.
    pub const ALL: [Builtin; 6] = [
        Self::Ping,
        Self::WhoAmI,
        Self::SendToUser,
        Self::Broadcast,
        Self::Refresh,
        Self::Default,
    ];

    /// The route key (`action`).
    pub const fn key(self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::WhoAmI => "whoami",
            Self::SendToUser => "sendToUser",
            Self::Broadcast => "broadcast",
            Self::Refresh => "refresh",
            Self::Default => DEFAULT,
        }
    }

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

    /// Exhaustive: a new route does not compile until it has a place here, and the test then
    /// fails until it is in [`Builtin::ALL`].
    fn position(b: Builtin) -> usize {
        match b {
            Builtin::Ping => 0,
            Builtin::WhoAmI => 1,
            Builtin::SendToUser => 2,
            Builtin::Broadcast => 3,
            Builtin::Refresh => 4,
            Builtin::Default => 5,
        }
    }

    #[test]
    fn all_lists_every_route_once() {
        let at: Vec<usize> = Builtin::ALL.into_iter().map(position).collect();
        assert_eq!(at, (0..Builtin::ALL.len()).collect::<Vec<_>>());
    }

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
