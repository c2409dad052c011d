//! The AWS SDK configuration every wsauth client shares: loaded from the environment once,
//! with bounded timeouts and retries so that an outage fails a request instead of hanging it.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Whether `url` points at this machine (DynamoDB Local, `wsauth-local`).
pub use wsauth_protocol::host::is_loopback_url;

/// Every call answers within this long, failure included: a request during an outage gets
/// `internal`, never a hang (connect 1 s, each attempt at most 3 s, up to three attempts with
/// backoff: a refused connection is tried again at once, a slow one once at most).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(4);

/// How long an idle keep-alive connection to a local endpoint (DynamoDB Local, wsauth-local's
/// own @connections API) is kept: a burst does not leave hundreds of sockets open for the
/// SDK's default 90 s.
pub const LOCAL_POOL_IDLE: Duration = Duration::from_secs(5);

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL_*`).
/// With `local_placeholders`, missing credentials and region are replaced by placeholders,
/// which local emulators accept (on AWS the environment always has both), and idle
/// connections are kept [`LOCAL_POOL_IDLE`] only.
pub async fn sdk_config_from_env(local_placeholders: bool) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if local_placeholders {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        loader = loader.http_client(
            aws_smithy_http_client::Builder::new()
                .pool_idle_timeout(LOCAL_POOL_IDLE)
                .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                .build_https(),
        );
        if !wsauth_settings::aws::has_access_key() {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                "local",
                "local",
                None,
                None,
                "wsauth-local",
            ));
        }
        if wsauth_settings::aws::region().is_none() {
            loader = loader.region(aws_config::Region::new(wsauth_settings::aws::LOCAL_REGION));
        }
    }
    loader.load().await
}
