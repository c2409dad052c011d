//! Channel rights, held by properties over arbitrary user IDs and channel names: a `{userId}`
//! never matches another user's channel, whatever the two IDs contain (`/`, `*`, `**`,
//! `{userId}` itself, non-ASCII); `*` never spans a `/`; `**` needs at least one segment; deny
//! always wins over every rule and grant.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::json;
use wsauth_policy::channels::{ChannelDecision, ChannelRules, Grants, Pattern};
use wsauth_protocol::channels::{Operation, is_segment};

/// A user ID: anything, biased towards what could confuse a matcher.
fn user_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}",
        "[a-zA-Z0-9_.@=+|:~-]{1,12}",
        Just("*".to_owned()),
        Just("**".to_owned()),
        Just("{userId}".to_owned()),
        "[a-z]{1,4}/[a-z]{1,4}",
        "[a-z]{0,3}/",
        "\\PC{1,6}",
        Just(String::new()),
    ]
}

/// A valid segment.
fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.@=+|:~-]{1,6}"
}

/// A valid channel name of 1 to 6 segments.
fn channel() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 1..6).prop_map(|s| s.join("/"))
}

fn any_op() -> impl Strategy<Value = Operation> {
    prop::sample::select(Operation::ALL.to_vec())
}

proptest! {
    /// A `{userId}` pattern for user `a` never matches a channel of user `b`: two different
    /// IDs never meet, whatever they contain, and an ID that is not one segment matches nothing.
    /// The shapes: `{userId}` inside, last, twice, and behind a `*`.
    #[test]
    fn a_user_id_pattern_never_matches_another_users_channel(
        a in user_id(), b in user_id(), rest in channel(), shape in 0usize..4,
    ) {
        let (pattern, theirs) = match shape {
            0 => ("users/{userId}/**", format!("users/{b}/{rest}")),
            1 => ("inbox/{userId}", format!("inbox/{b}")),
            2 => ("dm/{userId}/{userId}", format!("dm/{b}/{b}")),
            _ => ("*/{userId}/x", format!("{rest}/{b}/x")),
        };
        let pattern = Pattern::parse(pattern).unwrap();
        // `*/{userId}/x` with a multi-segment `rest` is no channel of that shape: skip it.
        prop_assume!(shape != 3 || !rest.contains('/'));
        // `theirs` is b's channel when b is one segment (an ID holding `/` owns no channel).
        if a != b && is_segment(&b) {
            prop_assert!(!pattern.matches(&theirs, &a), "{a:?} matched {theirs:?}");
        }
        // The owner matches exactly when the ID is one segment.
        prop_assert_eq!(pattern.matches(&theirs, &b), is_segment(&b), "{:?}", theirs);
    }

    /// A pattern of `n` stars matches exactly the channels of `n` segments.
    #[test]
    fn a_star_never_spans_a_slash(n in 1usize..6, name in channel()) {
        let pattern = Pattern::parse(&vec!["*"; n].join("/")).unwrap();
        let segments = name.split('/').count();
        prop_assert_eq!(pattern.matches(&name, "alice"), segments == n);
    }

    /// `prefix/**` matches exactly the channels strictly below `prefix`: any depth below it,
    /// and nothing beside it.
    #[test]
    fn a_double_star_needs_one_segment_or_more(
        prefix in channel(), other in channel(), below_it in any::<bool>(),
    ) {
        let pattern = Pattern::parse(&format!("{prefix}/**")).unwrap();
        let name = if below_it { format!("{prefix}/{other}") } else { other };
        let below = name.starts_with(&format!("{prefix}/"));
        prop_assert_eq!(pattern.matches(&name, "alice"), below);
        prop_assert!(!pattern.matches(&prefix, "alice"));
    }

    /// A deny rule matching the channel and listing the operation refuses it, whatever every
    /// other rule and the token grant, wherever the deny stands among the rules, for a deny
    /// written as the name, with `*`, with `**` or with `{userId}`.
    #[test]
    fn deny_always_wins(
        user in "[a-zA-Z0-9_.@=+|:~-]{1,8}", rest in channel(), op in any_op(),
        first in any::<bool>(), form in 0usize..4,
    ) {
        let name = format!("{user}/{rest}");
        let deny_pattern = match form {
            0 => name.clone(),
            1 => format!("*/{rest}"),
            2 => format!("{user}/**"),
            _ => format!("{{userId}}/{rest}"),
        };
        let all = ["subscribe", "publish", "presence", "history"];
        let allow = json!({"channel": "**", "allow": all});
        let deny = json!({"channel": deny_pattern, "deny": [op.as_str()]});
        let rules = if first { json!([deny, allow]) } else { json!([allow, deny]) };
        let rules = ChannelRules::parse(&rules.to_string()).unwrap();
        let grants = Grants::from_claim(&json!({"**": all, (name.clone()): all})).unwrap();
        prop_assert_eq!(
            rules.decide(&grants, &user, &["any"], &name, op),
            ChannelDecision::Denied
        );
        // Every other operation on the channel is still allowed.
        for other in Operation::ALL.into_iter().filter(|o| *o != op) {
            prop_assert!(rules.decide(&grants, &user, &["any"], &name, other).is_allowed());
        }
    }

    /// Nothing is allowed that no rule the connection qualifies for and no grant matching the
    /// channel allows (deny by default): here, every rule needs a scope the connection lacks,
    /// and the grants cover only channels under `elsewhere/`.
    #[test]
    fn nothing_is_allowed_by_default(user in user_id(), name in channel(), op in any_op()) {
        let all = ["subscribe", "publish", "presence", "history"];
        let rules = ChannelRules::parse(
            &json!([{"channel": "**", "allow": all, "scopes": ["admin"]}]).to_string(),
        )
        .unwrap();
        let grants = Grants::from_claim(&json!({"elsewhere/**": all})).unwrap();
        prop_assume!(!name.starts_with("elsewhere/"));
        prop_assert_eq!(
            rules.decide(&grants, &user, &["user", "chat"], &name, op),
            ChannelDecision::NotGranted
        );
        prop_assert_eq!(
            ChannelRules::default().decide(&Grants::none(), &user, &["admin"], &name, op),
            ChannelDecision::NotGranted
        );
        // The same connection with the scope is allowed: the refusal above was the scope's.
        prop_assert!(rules.decide(&grants, &user, &["admin"], &name, op).is_allowed());
    }
}
