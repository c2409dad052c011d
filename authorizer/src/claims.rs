//! The token's claims: the members wsauth reads, borrowed from the decoded payload.
//!
//! Two readers, one result. Most tokens are a flat object of unescaped strings, integers and
//! arrays of strings: [`Scan`] reads exactly that subset of JSON, and gives up (`None`) on anything
//! else — an escape, a float, a negative number, `null` where a claim is expected, a nested
//! object, a repeated claim, anything malformed. serde_json then reads the whole payload and has
//! the last word: what the scan accepts, serde_json accepts with the very same claims (a
//! differential test holds this), and everything the scan does not accept is serde_json's alone.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::error::AuthError;

/// A NumericDate: a JSON number (integer or not). A string is refused.
#[derive(Deserialize, Debug, PartialEq)]
#[serde(transparent)]
pub(crate) struct NumericDate(serde_json::Number);

impl NumericDate {
    pub(crate) fn secs(&self) -> Result<i64, AuthError> {
        if let Some(i) = self.0.as_i64() {
            return Ok(i);
        }
        match self.0.as_f64() {
            Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(f.floor() as i64),
            _ => Err(AuthError::Malformed("numeric date out of range")),
        }
    }
}

/// A JSON string, borrowed from the decoded segment unless it holds escapes. (serde's own
/// `Option<Cow<str>>` always copies, which was a third of the verifier's allocations.)
#[derive(Debug, PartialEq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor)
    }
}

/// A claim that is a string or an array of strings (`aud`, `scp`).
#[derive(Debug, PartialEq)]
pub(crate) enum StrOrList<'a> {
    One(Text<'a>),
    Many(Vec<Text<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for StrOrList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrOrList<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                TextVisitor.visit_borrowed_str(v).map(StrOrList::One)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                TextVisitor.visit_str(v).map(StrOrList::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
                while let Some(t) = seq.next_element::<Text<'de>>()? {
                    all.push(t);
                }
                Ok(StrOrList::Many(all))
            }
        }
        d.deserialize_any(V)
    }
}

impl StrOrList<'_> {
    pub(crate) fn contains_any(&self, wanted: &[String]) -> bool {
        let has = |s: &str| wanted.iter().any(|w| w == s);
        match self {
            StrOrList::One(s) => has(s),
            StrOrList::Many(v) => v.iter().any(|s| has(s)),
        }
    }
}

/// The claims wsauth reads; any other member is skipped.
#[derive(Deserialize, Debug, Default, PartialEq)]
pub(crate) struct Claims<'a> {
    #[serde(default, borrow)]
    pub(crate) iss: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(crate) sub: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(crate) aud: Option<StrOrList<'a>>,
    #[serde(default)]
    pub(crate) exp: Option<NumericDate>,
    #[serde(default)]
    pub(crate) nbf: Option<NumericDate>,
    #[serde(default)]
    pub(crate) iat: Option<NumericDate>,
    #[serde(default, borrow)]
    pub(crate) scope: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(crate) scp: Option<StrOrList<'a>>,
    #[serde(default, borrow)]
    pub(crate) token_use: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(crate) client_id: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(crate) sid: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(crate) jti: Option<Text<'a>>,
}

/// The claims of `payload`, borrowed from it. UTF-8 is checked once for the whole payload
/// (RFC 8259: a JSON text is UTF-8, unknown members included; serde_json alone checks only the
/// strings it reads). The scan reads the common form; serde_json everything else.
///
/// They are read into `claims` (empty), which is large: moved through `Option`s and `Result`s,
/// they were copied twice a token.
pub(crate) fn parse_claims<'a>(
    payload: &'a [u8],
    claims: &mut Claims<'a>,
) -> Result<(), AuthError> {
    let json = std::str::from_utf8(payload).map_err(|_| AuthError::Malformed("claims"))?;
    if Scan::read(json, claims).is_none() {
        *claims = parse_with_serde(json)?;
    }
    Ok(())
}

