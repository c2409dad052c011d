//! IAM policy documents as a Lambda authorizer returns them, and their evaluation.
//!
//! API Gateway caches and evaluates the authorizer's policy itself; `wsauth-local` does the same
//! with [`PolicyDocument::evaluate`], so the local gateway refuses exactly what AWS would.
//! Rules, as IAM applies them: an explicit `Deny` that matches wins; otherwise a matching
//! `Allow` allows; otherwise the request is implicitly denied. `*` matches any run of characters
//! (`/` and `:` included), `?` exactly one. Actions compare case-insensitively, resources do not.

use serde::{Deserialize, Serialize};

/// The only policy language version API Gateway accepts.
pub const POLICY_VERSION: &str = "2012-10-17";
/// The action a WebSocket handshake needs.
pub const INVOKE_ACTION: &str = "execute-api:Invoke";

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Grants the actions on the resources.
    Allow,
    /// Refuses them, whatever any `Allow` says.
    Deny,
}

/// A string or a list of strings, as IAM allows for `Action` and `Resource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// `"Action": "execute-api:Invoke"`.
    One(String),
    /// `"Action": ["execute-api:Invoke", …]`.
    Many(Vec<String>),
}

impl OneOrMany {
    fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        };
        slice.iter().map(String::as_str)
    }
}

/// One policy statement. Unknown keys (`NotAction`, `Condition`, …) are refused when parsing:
/// a statement we would only half understand must not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Optional statement ID.
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    #[serde(rename = "Effect")]
    pub effect: Effect,
    /// Action patterns, e.g. `execute-api:Invoke`.
    #[serde(rename = "Action")]
    pub action: OneOrMany,
    /// Resource ARN patterns.
    #[serde(rename = "Resource")]
    pub resource: OneOrMany,
}

impl Statement {
    /// A statement with one action and one resource.
    pub fn new(effect: Effect, action: &str, resource: &str) -> Self {
        Self {
            sid: None,
            effect,
            action: OneOrMany::One(action.to_owned()),
            resource: OneOrMany::One(resource.to_owned()),
        }
    }

    fn matches(&self, action: &str, resource: &str) -> bool {
        self.action
            .iter()
            .any(|p| wildcard_match(&p.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && self.resource.iter().any(|p| wildcard_match(p, resource))
    }
}

/// An IAM policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Always [`POLICY_VERSION`].
    #[serde(rename = "Version")]
    pub version: String,
    /// The statements, evaluated together.
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

/// The outcome of evaluating a policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluation {
    /// A matching `Allow` and no matching `Deny`.
    Allowed,
    /// A matching `Deny` statement.
    ExplicitDeny,
    /// Nothing matched: denied by default.
    ImplicitDeny,
}

impl Evaluation {
    /// Whether the request may proceed.
    pub fn is_allowed(self) -> bool {
        self == Evaluation::Allowed
    }
}

impl PolicyDocument {
    /// A policy of one statement on one resource.
    pub fn single(effect: Effect, action: &str, resource: &str) -> Self {
        Self {
            version: POLICY_VERSION.to_owned(),
            statement: vec![Statement::new(effect, action, resource)],
        }
    }

    /// Allows `execute-api:Invoke` on exactly `method_arn`.
    pub fn allow_invoke(method_arn: &str) -> Self {
        Self::single(Effect::Allow, INVOKE_ACTION, method_arn)
    }

    /// Denies `execute-api:Invoke` on exactly `method_arn` (API Gateway answers 403).
    pub fn deny_invoke(method_arn: &str) -> Self {
        Self::single(Effect::Deny, INVOKE_ACTION, method_arn)
    }

