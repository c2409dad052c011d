//! The `push` Lambda: invoked by backends with `{"op": …}` (no API Gateway event).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use wsauth_routes::Pusher;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wsauth_policy::telemetry::init_lambda_tracing();
    let pusher = &Pusher::new(Arc::new(wsauth_routes::services_from_env().await?));
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = wsauth_policy::identity::now_epoch();
        pusher
            .handle_json(event.payload, now)
            .await
            .map_err(Error::from)
    }))
    .await
}
