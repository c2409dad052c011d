//! The `$connect` authorizer Lambda: config and JWKS loaded once at cold start.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use wsauth_authorizer::{Authorizer, WebSocketAuthorizerRequest};
use wsauth_settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wsauth_settings::telemetry::init_lambda_tracing();
    let config = Settings::from_env().auth()?;
    let authorizer = &Authorizer::init(config).await?;
    run(service_fn(
        move |event: LambdaEvent<WebSocketAuthorizerRequest>| async move {
            authorizer.handle(&event.payload).await
        },
    ))
    .await
}
