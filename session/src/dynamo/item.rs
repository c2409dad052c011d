//! The item mapping: a [`Binding`] as a sessions-table item and back ([`to_item`],
//! [`from_item`], the only place that knows the attribute names of a binding), and the
//! attributes of a revocations-table item.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::binding::{Binding, TTL_GRACE_SECONDS};
use crate::store::StoreError;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn scopes_attr(scopes: &[String]) -> AttributeValue {
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
    .into_iter()
    .chain(b.issued_at.map(|iat| ("issuedAt".to_owned(), n(iat))))
    .collect()
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
        issued_at: match item.get("issuedAt") {
            None => None,
            Some(_) => Some(get_n("issuedAt")?),
        },
    })
}

/// The sessions table's key of a connection.
pub(super) fn key(connection_id: &str) -> Item {
    HashMap::from([("connectionId".to_owned(), s(connection_id))])
}

/// A revocation item's `revokedBefore` and `ttl`, when it has both.
pub(super) fn revocation_of(item: &Item) -> Option<(i64, i64)> {
    let num = |k: &str| item.get(k)?.as_n().ok()?.parse::<i64>().ok();
    Some((num("revokedBefore")?, num("ttl")?))
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
            issued_at: Some(1_795_600_700),
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
        assert_eq!(item["issuedAt"], AttributeValue::N("1795600700".into()));
        assert_eq!(from_item(&item).unwrap(), binding());
        let no_iat = Binding {
            issued_at: None,
            ..binding()
        };
        let item = to_item(&no_iat);
        assert!(!item.contains_key("issuedAt"));
        assert_eq!(from_item(&item).unwrap(), no_iat);
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
