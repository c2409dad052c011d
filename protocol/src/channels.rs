//! Channels on the wire: what a channel name is, the operations rights are granted for, and the
//! limits of a token's grants. The rights themselves (rules, grants, patterns) are decided in
//! `wsauth-policy`; this module holds only what clients see.

spelled! {
    /// An operation on a channel, as rules and token grants name it.
    pub enum Operation spelled by as_str {
        /// Receive what is published to the channel.
        Subscribe => "subscribe",
        /// Send to the channel's subscribers.
        Publish => "publish",
        /// See who is subscribed.
        Presence => "presence",
        /// Read what was published before.
        History => "history",
    }
}

impl Operation {
    /// The operation spelled `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// The longest channel name, in bytes.
pub const MAX_CHANNEL_BYTES: usize = 200;

/// The characters a segment may hold besides ASCII letters and digits.
pub const SEGMENT_PUNCTUATION: &str = "_-.=@+|:~";

/// The separator between a channel name's segments.
pub const SEPARATOR: char = '/';

/// The most patterns a token's channel grants may hold.
pub const MAX_GRANT_PATTERNS: usize = 32;

/// The longest a token's channel grants may be, as JSON, in bytes.
pub const MAX_GRANTS_JSON_BYTES: usize = 2048;

/// The default of `WSAUTH_MAX_CHANNELS_PER_CONNECTION`: subscriptions one connection may hold.
pub const DEFAULT_MAX_CHANNELS_PER_CONNECTION: usize = 100;

/// Whether `b` may appear in a segment of a channel name.
pub fn is_segment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || SEGMENT_PUNCTUATION.as_bytes().contains(&b)
}

/// Whether `s` is one valid segment: one or more segment bytes.
pub fn is_segment(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_segment_byte)
}

/// Why a string is not a channel name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelNameError {
    /// Empty.
    Empty,
    /// Over [`MAX_CHANNEL_BYTES`].
    TooLong,
    /// An empty segment: a leading, trailing or doubled `/`.
    EmptySegment,
    /// A character outside the segment alphabet.
    BadCharacter,
}

impl std::fmt::Display for ChannelNameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("a channel name must not be empty"),
            Self::TooLong => write!(f, "a channel name is at most {MAX_CHANNEL_BYTES} bytes"),
            Self::EmptySegment => f.write_str(
                "a channel name has no empty segment (no leading, trailing or doubled `/`)",
            ),
            Self::BadCharacter => write!(
                f,
                "a channel name's segments hold only A-Z a-z 0-9 and `{SEGMENT_PUNCTUATION}`"
            ),
        }
    }
}

impl std::error::Error for ChannelNameError {}

/// Checks a channel name: 1 to [`MAX_CHANNEL_BYTES`] bytes of segments separated by `/`, each
/// one or more of `A–Z a–z 0–9` and [`SEGMENT_PUNCTUATION`].
pub fn check_channel(name: &str) -> Result<(), ChannelNameError> {
    if name.is_empty() {
        return Err(ChannelNameError::Empty);
    }
    if name.len() > MAX_CHANNEL_BYTES {
        return Err(ChannelNameError::TooLong);
    }
    for segment in name.split(SEPARATOR) {
        if segment.is_empty() {
            return Err(ChannelNameError::EmptySegment);
        }
        if !segment.bytes().all(is_segment_byte) {
            return Err(ChannelNameError::BadCharacter);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_follow_the_contract() {
        for ok in [
            "a",
            "rooms/42",
            "user/alice@example.com/inbox",
            "x=1|y:2~z+w_v-u.t",
        ] {
            assert_eq!(check_channel(ok), Ok(()), "{ok}");
        }
        let at_limit = "a".repeat(MAX_CHANNEL_BYTES);
        assert_eq!(check_channel(&at_limit), Ok(()));
        for (bad, why) in [
            ("", ChannelNameError::Empty),
            ("/a", ChannelNameError::EmptySegment),
            ("a/", ChannelNameError::EmptySegment),
            ("a//b", ChannelNameError::EmptySegment),
            ("a b", ChannelNameError::BadCharacter),
            ("a/*", ChannelNameError::BadCharacter),
            ("a/{userId}", ChannelNameError::BadCharacter),
            ("café", ChannelNameError::BadCharacter),
            ("a\nb", ChannelNameError::BadCharacter),
        ] {
            assert_eq!(check_channel(bad), Err(why), "{bad:?}");
        }
        assert_eq!(
            check_channel(&"a".repeat(MAX_CHANNEL_BYTES + 1)),
            Err(ChannelNameError::TooLong)
        );
        // `.` is a segment character: `..` is a literal segment, with no path meaning.
        assert_eq!(check_channel("a/../b"), Ok(()));
    }

    #[test]
    fn operations_parse_as_spelled() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
        }
        assert_eq!(Operation::parse("Subscribe"), None);
        assert_eq!(Operation::parse("*"), None);
    }
}
