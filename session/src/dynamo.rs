//! The DynamoDB store (AWS, or DynamoDB Local through `AWS_ENDPOINT_URL_DYNAMODB`).
//!
//! Table: partition key `connectionId` (S); GSI `byUser` (`userId`, `connectedAt`, all
//! attributes projected); TTL attribute `ttl`. Item ↔ [`Binding`] conversion lives in
//! [`to_item`] and [`from_item`] only.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ScalarAttributeType, SseSpecification,
    TableStatus, TimeToLiveSpecification,
};

use wsauth_runtime::settings::StoreSettings;

use crate::aws::{is_loopback_url, sdk_config_from_env};
use crate::binding::{Binding, TTL_GRACE_SECONDS};
use crate::store::{Page, SessionStore, StoreError};

/// The per-user index.
pub const BY_USER_INDEX: &str = "byUser";

type Item = HashMap<String, AttributeValue>;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn scopes_attr(scopes: &[String]) -> AttributeValue {
    AttributeValue::L(scopes.iter().map(|x| s(x)).collect())
}

/// A binding as a DynamoDB item.
pub fn to_item(b: &Binding) -> Item {
    HashMap::from([
        ("connectionId".to_owned(), s(&b.connection_id)),
        ("userId".to_owned(), s(&b.user_id)),
        ("sessionId".to_owned(), s(&b.session_id)),
        ("issuer".to_owned(), s(&b.issuer)),
        ("scopes".to_owned(), scopes_attr(&b.scopes)),
        ("connectedAt".to_owned(), n(b.connected_at)),
        ("expiresAt".to_owned(), n(b.expires_at)),
        ("ttl".to_owned(), n(b.ttl)),
        ("endpoint".to_owned(), s(&b.endpoint)),
    ])
}

/// A DynamoDB item read back as a binding. `scopes` may be a string set or a list.
pub fn from_item(item: &Item) -> Result<Binding, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(what.to_owned());
    let get_s = |k: &str| -> Result<String, StoreError> {
        match item.get(k) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err(corrupt(k)),
        }
    };
    let get_n = |k: &str| -> Result<i64, StoreError> {
        match item.get(k) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().map_err(|_| corrupt(k)),
            _ => Err(corrupt(k)),
        }
    };
    let scopes = match item.get("scopes") {
        None => Vec::new(),
        Some(AttributeValue::Ss(v)) => v.clone(),
        Some(AttributeValue::L(v)) => v
            .iter()
            .map(|x| match x {
                AttributeValue::S(s) => Ok(s.clone()),
                _ => Err(corrupt("scopes")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(corrupt("scopes")),
    };
    let expires_at = get_n("expiresAt")?;
    Ok(Binding {
        connection_id: get_s("connectionId")?,
        user_id: get_s("userId")?,
        session_id: get_s("sessionId")?,
        issuer: get_s("issuer")?,
        scopes,
        connected_at: get_n("connectedAt")?,
        expires_at,
        ttl: get_n("ttl").unwrap_or(expires_at.saturating_add(TTL_GRACE_SECONDS)),
        endpoint: get_s("endpoint")?,
    })
}

fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Unavailable(DisplayErrorContext(&e).to_string())
}

fn key(connection_id: &str) -> Item {
    HashMap::from([("connectionId".to_owned(), s(connection_id))])
}

/// A DynamoDB client for `settings` (region, credentials and endpoint from the SDK's own
/// environment; placeholders for a local endpoint such as DynamoDB Local).
pub async fn client(settings: &StoreSettings) -> Client {
    let local = settings
        .dynamodb_endpoint
        .as_deref()
        .is_some_and(is_loopback_url);
    Client::new(&sdk_config_from_env(local).await)
}

/// Creates the table (key, `byUser` GSI, TTL on `ttl`, on-demand, encrypted) unless it exists,
/// and waits until it is active. Safe to call concurrently and repeatedly.
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let attr = |name: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(t)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    };
    let key_el = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    };
    let exists = match client.describe_table().table_name(table).send().await {
        Ok(_) => true,
        Err(e) if e.code() == Some("ResourceNotFoundException") => false,
        Err(e) => return Err(unavailable(e)),
    };
    if !exists {
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(BY_USER_INDEX)
            .key_schema(key_el("userId", KeyType::Hash)?)
            .key_schema(key_el("connectedAt", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("connectionId", ScalarAttributeType::S)?)
            .attribute_definitions(attr("userId", ScalarAttributeType::S)?)
            .attribute_definitions(attr("connectedAt", ScalarAttributeType::N)?)
            .key_schema(key_el("connectionId", KeyType::Hash)?)
            .global_secondary_indexes(gsi)
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(unavailable(e)),
        }
    }
    for _ in 0..100 {
        let d = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(unavailable)?;
        if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name("ttl")
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    match client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Already enabled (a second call, or a concurrent one).
        Err(e) if e.code() == Some("ValidationException") => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}