/// serde_json's reading of the claims: every valid JSON text, and the one judge of what is not.
fn parse_with_serde(json: &str) -> Result<Claims<'_>, AuthError> {
    let malformed = |_| AuthError::Malformed("claims");
    let mut de = serde_json::Deserializer::from_str(json);
    let claims = Claims::deserialize(&mut de).map_err(malformed)?;
    de.end().map_err(malformed)?;
    Ok(claims)
}

/// A reader of the common form of claims, a strict subset of JSON:
///
/// ```text
/// object  = ws "{" ws [ member *( ws "," ws member ) ] ws "}" ws
/// member  = string ws ":" ws value
/// string  = '"' *( any character but '"', '\' and U+0000..U+001F ) '"'
/// integer = "0" / ( digit1-9 *17digit )      ; not followed by ".", "e" or "E"
/// value   = string / integer / "[" ws [ string *( ws "," ws string ) ] ws "]"
///         / "true" / "false"                 ; these two for other members only
/// ```
///
/// with each claim's own type (`exp`, `nbf`, `iat` integers; `aud` and `scp` a string or an array
/// of strings; the others strings) and no claim twice. `None` on anything else.
pub(crate) struct Scan<'a> {
    json: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    /// The claims, if `json` is entirely in the common form.
    #[cfg(test)]
    fn claims(json: &'a str) -> Option<Claims<'a>> {
        let mut c = Claims::default();
        Self::read(json, &mut c).map(|()| c)
    }

    /// Reads the claims into `c` (empty) if `json` is entirely in the common form; `None` (and
    /// `c` partly filled) otherwise.
    fn read(json: &'a str, c: &mut Claims<'a>) -> Option<()> {
        let mut s = Scan { json, at: 0 };
        s.ws();
        s.eat(b'{')?;
        s.ws();
        if s.peek() == Some(b'}') {
            s.at += 1;
        } else {
            loop {
                let key = s.string()?;
                s.ws();
                s.eat(b':')?;
                s.ws();
                match key {
                    "iss" => s.text(&mut c.iss)?,
                    "sub" => s.text(&mut c.sub)?,
                    "scope" => s.text(&mut c.scope)?,
                    "token_use" => s.text(&mut c.token_use)?,
                    "client_id" => s.text(&mut c.client_id)?,
                    "sid" => s.text(&mut c.sid)?,
                    "jti" => s.text(&mut c.jti)?,
                    "exp" => s.date(&mut c.exp)?,
                    "nbf" => s.date(&mut c.nbf)?,
                    "iat" => s.date(&mut c.iat)?,
                    "aud" => s.list(&mut c.aud)?,
                    "scp" => s.list(&mut c.scp)?,
                    _ => s.other()?,
                }
                if !s.more(b'}')? {
                    break;
                }
            }
        }
        s.ws();
        (s.at == json.len()).then_some(())
    }

    fn peek(&self) -> Option<u8> {
        self.json.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A string without escapes or control characters, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let rest = self.json.as_bytes().get(self.at..)?;
        let len = plain_run(rest);
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        // Both ends are next to a '"': character boundaries.
        let text = self.json.get(self.at..self.at + len)?;
        self.at += len + 1;
        Some(text)
    }

    /// An integer of at most 18 digits (it fits in `i64`), no leading zero, no fraction or
    /// exponent after it.
    fn integer(&mut self) -> Option<u64> {
        let start = self.at;
        let mut value: u64 = 0;
        while let Some(digit) = self
            .peek()
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|d| *d < 10)
        {
            if self.at - start == 18 || (value == 0 && self.at > start) {
                return None; // a 19th digit, or a leading zero
            }
            value = value * 10 + u64::from(digit);
            self.at += 1;
        }
        if self.at == start || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(value)
    }

    fn text(&mut self, claim: &mut Option<Text<'a>>) -> Option<()> {
        if claim.is_some() {
            return None;
        }
        *claim = Some(Text(Cow::Borrowed(self.string()?)));
        Some(())
    }

    fn date(&mut self, claim: &mut Option<NumericDate>) -> Option<()> {
        if claim.is_some() {
            return None;
        }
        *claim = Some(NumericDate(self.integer()?.into()));
        Some(())
    }

    fn list(&mut self, claim: &mut Option<StrOrList<'a>>) -> Option<()> {
        if claim.is_some() {
            return None;
        }
        *claim = Some(if self.peek()? == b'[' {
            let mut all = Vec::new();
            self.strings(|s| all.push(Text(Cow::Borrowed(s))))?;
            StrOrList::Many(all)
        } else {
            StrOrList::One(Text(Cow::Borrowed(self.string()?)))
        });
        Some(())
    }

    /// An array of strings, each handed to `each`.
    fn strings(&mut self, mut each: impl FnMut(&'a str)) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            each(self.string()?);
            if !self.more(b']')? {
                return Some(());
            }
        }
    }

    /// After a member or an element: past a ',' (`true`: another follows) or past `close`
    /// (`false`); `None` on anything else.
    fn more(&mut self, close: u8) -> Option<bool> {
        self.ws();
        let next = self.peek()?;
        if next != b',' && next != close {
            return None;
        }
        self.at += 1;
        self.ws();
        Some(next == b',')
    }

    /// The value of a member wsauth does not read: skipped, in the common form only.
    fn other(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'[' => self.strings(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            _ => self.integer().map(drop),
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.json.get(self.at..end)? == word).then(|| self.at = end)
    }
}

