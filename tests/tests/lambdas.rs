//! `--lambdas`: functions run as child processes behind the emulated Runtime API. Shown here
//! with stand-in binaries (shell scripts speaking the Runtime API with curl) that crash, hang or
//! refuse; the real binaries run the whole e2e and security suites in `scripts/test`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use wsauth_local::lambdas::LambdaOptions;
use wsauth_local::{GatewayOptions, StoreKind};

/// A Runtime API client that answers every invocation with the error `Unauthorized`.
const REFUSES: &str = r#"#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  h=$(mktemp)
  curl -sS -D "$h" -o /dev/null "$api/invocation/next" || exit 1
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$h" | cut -d' ' -f2 | tr -d '\r')
  curl -sS -X POST -d '{"errorType":"Unauthorized","errorMessage":"Unauthorized"}' \
    "$api/invocation/$id/error" > /dev/null
done
"#;

/// Takes an invocation and never answers.
const HANGS: &str = r#"#!/bin/sh
curl -sS -o /dev/null "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next"
sleep 60
"#;

/// Crashes the first time (leaves a mark), then refuses like [`REFUSES`].
fn crashes_once(dir: &Path) -> String {
    format!(
        "#!/bin/sh\nif [ ! -f {m} ]; then touch {m}; exit 3; fi\n{rest}",
        m = dir.join("crashed-once").display(),
        rest = REFUSES.trim_start_matches("#!/bin/sh\n")
    )
}

fn functions_dir(authorizer: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = owned_dir("lambdas");
    for name in ["authorizer", "connect", "routes", "push"] {
        let body = if name == "authorizer" {
            authorizer
        } else {
            REFUSES
        };
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Options running the functions in `dir`.
fn over(dir: &Path, concurrency: usize) -> GatewayOptions {
    GatewayOptions {
        function_timeout: Duration::from_secs(1),
        concurrency,
        lambdas: Some(LambdaOptions {
            dir: dir.to_owned(),
            runner: Vec::new(),
            instances: concurrency,
        }),
        ..GatewayOptions::default()
    }
}

/// The status of a handshake of alice's with a valid token.
async fn handshake(l: &Local) -> Option<u16> {
    let t = l.token("alice", "", 600);
    connect(&l.url(), &t, Via::Subprotocol).await.err()
}

async fn gateway_over(dir: &Path) -> Local {
    gateway_with(dir, over(dir, 2)).await
}

#[tokio::test]
async fn a_function_error_unauthorized_from_a_child_is_a_401() {
    let dir = functions_dir(REFUSES);
    let l = gateway_over(dir.path()).await;
    assert_eq!(handshake(&l).await, Some(401));
}

#[tokio::test]
async fn a_hanging_function_fails_at_its_timeout_with_500() {
    let dir = functions_dir(HANGS);
    let l = gateway_over(dir.path()).await;
    let started = Instant::now();
    assert_eq!(handshake(&l).await, Some(500));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "ended by the 1 s timeout, took {took:?}"
    );
}

#[tokio::test]
async fn a_crashed_instance_fails_its_invocation_and_is_replaced() {
    let dir = functions_dir("");
    std::fs::write(dir.path().join("authorizer"), crashes_once(dir.path())).unwrap();
    let l = gateway_over(dir.path()).await;
    assert_eq!(handshake(&l).await, Some(500));
    assert_eq!(handshake(&l).await, Some(401));
}

#[tokio::test]
async fn lambdas_need_the_dynamodb_store_and_every_binary() {
    let dir = functions_dir(REFUSES);
    let opts = |dir: &Path| over(dir, 1);
    let dev = owned_dir("dev");
    let issuer = || wsauth_local::IssuerMode::Dev(dev.path().to_owned());
    let err = wsauth_local::bind("127.0.0.1:0", opts(dir.path()), issuer(), StoreKind::Memory)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("--store dynamodb"), "{err}");
    std::fs::remove_file(dir.path().join("push")).unwrap();
    let err = wsauth_local::bind(
        "127.0.0.1:0",
        opts(dir.path()),
        issuer(),
        StoreKind::Dynamodb,
    )
    .await
    .err()
    .unwrap();
    assert!(err.to_string().contains("`push`"), "{err}");
}

