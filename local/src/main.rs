//! `wsauth-local serve` runs wsauth on one machine; `wsauth-local token` mints dev tokens.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use wsauth_local::devissuer::{DEV_DIR, DevIssuer};
use wsauth_local::gateway::throttle::Rate;
use wsauth_local::gateway::{self, FUNCTION_TIMEOUT_SECS};
use wsauth_local::lambdas::LambdaOptions;
use wsauth_local::{GatewayOptions, StoreKind, bind, issuer_mode, run};
use wsauth_protocol::token::{TokenSource, UnknownTokenSource};
use wsauth_settings::Settings;
use wsauth_settings::clock::now_epoch;

#[derive(Parser)]
#[command(
    name = "wsauth-local",
    version,
    about = "API Gateway WebSocket emulator running wsauth's real handlers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Store {
    Memory,
    Dynamodb,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the WebSocket API, @connections, push and the demo page.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = gateway::DEFAULT_LISTEN)]
        listen: String,
        /// Stage: the WebSocket URL is ws://{listen}/{stage}.
        #[arg(long, default_value = gateway::DEFAULT_STAGE)]
        stage: String,
        /// Where bindings live.
        #[arg(long, value_enum, default_value = "memory")]
        store: Store,
        /// Close connections idle this many seconds (1001).
        #[arg(long, default_value_t = gateway::IDLE_TIMEOUT.as_secs())]
        idle_timeout: u64,
        /// Close connections after this many seconds (1001).
        #[arg(long, default_value_t = gateway::MAX_CONNECTION_DURATION.as_secs())]
        max_connection_duration: u64,
        /// Accept POST /_wsauth/push from any address (default: loopback only).
        #[arg(long)]
        push_from_anywhere: bool,
        /// Where the handshake token travels: subprotocol, query or header (default: the
        /// WSAUTH_TOKEN_SOURCE variable, else subprotocol). Only that place counts.
        #[arg(long, value_parser = parse_token_source)]
        token_source: Option<TokenSource>,
        /// Run the built Lambda binaries in DIR (`authorizer`, `connect`, `routes`, `push`, or
        /// `{name}/bootstrap`) through an emulated Runtime API instead of the linked-in handlers.
        /// Needs --store dynamodb.
        #[arg(long, value_name = "DIR")]
        lambdas: Option<PathBuf>,
        /// The concurrency the four functions share: one invocation more at once is throttled at
        /// once, as Lambda does (a handshake fails, a message gets `Internal server error`).
        /// Default: Lambda's account limit.
        #[arg(long, default_value_t = gateway::DEFAULT_CONCURRENCY, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
        lambda_concurrency: usize,
        /// With --lambdas, the most instances of each function running at once on this machine:
        /// an invocation beyond them waits for a free one (Lambda would start another).
        #[arg(long, default_value_t = wsauth_local::lambdas::DEFAULT_INSTANCES, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
        lambda_instances: usize,
        /// New connections per second the account allows, `N/s` or `N/s:BURST` (a handshake
        /// beyond gets 429). Default: not throttled (AWS: 500/s per account and region).
        #[arg(long, value_name = "RATE")]
        throttle_connections: Option<Rate>,
        /// @connections calls per second the account allows, `N/s` or `N/s:BURST` (beyond: 429
        /// LimitExceededException). Default: not throttled (AWS: 10,000/s, burst 5,000).
        #[arg(long, value_name = "RATE")]
        throttle_requests: Option<Rate>,
        /// A command the binaries run under, with --lambdas (e.g. "qemu-aarch64-static -L
        /// /usr/aarch64-linux-gnu" for arm64 builds on x86_64).
        #[arg(long, value_name = "COMMAND")]
        lambda_runner: Option<String>,
        /// Each function's timeout in seconds (serverless.yml's `timeout`).
        #[arg(long, default_value_t = FUNCTION_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..=900))]
        function_timeout: u64,
        /// The share of $disconnect invocations to drop, 0.0 to 1.0 (API Gateway delivers them on
        /// a best-effort basis): shows what pruning on 410 does.
        #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
        lose_disconnects: f64,
        /// A custom domain with a base-path mapping to the stage, `DOMAIN/BASE_PATH` (e.g.
        /// api.example.com/chat): requests whose Host names it reach the stage at
        /// /BASE_PATH, and their events carry it as domainName, as on AWS.
        #[arg(long, value_name = "DOMAIN/BASE_PATH")]
        custom_domain: Option<gateway::CustomDomain>,
    },
    /// Mint a token from the dev issuer (kept under .wsauth/).
    Token {
        /// The user (`sub`).
        #[arg(long)]
        sub: String,
        /// Space-separated scopes.
        #[arg(long, default_value = "")]
        scope: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

fn parse_share(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{v:?} is not a number from 0.0 to 1.0")),
    }
}

fn parse_token_source(v: &str) -> Result<TokenSource, String> {
    v.parse().map_err(|e: UnknownTokenSource| e.to_string())
}

