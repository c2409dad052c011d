//! Channel rights, decided with no I/O: the rules of `WSAUTH_CHANNEL_RULES` and the grants of a
//! token (the claim `WSAUTH_CHANNELS_CLAIM` names), each parsed once, and the decision for one
//! (connection, channel, operation).
//!
//! Deny by default: an operation is allowed when an allow rule the connection qualifies for (it
//! holds every scope the rule names) or a grant of its token matches the channel and lists the
//! operation, and no deny rule matching the channel lists it (deny wins).
//!
//! A pattern is a channel name whose segments may also be `*` (exactly one segment),
//! `{userId}` (exactly the connection's user ID, compared literally: a user ID that is not a
//! valid segment, such as one holding `/`, matches nothing) or, as the last segment only, `**`
//! (one or more segments).

use serde::Deserialize;
use serde_json::Value;
use wsauth_protocol::channels::{
    MAX_CHANNEL_BYTES, MAX_GRANT_PATTERNS, MAX_GRANTS_JSON_BYTES, Operation, SEPARATOR,
    check_channel, is_segment,
};

/// The `{userId}` segment of a pattern.
pub const USER_ID_SEGMENT: &str = "{userId}";
/// The one-segment wildcard.
pub const ONE_SEGMENT: &str = "*";
/// The wildcard for one or more trailing segments.
pub const REST_SEGMENTS: &str = "**";

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Exactly this segment.
    Literal(String),
    /// `*`: any one segment.
    One,
    /// `{userId}`: the connection's user ID.
    UserId,
    /// `**` (last only): one or more segments.
    Rest,
}

/// A channel pattern, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// As written.
    text: String,
    /// Its segments.
    segments: Vec<Segment>,
}

/// Why a string is not a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Empty, or over the channel name limit.
    #[error("a pattern is 1 to {MAX_CHANNEL_BYTES} bytes")]
    Length,
    /// A leading, trailing or doubled `/`.
    #[error("a pattern has no empty segment (no leading, trailing or doubled `/`)")]
    EmptySegment,
    /// A segment that is neither a channel segment nor `*`, `{userId}`, `**`.
    #[error("{0:?} is not a segment, `*`, `{{userId}}` or `**`")]
    BadSegment(String),
    /// `**` before the last segment.
    #[error("`**` may only be the last segment")]
    RestNotLast,
}

impl Pattern {
    /// Parses a pattern.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() || text.len() > MAX_CHANNEL_BYTES {
            return Err(PatternError::Length);
        }
        let parts: Vec<&str> = text.split(SEPARATOR).collect();
        let last = parts.len() - 1;
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            let segment = match part {
                "" => return Err(PatternError::EmptySegment),
                ONE_SEGMENT => Segment::One,
                USER_ID_SEGMENT => Segment::UserId,
                REST_SEGMENTS if i == last => Segment::Rest,
                REST_SEGMENTS => return Err(PatternError::RestNotLast),
                s if is_segment(s) => Segment::Literal(s.to_owned()),
                s => return Err(PatternError::BadSegment(s.to_owned())),
            };
            segments.push(segment);
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern, for a connection of `user_id`, matches `channel` (a channel name
    /// that is not valid matches nothing).
    pub fn matches(&self, channel: &str, user_id: &str) -> bool {
        check_channel(channel).is_ok() && self.matches_valid(channel, user_id)
    }

    /// [`Pattern::matches`] for a channel already checked.
    fn matches_valid(&self, channel: &str, user_id: &str) -> bool {
        let mut names = channel.split(SEPARATOR);
        for segment in &self.segments {
            match segment {
                Segment::Rest => return names.next().is_some(),
                Segment::One => {
                    if names.next().is_none() {
                        return false;
                    }
                }
                Segment::Literal(l) => {
                    if names.next() != Some(l.as_str()) {
                        return false;
                    }
                }
                Segment::UserId => {
                    if !is_segment(user_id) || names.next() != Some(user_id) {
                        return false;
                    }
                }
            }
        }
        names.next().is_none()
    }
}

/// A set of operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Operations(u8);

// One bit per operation, in declared order.
const _: () = assert!(Operation::ALL.len() <= 8, "Operations is a u8 bitset");

