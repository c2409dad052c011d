//! Property tests: no input to token extraction or verification panics, whatever its shape.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn closed_port_verifier() -> wsauth_authorizer::Verifier {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    verifier(config(&url, &[]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verifying_arbitrary_strings_never_panics(s in ".{0,300}") {
        let rt = runtime();
        let v = closed_port_verifier();
        let r = rt.block_on(v.verify(&s, now()));
        prop_assert!(r.is_err());
    }

    #[test]
    fn verifying_token_shaped_input_never_panics(
        h in "[A-Za-z0-9_-]{0,80}", p in "[A-Za-z0-9_-]{0,120}", s in "[A-Za-z0-9_-]{0,120}",
        alg in "(RS256|ES256|EdDSA|none|HS256|.{0,6})", kid in ".{0,20}", crit in any::<bool>()
    ) {
        let rt = runtime();
        let v = closed_port_verifier();
        let mut header = serde_json::json!({"alg": alg, "kid": kid});
        if crit { header["crit"] = serde_json::json!(["x"]); }
        for token in [format!("{h}.{p}.{s}"), format!("{}.{p}.{s}", b64(header.to_string()))] {
            prop_assert!(rt.block_on(v.verify(&token, now())).is_err());
        }
    }

    #[test]
    fn extracting_tokens_from_arbitrary_events_never_panics(
        q in proptest::option::of(".{0,40}"), auth in proptest::option::of(".{0,40}"),
        proto in proptest::option::of(".{0,60}")
    ) {
        let mut e = serde_json::json!({"headers": {}, "multiValueHeaders": {}});
        if let Some(q) = q { e["queryStringParameters"] = serde_json::json!({"token": q}); }
        if let Some(a) = auth { e["headers"]["Authorization"] = serde_json::json!(a); }
        if let Some(p) = proto { e["multiValueHeaders"]["Sec-WebSocket-Protocol"] = serde_json::json!([p]); }
        let ev: wsauth_authorizer::WebSocketAuthorizerRequest = serde_json::from_value(e).unwrap();
        for source in wsauth_protocol::token::TokenSource::ALL {
            // A token is only ever found where API Gateway saw the identity source.
            if ev.token(source).is_ok() {
                prop_assert!(ev.identity_present(source));
            }
        }
    }
}
