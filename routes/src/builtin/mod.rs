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

use crate::router::RouteHandler;

/// Route key → handler for every built-in route.
pub(crate) fn handlers() -> HashMap<String, Arc<dyn RouteHandler>> {
    let all: [(&str, Arc<dyn RouteHandler>); 6] = [
        ("ping", Arc::new(ping::Ping)),
        ("whoami", Arc::new(whoami::WhoAmI)),
        ("sendToUser", Arc::new(send_to_user::SendToUser)),
        ("broadcast", Arc::new(broadcast::Broadcast)),
        ("refresh", Arc::new(refresh::Refresh)),
        ("$default", Arc::new(default::DefaultRoute)),
    ];
    all.into_iter().map(|(k, h)| (k.to_owned(), h)).collect()
}
