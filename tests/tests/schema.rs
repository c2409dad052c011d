//! Each table fact has one home, `wsauth_session::dynamo::schema`: the tables the store creates
//! in DynamoDB Local (read back with `DescribeTable` and `DescribeTimeToLive`) are the tables
//! `serverless.yml` deploys: the same attributes, key, indexes with their keys and projections,
//! TTL attribute, billing and encryption. A table changed in one place fails here.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use wsauth_session::DynamoSessionStore;

fn serverless_yml() -> serde_yaml_ng::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../serverless.yml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn sorted(mut v: Vec<Value>) -> Value {
    v.sort_by_key(|x| x.to_string());
    Value::Array(v)
}

fn key_schema(k: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> Value {
    k.iter()
        .map(|e| json!([e.attribute_name(), e.key_type().as_str()]))
        .collect()
}

/// A table as DynamoDB Local describes it, in one comparable shape.
async fn created(store: &DynamoSessionStore, table: &str) -> Value {
    let c = store.client();
    let d = c.describe_table().table_name(table).send().await.unwrap();
    let t = d.table().unwrap();
    let ttl = c
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    json!({
        "attributes": sorted(t.attribute_definitions().iter()
            .map(|a| json!([a.attribute_name(), a.attribute_type().as_str()])).collect()),
        "key": key_schema(t.key_schema()),
        "indexes": sorted(t.global_secondary_indexes().iter().map(|g| json!({
            "name": g.index_name(),
            "key": key_schema(g.key_schema()),
            "projection": g.projection().and_then(|p| p.projection_type()).map(|p| p.as_str()),
        })).collect()),
        "ttl": [ttl.attribute_name(), ttl.time_to_live_status().map(|s| s.as_str())],
        "billing": t.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str()),
    })
}

/// The same shape from a `serverless.yml` table resource.
fn deployed(resource: &str) -> (Value, bool) {
    let p = &serverless_yml()["resources"]["Resources"][resource]["Properties"];
    let s = |v: &serde_yaml_ng::Value| v.as_str().unwrap().to_owned();
    let key = |k: &serde_yaml_ng::Value| -> Value {
        k.as_sequence()
            .unwrap()
            .iter()
            .map(|e| json!([s(&e["AttributeName"]), s(&e["KeyType"])]))
            .collect()
    };
    let indexes = p["GlobalSecondaryIndexes"]
        .as_sequence()
        .map(|gs| {
            gs.iter()
                .map(|g| {
                    json!({
                        "name": s(&g["IndexName"]),
                        "key": key(&g["KeySchema"]),
                        "projection": s(&g["Projection"]["ProjectionType"]),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let ttl = &p["TimeToLiveSpecification"];
    let shape = json!({
        "attributes": sorted(p["AttributeDefinitions"].as_sequence().unwrap().iter()
            .map(|a| json!([s(&a["AttributeName"]), s(&a["AttributeType"])])).collect()),
        "key": key(&p["KeySchema"]),
        "indexes": sorted(indexes),
        "ttl": [s(&ttl["AttributeName"]), if ttl["Enabled"].as_bool() == Some(true) { "ENABLED" } else { "DISABLED" }],
        "billing": s(&p["BillingMode"]),
    });
    (
        shape,
        p["SSESpecification"]["SSEEnabled"].as_bool() == Some(true),
    )
}

#[tokio::test]
async fn serverless_yml_deploys_the_tables_the_store_creates() {
    let store = wsauth_devkit::stores::dynamodb_local().await;
    for (resource, table) in [
        ("SessionsTable", store.table().to_owned()),
        ("RevocationsTable", store.revocations_table().to_owned()),
    ] {
        let (want, encrypted) = deployed(resource);
        assert_eq!(
            created(&store, &table).await,
            want,
            "serverless.yml's {resource} differs from what wsauth_session::dynamo::schema creates"
        );
        // DynamoDB Local does not report encryption; the store always asks for it.
        assert!(
            encrypted,
            "{resource}: SSESpecification.SSEEnabled must be true"
        );
    }
}