    /// Evaluates `action` on `resource`: explicit Deny wins, then Allow, else implicit deny.
    /// A document of another version allows nothing.
    pub fn evaluate(&self, action: &str, resource: &str) -> Evaluation {
        if self.version != POLICY_VERSION {
            return Evaluation::ImplicitDeny;
        }
        let mut allowed = false;
        for st in &self.statement {
            if st.matches(action, resource) {
                match st.effect {
                    Effect::Deny => return Evaluation::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Evaluation::Allowed
        } else {
            Evaluation::ImplicitDeny
        }
    }
}

/// IAM wildcard match: `*` is any run of characters (possibly empty), `?` exactly one.
/// Iterative with single-star backtracking: O(len(pattern) × len(text)) at worst, no recursion.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/dev/$connect";

    #[test]
    fn allow_policy_serializes_in_api_gateway_shape() {
        let v = serde_json::to_value(PolicyDocument::allow_invoke(ARN)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"execute-api:Invoke","Resource":ARN}]})
        );
    }

    #[test]
    fn exact_allow_allows_only_that_arn() {
        let p = PolicyDocument::allow_invoke(ARN);
        assert_eq!(p.evaluate(INVOKE_ACTION, ARN), Evaluation::Allowed);
        let other = ARN.replace("/dev/", "/prod/");
        assert_eq!(p.evaluate(INVOKE_ACTION, &other), Evaluation::ImplicitDeny);
        assert_eq!(
            p.evaluate("execute-api:ManageConnections", ARN),
            Evaluation::ImplicitDeny
        );
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let mut p = PolicyDocument::single(
            Effect::Allow,
            INVOKE_ACTION,
            "arn:aws:execute-api:*:*:abcdef123/*",
        );
        p.statement
            .push(Statement::new(Effect::Deny, "execute-api:*", ARN));
        assert_eq!(p.evaluate(INVOKE_ACTION, ARN), Evaluation::ExplicitDeny);
        let other = ARN.replace("$connect", "$default");
        assert_eq!(p.evaluate(INVOKE_ACTION, &other), Evaluation::Allowed);
    }

    #[test]
    fn actions_match_case_insensitively_resources_do_not() {
        let p = PolicyDocument::single(Effect::Allow, "EXECUTE-API:invoke", ARN);
        assert!(p.evaluate(INVOKE_ACTION, ARN).is_allowed());
        let upper = ARN.replace("abcdef123", "ABCDEF123");
        assert!(!p.evaluate(INVOKE_ACTION, &upper).is_allowed());
    }

    #[test]
    fn wildcards_follow_iam_rules() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a*c", "ac"));
        assert!(!wildcard_match("a*c", "abcd"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match(
            "arn:aws:execute-api:*:*:abcdef123/dev/*",
            ARN
        ));
        assert!(wildcard_match("*/*/$connect", "api/dev/$connect"));
        assert!(!wildcard_match("abc", "abcd"));
        assert!(wildcard_match("**a**", "xxa"));
    }

    #[test]
    fn wrong_version_allows_nothing() {
        let mut p = PolicyDocument::allow_invoke(ARN);
        p.version = "2008-10-17".into();
        assert_eq!(p.evaluate(INVOKE_ACTION, ARN), Evaluation::ImplicitDeny);
    }

    #[test]
    fn statements_with_unknown_keys_do_not_parse() {
        let doc = serde_json::json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","NotAction":"x","Action":"execute-api:Invoke","Resource":"*"}]});
        assert!(serde_json::from_value::<PolicyDocument>(doc).is_err());
        let lower = serde_json::json!({"Version":"2012-10-17","Statement":[
            {"Effect":"allow","Action":"execute-api:Invoke","Resource":"*"}]});
        assert!(serde_json::from_value::<PolicyDocument>(lower).is_err());
    }

    #[test]
    fn action_and_resource_lists_parse_and_match() {
        let doc: PolicyDocument = serde_json::from_value(serde_json::json!({
            "Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Action":["execute-api:ManageConnections","execute-api:Invoke"],
            "Resource":["arn:x", ARN]}]}))
        .unwrap();
        assert!(doc.evaluate(INVOKE_ACTION, ARN).is_allowed());
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn wildcard_match_never_panics_and_star_matches_everything(p in ".{0,40}", t in ".{0,40}") {
                let _ = wildcard_match(&p, &t);
                prop_assert!(wildcard_match("*", &t));
                prop_assert!(wildcard_match(&t.replace(['*', '?'], "x"), &t.replace(['*', '?'], "x")));
            }

            #[test]
            fn evaluating_arbitrary_json_never_panics(s in ".{0,200}") {
                if let Ok(doc) = serde_json::from_str::<PolicyDocument>(&s) {
                    let _ = doc.evaluate(INVOKE_ACTION, "arn:aws:execute-api:r:1:a/s/$connect");
                }
            }
        }
    }
}
