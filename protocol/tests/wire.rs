//! `protocol/wire.json` is this crate's facts as data, for what cannot link Rust (the JavaScript
//! client's test reads it). This test fails when the file and the crate differ; to regenerate
//! it after a deliberate change: `WSAUTH_WRITE_WIRE=1 cargo test -p wsauth-protocol --test wire`.

use serde_json::{Map, Value, json};
use wsauth_protocol::frames::{self, Frame};
use wsauth_protocol::{Builtin, ErrorCode, TokenSource, channels, host, limits, routes, token};

/// Hosts (as a URL writes them) the loopback rule accepts, and hosts it refuses: the rule by
/// example, for the JavaScript client's own implementation to be held to.
const LOOPBACK: [&str; 5] = ["localhost", "LOCALHOST", "127.0.0.1", "127.8.9.10", "[::1]"];
const NOT_LOOPBACK: [&str; 7] = [
    "example.com",
    "10.0.0.1",
    "0.0.0.0",
    "[2001:db8::1]",
    "localhost.example.com",
    "127.0.0.1.example.com",
    "[::ffff:127.0.0.1]",
];

fn facts() -> Value {
    let builtin: Map<String, Value> = Builtin::ALL
        .into_iter()
        .map(|b| {
            let route = json!({"scopes": b.default_scopes(), "answers": b.answers()});
            (b.key().to_owned(), route)
        })
        .collect();
    let codes: Map<String, Value> = ErrorCode::ALL
        .into_iter()
        .map(|c| (c.as_str().to_owned(), json!({"closes": c.closes()})))
        .collect();
    let sources: Map<String, Value> = TokenSource::ALL
        .into_iter()
        .map(|t| (t.as_str().to_owned(), json!(t.identity_source())))
        .collect();
    json!({
        "routes": {
            "connect": routes::CONNECT,
            "disconnect": routes::DISCONNECT,
            "default": routes::DEFAULT,
            "selectionExpression": routes::ROUTE_SELECTION_EXPRESSION,
            "action": routes::ACTION,
            "id": routes::ID,
            "builtin": builtin,
        },
        "errorCodes": codes,
        "frames": Frame::ALL.map(Frame::as_str),
        "serverSender": frames::SERVER_SENDER,
        "token": {
            "subprotocol": token::SUBPROTOCOL,
            "bearerPrefix": token::BEARER_PROTOCOL_PREFIX,
            "queryParameter": token::QUERY_PARAMETER,
            "authorizationScheme": token::AUTHORIZATION_SCHEME,
            "default": TokenSource::default().as_str(),
            "identitySources": sources,
        },
        "loopback": {"hosts": LOOPBACK, "notHosts": NOT_LOOPBACK},
        "channels": {
            "operations": channels::Operation::ALL.map(channels::Operation::as_str),
            "maxChannelBytes": channels::MAX_CHANNEL_BYTES,
            "segmentPunctuation": channels::SEGMENT_PUNCTUATION,
            "separator": channels::SEPARATOR.to_string(),
            "maxGrantPatterns": channels::MAX_GRANT_PATTERNS,
            "maxGrantsJsonBytes": channels::MAX_GRANTS_JSON_BYTES,
            "defaultMaxChannelsPerConnection": channels::DEFAULT_MAX_CHANNELS_PER_CONNECTION,
        },
        "limits": {
            "maxMessageBytes": limits::MAX_MESSAGE_BYTES,
            "maxFrameBytes": limits::MAX_FRAME_BYTES,
            "integrationTimeoutSeconds": limits::INTEGRATION_TIMEOUT.as_secs(),
            "idleTimeoutSeconds": limits::IDLE_TIMEOUT.as_secs(),
            "maxConnectionDurationSeconds": limits::MAX_CONNECTION_DURATION.as_secs(),
            "maxIdChars": limits::MAX_ID_CHARS,
            "maxUserIdBytes": limits::MAX_USER_ID_BYTES,
        },
    })
}

#[test]
fn the_loopback_examples_are_the_rules() {
    for h in LOOPBACK {
        assert!(host::is_loopback_host(h), "{h}");
    }
    for h in NOT_LOOPBACK {
        assert!(!host::is_loopback_host(h), "{h}");
    }
}

#[test]
fn wire_json_states_the_crates_facts() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/wire.json");
    let want = serde_json::to_string_pretty(&facts()).unwrap() + "\n";
    if std::env::var_os("WSAUTH_WRITE_WIRE").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "protocol/wire.json differs from wsauth-protocol's items; if the change is deliberate, \
         regenerate it: WSAUTH_WRITE_WIRE=1 cargo test -p wsauth-protocol --test wire"
    );
}
