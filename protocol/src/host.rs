//! The one loopback test: a host (a name, an address, a URL's host) is loopback when it is
//! `localhost` or an address in `127.0.0.0/8` or `::1`, as the clients, the JWKS URL check,
//! wsauth-local's `Host` checks and the SDK's local placeholders all decide. A domain name that
//! merely resolves to one never is (DNS rebinding), nor is an IPv4-mapped `[::ffff:127.0.0.1]`
//! written by hand. A socket's peer address is judged by [`is_loopback_ip`], which does count
//! an IPv4-mapped address: a dual-stack listener reports IPv4 peers that way.

use std::net::IpAddr;

/// Whether a socket's peer address `ip` is loopback (IPv4-mapped IPv6 included).
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    }
}

/// Whether `host` (a name or an address, IPv6 with or without brackets, no port) is loopback.
pub fn is_loopback_host(host: &str) -> bool {
    let name = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    name.eq_ignore_ascii_case("localhost")
        || match name.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => v4.is_loopback(),
            Ok(IpAddr::V6(v6)) => v6.is_loopback(),
            Err(_) => false,
        }
}

/// A `Host` header value (or a URL's authority without user info) split into its name (IPv6
/// brackets removed) and its port, if it has one.
pub fn split_host(host: &str) -> (&str, Option<u16>) {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, port)) if port.chars().all(|c| c.is_ascii_digit()) && !n.ends_with(':') => {
            (n, port.parse().ok())
        }
        _ => (host, None),
    };
    (name.trim_start_matches('[').trim_end_matches(']'), port)
}

/// Whether `url` (`scheme://host[:port][/…]`) names a loopback host. A URL without a scheme,
/// or with user info, is not.
pub fn is_loopback_url(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    is_loopback_host(split_host(authority).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_addresses_and_urls() {
        for h in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "[::2]",
            "0.0.0.0",
            "[127.0.0.1]x",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
        assert!(is_loopback_url("http://127.0.0.1:8000"));
        assert!(is_loopback_url("http://localhost:8000/x"));
        assert!(is_loopback_url("https://[::1]:9/"));
        assert!(!is_loopback_url("https://dynamodb.us-east-1.amazonaws.com"));
        assert!(!is_loopback_url("http://127.0.0.1.evil.example"));
        assert!(!is_loopback_url("http://localhost@evil.example"));
        assert!(!is_loopback_url("127.0.0.1:8000"));
        assert!(is_loopback_ip("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback_ip("::ffff:10.0.0.1".parse().unwrap()));
        assert_eq!(split_host("[::1]:3001"), ("::1", Some(3001)));
        assert_eq!(split_host("localhost"), ("localhost", None));
    }
}
