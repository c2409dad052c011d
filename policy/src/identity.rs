//! Who a connection belongs to, and its flat encoding in the authorizer context.
//!
//! API Gateway passes an authorizer's `context` to every later event of the connection as
//! `requestContext.authorizer`, but only string, number and boolean values survive. The identity
//! is therefore encoded flat: `userId`, `scopes` (space-joined), `expiresAt` (epoch seconds),
//! `sessionId`, `issuer`, and `issuedAt` (epoch seconds) when the token has an `iat`. Decoding accepts a number sent as a string (API Gateway may stringify)
//! and refuses anything missing or malformed: an identity is never half-read.

use std::sync::Arc;

use serde_json::{Map, Value};

/// The longest user ID or session ID, in bytes (DynamoDB's key limits leave room for it).
pub use wsauth_protocol::limits::MAX_USER_ID_BYTES;

/// Why a string is not a user ID ([`check_user_id`]) or a session ID ([`check_session_id`]).
/// It displays as a user ID's refusal (`a user ID must not be empty`);
/// [`IdError::describe`] names another kind of ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// Empty.
    Empty,
    /// Over [`MAX_USER_ID_BYTES`].
    TooLong,
    /// A control character (newline, NUL, …): it would reach logs and replies.
    Control,
    /// A user ID starting with `$`: `$server` marks backend pushes.
    Reserved,
}

impl IdError {
    /// The refusal, said of `noun` (`a session ID`).
    pub fn describe(self, noun: &str) -> String {
        match self {
            Self::Empty => format!("{noun} must not be empty"),
            Self::TooLong => format!("{noun} is at most {MAX_USER_ID_BYTES} bytes"),
            Self::Control => format!("{noun} must not contain control characters"),
            Self::Reserved => format!("{noun} must not start with `$`"),
        }
    }
}

impl std::fmt::Display for IdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe("a user ID"))
    }
}

impl std::error::Error for IdError {}

/// Checks a user ID (`userIdPrefix` + `sub`, and every `to` or push `userId`): 1 to 512 bytes of
/// UTF-8, no control characters, not starting with `$`.
pub fn check_user_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        Err(IdError::Empty)
    } else if id.len() > MAX_USER_ID_BYTES {
        Err(IdError::TooLong)
    } else if has_control(id) {
        Err(IdError::Control)
    } else if id.starts_with('$') {
        Err(IdError::Reserved)
    } else {
        Ok(())
    }
}

/// Whether `s` holds a control character (Unicode `Cc`: U+0000–U+001F, U+007F–U+009F); ASCII
/// text, the usual case, is checked byte by byte.
fn has_control(s: &str) -> bool {
    if s.is_ascii() {
        s.bytes().any(|b| b < 0x20 || b == 0x7f)
    } else {
        s.chars().any(char::is_control)
    }
}

/// Checks a session ID (`sid` or `jti`, or a push's `sessionId`): 1 to 512 bytes of UTF-8
/// without control characters. It is a key of the sessions' index and of revocations, and it is
/// logged, so it is bounded like a user ID (a `$` is allowed: nothing reserves it).
pub fn check_session_id(id: &str) -> Result<(), IdError> {
    match check_user_id(id) {
        Err(IdError::Reserved) => Ok(()),
        other => other,
    }
}

/// Splits a space-separated scope string (RFC 6749 §3.3: U+0020 only; a no-break space or a tab
/// is part of a scope, never a separator).
pub fn split_scopes(s: &str) -> impl Iterator<Item = &str> {
    s.split(' ').filter(|x| !x.is_empty())
}

/// The identity a token established, as bound to a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub`.
    pub user_id: String,
    /// Granted scopes (from `scope` or `scp`).
    pub scopes: Vec<String>,
    /// The token's `exp`, epoch seconds.
    pub expires_at: i64,
    /// `sid`, else `jti`, else a hash of the token.
    pub session_id: String,
    /// The token's `iss`: one of the configured issuers, shared rather than copied.
    pub issuer: Arc<str>,
    /// The token's `iat`, epoch seconds, when it has one (revocations compare it).
    pub issued_at: Option<i64>,
}

