//! The WebSocket subprotocol convention that carries a token from a browser.
//!
//! Browsers cannot set headers on a WebSocket handshake, so a client offers two subprotocols:
//! `wsauth` and `bearer.<jwt>`. The authorizer reads the token from the second; `$connect`
//! selects the first (API Gateway refuses the handshake if the server selects none of the
//! offered ones, and echoing `bearer.<jwt>` would send the token back).

/// The subprotocol `$connect` selects.
pub const SUBPROTOCOL: &str = "wsauth";
/// The prefix of the subprotocol entry that carries the token.
pub const BEARER_PROTOCOL_PREFIX: &str = "bearer.";

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
    }
}
