//! The AWS SDK's own variables that wsauth itself looks at (the SDK reads them too): whether a
//! region and an access key are set, so that a local endpoint gets placeholders, and the region
//! a child process of wsauth-local signs for. [`LOCAL_REGION`] is the one placeholder region.

/// The region used where none is set and the endpoint is local (DynamoDB Local, wsauth-local),
/// and by the test clients of those endpoints.
pub const LOCAL_REGION: &str = "us-east-1";

/// The variables read here.
pub const AWS_VARIABLES: [&str; 3] = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID"];

fn set(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The region of the environment (`AWS_REGION`, else `AWS_DEFAULT_REGION`), if set.
pub fn region() -> Option<String> {
    set("AWS_REGION").or_else(|| set("AWS_DEFAULT_REGION"))
}

/// [`region`], else [`LOCAL_REGION`].
pub fn region_or_local() -> String {
    region().unwrap_or_else(|| LOCAL_REGION.to_owned())
}

/// Whether the environment names an access key (`AWS_ACCESS_KEY_ID`).
pub fn has_access_key() -> bool {
    set("AWS_ACCESS_KEY_ID").is_some()
}
