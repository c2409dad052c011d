//! The AWS SDK's own variables that wsauth itself looks at (the SDK reads them too): whether a
//! region and an access key are set, so that a local endpoint gets placeholders, and the region
//! a child process of wsauth-local signs for. [`LOCAL_REGION`] is the one placeholder region.

/// The region used where none is set and the endpoint is local (DynamoDB Local, wsauth-local),
/// and by the test clients of those endpoints.
pub const LOCAL_REGION: &str = "us-east-1";

/// The region variable the AWS SDK reads first.
pub const REGION: &str = "AWS_REGION";
/// The region variable it reads when [`REGION`] is unset.
pub const DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// The access key variable.
pub const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";

/// The variables read here.
pub const AWS_VARIABLES: [&str; 3] = [REGION, DEFAULT_REGION, ACCESS_KEY_ID];

fn set(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The region of the environment (`AWS_REGION`, else `AWS_DEFAULT_REGION`), if set.
pub fn region() -> Option<String> {
    set(REGION).or_else(|| set(DEFAULT_REGION))
}

/// [`region`], else [`LOCAL_REGION`].
pub fn region_or_local() -> String {
    region().unwrap_or_else(|| LOCAL_REGION.to_owned())
}

/// Whether the environment names an access key (`AWS_ACCESS_KEY_ID`).
pub fn has_access_key() -> bool {
    set(ACCESS_KEY_ID).is_some()
}