impl Operations {
    fn bit(op: Operation) -> u8 {
        1 << (op as u8)
    }

    /// Whether the set holds `op`.
    pub fn contains(self, op: Operation) -> bool {
        self.0 & Self::bit(op) != 0
    }

    /// The set of these operations.
    pub fn of(ops: impl IntoIterator<Item = Operation>) -> Self {
        Self(ops.into_iter().fold(0, |acc, op| acc | Self::bit(op)))
    }

    /// The operations of the set, in their declared order.
    pub fn iter(self) -> impl Iterator<Item = Operation> {
        Operation::ALL
            .into_iter()
            .filter(move |op| self.contains(*op))
    }

    /// Parses a non-empty list of operation names.
    fn parse(names: &[String]) -> Result<Self, String> {
        if names.is_empty() {
            return Err("an empty list of operations".into());
        }
        let mut ops = Vec::with_capacity(names.len());
        for n in names {
            let op = Operation::parse(n).ok_or_else(|| {
                let known: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
                format!("{n:?} is not an operation ({})", known.join(", "))
            })?;
            ops.push(op);
        }
        Ok(Self::of(ops))
    }
}

/// One rule of `WSAUTH_CHANNEL_RULES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `{"channel", "allow", "scopes"?, "history"?}`.
    Allow {
        /// The channels it covers.
        pattern: Pattern,
        /// What it allows.
        ops: Operations,
        /// The scopes a connection must all hold for the rule to apply (none: every connection).
        scopes: Vec<String>,
        /// How long publications to its channels are kept, in seconds (`history`).
        history: Option<u64>,
    },
    /// `{"channel", "deny"}`.
    Deny {
        /// The channels it covers.
        pattern: Pattern,
        /// What it denies, whatever allows it.
        ops: Operations,
    },
}

/// A rule as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    channel: String,
    allow: Option<Vec<String>>,
    deny: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    history: Option<u64>,
    authorizer: Option<String>,
}

/// The longest `history` a rule may keep, in seconds (one day).
pub const MAX_HISTORY_SECONDS: u64 = 86_400;

/// Why `WSAUTH_CHANNEL_RULES` is refused: which rule, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RulesError(String);

impl RawRule {
    fn into_rule(self) -> Result<Rule, String> {
        let pattern = Pattern::parse(&self.channel)
            .map_err(|e| format!("channel {:?}: {e}", self.channel))?;
        match (self.allow, self.deny) {
            (Some(allow), None) => {
                let ops = Operations::parse(&allow).map_err(|e| format!("allow: {e}"))?;
                let scopes = self.scopes.unwrap_or_default();
                if scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
                    return Err("scopes: each scope is one non-empty word".into());
                }
                if self
                    .history
                    .is_some_and(|h| !(1..=MAX_HISTORY_SECONDS).contains(&h))
                {
                    return Err(format!("history: 1 to {MAX_HISTORY_SECONDS} seconds"));
                }
                if self.authorizer.is_some() {
                    // Refused rather than ignored: a rule whose hook is skipped would fail open.
                    return Err("\"authorizer\": channel hooks are not supported yet".into());
                }
                Ok(Rule::Allow {
                    pattern,
                    ops,
                    scopes,
                    history: self.history,
                })
            }
            (None, Some(deny)) => {
                if self.scopes.is_some() || self.history.is_some() || self.authorizer.is_some() {
                    return Err(
                        "a deny rule has only \"channel\" and \"deny\" (it applies to everyone)"
                            .into(),
                    );
                }
                let ops = Operations::parse(&deny).map_err(|e| format!("deny: {e}"))?;
                Ok(Rule::Deny { pattern, ops })
            }
            _ => Err("each rule has exactly one of \"allow\" and \"deny\"".into()),
        }
    }
}

/// The rules of `WSAUTH_CHANNEL_RULES`, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelRules {
    rules: Vec<Rule>,
}

/// Why an operation is allowed or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelDecision {
    /// A rule or grant allows it and no deny rule denies it.
    Allowed,
    /// Nothing allows it (deny by default).
    NotGranted,
    /// A deny rule denies it (whatever allows it).
    Denied,
}