/// Whether a string stops at `b`: its end, an escape, or a control character (not allowed raw).
fn stops_string(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// The length of the longest prefix of `bytes` without a byte that [`stops_string`], eight bytes
/// at a time: in each 64-bit word, a byte equal to '"' or '\\', or below 0x20, sets its high bit
/// in `stop`. Above a flagged byte the borrow can flag more, never below: the lowest is exact.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let stop = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (w.wrapping_sub(ONES * 0x20) & !w))
            & HIGH;
        if stop != 0 {
            return at + (stop.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let tail = bytes.get(at..).unwrap_or_default();
    at + tail
        .iter()
        .position(|&b| stops_string(b))
        .unwrap_or(tail.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    /// The scan's promise: what it reads, serde_json reads as the very same claims.
    fn agrees(json: &str) -> Result<bool, TestCaseError> {
        match Scan::claims(json) {
            None => Ok(false),
            Some(scanned) => {
                let serde = parse_with_serde(json);
                prop_assert_eq!(serde.as_ref(), Ok(&scanned), "{:?}", json);
                Ok(true)
            }
        }
    }

    /// Payloads as identity providers issue them.
    const COMMON: &[&str] = &[
        r#"{"aud":"wsauth-bench","exp":1795754156,"iat":1795667756,"iss":"https://issuer.bench.test","jti":"RS256-0","nbf":1795667756,"scope":"messages:send","sub":"user-0"}"#,
        // Cognito access token.
        r#"{"sub":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","cognito:groups":["admin","ops"],"iss":"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example","version":2,"client_id":"1example23456789","origin_jti":"f1b2","event_id":"e-1","token_use":"access","scope":"aws.cognito.signin.user.admin phone","auth_time":1700000000,"exp":1700003600,"iat":1700000000,"jti":"a-1","username":"alice"}"#,
        // Auth0, audience an array.
        r#"{"iss":"https://example.eu.auth0.com/","sub":"auth0|123","aud":["https://api.example.com","https://example.eu.auth0.com/userinfo"],"iat":1700000000,"exp":1700086400,"scope":"openid profile","azp":"abc","permissions":["read:messages"]}"#,
        // Okta, `scp` an array.
        r#"{"ver":1,"jti":"AT.x","iss":"https://example.okta.com/oauth2/default","aud":"api://default","iat":1700000000,"exp":1700003600,"cid":"0oa1","uid":"00u1","scp":["openid","email"],"auth_time":1700000000,"sub":"alice@example.com","email_verified":true,"admin":false}"#,
        "{}",
        " { \"sub\" : \"x\" ,\n\t\"exp\":0 , \"aud\" : [ ] }\r\n",
        r#"{"sub":"ünïcödé ✓","aud":"a","exp":999999999999999999}"#,
    ];

    #[test]
    fn common_payloads_are_scanned_and_read_as_serde_json_reads_them() {
        for json in COMMON {
            assert!(
                agrees(json).is_ok_and(|scanned| scanned),
                "not scanned: {json}"
            );
        }
    }

    #[test]
    fn the_scan_leaves_everything_else_to_serde_json() {
        let uncommon = [
            r#"{"i\u0073s":"x"}"#, // an escaped key (it is "iss")
            r#"{"sub":"a\"b"}"#,   // an escape in a claim
            r#"{"other":"a\\b"}"#, // an escape in another member
            "{\"sub\":\"a\tb\"}",  // a raw control character
            "{\"sub\":\"a\u{0}b\"}",
            r#"{"exp":1.5}"#, // fraction
            r#"{"exp":1e9}"#, // exponent
            r#"{"exp":1E9}"#,
            r#"{"exp":-1}"#, // negative
            r#"{"exp":-0}"#,
            r#"{"exp":01}"#,                  // leading zero (invalid JSON)
            r#"{"exp":1234567890123456789}"#, // 19 digits
            r#"{"exp":"1700000000"}"#,        // a string where a number is due
            r#"{"sub":null}"#,                // null for a claim
            r#"{"sub":1}"#,                   // wrong type
            r#"{"aud":[1]}"#,
            r#"{"aud":["a",]}"#,        // trailing comma (invalid JSON)
            r#"{"sub":"a","sub":"b"}"#, // a claim twice
            r#"{"aud":"a","aud":["b"]}"#,
            r#"{"x":{"y":1}}"#, // nested object
            r#"{"x":null}"#,
            r#"{"x":[["a"]]}"#,
            r#"{"x":truth}"#,
            r#"{"sub":"a",}"#, // trailing comma
            r#"{"sub":"a"}}"#, // trailing garbage
            r#"{"sub":"a"}{"sub":"b"}"#,
            "\u{feff}{\"sub\":\"a\"}", // byte order mark
            "{\u{a0}\"sub\":\"a\"}",   // no-break space is not JSON whitespace
            "{\u{b}\"sub\":\"a\"}",
            "{\"sub\":\"a\"", // unterminated
            "{\"sub\":\"a",
            "[]",
            "",
        ];
        for json in uncommon {
            assert!(Scan::claims(json).is_none(), "scanned: {json:?}");
            // And the verifier's answer is serde_json's, whatever the scan left in the claims.
            let mut claims = Claims::default();
            let read = parse_claims(json.as_bytes(), &mut claims).map(|()| claims);
            assert_eq!(read, parse_with_serde(json), "{json:?}");
        }
    }

    /// Mostly JSON whitespace; now and then characters that are not.
    fn ws() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            20 => prop::sample::select(vec!["", "", "", " ", "\n", "\t", "\r\n "]),
            1 => prop::sample::select(vec!["\u{a0}", "\u{b}", "\u{c}", "\u{feff}"]),
        ]
    }

    /// Mostly the claims and other plain names; now and then escaped or unquoted ones.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            12 => prop::sample::select(vec![
                "iss", "sub", "aud", "exp", "nbf", "iat", "scope", "scp", "token_use",
                "client_id", "sid", "jti", "cognito:groups", "", "ISS", "iss ",
            ])
            .prop_map(|k| format!("\"{k}\"")),
            6 => "[a-z]{0,4}".prop_map(|k| format!("\"{k}\"")),
            1 => prop::sample::select(vec!["\"i\\u0073s\"", "\"s\\ub\"", "\"ex\\np\"", "iss", "'iss'"])
                .prop_map(str::to_owned),
        ]
    }

    /// Mostly the common form; now and then anything else JSON has, or worse.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => "[a-zA-Z0-9:/. _|@\u{e9}\u{2713}\u{1f600}-]{0,24}".prop_map(|v| format!("\"{v}\"")),
            3 => (0u64..10_000_000_000).prop_map(|n| n.to_string()),
            2 => (ws(), prop::collection::vec(("[a-z\u{e9}]{0,10}", ws(), ws()), 0..4)).prop_map(
                |(open, v)| {
                    let items: Vec<String> =
                        v.iter().map(|(s, a, b)| format!("{a}\"{s}\"{b}")).collect();
                    format!("[{open}{}]", items.join(","))
                }
            ),
            1 => (100_000_000_000_000_000u64..=u64::MAX).prop_map(|n| n.to_string()),
            1 => prop::sample::select(vec!["true", "false", "0", "[ ]", "[ \"a\" , \"b\" ]", "\"\u{e9}\u{2713}\""])
                .prop_map(str::to_owned),
            1 => any::<u64>().prop_map(|n| n.to_string()),
            1 => any::<i64>().prop_map(|n| n.to_string()),
            2 => prop::sample::select(vec![
                "01", "-0", "1.5", "1e3", "1E3", "0.0", "12345678901234567890", "null", "truth",
                "[\"a\",]", "[1]", "[[]]", "{}", "{\"a\":1}", "\"unterminated", "\"a\\\"b\"",
                "\"a\\nb\"", "\"a\\u0041\"", "\"\\ud800\"", "\"a\tb\"", "tru", "-",
            ])
            .prop_map(str::to_owned),
        ]
    }

    fn object() -> impl Strategy<Value = String> {
        (
            ws(),
            prop::collection::vec((ws(), key(), ws(), ws(), value(), ws()), 0..6),
            prop::bool::weighted(0.05),
            ws(),
            prop_oneof![20 => Just(""), 1 => prop::sample::select(vec!["}", "x", "{}", ","])],
        )
            .prop_map(|(lead, members, trailing_comma, tail, garbage)| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(a, k, b, c, v, d)| format!("{a}{k}{b}:{c}{v}{d}"))
                    .collect();
                let comma = if trailing_comma { "," } else { "" };
                format!("{lead}{{{}{comma}}}{tail}{garbage}", members.join(","))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Eight bytes at a time, the same stop as byte by byte.
        #[test]
        fn plain_run_stops_where_a_byte_by_byte_scan_stops(
            bytes in prop::collection::vec(prop_oneof![
                4 => any::<u8>(),
                1 => prop::sample::select(b"\"\\\x00\x1f\x20\x21\x5b\x5d\x7f\x80\xa2\xdc\xff".to_vec()),
            ], 0..40),
        ) {
            let expected = bytes.iter().position(|&b| stops_string(b)).unwrap_or(bytes.len());
            prop_assert_eq!(plain_run(&bytes), expected);
        }

        /// Generated objects, valid and not: whatever the scan reads, serde_json reads alike.
        #[test]
        fn whatever_the_scan_reads_serde_json_reads_alike(json in object()) {
            agrees(&json)?;
        }

        /// Common payloads with a few bytes replaced by JSON's significant characters.
        #[test]
        fn mutated_common_payloads_too(
            which in 0..COMMON.len(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(
                b"{}[]:,\"\\ \t\n0123456789-+.eEtfnulx".to_vec())), 1..4),
        ) {
            let mut bytes = COMMON[which].as_bytes().to_vec();
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Ok(json) = std::str::from_utf8(&bytes) {
                agrees(json)?;
            }
        }
    }

    #[test]
    fn generated_objects_reach_the_scan() {
        // The differential property is only as good as the share of cases the scan reads (and
        // the share it leaves to serde_json).
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = object();
        let (mut scanned, mut total) = (0, 0);
        for _ in 0..2000 {
            let json = strategy
                .new_tree(&mut runner)
                .map(|t| t.current())
                .unwrap_or_default();
            total += 1;
            match agrees(&json) {
                Ok(true) => scanned += 1,
                Ok(false) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            scanned * 7 > total && scanned < total,
            "the scan read {scanned} of {total}"
        );
    }
}
