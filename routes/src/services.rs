//! The service bundle every handler and push operation uses: the session store, the
//! @connections client, the `refresh` verifier and the management endpoint override.

use std::sync::Arc;

use wsauth_authorizer::Verifier;
use wsauth_session::{Binding, SessionStore};

use crate::connections::Connections;
use crate::fanout::{Delivery, deliver};

/// What handlers may use.
pub struct Services {
    /// The bindings.
    pub store: Arc<dyn SessionStore>,
    /// The @connections client.
    pub connections: Arc<dyn Connections>,
    /// Verifies `refresh` tokens; `None` refuses refresh as `internal`.
    pub verifier: Option<Arc<Verifier>>,
    /// `WSAUTH_MANAGEMENT_ENDPOINT`: when set, every @connections call goes there.
    pub endpoint_override: Option<String>,
}

impl Services {
    /// The endpoint to reach `b`'s connection through.
    pub fn endpoint_for<'a>(&'a self, b: &'a Binding) -> &'a str {
        self.endpoint_override.as_deref().unwrap_or(&b.endpoint)
    }

    /// Posts `payload` to `targets`, pruning gone connections.
    pub async fn deliver(&self, targets: Vec<Binding>, payload: &[u8]) -> Delivery {
        self.deliver_stream(futures_util::stream::iter(targets), payload)
            .await
    }

    /// Posts `payload` to every binding `targets` yields, pruning gone connections.
    pub async fn deliver_stream(
        &self,
        targets: impl futures_util::Stream<Item = Binding>,
        payload: &[u8],
    ) -> Delivery {
        deliver(
            self.connections.as_ref(),
            self.store.as_ref(),
            self.endpoint_override.as_deref(),
            targets,
            payload,
        )
        .await
    }
}
