//! The `push` Lambda: invoked by backends with `{"op": …}` (no API Gateway event).

use std::sync::Arc;

use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use wsauth_routes::{Pusher, Services};
use wsauth_settings::Settings;
use wsauth_settings::clock::now_epoch;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wsauth_settings::telemetry::init_lambda_tracing();
    let services = Services::from_settings(&Settings::from_env(), false).await?;
    let pusher = &Pusher::new(Arc::new(services));
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        pusher
            .handle_json(event.payload, now_epoch())
            .await
            // The variant as `errorType`: callers tell the failures apart by it, not by text.
            .map_err(Diagnostic::from)
    }))
    .await
}
