//! The four Lambdas ship only production code: the dev kit (signing issuer, test keys, test
//! stores) is in none of their dependency trees.

#![allow(clippy::unwrap_used)]

use std::process::Command;

/// The packages whose binaries deploy: `authorizer`, `connect`, `routes` and `push`.
const LAMBDA_PACKAGES: [&str; 3] = ["wsauth-authorizer", "wsauth-connect", "wsauth-routes"];

fn normal_dependencies(package: &str) -> String {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--locked", "--offline", "-e", "normal,build"])
        .args(["--prefix", "none", "--format", "{p}", "-p", package])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn no_lambda_depends_on_the_dev_kit() {
    for package in LAMBDA_PACKAGES {
        let tree = normal_dependencies(package);
        assert!(tree.contains(package), "{package}: {tree}");
        assert!(tree.contains("wsauth-policy"), "{package} tree is complete");
        assert!(
            !tree.contains("wsauth-devkit"),
            "{package} depends on the dev kit:\n{tree}"
        );
    }
    // The check can fail: wsauth-local, which mints dev tokens, does depend on it.
    assert!(normal_dependencies("wsauth-local").contains("wsauth-devkit"));
}