impl ChannelDecision {
    /// Whether the operation may go ahead.
    pub fn is_allowed(self) -> bool {
        self == Self::Allowed
    }
}

impl ChannelRules {
    /// Parses `WSAUTH_CHANNEL_RULES`: a JSON array of rules (see the module's documentation).
    pub fn parse(json: &str) -> Result<Self, RulesError> {
        // Read straight from the text, so that a repeated field is refused (a `Value` would
        // keep the last one silently).
        let raw: Vec<RawRule> = serde_json::from_str(json)
            .map_err(|e| RulesError(format!("not a JSON array of rules: {e}")))?;
        let mut rules = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let rule = r
                .into_rule()
                .map_err(|e| RulesError(format!("rule {i}: {e}")))?;
            rules.push(rule);
        }
        Ok(Self { rules })
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether a connection of `user_id` holding `scopes` and its token's `grants` may do `op`
    /// on `channel`.
    pub fn decide<S: AsRef<str>>(
        &self,
        grants: &Grants,
        user_id: &str,
        scopes: &[S],
        channel: &str,
        op: Operation,
    ) -> ChannelDecision {
        if check_channel(channel).is_err() {
            return ChannelDecision::NotGranted;
        }
        let holds = |needed: &[String]| {
            needed
                .iter()
                .all(|n| scopes.iter().any(|s| s.as_ref() == n.as_str()))
        };
        let mut allowed = grants
            .grants
            .iter()
            .any(|(p, ops)| ops.contains(op) && p.matches_valid(channel, user_id));
        for rule in &self.rules {
            match rule {
                Rule::Deny { pattern, ops } => {
                    if ops.contains(op) && pattern.matches_valid(channel, user_id) {
                        return ChannelDecision::Denied;
                    }
                }
                Rule::Allow {
                    pattern,
                    ops,
                    scopes: needed,
                    ..
                } => {
                    allowed = allowed
                        || (ops.contains(op)
                            && holds(needed)
                            && pattern.matches_valid(channel, user_id));
                }
            }
        }
        if allowed {
            ChannelDecision::Allowed
        } else {
            ChannelDecision::NotGranted
        }
    }
}

/// A token's channel grants: patterns, each with its operations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grants {
    grants: Vec<(Pattern, Operations)>,
}

/// Why a token's channel claim is refused (the authorizer answers 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel grants: {0}")]
pub struct GrantsError(String);

impl Grants {
    /// No grants.
    pub fn none() -> Self {
        Self::default()
    }

    /// The grants of a claim: an object `{PATTERN: [OP, …]}` of at most
    /// [`MAX_GRANT_PATTERNS`] patterns and [`MAX_GRANTS_JSON_BYTES`] bytes as compact JSON (as
    /// `JSON.stringify` writes it, and as the binding keeps it). A claim read into a `Value` keeps
    /// the last of repeated keys; refusing them needs the token's raw text (the authorizer's
    /// part, when it reads the claim).
    pub fn from_claim(claim: &Value) -> Result<Self, GrantsError> {
        let Value::Object(map) = claim else {
            return Err(GrantsError("not an object of pattern → operations".into()));
        };
        if map.len() > MAX_GRANT_PATTERNS {
            return Err(GrantsError(format!(
                "{} patterns, at most {MAX_GRANT_PATTERNS}",
                map.len()
            )));
        }
        let bytes = claim.to_string().len();
        if bytes > MAX_GRANTS_JSON_BYTES {
            return Err(GrantsError(format!(
                "{bytes} bytes as JSON, at most {MAX_GRANTS_JSON_BYTES}"
            )));
        }
        let mut grants = Vec::with_capacity(map.len());
        for (pattern, ops) in map {
            let p =
                Pattern::parse(pattern).map_err(|e| GrantsError(format!("{pattern:?}: {e}")))?;
            let names: Vec<String> = serde_json::from_value(ops.clone())
                .map_err(|_| GrantsError(format!("{pattern:?}: not an array of operations")))?;
            let ops =
                Operations::parse(&names).map_err(|e| GrantsError(format!("{pattern:?}: {e}")))?;
            grants.push((p, ops));
        }
        Ok(Self { grants })
    }