/// The Runtime API answers only its own loopback `Host`: a page that reached its port through
/// DNS rebinding (`Host: rebound.example:PORT`), or a `Host` naming another port, gets 403 and
/// cannot take the authorizer's events (bearer tokens) nor answer them with an Allow.
#[tokio::test]
async fn the_runtime_api_refuses_a_foreign_host_with_403() {
    let dir = functions_dir("");
    let seen = dir.path().join("probes");
    let probing = format!(
        "#!/bin/sh\nport=${{AWS_LAMBDA_RUNTIME_API##*:}}\n\
         next=\"http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next\"\n\
         a=$(curl -s -o /dev/null -w '%{{http_code}}' --max-time 2 -H \"Host: rebound.example:$port\" \"$next\")\n\
         b=$(curl -s -o /dev/null -w '%{{http_code}}' --max-time 2 -H 'Host: 127.0.0.1:1' \"$next\")\n\
         echo \"$a $b\" > {m}\n{rest}",
        m = seen.display(),
        rest = REFUSES.trim_start_matches("#!/bin/sh\n")
    );
    std::fs::write(dir.path().join("authorizer"), probing).unwrap();
    let l = gateway_over(dir.path()).await;
    // Its own Host still works: the handshake is refused by the function, as it answers.
    assert_eq!(handshake(&l).await, Some(401));
    assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), "403 403");
}

/// A Runtime API client that keeps each event it gets under `dir` (`{tag}-*.json`) and answers
/// every one with `answer`.
fn records(dir: &Path, tag: &str, answer: &serde_json::Value) -> String {
    let answer_file = dir.join(format!("{tag}-answer"));
    std::fs::write(&answer_file, answer.to_string()).unwrap();
    format!(
        r#"#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  h=$(mktemp); b=$(mktemp)
  curl -sS -D "$h" -o "$b" "$api/invocation/next" || exit 1
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$h" | cut -d' ' -f2 | tr -d '\r')
  mv "$b" "$(mktemp {dir}/{tag}-XXXXXX.json)"
  curl -sS -X POST --data-binary @{answer} "$api/invocation/$id/response" > /dev/null
done
"#,
        dir = dir.display(),
        answer = answer_file.display(),
    )
}

/// The events `records` kept for `tag`, oldest first.
fn recorded(dir: &Path, tag: &str) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.starts_with(&format!("{tag}-")) && n.ends_with(".json")
        })
        .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, p)| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// An authorizer answer allowing the handshake.
