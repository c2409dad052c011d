//! The built-in routes, one file each: `ping`, `whoami`, `sendToUser`, `broadcast`, `refresh`,
//! `$default`. Each receives the authorized binding and never repeats the checks.

mod broadcast;
mod default;
mod ping;
mod refresh;
mod send_to_user;
mod whoami;

use std::collections::HashMap;
use std::sync::Arc;

use wsauth_protocol::Builtin;

use crate::router::RouteHandler;

/// The handler of a built-in route: a `match` without a wildcard, so a route the protocol adds
/// does not compile until it has one ([`Builtin::ALL`], which [`handlers`] walks, is derived
/// from the same declaration).
fn handler(route: Builtin) -> Arc<dyn RouteHandler> {
    match route {
        Builtin::Ping => Arc::new(ping::Ping),
        Builtin::WhoAmI => Arc::new(whoami::WhoAmI),
        Builtin::SendToUser => Arc::new(send_to_user::SendToUser),
        Builtin::Broadcast => Arc::new(broadcast::Broadcast),
        Builtin::Refresh => Arc::new(refresh::Refresh),
        Builtin::Default => Arc::new(default::DefaultRoute),
    }
}

/// Route key → handler for every built-in route ([`Builtin::ALL`]).
pub(crate) fn handlers() -> HashMap<String, Arc<dyn RouteHandler>> {
    Builtin::ALL
        .into_iter()
        .map(|b| (b.key().to_owned(), handler(b)))
        .collect()
}