/// Bindings in a DynamoDB table.
#[derive(Clone)]
pub struct DynamoSessionStore {
    client: Client,
    table: String,
}

impl DynamoSessionStore {
    /// A store on `table` through `client`.
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl SessionStore for DynamoSessionStore {
    async fn bind(&self, b: &Binding) -> Result<(), StoreError> {
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(b)))
            .condition_expression("attribute_not_exists(connectionId)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyBound)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Binding>, StoreError> {
        let r = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(connection_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        r.item().map(from_item).transpose()
    }

    async fn user_bindings(&self, user_id: &str) -> Result<Vec<Binding>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let r = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_USER_INDEX)
                .key_condition_expression("userId = :u")
                .expression_attribute_values(":u", s(user_id))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in r.items() {
                out.push(from_item(item)?);
            }
            match r.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn page(&self, start_after: Option<&str>, limit: usize) -> Result<Page, StoreError> {
        let limit = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        let r = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(limit)
            .set_exclusive_start_key(start_after.map(key))
            .send()
            .await
            .map_err(unavailable)?;
        let items = r.items().iter().map(from_item).collect::<Result<_, _>>()?;
        let next = r
            .last_evaluated_key()
            .and_then(|k| k.get("connectionId"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        Ok(Page { items, next })
    }

    async fn extend(
        &self,
        connection_id: &str,
        user_id: &str,
        expires_at: i64,
        scopes: &[String],
    ) -> Result<bool, StoreError> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(connection_id)))
            .update_expression("SET expiresAt = :e, #ttl = :t, scopes = :s")
            .condition_expression("attribute_exists(connectionId) AND userId = :u")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":e", n(expires_at))
            .expression_attribute_values(":t", n(expires_at.saturating_add(TTL_GRACE_SECONDS)))
            .expression_attribute_values(":s", scopes_attr(scopes))
            .expression_attribute_values(":u", s(user_id))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn unbind(&self, connection_id: &str) -> Result<bool, StoreError> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(connection_id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(r.attributes().is_some_and(|a| !a.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> Binding {
        Binding {
            connection_id: "L0SM9cOFvHcCIhw=".into(),
            user_id: "alice".into(),
            session_id: "s1".into(),
            issuer: "https://i".into(),
            scopes: vec!["messages:send".into()],
            connected_at: 1_795_600_800_000,
            expires_at: 1_795_604_400,
            ttl: 1_795_604_700,
            endpoint: "https://abc.execute-api.us-east-1.amazonaws.com/dev".into(),
        }
    }

    #[test]
    fn items_round_trip_and_follow_the_data_model() {
        let item = to_item(&binding());
        assert_eq!(
            item["connectedAt"],
            AttributeValue::N("1795600800000".into())
        );
        assert!(matches!(item["scopes"], AttributeValue::L(_)));
        assert_eq!(from_item(&item).unwrap(), binding());
    }

    #[test]
    fn string_set_scopes_are_read_and_broken_items_are_corrupt() {
        let mut item = to_item(&binding());
        item.insert("scopes".into(), AttributeValue::Ss(vec!["a".into()]));
        assert_eq!(from_item(&item).unwrap().scopes, vec!["a"]);
        item.insert("expiresAt".into(), AttributeValue::S("soon".into()));
        assert!(matches!(from_item(&item), Err(StoreError::Corrupt(_))));
        let mut item = to_item(&binding());
        item.remove("userId");
        assert!(matches!(from_item(&item), Err(StoreError::Corrupt(_))));
    }
}