fn allow() -> serde_json::Value {
    serde_json::json!({"principalId": "alice", "context": {"userId": "alice"},
        "policyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "execute-api:Invoke", "Resource": "*"}]}})
}

/// A handshake written by hand, header names in the case given: the response's status.
async fn raw_handshake(l: &Local, headers: &str) -> u16 {
    raw_open(l, headers).await.0
}

/// [`raw_handshake`], the connection kept open.
async fn raw_open(l: &Local, headers: &str) -> (u16, tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(l.addr).await.unwrap();
    let req = format!(
        "GET /dev HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n",
        l.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    (head.split(' ').nth(1).unwrap().parse().unwrap(), s)
}

/// A gateway over `dir` with `opts` (DynamoDB Local, a table of its own).
async fn gateway_with(dir: &Path, mut opts: GatewayOptions) -> Local {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok();
    opts.settings
        .set("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_deref());
    let table = dir.file_name().unwrap().to_string_lossy().to_string();
    opts.settings.set("WSAUTH_TABLE", Some(&table));
    Local::dev(opts, StoreKind::Dynamodb).await
}

/// A gateway whose authorizer (allowing) and `connect` function (answering 200) record every
/// event they get (`recorded`), in a directory of its own.
async fn recording_gateway() -> (tempfile::TempDir, Local) {
    let dir = functions_dir("");
    let d = dir.path();
    std::fs::write(d.join("authorizer"), records(d, "authorizer", &allow())).unwrap();
    let ok = serde_json::json!({"statusCode": 200});
    std::fs::write(d.join("connect"), records(d, "connect", &ok)).unwrap();
    let l = gateway_with(d, over(d, 2)).await;
    (dir, l)
}

/// API Gateway keeps the client's header names as written (HTTP libraries lower-case them),
/// adds `X-Forwarded-For` (after any the client sent), `X-Forwarded-Port`, `X-Forwarded-Proto`
/// and `X-Amzn-Trace-Id`, and gives `domainName` without the port.
#[tokio::test]
async fn events_keep_the_clients_header_case_and_carry_the_headers_api_gateway_adds() {
    let (dir, l) = recording_gateway().await;
    let d = dir.path();
    let status = raw_handshake(
        &l,
        "Sec-WebSocket-Protocol: wsauth, bearer.x\r\nX-Custom-Case: Yes\r\n\
         x-forwarded-for: 203.0.113.9\r\nX-Forwarded-Proto: gopher\r\n",
    )
    .await;
    assert_eq!(status, 101);
    let port = l.addr.port().to_string();
    for (tag, event) in [
        ("authorizer", &recorded(d, "authorizer")[0]),
        ("connect", &recorded(d, "connect")[0]),
    ] {
        let h = &event["headers"];
        for name in ["Host", "Upgrade", "Sec-WebSocket-Protocol", "X-Custom-Case"] {
            assert!(h.get(name).is_some(), "{tag}: {name} missing in {h}");
            assert!(h.get(name.to_ascii_lowercase()).is_none(), "{tag}: {h}");
        }
        assert_eq!(h["X-Forwarded-For"], "203.0.113.9, 127.0.0.1", "{tag}");
        assert_eq!(h["X-Forwarded-Port"], port.as_str(), "{tag}");
        assert_eq!(
            h["X-Forwarded-Proto"], "http",
            "{tag}: the client's is replaced"
        );
        assert!(h.get("x-forwarded-for").is_none(), "{tag}: {h}");
        let trace = h["X-Amzn-Trace-Id"].as_str().unwrap();
        assert!(
            trace.starts_with("Root=1-") && trace.len() == 7 + 8 + 1 + 24,
            "{trace}"
        );
        assert_eq!(
            event["multiValueHeaders"]["X-Custom-Case"],
            serde_json::json!(["Yes"])
        );
        assert_eq!(event["requestContext"]["domainName"], "127.0.0.1", "{tag}");
        assert_eq!(event["requestContext"]["stage"], "dev", "{tag}");
    }
}

/// A `$connect` function error answers 502 (the code maps a crash and the function's own timeout
/// the same way: `connect_failure_status`); API Gateway's
/// 29 s integration timeout (1 s here) passing first answers 504; an authorizer that does not
/// answer within it fails the handshake with 500.
#[tokio::test]
async fn connect_failures_answer_502_and_the_integration_timeout_caps_both_functions() {
    let dir = functions_dir("");
    let d = dir.path();
    std::fs::write(d.join("authorizer"), records(d, "authorizer", &allow())).unwrap();
    std::fs::write(d.join("connect"), REFUSES).unwrap();
    let l = gateway_with(d, over(d, 2)).await;
    assert_eq!(handshake(&l).await, Some(502));

    let dir = functions_dir("");
    let d = dir.path();
    std::fs::write(d.join("authorizer"), records(d, "authorizer", &allow())).unwrap();
    std::fs::write(d.join("connect"), HANGS).unwrap();
    let capped = |d: &Path| GatewayOptions {
        function_timeout: Duration::from_secs(20),
        integration_timeout: Duration::from_secs(1),
        ..over(d, 2)
    };
    let l = gateway_with(d, capped(d)).await;
    let started = Instant::now();
    assert_eq!(handshake(&l).await, Some(504));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "capped at 1 s, not the 20 s timeout"
    );

    let dir = functions_dir(HANGS);
    let l = gateway_with(dir.path(), capped(dir.path())).await;
    let started = Instant::now();
    assert_eq!(handshake(&l).await, Some(500));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "capped at 1 s, not the 20 s timeout"
    );
}

/// With one authorizer invocation at a time, a second handshake is throttled at once (500): it
/// ends while the first still waits for its hanging authorizer.
#[tokio::test]
async fn beyond_the_concurrency_limit_a_handshake_fails_at_once() {
    let dir = functions_dir(HANGS);
    // The hanging one fails at its 5 s timeout: the throttled one has seconds to end first.
    let opts = GatewayOptions {
        function_timeout: Duration::from_secs(5),
        ..over(dir.path(), 1)
    };
    let l = std::sync::Arc::new(gateway_with(dir.path(), opts).await);
    let first = {
        let l = l.clone();
        tokio::spawn(async move { handshake(&l).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(handshake(&l).await, Some(500));
    assert!(
        !first.is_finished(),
        "the second ended first: it was throttled, not queued"
    );
    assert_eq!(first.await.unwrap(), Some(500));
}

/// After DeleteConnection, `$disconnect` reports 1000 `Connection Closed Normally` with the
/// headers captured `$disconnect` events carry (`Host` and three empty ones); only `$connect`'s
/// authorizer map has `integrationLatency`, later events have the context and `principalId`.
#[tokio::test]
async fn a_deleted_connections_disconnect_event_is_as_api_gateway_writes_it() {
    let (dir, l) = recording_gateway().await;
    let d = dir.path();
    let (status, _open) = raw_open(&l, "Sec-WebSocket-Protocol: wsauth, bearer.x\r\n").await;
    assert_eq!(status, 101);
    let connect = recorded(d, "connect").remove(0);
    let ctx = &connect["requestContext"];
    assert_eq!(ctx["eventType"], "CONNECT");
    assert!(ctx["authorizer"]["integrationLatency"].is_u64(), "{ctx}");
    let id = ctx["connectionId"].as_str().unwrap().to_owned();
    management_client(&l)
        .await
        .delete_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while recorded(d, "connect").len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = recorded(d, "connect");
    assert_eq!(events.len(), 2, "one $disconnect after the delete");
    let ctx = &events[1]["requestContext"];
    assert_eq!(ctx["eventType"], "DISCONNECT");
    assert_eq!(ctx["connectionId"], id.as_str());
    assert_eq!(ctx["disconnectStatusCode"], 1000);
    assert_eq!(ctx["disconnectReason"], "Connection Closed Normally");
    assert_eq!(
        ctx["authorizer"],
        serde_json::json!({"userId": "alice", "principalId": "alice"})
    );
    let host = l.addr.to_string();
    assert_eq!(
        events[1]["headers"],
        serde_json::json!({"Host": host, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""})
    );
}

/// An authorizer that marks each process start in `{dir}/starts`, then refuses every invocation
/// after 1 s.
fn slow_refuser(dir: &Path) -> String {
    format!(
        "#!/bin/sh\necho start >> {starts}\n{rest}",
        starts = dir.join("starts").display(),
        rest = REFUSES
            .trim_start_matches("#!/bin/sh\n")
            .replace("  curl -sS -X POST", "  sleep 1\n  curl -sS -X POST")
    )
}

/// `--lambda-instances` caps the processes per function on this machine: with one, a second
/// handshake during the first waits for the instance (401 from it, not a throttle's 500) and no
/// second process starts; with two, two start.
#[tokio::test]
async fn lambda_instances_cap_the_processes_and_a_burst_waits_for_one() {
    for instances in [1usize, 2] {
        let dir = functions_dir("");
        let d = dir.path();
        std::fs::write(d.join("authorizer"), slow_refuser(d)).unwrap();
        let mut opts = GatewayOptions {
            function_timeout: Duration::from_secs(10),
            ..over(d, 10)
        };
        if let Some(l) = opts.lambdas.as_mut() {
            l.instances = instances;
        }
        let l = std::sync::Arc::new(gateway_with(d, opts).await);
        let both = futures_util::future::join(handshake(&l), handshake(&l)).await;
        assert_eq!(both, (Some(401), Some(401)), "instances={instances}");
        let starts = std::fs::read_to_string(d.join("starts")).unwrap();
        assert_eq!(starts.lines().count(), instances, "instances={instances}");
    }
}
