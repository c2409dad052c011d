//! `wsauth-local`: API Gateway's WebSocket behaviour on one machine, running wsauth's real
//! handlers in-process (authorizer, `$connect`/`$disconnect`, routes, push).
//!
//! # Layout
//!
//! - [`gateway`]: the emulated API (handshake, routing, limits, @connections, push, demo page).
//! - [`lambdas`]: `--lambdas DIR`: the built Lambda binaries as child processes behind an
//!   emulated Lambda Runtime API.
//! - [`devissuer`]: the dev issuer used when `WSAUTH_ISSUER` is not set.
//! - [`ids`]: connection IDs; [`timefmt`]: API Gateway's time formats.
//! - this file: assembly. [`bind`] (or [`bind_with_routes`], with application routes) binds the
//!   listener and builds the gateway over the real handlers; [`run`] serves until a shutdown
//!   future resolves, so tests bind port 0 and stop it themselves. `src/main.rs` is the CLI.

#![deny(missing_docs)]

pub mod devissuer;
pub mod gateway;
pub mod ids;
pub mod lambdas;
pub mod timefmt;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wsauth_authorizer::{Authorizer, AuthorizerConfig, Verifier};
use wsauth_connect::ConnectHandler;
use wsauth_policy::RoutePolicyError;
use wsauth_routes::{ApiGwConnections, Pusher, Router, Services};
use wsauth_session::{DynamoSessionStore, MemorySessionStore, SessionStore};
use wsauth_settings::Settings;

use gateway::Credentials;
use gateway::functions::{Functions, Linked};
pub use gateway::{Gateway, GatewayOptions};

/// Where bindings live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// In process memory (default).
    Memory,
    /// DynamoDB (`AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local); the table is created if absent.
    Dynamodb,
}

/// Which issuer tokens come from.
pub enum IssuerMode {
    /// `WSAUTH_ISSUER` unset: the dev issuer under this directory.
    Dev(PathBuf),
    /// `WSAUTH_ISSUER` set: the real issuer's JWKS, exactly as the Lambda authorizer uses it.
    External(Box<AuthorizerConfig>),
}

/// A start-up failure, naming what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A configuration variable or flag is wrong.
    #[error("{0}")]
    Config(String),
    /// The listen address cannot be bound.
    #[error("--listen {addr}: cannot listen ({source})")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The session store cannot be reached.
    #[error(
        "--store dynamodb: DynamoDB unreachable (AWS_ENDPOINT_URL_DYNAMODB={endpoint}): {cause}"
    )]
    Store {
        /// The endpoint tried.
        endpoint: String,
        /// Why.
        cause: String,
    },
}

