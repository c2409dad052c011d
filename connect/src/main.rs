//! The `$connect`/`$disconnect` Lambda: one function, dispatched by `eventType`.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use wsauth_connect::ConnectHandler;
use wsauth_session::DynamoSessionStore;
use wsauth_session::dynamo::{client_from_env, table_from_env};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wsauth_policy::telemetry::init_lambda_tracing();
    let store = DynamoSessionStore::new(client_from_env().await, &table_from_env());
    let endpoint = std::env::var("WSAUTH_MANAGEMENT_ENDPOINT").ok();
    let handler = &ConnectHandler::new(Arc::new(store), endpoint);
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(handler.handle(&event.payload).await)
        },
    ))
    .await
}
