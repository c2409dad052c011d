//! The settings have one home: every variable the code reads is in the README's configuration
//! table and the other way round, and no crate but this one reads a `WSAUTH_` or `AWS_` variable
//! itself (the AWS SDK reads its own).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use wsauth_settings::VARIABLES;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first cell of each row of the README's configuration table.
fn readme_variables() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let table = readme
        .split("## Configuration")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(v, _)| v.to_owned()))
        .collect()
}

#[test]
fn the_readme_table_lists_exactly_the_variables_read() {
    let code: BTreeSet<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
    assert_eq!(readme_variables(), code);
}

#[test]
fn the_readme_names_the_sdk_variables_wsauth_reads_itself() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme.split("## Configuration").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    for v in wsauth_settings::aws::AWS_VARIABLES {
        assert!(
            section.contains(&format!("`{v}`")),
            "README's Configuration omits {v}"
        );
    }
    assert!(section.contains(wsauth_settings::aws::LOCAL_REGION));
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_other_crate_reads_a_wsauth_variable() {
    let mut offenders = Vec::new();
    let mut crates: Vec<PathBuf> = Vec::new();
    for dir in [root(), root().join("clients")] {
        crates.extend(std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()));
    }
    for krate in crates {
        let src = krate.join("src");
        if !src.is_dir() || src.starts_with(root().join("settings")) {
            continue;
        }
        let mut files = Vec::new();
        rust_sources(&src, &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let reads = ["env::var(\"", "env::var_os(\""].iter().any(|r| {
                    ["WSAUTH_", "AWS_"]
                        .iter()
                        .any(|p| line.contains(&format!("{r}{p}")))
                });
                if reads {
                    offenders.push(format!("{}:{}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "read through wsauth_settings::Settings instead: {offenders:?}"
    );
}

#[test]
fn the_deploy_and_the_readme_default_to_the_algorithms_the_settings_do() {
    let defaults = wsauth_settings::auth::alg_list(&wsauth_settings::auth::DEFAULT_ALGORITHMS);
    let yml = std::fs::read_to_string(root().join("serverless.yml")).unwrap();
    assert!(
        yml.lines()
            .any(|l| l.trim() == format!("algorithms: {defaults}")),
        "serverless.yml's `algorithms` parameter does not default to {defaults}"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `WSAUTH_ALGORITHMS`"))
        .unwrap();
    assert!(row.contains(&format!("`{defaults}`")), "{row}");
}
