//! The `routes` Lambda: every message route and `$default`, authorized by its binding.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use wsauth_routes::{Router, Services};
use wsauth_settings::Settings;
use wsauth_settings::clock::now_epoch;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wsauth_settings::telemetry::init_lambda_tracing();
    let settings = Settings::from_env();
    let services = Arc::new(Services::from_settings(&settings, true).await?);
    let router = &Router::new(services, settings.route_policy()?);
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(router.handle_event(&event.payload, now_epoch()).await)
        },
    ))
    .await
}
