//! The `routes` Lambda: every message route and `$default`, authorized by its binding.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use wsauth_routes::Router;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wsauth_policy::telemetry::init_lambda_tracing();
    let services = Arc::new(wsauth_routes::services_from_env().await?);
    let router = &Router::new(services, wsauth_routes::route_policy_from_env()?);
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            let now = wsauth_policy::identity::now_epoch();
            Ok::<_, Error>(router.handle_event(&event.payload, now).await)
        },
    ))
    .await
}
