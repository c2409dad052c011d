//! `execute-api` ARNs: the `methodArn` API Gateway hands a WebSocket `$connect` authorizer.
//!
//! Shape: `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/{route}`. The route of
//! a WebSocket API is a route key such as `$connect`; it may itself contain `/` for HTTP-style
//! method ARNs, so everything after the second `/` of the resource is kept whole.

use std::fmt;

/// Why an ARN could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    /// Not `arn:…` with six `:`-separated parts.
    #[error("not an ARN")]
    NotAnArn,
    /// An ARN of another service than `execute-api`.
    #[error("not an execute-api ARN")]
    WrongService,
    /// The resource part is not `{apiId}/{stage}/{route}` or a part is empty.
    #[error("execute-api resource must be apiId/stage/route")]
    BadResource,
}

/// A parsed `execute-api` ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecuteApiArn {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// e.g. `us-east-1`.
    pub region: String,
    /// 12-digit account ID.
    pub account: String,
    /// The API ID, e.g. `abcdef123`.
    pub api_id: String,
    /// The stage, e.g. `dev`.
    pub stage: String,
    /// The route key (`$connect`) or `METHOD/path` for REST-style ARNs.
    pub route: String,
}

impl ExecuteApiArn {
    /// Parses `arn:aws:execute-api:us-east-1:123456789012:abcdef123/dev/$connect`.
    pub fn parse(s: &str) -> Result<Self, ArnError> {
        let mut parts = s.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(res)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(ArnError::NotAnArn);
        };
        if service != "execute-api" {
            return Err(ArnError::WrongService);
        }
        let mut res_parts = res.splitn(3, '/');
        let (Some(api_id), Some(stage), Some(route)) =
            (res_parts.next(), res_parts.next(), res_parts.next())
        else {
            return Err(ArnError::BadResource);
        };
        if [partition, region, account, api_id, stage, route]
            .iter()
            .any(|p| p.is_empty())
        {
            return Err(ArnError::BadResource);
        }
        Ok(Self {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            api_id: api_id.to_owned(),
            stage: stage.to_owned(),
            route: route.to_owned(),
        })
    }
}

impl fmt::Display for ExecuteApiArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:execute-api:{}:{}:{}/{}/{}",
            self.partition, self.region, self.account, self.api_id, self.stage, self.route
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_connect_arn_round_trips() {
        let s = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/dev/$connect";
        let arn = ExecuteApiArn::parse(s).unwrap();
        assert_eq!(arn.api_id, "abcdef123");
        assert_eq!(arn.stage, "dev");
        assert_eq!(arn.route, "$connect");
        assert_eq!(arn.to_string(), s);
    }

    #[test]
    fn rest_style_route_keeps_its_slashes() {
        let arn =
            ExecuteApiArn::parse("arn:aws:execute-api:eu-west-1:1:api/prod/GET/pets/1").unwrap();
        assert_eq!(arn.route, "GET/pets/1");
    }

    #[test]
    fn other_services_and_short_resources_are_rejected() {
        assert_eq!(
            ExecuteApiArn::parse("arn:aws:s3:::bucket/key"),
            Err(ArnError::WrongService)
        );
        assert_eq!(
            ExecuteApiArn::parse("arn:aws:execute-api:r:1:api/dev"),
            Err(ArnError::BadResource)
        );
        assert_eq!(
            ExecuteApiArn::parse("arn:aws:execute-api:r:1:api//$connect"),
            Err(ArnError::BadResource)
        );
        assert_eq!(ExecuteApiArn::parse("nonsense"), Err(ArnError::NotAnArn));
    }
}
