//! AWS Signature Version 4, verified the way `execute-api` verifies a management call: the
//! `Authorization` header names wsauth-local's access key and a scope for service `execute-api`;
//! the signature over the canonical request (path segments encoded twice, as for every service but
//! S3) matches the one derived from wsauth-local's secret; `x-amz-date` is within 5 minutes.
//! Reference: the AWS General Reference, "Create a signed AWS API request".

use aws_lc_rs::{digest, hmac};
use axum::http::HeaderMap;

use crate::ids::hex;

/// The credentials wsauth-local runs with: the same the handlers' SDK clients sign with.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Why a request's signature is refused, with the message `execute-api` gives each (403; AWS's
/// error type for each is [`SignatureError::error_type`], which wsauth-local logs while it
/// answers `ForbiddenException`, as its contract says). The messages are AWS's as captured in
/// public reports; AWS's echo of the `Authorization` header or of the
/// canonical request is left out (wsauth never repeats a signature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Authorization` header, or not `AWS4-HMAC-SHA256`.
    #[error("Missing Authentication Token")]
    Missing,
    /// The header lacks a part or cannot be read (`IncompleteSignatureException`).
    #[error("{0}")]
    Incomplete(String),
    /// An access key wsauth-local does not know (`UnrecognizedClientException`).
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// A scope for another service, or not ending in `aws4_request`.
    #[error("Credential should be scoped to correct service: 'execute-api'. ")]
    WrongService,
    /// A scope whose date is not the request's (AWS's text for this case is not on record).
    #[error("Credential should be scoped to a valid date: the date of X-Amz-Date. ")]
    WrongDate,
    /// `x-amz-date` more than 5 minutes before the clock.
    #[error("Signature expired: {signed} is now earlier than {limit} ({now} - {} min.)", MAX_SKEW_SECONDS / 60)]
    Expired {
        /// The request's `x-amz-date`.
        signed: String,
        /// The earliest date accepted now.
        limit: String,
        /// The clock.
        now: String,
    },
    /// `x-amz-date` more than 5 minutes after the clock.
    #[error("Signature not yet current: {signed} is still later than {limit} ({now} + {} min.)", MAX_SKEW_SECONDS / 60)]
    NotYetCurrent {
        /// The request's `x-amz-date`.
        signed: String,
        /// The latest date accepted now.
        limit: String,
        /// The clock.
        now: String,
    },
    /// The signature does not match.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    Mismatch,
}

impl SignatureError {
    /// The `x-amzn-ErrorType` API Gateway answers this refusal with (wsauth-local answers
    /// `ForbiddenException`, its contract's type, and logs this one).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationTokenException",
            Self::Incomplete(_) => "IncompleteSignatureException",
            Self::UnknownKey => "UnrecognizedClientException",
            Self::WrongService
            | Self::WrongDate
            | Self::Expired { .. }
            | Self::NotYetCurrent { .. }
            | Self::Mismatch => "InvalidSignatureException",
        }
    }
}

/// How far `x-amz-date` may be from the clock: 5 minutes for `execute-api` (AWS's "Signature
/// expired: … (… - 5 min.)").
const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// `20261125T103000Z` of epoch seconds.
fn amz_date_of(epoch: i64) -> String {
    let iso = crate::timefmt::iso8601(epoch.saturating_mul(1000));
    // 2026-11-25T10:30:00.000Z → 20261125T103000Z
    let digits: String = iso
        .get(..19)
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{digits}Z")
}

fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// RFC 3986 encoding of everything but the unreserved characters.
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Seconds since the epoch of an `x-amz-date` (`20261125T103000Z`).
fn amz_date_epoch(d: &str) -> Option<i64> {
    let b = d.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| d.get(r)?.parse::<i64>().ok();
    let (y, m, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, min, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + s)
}