/// What [`bind`] assembled: the gateway and the address it listens on.
pub struct Running {
    /// The gateway (connection registry, handlers).
    pub gateway: Arc<Gateway>,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Builds the store named by `kind` (`WSAUTH_TABLE`, `WSAUTH_REVOCATIONS_TABLE`, how long
/// revocations are kept and the DynamoDB endpoint from `settings`).
pub async fn build_store(
    kind: StoreKind,
    settings: &Settings,
) -> Result<Arc<dyn SessionStore>, LocalError> {
    let store = settings
        .store()
        .map_err(|e| LocalError::Config(e.to_string()))?;
    match kind {
        StoreKind::Memory => Ok(Arc::new(MemorySessionStore::with_revocations_kept(
            store.revocations_kept_seconds,
        ))),
        StoreKind::Dynamodb => {
            let client = wsauth_session::dynamo::client(&store).await;
            wsauth_session::dynamo::ensure_tables(&client, &store)
                .await
                .map_err(|e| LocalError::Store {
                    endpoint: store
                        .dynamodb_endpoint
                        .clone()
                        .unwrap_or_else(|| "(AWS)".into()),
                    cause: e.to_string(),
                })?;
            Ok(Arc::new(DynamoSessionStore::new(client, &store)))
        }
    }
}

/// Adds application routes to the router wsauth-local serves (see [`bind_with_routes`]).
pub type AddRoutes = Box<dyn FnOnce(Router) -> Result<Router, RoutePolicyError> + Send>;

/// Assembles the gateway for a listener bound at `addr`, with the built-in routes and whatever
/// `add_routes` adds (application routes, declared with [`Router::route`]).
pub async fn assemble(
    addr: SocketAddr,
    opts: GatewayOptions,
    issuer: IssuerMode,
    store: Arc<dyn SessionStore>,
    add_routes: AddRoutes,
) -> Result<Arc<Gateway>, LocalError> {
    // The functions derive the @connections endpoint from each `$connect` event
    // (`https://{domainName}/{stage}`) as on AWS, or take the user's WSAUTH_MANAGEMENT_ENDPOINT;
    // their calls, addressed and signed for it, travel to this listener.
    let local_gateway = gateway::local_base_url(addr);
    if opts.lambdas.is_some() {
        // The functions take their calls' destination from WSAUTH_LOCAL_GATEWAY, loopback only:
        // its rule is the settings'.
        Settings::from_pairs(&[(wsauth_settings::LOCAL_GATEWAY_VAR, &local_gateway)])
            .local_gateway()
            .map_err(|e| {
                LocalError::Config(format!(
                    "--lambdas: listen on a loopback address or 0.0.0.0, not {} ({e})",
                    addr.ip()
                ))
            })?;
    }
    let endpoint_override = opts.settings.management_endpoint_override();
    let jwks_url = format!("{local_gateway}/.well-known/jwks.json");
    let (authorizer, dev) = match issuer {
        IssuerMode::Dev(dir) => {
            let dev = devissuer::DevIssuer::load_or_create(&dir).map_err(LocalError::Config)?;
            let mut cfg = dev
                .authorizer_config(&opts.settings, &jwks_url)
                .map_err(LocalError::Config)?;
            cfg.token_source = opts.token_source;
            let verifier = Verifier::new(cfg).map_err(|e| LocalError::Config(e.to_string()))?;
            for cache in verifier.caches() {
                cache
                    .install(dev.jwks().to_string().as_bytes())
                    .map_err(|e| LocalError::Config(e.to_string()))?;
            }
            let verifier = Arc::new(verifier);
            (Authorizer::with_verifier(verifier), Some(dev))
        }
        IssuerMode::External(mut cfg) => {
            // The authorizer reads the token where the emulated API Gateway checks for it.
            cfg.token_source = opts.token_source;
            let a = Authorizer::init(*cfg)
                .await
                .map_err(|e| LocalError::Config(format!("WSAUTH_JWKS_URL: {e}")))?;
            (a, None)
        }
    };
    let sdk = wsauth_session::aws::sdk_config_from_env(true).await;
    let credentials = gateway_credentials(&sdk).await?;
    let services = Arc::new(Services {
        store: store.clone(),
        connections: Arc::new(ApiGwConnections::with_local_gateway(
            sdk,
            Some(local_gateway.clone()),
        )),
        verifier: Some(authorizer.verifier().clone()),
        endpoint_override: endpoint_override.clone(),
        leeway_seconds: i64::try_from(authorizer.verifier().config().leeway_seconds)
            .unwrap_or(i64::MAX),
    });
    let policy = opts
        .settings
        .route_policy()
        .map_err(|e| LocalError::Config(e.to_string()))?;
    let router = add_routes(Router::new(services.clone(), policy))
        .map_err(|e| LocalError::Config(format!("application routes: {e}")))?;
    let pusher = Pusher::new(services);
    let connect = ConnectHandler::new(store.clone(), endpoint_override);
    let routes: Vec<(String, bool)> = router
        .route_table()
        .map(|(k, answers)| (k.to_owned(), answers))
        .collect();
    let timeout = opts.function_timeout;
    let functions: Arc<dyn Functions> = match &opts.lambdas {
        None => Arc::new(Linked::new(authorizer, connect, router, pusher, timeout)),
        Some(l) => {
            let env =
                lambda_environment(&opts, dev.as_ref(), &local_gateway, &jwks_url, &credentials);
            Arc::new(lambdas::Lambdas::new(l, env, timeout).map_err(LocalError::Config)?)
        }
    };
    Ok(Arc::new(Gateway::new(
        opts,
        addr,
        functions,
        routes,
        store,
        credentials,
        dev,
    )))
}

/// The environment `serverless.yml` gives every function, as this wsauth-local runs them: its
/// settings (`WSAUTH_MANAGEMENT_ENDPOINT` only if the user set it), its token source, where its
/// @connections calls travel (`WSAUTH_LOCAL_GATEWAY`), its table and DynamoDB endpoint,
/// its credentials; with the dev issuer, the dev issuer's `iss`, `aud` and JWKS.
fn lambda_environment(
    opts: &GatewayOptions,
    dev: Option<&devissuer::DevIssuer>,
    local_gateway: &str,
    jwks_url: &str,
    credentials: &Credentials,
) -> Vec<(String, String)> {
    let mut s = opts.settings.clone();
    s.set("WSAUTH_TOKEN_SOURCE", Some(opts.token_source.as_str()));
    s.set(wsauth_settings::LOCAL_GATEWAY_VAR, Some(local_gateway));
    if dev.is_some() {
        s.set("WSAUTH_ISSUER", Some(devissuer::DEV_ISSUER));
        s.set("WSAUTH_AUDIENCE", Some(devissuer::DEV_AUDIENCE));
        s.set("WSAUTH_JWKS_URL", Some(jwks_url));
        s.set("WSAUTH_TOKEN_USE", None);
        s.set("WSAUTH_CLIENT_ID", None);
    }
    if let Ok(store) = s.store() {
        s.set("WSAUTH_TABLE", Some(&store.table));
        s.set("WSAUTH_REVOCATIONS_TABLE", Some(&store.revocations_table));
    }
    let mut env: Vec<(String, String)> = wsauth_settings::VARIABLES
        .iter()
        .filter_map(|v| s.get(v).map(|value| ((*v).to_owned(), value)))
        .collect();
    env.extend(credentials.environment());
    env.push(("RUST_LOG".into(), "info".into()));
    env
}

/// The credentials wsauth-local runs with (the environment's, else local placeholders): the
/// ones its @connections API verifies signatures against, and its handlers sign with.
async fn gateway_credentials(sdk: &aws_config::SdkConfig) -> Result<Credentials, LocalError> {
    use aws_credential_types::provider::ProvideCredentials as _;
    let provider = sdk
        .credentials_provider()
        .ok_or_else(|| LocalError::Config("no AWS credentials for @connections".into()))?;
    let c = provider
        .provide_credentials()
        .await
        .map_err(|e| LocalError::Config(format!("AWS credentials: {e}")))?;
    Ok(Credentials::new(c.access_key_id(), c.secret_access_key()))
}

/// Serves on `listener` until `shutdown` resolves, then closes every connection with 1001 and
/// runs `$disconnect` for each.
pub async fn run(
    listener: tokio::net::TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = gateway.app();
    let gw = gateway.clone();
    let signal = async move {
        shutdown.await;
        gw.shutdown(Duration::from_secs(5)).await;
    };
    axum::serve(
        gateway::peer::Listener(listener),
        app.into_make_service_with_connect_info::<gateway::peer::Peer>(),
    )
    .with_graceful_shutdown(signal)
    .await
}

/// Binds `addr` (port 0 allowed) and assembles everything with the built-in routes; the caller
/// then calls [`run`].
pub async fn bind(
    addr: &str,
    opts: GatewayOptions,
    issuer: IssuerMode,
    store: StoreKind,
) -> Result<(tokio::net::TcpListener, Running), LocalError> {
    bind_with_routes(addr, opts, issuer, store, Box::new(Ok)).await
}

/// [`bind`], with application routes added to the router: they are selected by
/// `$request.body.action` exactly like the built-in ones.
pub async fn bind_with_routes(
    addr: &str,
    opts: GatewayOptions,
    issuer: IssuerMode,
    store: StoreKind,
    add_routes: AddRoutes,
) -> Result<(tokio::net::TcpListener, Running), LocalError> {
    if opts.stage.is_empty()
        || !opts
            .stage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(LocalError::Config(format!(
            "--stage {:?}: use letters, digits, '-' and '_' only",
            opts.stage
        )));
    }
    if opts.lambdas.is_some() && store == StoreKind::Memory {
        return Err(LocalError::Config(
            "--lambdas needs --store dynamodb: the functions run as separate processes and share \
             the bindings through DynamoDB (AWS_ENDPOINT_URL_DYNAMODB, e.g. DynamoDB Local)"
                .into(),
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| LocalError::Bind {
            addr: addr.to_owned(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| LocalError::Bind {
        addr: addr.to_owned(),
        source,
    })?;
    let store = build_store(store, &opts.settings).await?;
    let gateway = assemble(local, opts, issuer, store, add_routes).await?;
    Ok((
        listener,
        Running {
            gateway,
            addr: local,
        },
    ))
}

/// The issuer mode of `settings`: external when `WSAUTH_ISSUER` is set, else the dev issuer
/// keeping its keys in `dev_dir`.
pub fn issuer_mode(settings: &Settings, dev_dir: PathBuf) -> Result<IssuerMode, LocalError> {
    if settings.has_issuer() {
        settings
            .auth()
            .map(|c| IssuerMode::External(Box::new(c)))
            .map_err(|e| LocalError::Config(e.to_string()))
    } else {
        Ok(IssuerMode::Dev(dev_dir))
    }
}