/// Why an authorizer context could not be read as an [`Identity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A required key is absent or empty.
    #[error("authorizer context lacks `{0}`")]
    Missing(&'static str),
    /// A key has a value of the wrong type or form.
    #[error("authorizer context has a malformed `{0}`")]
    Malformed(&'static str),
}

impl Identity {
    /// Whether every scope in `required` was granted.
    pub fn has_scopes<S: AsRef<str>>(&self, required: &[S]) -> bool {
        required
            .iter()
            .all(|r| self.scopes.iter().any(|s| s == r.as_ref()))
    }

    /// The scopes joined by single spaces, as carried in the context.
    pub fn scopes_joined(&self) -> String {
        self.scopes.join(" ")
    }

    /// The flat authorizer context: strings and numbers only.
    pub fn to_context(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("userId".into(), Value::String(self.user_id.clone()));
        m.insert("scopes".into(), Value::String(self.scopes_joined()));
        m.insert("expiresAt".into(), Value::from(self.expires_at));
        m.insert("sessionId".into(), Value::String(self.session_id.clone()));
        m.insert("issuer".into(), Value::String(self.issuer.to_string()));
        if let Some(iat) = self.issued_at {
            m.insert("issuedAt".into(), Value::from(iat));
        }
        m
    }

    /// Reads an identity back from a flat context (`requestContext.authorizer`).
    pub fn from_context<'a, I>(context: I) -> Result<Self, ContextError>
    where
        I: IntoIterator<Item = (&'a String, &'a Value)>,
    {
        let (mut user, mut scopes, mut exp, mut sid, mut iss, mut iat) =
            (None, None, None, None, None, None);
        for (k, v) in context {
            match k.as_str() {
                "userId" => user = Some(v),
                "scopes" => scopes = Some(v),
                "expiresAt" => exp = Some(v),
                "sessionId" => sid = Some(v),
                "issuer" => iss = Some(v),
                "issuedAt" => iat = Some(v),
                _ => {}
            }
        }
        let user_id = non_empty_str(user, "userId")?;
        let session_id = non_empty_str(sid, "sessionId")?;
        let issuer = non_empty_str(iss, "issuer")?;
        let scopes = match scopes {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => split_scopes(s).map(str::to_owned).collect(),
            Some(_) => return Err(ContextError::Malformed("scopes")),
        };
        let expires_at = match exp {
            None | Some(Value::Null) => return Err(ContextError::Missing("expiresAt")),
            Some(v) => epoch(v).ok_or(ContextError::Malformed("expiresAt"))?,
        };
        let issued_at = match iat {
            None | Some(Value::Null) => None,
            Some(v) => Some(epoch(v).ok_or(ContextError::Malformed("issuedAt"))?),
        };
        Ok(Self {
            user_id,
            scopes,
            expires_at,
            session_id,
            issuer: issuer.into(),
            issued_at,
        })
    }
}

/// A positive epoch-seconds value, as a number or a number in a string (API Gateway may
/// stringify context values).
fn epoch(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .filter(|e| *e > 0)
}

fn non_empty_str(v: Option<&Value>, key: &'static str) -> Result<String, ContextError> {
    match v {
        None | Some(Value::Null) => Err(ContextError::Missing(key)),
        Some(Value::String(s)) if s.is_empty() => Err(ContextError::Missing(key)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ContextError::Malformed(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_ids_are_bounded_printable_and_never_reserved() {
        assert_eq!(check_user_id("alice"), Ok(()));
        assert_eq!(check_user_id("tenant-a|Zoë 42"), Ok(()));
        assert_eq!(check_user_id(&"x".repeat(512)), Ok(()));
        assert_eq!(check_user_id(""), Err(IdError::Empty));
        assert_eq!(check_user_id(&"x".repeat(513)), Err(IdError::TooLong));
        assert_eq!(check_user_id("a\nb"), Err(IdError::Control));
        assert_eq!(check_user_id("a\u{7f}"), Err(IdError::Control));
        assert_eq!(check_user_id("$server"), Err(IdError::Reserved));
    }

    #[test]
    fn control_characters_are_found_in_ascii_and_in_any_text() {
        // Every character of the ASCII range and around the C1 controls, alone and beside
        // non-ASCII text (the other path), against the standard library's definition.
        for c in (0..=0x2ffu32).filter_map(char::from_u32) {
            for s in [format!("a{c}b"), format!("\u{e9}{c}")] {
                assert_eq!(
                    has_control(&s),
                    s.chars().any(char::is_control),
                    "{c:?} in {s:?}"
                );
            }
        }
        assert!(!has_control("Zoë ✓ 𝄞"));
        assert!(has_control("Zoë\u{85}"));
    }

    #[test]
    fn scopes_split_on_the_space_character_only() {
        let v: Vec<&str> = split_scopes(" a  b\u{a0}c\td ").collect();
        assert_eq!(v, vec!["a", "b\u{a0}c\td"]);
    }

    fn alice() -> Identity {
        Identity {
            user_id: "alice".into(),
            scopes: vec!["messages:send".into(), "profile".into()],
            expires_at: 1_795_604_400,
            session_id: "b1f0c8e2".into(),
            issuer: "https://issuer.example.com".into(),
            issued_at: Some(1_795_600_800),
        }
    }

    #[test]
    fn context_is_flat_and_round_trips() {
        let ctx = alice().to_context();
        assert!(ctx.values().all(|v| v.is_string() || v.is_number()));
        assert_eq!(ctx["scopes"], json!("messages:send profile"));
        assert_eq!(Identity::from_context(&ctx).unwrap(), alice());
    }

    #[test]
    fn api_gateway_context_with_extra_keys_and_string_numbers_is_read() {
        let ctx = json!({"principalId":"alice","userId":"alice","scopes":"messages:send",
            "expiresAt":"1795604400","sessionId":"b1f0c8e2","issuer":"https://i",
            "integrationLatency":12});
        let id = Identity::from_context(ctx.as_object().unwrap()).unwrap();
        assert_eq!(id.expires_at, 1_795_604_400);
        assert_eq!(id.scopes, vec!["messages:send"]);
    }

    #[test]
    fn missing_or_malformed_context_is_refused() {
        let mut ctx = alice().to_context();
        ctx.remove("userId");
        assert_eq!(
            Identity::from_context(&ctx),
            Err(ContextError::Missing("userId"))
        );
        let mut ctx = alice().to_context();
        ctx.insert("userId".into(), json!(""));
        assert_eq!(
            Identity::from_context(&ctx),
            Err(ContextError::Missing("userId"))
        );
        let mut ctx = alice().to_context();
        ctx.insert("expiresAt".into(), json!("soon"));
        assert_eq!(
            Identity::from_context(&ctx),
            Err(ContextError::Malformed("expiresAt"))
        );
        let mut ctx = alice().to_context();
        ctx.insert("scopes".into(), json!(["a"]));
        assert_eq!(
            Identity::from_context(&ctx),
            Err(ContextError::Malformed("scopes"))
        );
        assert!(Identity::from_context(&Map::new()).is_err());
    }

    #[test]
    fn issued_at_is_optional_but_never_half_read() {
        let mut ctx = alice().to_context();
        assert_eq!(ctx["issuedAt"], json!(1_795_600_800));
        ctx.insert("issuedAt".into(), json!("1795600801"));
        assert_eq!(
            Identity::from_context(&ctx).unwrap().issued_at,
            Some(1_795_600_801)
        );
        ctx.remove("issuedAt");
        assert_eq!(Identity::from_context(&ctx).unwrap().issued_at, None);
        let no_iat = Identity {
            issued_at: None,
            ..alice()
        };
        assert!(!no_iat.to_context().contains_key("issuedAt"));
        ctx.insert("issuedAt".into(), json!("yesterday"));
        assert_eq!(
            Identity::from_context(&ctx),
            Err(ContextError::Malformed("issuedAt"))
        );
    }

    #[test]
    fn session_ids_are_bounded_and_printable() {
        assert_eq!(check_session_id("$abc"), Ok(()));
        assert_eq!(check_session_id(""), Err(IdError::Empty));
        assert_eq!(check_session_id(&"s".repeat(513)), Err(IdError::TooLong));
        assert_eq!(check_session_id("a\rb"), Err(IdError::Control));
    }

    #[test]
    fn has_scopes_requires_every_scope() {
        let id = alice();
        assert!(id.has_scopes::<&str>(&[]));
        assert!(id.has_scopes(&["messages:send"]));
        assert!(!id.has_scopes(&["messages:send", "messages:broadcast"]));
        assert!(!id.has_scopes(&["messages"]));
    }
}