impl Credentials {
    /// An access key and its secret.
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
        }
    }

    /// The variables a child process signs with these credentials (and the region).
    pub fn environment(&self) -> Vec<(String, String)> {
        let region = wsauth_settings::aws::region_or_local();
        vec![
            (
                wsauth_settings::aws::ACCESS_KEY_ID.into(),
                self.access_key_id.clone(),
            ),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                self.secret_access_key.clone(),
            ),
            (wsauth_settings::aws::REGION.into(), region),
        ]
    }

    /// Verifies the SigV4 signature of a request with no query string (`path` as received).
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        self.verify_at(
            method,
            path,
            headers,
            body,
            wsauth_settings::clock::now_epoch(),
        )
    }

    fn verify_at(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let header = |name: &str| -> Vec<&str> {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect()
        };
        let auth = header("authorization");
        let auth = auth.first().ok_or(SignatureError::Missing)?;
        let fields = auth
            .strip_prefix("AWS4-HMAC-SHA256 ")
            .ok_or(SignatureError::Missing)?;
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in fields.split(',') {
            match part.trim().split_once('=') {
                Some(("Credential", v)) => credential = Some(v),
                Some(("SignedHeaders", v)) => signed_headers = Some(v),
                Some(("Signature", v)) => signature = Some(v),
                Some(_) => {}
                None => {
                    return Err(SignatureError::Incomplete(
                        "A key=value pair in the Authorization header is missing its equal-sign."
                            .into(),
                    ));
                }
            }
        }
        let amz_date = header("x-amz-date");
        let amz_date = amz_date.first().copied();
        let when = amz_date.and_then(amz_date_epoch);
        let mut missing: Vec<String> = [
            ("Credential", credential.is_none()),
            ("Signature", signature.is_none()),
            ("SignedHeaders", signed_headers.is_none()),
        ]
        .iter()
        .filter(|(_, absent)| *absent)
        .map(|(name, _)| format!("Authorization header requires '{name}' parameter."))
        .collect();
        if when.is_none() {
            missing.push(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                    .into(),
            );
        }
        let (Some(credential), Some(signed_headers), Some(signature), Some(amz_date), Some(when)) =
            (credential, signed_headers, signature, amz_date, when)
        else {
            return Err(SignatureError::Incomplete(missing.join(" ")));
        };
        let scope: Vec<&str> = credential.split('/').collect();
        let [key_id, date, region, service, terminal] = scope.as_slice() else {
            return Err(SignatureError::Incomplete(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term."
                    .into(),
            ));
        };
        if *key_id != self.access_key_id {
            return Err(SignatureError::UnknownKey);
        }
        if *service != "execute-api" || *terminal != "aws4_request" {
            return Err(SignatureError::WrongService);
        }
        if now - when > MAX_SKEW_SECONDS {
            return Err(SignatureError::Expired {
                signed: amz_date.to_owned(),
                limit: amz_date_of(now - MAX_SKEW_SECONDS),
                now: amz_date_of(now),
            });
        }
        if when - now > MAX_SKEW_SECONDS {
            return Err(SignatureError::NotYetCurrent {
                signed: amz_date.to_owned(),
                limit: amz_date_of(now + MAX_SKEW_SECONDS),
                now: amz_date_of(now),
            });
        }
        if date.len() != 8 || amz_date.get(..8) != Some(*date) {
            return Err(SignatureError::WrongDate);
        }
        let names: Vec<&str> = signed_headers.split(';').collect();
        if !names.contains(&"host") || !names.contains(&"x-amz-date") {
            return Err(SignatureError::Incomplete(
                "SignedHeaders must include 'host' and 'x-amz-date'.".into(),
            ));
        }
        let mut canonical_headers = String::new();
        for name in &names {
            let values: Vec<String> = header(name)
                .iter()
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
        }
        let canonical_uri = path
            .split('/')
            .map(uri_encode)
            .collect::<Vec<_>>()
            .join("/");
        // The payload is always hashed as received: a declared hash (or `UNSIGNED-PAYLOAD`) that
        // differs does not stand in for it.
        let payload_hash = sha256_hex(body);
        if header("x-amz-content-sha256")
            .first()
            .is_some_and(|declared| *declared != payload_hash)
        {
            return Err(SignatureError::Mismatch);
        }
        let canonical_request = format!(
            "{method}\n{canonical_uri}\n\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
        );
        let scope = format!("{date}/{region}/{service}/aws4_request");
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical_request.as_bytes())
        );
        let k_date = hmac_sha256(
            format!("AWS4{}", self.secret_access_key).as_bytes(),
            date.as_bytes(),
        );
        let k_region = hmac_sha256(&k_date, region.as_bytes());
        let k_service = hmac_sha256(&k_region, service.as_bytes());
        let k_signing = hmac_sha256(&k_service, b"aws4_request");
        let expected = hex(&hmac_sha256(&k_signing, string_to_sign.as_bytes()));
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), signature.as_bytes())
            .map_err(|_| SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the AWS General Reference ("GET /", IAM ListUsers) adapted: a request
    /// signed by hand with the documented key derivation verifies, and any change breaks it.
    #[test]
    fn a_signed_request_verifies_and_tampering_breaks_it() {
        let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let now = amz_date_epoch("20261125T103000Z").unwrap();
        let path = "/dev/@connections/JC1dgf9yoAMCK-g%3D";
        let body = b"{\"hello\":1}";
        let sign = |path: &str, body: &[u8]| {
            let canonical_uri = path
                .split('/')
                .map(uri_encode)
                .collect::<Vec<_>>()
                .join("/");
            let canonical = format!(
                "POST\n{canonical_uri}\n\nhost:127.0.0.1:3001\nx-amz-date:20261125T103000Z\n\nhost;x-amz-date\n{}",
                sha256_hex(body)
            );
            let sts = format!(
                "AWS4-HMAC-SHA256\n20261125T103000Z\n20261125/us-east-1/execute-api/aws4_request\n{}",
                sha256_hex(canonical.as_bytes())
            );
            let k = hmac_sha256(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20261125");
            let k = hmac_sha256(&k, b"us-east-1");
            let k = hmac_sha256(&k, b"execute-api");
            let k = hmac_sha256(&k, b"aws4_request");
            hex(&hmac_sha256(&k, sts.as_bytes()))
        };
        let headers = |sig: &str| {
            let mut h = HeaderMap::new();
            h.insert("host", "127.0.0.1:3001".parse().unwrap());
            h.insert("x-amz-date", "20261125T103000Z".parse().unwrap());
            h.insert("authorization", format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}").parse().unwrap());
            h
        };
        let good = headers(&sign(path, body));
        assert_eq!(creds.verify_at("POST", path, &good, body, now), Ok(()));
        assert_eq!(
            creds.verify_at("POST", path, &good, b"{\"hello\":2}", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            creds.verify_at("POST", "/dev/@connections/other", &good, body, now),
            Err(SignatureError::Mismatch)
        );
        let late = creds.verify_at("POST", path, &good, body, now + 301);
        assert_eq!(
            late.as_ref().map_err(ToString::to_string),
            Err("Signature expired: 20261125T103000Z is now earlier than 20261125T103001Z (20261125T103501Z - 5 min.)".to_owned())
        );
        assert_eq!(late.unwrap_err().error_type(), "InvalidSignatureException");
        assert!(matches!(
            creds.verify_at("POST", path, &good, body, now - 301),
            Err(SignatureError::NotYetCurrent { .. })
        ));
        assert_eq!(
            creds.verify_at("POST", path, &good, body, now + 300),
            Ok(())
        );
        let stranger = Credentials::new("AKIDOTHER", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let unknown = stranger
            .verify_at("POST", path, &good, body, now)
            .unwrap_err();
        assert_eq!(
            (unknown.error_type(), unknown.to_string().as_str()),
            (
                "UnrecognizedClientException",
                "The security token included in the request is invalid."
            )
        );
        let other = Credentials::new("AKIDEXAMPLE", "another-secret");
        assert_eq!(
            other.verify_at("POST", path, &good, body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            creds.verify_at("POST", path, &HeaderMap::new(), body, now),
            Err(SignatureError::Missing)
        );
        let missing = creds
            .verify_at("POST", path, &HeaderMap::new(), body, now)
            .unwrap_err();
        assert_eq!(missing.error_type(), "MissingAuthenticationTokenException");
        let mut partial = HeaderMap::new();
        partial.insert("host", "127.0.0.1:3001".parse().unwrap());
        partial.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/execute-api/aws4_request"
                .parse()
                .unwrap(),
        );
        let incomplete = creds
            .verify_at("POST", path, &partial, body, now)
            .unwrap_err();
        assert_eq!(incomplete.error_type(), "IncompleteSignatureException");
        assert_eq!(
            incomplete.to_string(),
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        );
    }

    #[test]
    fn amz_dates_convert_to_epoch_seconds() {
        assert_eq!(amz_date_epoch("19700101T000000Z"), Some(0));
        assert_eq!(amz_date_epoch("20261125T100000Z"), Some(1_795_600_800));
        assert_eq!(amz_date_epoch("2026-11-25T10:00"), None);
    }
}
