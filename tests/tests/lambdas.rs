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
        lambdas: Some(LambdaOptions {
            dir: dir.to_owned(),
            concurrency,
            runner: Vec::new(),
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
    let mut opts = over(dir, 2);
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok();
    opts.settings
        .set("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_deref());
    let table = dir.file_name().unwrap().to_string_lossy().to_string();
    opts.settings.set("WSAUTH_TABLE", Some(&table));
    Local::dev(opts, StoreKind::Dynamodb).await
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
