//! The `$connect`/`$disconnect` Lambda: one function, dispatched by `eventType`.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use wsauth_connect::ConnectHandler;
use wsauth_session::DynamoSessionStore;
use wsauth_session::dynamo::client;
use wsauth_settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wsauth_settings::telemetry::init_lambda_tracing();
    let settings = Settings::from_env();
    let store_settings = settings.store()?;
    let store = DynamoSessionStore::new(client(&store_settings).await, &store_settings);
    let endpoint = settings.management_endpoint_override();
    let handler = &ConnectHandler::new(Arc::new(store), endpoint);
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(handler.handle(&event.payload).await)
        },
    ))
    .await
}