/// A command that connects with `token` the way the server expects it.
fn try_command(url: &str, token: &str, source: TokenSource) -> String {
    use wsauth_protocol::token::{
        BEARER_PROTOCOL_PREFIX as BEARER, QUERY_PARAMETER, SUBPROTOCOL, authorization_value,
    };
    match source {
        TokenSource::Subprotocol => {
            format!("wscat -c '{url}' -s {SUBPROTOCOL} -s '{BEARER}{token}'")
        }
        TokenSource::Query => format!("wscat -c '{url}?{QUERY_PARAMETER}={token}'"),
        TokenSource::Header => format!(
            "wscat -c '{url}' -H 'Authorization: {}'",
            authorization_value(token)
        ),
    }
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    // `RUST_LOG`, with the crates that log tokens below `info` held at `info`.
    wsauth_settings::telemetry::init_local_tracing();
    match Cli::parse().command {
        Command::Token { sub, scope, ttl } => {
            if sub.trim().is_empty() || ttl <= 0 {
                eprintln!("error: --sub must not be empty and --ttl must be positive");
                return ExitCode::from(2);
            }
            match DevIssuer::load_or_create(&PathBuf::from(DEV_DIR))
                .and_then(|d| d.mint(&sub, &scope, ttl, now_epoch()))
            {
                Ok(t) => {
                    println!("{t}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve {
            listen,
            stage,
            store,
            idle_timeout,
            max_connection_duration,
            push_from_anywhere,
            token_source: flag,
            lambdas,
            lambda_concurrency,
            lambda_instances,
            throttle_connections,
            throttle_requests,
            lambda_runner,
            function_timeout,
            lose_disconnects,
            custom_domain,
        } => {
            // The environment, read once; `--token-source` wins over `WSAUTH_TOKEN_SOURCE`.
            let settings = Settings::from_env();
            let token_source = match flag.map_or_else(|| settings.token_source(), Ok) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let opts = GatewayOptions {
                stage: stage.clone(),
                idle_timeout: Duration::from_secs(idle_timeout.max(1)),
                max_connection_duration: Duration::from_secs(max_connection_duration.max(1)),
                push_from_anywhere,
                token_source,
                settings: settings.clone(),
                function_timeout: Duration::from_secs(function_timeout),
                lose_disconnects,
                concurrency: lambda_concurrency,
                throttle_connections,
                throttle_requests,
                custom_domain: custom_domain.clone(),
                lambdas: lambdas.clone().map(|dir| LambdaOptions {
                    dir,
                    runner: lambda_runner
                        .as_deref()
                        .map(|r| r.split_whitespace().map(str::to_owned).collect())
                        .unwrap_or_default(),
                    instances: lambda_instances,
                }),
                ..GatewayOptions::default()
            };
            let store = match store {
                Store::Memory => StoreKind::Memory,
                Store::Dynamodb => StoreKind::Dynamodb,
            };
            let started = async {
                let issuer = issuer_mode(&settings, PathBuf::from(DEV_DIR))?;
                let dev = matches!(issuer, wsauth_local::IssuerMode::Dev(_));
                let (listener, running) = bind(&listen, opts, issuer, store).await?;
                Ok::<_, wsauth_local::LocalError>((listener, running, dev))
            };
            let (listener, running, dev) = match started.await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let base = wsauth_local::gateway::local_base_url(running.addr);
            let base = base.trim_start_matches("http://").to_owned();
            println!("wsauth-local listening");
            println!("  WebSocket:  ws://{base}/{stage}");
            println!("  demo page:  http://{base}/");
            println!("  push:       POST http://{base}/_wsauth/push");
            println!("  @connections: http://{base}/{stage}/@connections/{{connectionId}}");
            if let Some(d) = &custom_domain {
                println!(
                    "  custom domain: {} (Host), base path /{} -> stage {stage}",
                    d.name, d.base_path
                );
            }
            println!(
                "  token source: {token_source} (--token-source; the deploy's tokenSource must match)"
            );
            if let Some(dir) = &lambdas {
                println!(
                    "  functions:  the binaries in {} (--lambdas)",
                    dir.display()
                );
            }
            if dev {
                if let Ok(d) = DevIssuer::load_or_create(&PathBuf::from(DEV_DIR))
                    && let Ok(t) = d.mint(
                        "alice",
                        "messages:send messages:broadcast",
                        3600,
                        now_epoch(),
                    )
                {
                    println!(
                        "  dev issuer: keys in {} (mint more: wsauth-local token --sub bob --scope \"messages:send\")",
                        d.path().display()
                    );
                    println!("  try (token for alice, 1 h):");
                    println!(
                        "    {}",
                        try_command(&format!("ws://{base}/{stage}"), &t, token_source)
                    );
                    println!("    then send: {{\"action\":\"whoami\"}}");
                }
            } else {
                println!("  issuer: WSAUTH_ISSUER (tokens verified against its JWKS)");
            }
            match run(listener, running.gateway, stop_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