    /// The grants as the claim's JSON (what the authorizer context and the binding carry).
    pub fn to_json(&self) -> String {
        let map: serde_json::Map<String, Value> = self
            .grants
            .iter()
            .map(|(p, ops)| {
                let names: Vec<&str> = ops.iter().map(Operation::as_str).collect();
                (p.as_str().to_owned(), Value::from(names))
            })
            .collect();
        Value::Object(map).to_string()
    }

    /// The grants of [`Grants::to_json`]'s text.
    pub fn from_json(json: &str) -> Result<Self, GrantsError> {
        let v: Value =
            serde_json::from_str(json).map_err(|e| GrantsError(format!("not JSON: {e}")))?;
        Self::from_claim(&v)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).unwrap()
    }

    #[test]
    fn patterns_match_as_the_contract_says() {
        let cases = [
            ("rooms/*", "rooms/42", true),
            ("rooms/*", "rooms", false),
            ("rooms/*", "rooms/42/x", false),
            ("rooms/**", "rooms/42/x", true),
            ("rooms/**", "rooms/42", true),
            ("rooms/**", "rooms", false),
            ("**", "anything/at/all", true),
            ("user/{userId}/inbox", "user/alice/inbox", true),
            ("user/{userId}/inbox", "user/bob/inbox", false),
            ("a/b", "a/b", true),
            ("a/b", "a/bb", false),
            ("*", "a b", false),
        ];
        for (pattern, channel, want) in cases {
            assert_eq!(
                p(pattern).matches(channel, "alice"),
                want,
                "{pattern} ~ {channel}"
            );
        }
        // A user ID that is not a segment matches nothing, not even its own spelling.
        assert!(!p("user/{userId}").matches("user/a/b", "a/b"));
        assert!(!p("user/{userId}").matches("user/a", ""));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert_eq!(Pattern::parse(""), Err(PatternError::Length));
        assert_eq!(Pattern::parse("a//b"), Err(PatternError::EmptySegment));
        assert_eq!(Pattern::parse("**/a"), Err(PatternError::RestNotLast));
        assert_eq!(
            Pattern::parse("a*"),
            Err(PatternError::BadSegment("a*".into()))
        );
        assert_eq!(
            Pattern::parse("{user}"),
            Err(PatternError::BadSegment("{user}".into()))
        );
        assert_eq!(
            Pattern::parse(&"a".repeat(MAX_CHANNEL_BYTES + 1)),
            Err(PatternError::Length)
        );
    }

    #[test]
    fn rules_parse_strictly_and_name_the_rule() {
        let ok = ChannelRules::parse(
            r#"[{"channel":"rooms/*","allow":["subscribe","publish"],"scopes":["chat"],"history":60},
                {"channel":"rooms/admin","deny":["publish"]}]"#,
        )
        .unwrap();
        assert_eq!(ok.rules().len(), 2);
        assert_eq!(ChannelRules::parse("[]").unwrap().rules().len(), 0);
        for (bad, says) in [
            ("{}", "not a JSON array"),
            (
                r#"[{"channel":"a","allow":["sub"]}]"#,
                "rule 0: allow: \"sub\" is not an operation",
            ),
            (
                r#"[{"channel":"a","allow":[]}]"#,
                "rule 0: allow: an empty list",
            ),
            (r#"[{"channel":"a"}]"#, "exactly one of"),
            (
                r#"[{"channel":"a","allow":["publish"],"deny":["publish"]}]"#,
                "exactly one of",
            ),
            (
                r#"[{"channel":"a","deny":["publish"],"scopes":["x"]}]"#,
                "a deny rule has only",
            ),
            (
                r#"[{"channel":"a/","allow":["publish"]}]"#,
                "rule 0: channel \"a/\"",
            ),
            (
                r#"[{"channel":"a","allow":["publish"],"extra":1}]"#,
                "unknown field",
            ),
            (
                r#"[{"channel":"a","allow":["publish"],"history":86401}]"#,
                "history: 1 to 86400",
            ),
            (
                r#"[{"channel":"a","deny":["publish"],"channel":"b"}]"#,
                "duplicate field `channel`",
            ),
            (
                r#"[{"channel":"a","allow":["publish"],"authorizer":"hook"}]"#,
                "channel hooks are not supported yet",
            ),
            (
                r#"[{"channel":"a","allow":["publish"],"history":0}]"#,
                "history",
            ),
            (
                r#"[{"channel":"a","allow":["publish"]},{"channel":"**/x","deny":["publish"]}]"#,
                "rule 1",
            ),
        ] {
            let e = ChannelRules::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn an_allow_rule_needs_all_its_scopes_and_deny_wins() {
        let rules = ChannelRules::parse(
            r#"[{"channel":"rooms/*","allow":["subscribe","publish"],"scopes":["chat","beta"]},
                {"channel":"rooms/readonly","deny":["publish"]}]"#,
        )
        .unwrap();
        let none = Grants::none();
        let both = ["chat", "beta"];
        let decide =
            |scopes: &[&str], channel, op| rules.decide(&none, "alice", scopes, channel, op);
        let chat: &[&str] = &["chat"];
        for (scopes, channel, op, want) in [
            (
                &both[..],
                "rooms/1",
                Operation::Publish,
                ChannelDecision::Allowed,
            ),
            (
                chat,
                "rooms/1",
                Operation::Publish,
                ChannelDecision::NotGranted,
            ),
            (
                &both[..],
                "rooms/1",
                Operation::History,
                ChannelDecision::NotGranted,
            ),
            (
                &both[..],
                "rooms/readonly",
                Operation::Publish,
                ChannelDecision::Denied,
            ),
            (
                &both[..],
                "rooms/readonly",
                Operation::Subscribe,
                ChannelDecision::Allowed,
            ),
            (
                &both[..],
                "rooms/bad name",
                Operation::Subscribe,
                ChannelDecision::NotGranted,
            ),
        ] {
            assert_eq!(
                decide(scopes, channel, op),
                want,
                "{scopes:?} {channel} {op:?}"
            );
        }
    }

    #[test]
    fn grants_come_from_the_claim_within_its_limits() {
        let g = Grants::from_claim(
            &json!({"doc/42/*": ["subscribe"], "user/{userId}/**": ["subscribe", "publish"]}),
        )
        .unwrap();
        let rules = ChannelRules::default();
        let no_scopes: [&str; 0] = [];
        let allowed =
            |user, channel, op| rules.decide(&g, user, &no_scopes, channel, op).is_allowed();
        assert!(allowed("alice", "doc/42/edits", Operation::Subscribe));
        assert!(!allowed("alice", "doc/42/edits", Operation::Publish));
        assert!(allowed("alice", "user/alice/feed", Operation::Publish));
        assert!(!allowed("alice", "user/bob/feed", Operation::Publish));
        assert_eq!(Grants::from_json(&g.to_json()).unwrap(), g);

        for (bad, says) in [
            (json!(["a"]), "not an object"),
            (json!({"a": "subscribe"}), "not an array"),
            (json!({"a": ["fly"]}), "not an operation"),
            (json!({"a//b": ["subscribe"]}), "empty segment"),
        ] {
            let e = Grants::from_claim(&bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        // At the limits and one past them.
        let patterns = |n: usize| -> Value {
            Value::Object(
                (0..n)
                    .map(|i| (format!("c{i}"), json!(["subscribe"])))
                    .collect(),
            )
        };
        assert!(Grants::from_claim(&patterns(MAX_GRANT_PATTERNS)).is_ok());
        let e = Grants::from_claim(&patterns(MAX_GRANT_PATTERNS + 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("33 patterns, at most 32"), "{e}");
        // Eleven patterns whose compact JSON is `last` + 1,888 bytes long.
        let sized = |last: usize| -> Value {
            let lengths = std::iter::repeat_n(170, 10).chain([last]);
            Value::Object(
                lengths
                    .enumerate()
                    .map(|(i, n)| (format!("{i:02}{}", "x".repeat(n - 2)), json!(["subscribe"])))
                    .collect(),
            )
        };
        assert_eq!(sized(160).to_string().len(), MAX_GRANTS_JSON_BYTES);
        assert!(Grants::from_claim(&sized(160)).is_ok());
        let e = Grants::from_claim(&sized(161)).unwrap_err().to_string();
        assert!(e.contains("2049 bytes as JSON, at most 2048"), "{e}");
    }
}
