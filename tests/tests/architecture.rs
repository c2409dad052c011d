//! ARCHITECTURE.md names only what exists: every repository path it puts in backticks is a file
//! or directory of the repository, and every Rust item it names is defined in the repository's
//! Rust sources. A file moved or an item renamed without the document fails here, with every
//! stale name listed at once.
//!
//! The rule, span by span. A span is the text between two backticks on one line (outside fenced
//! code blocks); a span in a table cell belongs to the column the table's first row names.
//!
//! - **A path**: after dropping a `#anchor` and a `:line` suffix, only path characters
//!   (ASCII letters and digits, `_ . - /`), at least one `/`, not starting with `/`, `-` or `.`,
//!   and either ending with `/`, or with a `.` in its last component, or starting with a
//!   top-level directory of the repository (`scripts/test`, `clients/rust`). It must exist under
//!   the repository root (as a directory when it ends with `/`). Anything else holding a `/`
//!   (`POST /_wsauth/push`, `*/src/**`, a MIME type) is not a path.
//! - **An item path**: identifiers joined by `::`, optionally ending in `()`. When the first
//!   segment starts with an uppercase letter it must be a type, and the last segment must be
//!   defined in a file that defines or `impl`s that type; otherwise the first segment must be a
//!   crate (a workspace package or dependency, `std`, `crate`, …) or a module, every middle
//!   segment a module (or a type), and the last segment defined somewhere.
//! - **ALL_CAPS**: a `const` or `static`, unless it starts with `WSAUTH_`, `AWS_` or `RUST_`
//!   (environment variables).
//! - **`name!`**: a `macro_rules! name`.
//! - **A bare snake_case identifier** (or `name()`) in a column headed `function`: a `fn`.
//! - Anything else (route keys, JSON, claims, CLI flags, CamelCase names, AWS operations, field
//!   paths such as `requestContext.authorizer`) is not checked.
//!
//! Defined means: a line of a `.rs` file of the repository (not under `target`, `node_modules`
//! or a hidden directory; this file excluded) that, after its visibility and qualifiers
//! (`pub(crate)`, `async`, `const fn`, `unsafe`, …), starts with `fn`, `struct`, `enum`, `trait`,
//! `const`, `static`, `type`, `mod`, `union` or `macro_rules!` and the name; or declares a field
//! `name: …`; or, for a name starting with an uppercase letter, an enum variant (`Name,`,
//! `Name(…)`, `Name {`).

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A backticked span of the document, and the header of the table column it sits in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    text: String,
    column: Option<String>,
}

/// The spans between backticks of `text` (an unmatched last backtick opens none).
fn ticked(text: &str) -> Vec<&str> {
    let parts: Vec<&str> = text.split('`').collect();
    let count = (parts.len() - 1) / 2;
    parts.into_iter().skip(1).step_by(2).take(count).collect()
}

/// The cells of a table row `| a | b |`, split at the `|` outside backticks.
fn cells(row: &str) -> Vec<&str> {
    let mut cells = Vec::new();
    let mut in_span = false;
    let mut start = 0;
    for (i, c) in row.char_indices() {
        match c {
            '`' => in_span = !in_span,
            '|' if !in_span => {
                cells.push(&row[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    cells.push(&row[start..]);
    // Before the first `|` and after the last one: no cell.
    cells.remove(0);
    if cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    cells
}

/// Every span of `doc`, with its table column.
fn spans(doc: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let mut fenced = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if !line.trim_start().starts_with('|') {
            header = None;
            out.extend(ticked(line).into_iter().map(|t| Span {
                text: t.to_owned(),
                column: None,
            }));
            continue;
        }
        let row = cells(line);
        let columns =
            header.get_or_insert_with(|| row.iter().map(|c| c.trim().to_lowercase()).collect());
        for (i, cell) in row.iter().enumerate() {
            let column = columns.get(i).cloned();
            out.extend(ticked(cell).into_iter().map(|t| Span {
                text: t.to_owned(),
                column: column.clone(),
            }));
        }
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_ident(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && s.chars().all(is_ident_char)
}

fn is_snake(s: &str) -> bool {
    is_ident(s) && !s.chars().any(|c| c.is_ascii_uppercase())
}

fn is_all_caps(s: &str) -> bool {
    s.len() >= 2
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The identifier `s` starts with (empty when none).
fn ident_prefix(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident_char(c)).unwrap_or(s.len());
    &s[..end]
}

/// `line` without its leading visibility (`pub`, `pub(crate)`, `pub(in …)`).
fn without_visibility(line: &str) -> &str {
    let Some(rest) = line.strip_prefix("pub") else {
        return line;
    };
    if let Some(inner) = rest.strip_prefix('(') {
        match inner.find(')') {
            Some(i) => inner[i + 1..].trim_start(),
            None => line,
        }
    } else if rest.starts_with(char::is_whitespace) {
        rest.trim_start()
    } else {
        line
    }
}

const ITEM_KEYWORDS: [&str; 10] = [
    "fn",
    "struct",
    "enum",
    "trait",
    "const",
    "static",
    "type",
    "mod",
    "union",
    "macro_rules!",
];
const TYPE_KEYWORDS: [&str; 5] = ["struct", "enum", "trait", "type", "union"];

/// What one Rust file defines.
#[derive(Debug, Default)]
struct FileDefs {
    /// Every name defined: items, fields, variants.
    names: HashSet<String>,
    types: HashSet<String>,
    fns: HashSet<String>,
    consts: HashSet<String>,
    modules: HashSet<String>,
    macros: HashSet<String>,
    /// Every identifier on an `impl` line.
    impls: HashSet<String>,
}

impl FileDefs {
    fn read(text: &str) -> Self {
        let mut d = Self::default();
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("impl")
                && (rest.starts_with(' ') || rest.starts_with('<'))
            {
                d.impls.extend(
                    rest.split(|c: char| !is_ident_char(c))
                        .filter(|w| !w.is_empty())
                        .map(str::to_owned),
                );
                continue;
            }
            let rest = without_visibility(line);
            let words: Vec<&str> = rest.split_whitespace().collect();
            let mut i = 0;
            while let Some(&w) = words.get(i) {
                let qualifier = matches!(w, "async" | "unsafe" | "default" | "extern" | "\"C\"")
                    || (w == "const"
                        && words
                            .get(i + 1)
                            .is_some_and(|n| matches!(*n, "fn" | "unsafe" | "async" | "extern")));
                if !qualifier {
                    break;
                }
                i += 1;
            }
            if let (Some(&kw), Some(&next)) = (words.get(i), words.get(i + 1))
                && ITEM_KEYWORDS.contains(&kw)
            {
                let name = if kw == "static" && next == "mut" {
                    words.get(i + 2).copied().unwrap_or_default()
                } else {
                    next
                };
                let name = ident_prefix(name);
                if !name.is_empty() {
                    d.names.insert(name.to_owned());
                    let kind = match kw {
                        "fn" => Some(&mut d.fns),
                        "const" | "static" => Some(&mut d.consts),
                        "mod" => Some(&mut d.modules),
                        "macro_rules!" => Some(&mut d.macros),
                        _ if TYPE_KEYWORDS.contains(&kw) => Some(&mut d.types),
                        _ => None,
                    };
                    if let Some(set) = kind {
                        set.insert(name.to_owned());
                    }
                    // `spelled!` (wsauth-protocol): `pub enum X spelled by f` also defines
                    // `X::ALL` and `X::f`.
                    if let (Some(&"spelled"), Some(&"by"), Some(&f)) =
                        (words.get(i + 2), words.get(i + 3), words.get(i + 4))
                    {
                        let f = ident_prefix(f);
                        d.impls.insert(name.to_owned());
                        d.consts.insert("ALL".to_owned());
                        d.fns.insert(f.to_owned());
                        d.names.extend(["ALL".to_owned(), f.to_owned()]);
                    }
                }
                continue;
            }
            // A field (`name: …`) or an enum variant (`Name,`, `Name(…)`, `Name {`).
            let name = ident_prefix(rest);
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            let after = &rest[name.len()..];
            let field = after.starts_with(':') && !after.starts_with("::");
            let variant = name.starts_with(|c: char| c.is_ascii_uppercase())
                && (after.is_empty()
                    || after.starts_with(',')
                    || after.starts_with('(')
                    || after.starts_with('{')
                    || after.starts_with(" {")
                    || after.starts_with(" ="));
            if field || variant {
                d.names.insert(name.to_owned());
            }
        }
        d
    }
}

/// What the repository's Rust sources define, file by file.
#[derive(Debug, Default)]
struct Index {
    files: Vec<FileDefs>,
}

impl Index {
    fn of_repository(root: &Path) -> Self {
        let mut paths = Vec::new();
        rust_sources(root, &mut paths);
        let files = paths
            .iter()
            .filter(|p| !p.ends_with("tests/tests/architecture.rs"))
            .map(|p| FileDefs::read(&String::from_utf8_lossy(&fs::read(p).unwrap())))
            .collect();
        Self { files }
    }

    fn any(&self, f: impl Fn(&FileDefs) -> bool) -> bool {
        self.files.iter().any(f)
    }

    /// Whether some file's `set` (names, types, fns, …) holds `name`.
    fn has(&self, set: fn(&FileDefs) -> &HashSet<String>, name: &str) -> bool {
        self.any(|f| set(f).contains(name))
    }

    /// Whether a file that defines or implements `ty` defines `name`.
    fn defines_on(&self, ty: &str, name: &str) -> bool {
        self.any(|f| f.names.contains(name) && (f.types.contains(ty) || f.impls.contains(ty)))
    }
}

/// Every `.rs` file under `dir`, but not under `target`, `node_modules` or a hidden directory.
fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                rust_sources(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// The `name` of a Cargo.toml's `[package]`.
fn package_name(cargo_toml: &str) -> Option<String> {
    let mut in_package = false;
    for line in cargo_toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// What an item path may start with besides a module: the workspace's packages, its
/// dependencies, and Rust's own roots, as a path spells them (`-` → `_`).
fn crate_names(root: &Path) -> BTreeSet<String> {
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut names: BTreeSet<String> = ["std", "core", "alloc", "crate", "self", "super"]
        .map(String::from)
        .into();
    let mut section = String::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if section == "[workspace]" && key == "members" {
            for member in value.split('"').skip(1).step_by(2) {
                let toml = fs::read_to_string(root.join(member).join("Cargo.toml")).unwrap();
                names.extend(package_name(&toml));
            }
        } else if section == "[workspace.dependencies]" && !key.starts_with('#') {
            names.insert(key.to_owned());
        }
    }
    names.into_iter().map(|n| n.replace('-', "_")).collect()
}

/// The repository path `span` names, if it names one (see this file's header).
fn repository_path<'a>(span: &'a str, exists: &dyn Fn(&str) -> bool) -> Option<&'a str> {
    let mut path = span.split('#').next().unwrap_or(span);
    while let Some((head, line)) = path.rsplit_once(':') {
        if line.is_empty() || !line.chars().all(|c| c.is_ascii_digit()) {
            break;
        }
        path = head;
    }
    let path_chars = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
    if !path_chars
        || !path.contains('/')
        || path.starts_with('/')
        || path.starts_with('-')
        || path.starts_with('.')
    {
        return None;
    }
    let last = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let first = path.split('/').next().unwrap_or_default();
    let named = path.ends_with('/') || last.contains('.') || exists(format!("{first}/").as_str());
    named.then_some(path)
}

/// Why the item path `segments` names nothing, if it does not.
fn item_miss(segments: &[&str], index: &Index, crates: &BTreeSet<String>) -> Option<String> {
    let (Some(&first), Some(&last)) = (segments.first(), segments.last()) else {
        return None;
    };
    if first.starts_with(|c: char| c.is_ascii_uppercase()) {
        if !index.has(|f| &f.types, first) {
            return Some(format!("no type {first}"));
        }
        return (!index.defines_on(first, last)).then(|| format!("{first} has no {last}"));
    }
    if !crates.contains(first) && !index.has(|f| &f.modules, first) {
        return Some(format!("no crate or module {first}"));
    }
    let middle = &segments[1..segments.len() - 1];
    if let Some(m) = middle
        .iter()
        .find(|m| !index.has(|f| &f.modules, m) && !index.has(|f| &f.types, m))
    {
        return Some(format!("no module {m}"));
    }
    (!index.has(|f| &f.names, last)).then(|| format!("nothing named {last}"))
}

/// The verdict on one span: `None` when the rule does not check it, else why it names nothing
/// (`Err`) or `Ok`.
fn check(
    span: &Span,
    index: &Index,
    crates: &BTreeSet<String>,
    exists: &dyn Fn(&str) -> bool,
) -> Option<Result<(), String>> {
    let text = span.text.as_str();
    let verdict = |ok: bool, why: String| if ok { Ok(()) } else { Err(why) };
    if let Some(path) = repository_path(text, exists) {
        return Some(verdict(exists(path), "no such path".into()));
    }
    let item = text.strip_suffix("()").unwrap_or(text);
    let segments: Vec<&str> = item.split("::").collect();
    if segments.len() >= 2 && segments.iter().all(|s| is_ident(s)) {
        return Some(item_miss(&segments, index, crates).map_or(Ok(()), Err));
    }
    if let Some(name) = text.strip_suffix('!').filter(|n| is_snake(n)) {
        return Some(verdict(
            index.has(|f| &f.macros, name),
            format!("no macro_rules! {name}"),
        ));
    }
    if is_all_caps(text) {
        if ["WSAUTH_", "AWS_", "RUST_"]
            .into_iter()
            .any(|p| text.starts_with(p))
        {
            return None;
        }
        return Some(verdict(
            index.has(|f| &f.consts, text),
            format!("no const or static {text}"),
        ));
    }
    if span.column.as_deref() == Some("function") && is_snake(item) {
        return Some(verdict(
            index.has(|f| &f.fns, item),
            format!("no fn {item}"),
        ));
    }
    None
}

/// The spans of `doc` the rule checks, and those that name nothing (`` `span` (why) ``).
fn misses(
    doc: &str,
    index: &Index,
    crates: &BTreeSet<String>,
    exists: &dyn Fn(&str) -> bool,
) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut misses = Vec::new();
    for span in spans(doc) {
        match check(&span, index, crates, exists) {
            None => {}
            Some(Ok(())) => checked += 1,
            Some(Err(why)) => {
                checked += 1;
                misses.push(format!("`{}` ({why})", span.text));
            }
        }
    }
    (checked, misses)
}

#[test]
fn architecture_md_names_only_what_exists() {
    let root = root();
    let doc = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let index = Index::of_repository(&root);
    // The index is the repository's, not an empty one that would refuse every name.
    assert!(
        index.has(|f| &f.types, "Router")
            && index.has(|f| &f.fns, "main")
            && index.has(|f| &f.modules, "dynamo")
    );
    let crates = crate_names(&root);
    assert!(crates.contains("wsauth_protocol") && crates.contains("lambda_runtime"));
    let exists = |p: &str| {
        let full = root.join(p);
        if p.ends_with('/') {
            full.is_dir()
        } else {
            full.exists()
        }
    };
    let (checked, misses) = misses(&doc, &index, &crates, &exists);
    assert!(
        checked >= 100,
        "only {checked} spans of ARCHITECTURE.md checked: is the rule still reading it?"
    );
    assert!(
        misses.is_empty(),
        "ARCHITECTURE.md names what does not exist: {}",
        misses.join("; ")
    );
}

#[test]
fn the_rule_reads_spans_and_catches_what_is_missing() {
    let sample = "Moved: `foo/bar.rs` and `Nope::missing_fn`; here: `src/lib.rs:3`, `src/`, `Real::there()`, `Real::field`, `Shape::Round`.\n\
        Not checked: `POST /_wsauth/push`, `--lambdas`, `requestContext.authorizer`, `$connect`, `WSAUTH_ISSUER`, `iss`, `*/src/**`, `application/json`.\n\
        \n\
        | step | function |\n\
        |---|---|\n\
        | `sub` is in no function column | `there`, `gone_fn`, `REAL_CONST`, `MISSING_CONST`, `real::there`, `real::nomod::there`, `std::there`, `on_real!`, `Real::gone` |\n";
    let spans = spans(sample);
    let column = |text: &str| {
        spans
            .iter()
            .find(|s| s.text == text)
            .map(|s| s.column.clone())
            .unwrap()
    };
    assert_eq!(column("foo/bar.rs"), None);
    assert_eq!(column("Nope::missing_fn"), None);
    assert_eq!(column("sub"), Some("step".to_owned()));
    assert_eq!(column("gone_fn"), Some("function".to_owned()));
    assert_eq!(spans.len(), 25);

    let source = "pub mod real;\n#[derive(Debug)]\npub(crate) struct Real {\n    pub(crate) field: u8,\n}\nenum Shape {\n    Round,\n}\nimpl Real {\n    pub const fn there() {}\n}\npub const REAL_CONST: u8 = 1;\nmacro_rules! on_real {\n    () => {};\n}\n";
    let index = Index {
        files: vec![FileDefs::read(source)],
    };
    let crates: BTreeSet<String> = ["std".to_owned()].into();
    let exists = |p: &str| matches!(p, "src/lib.rs" | "src/");
    let (checked, misses) = misses(sample, &index, &crates, &exists);
    let missed: Vec<&str> = misses
        .iter()
        .map(|m| m.split('`').nth(1).unwrap())
        .collect();
    assert_eq!(
        missed,
        [
            "foo/bar.rs",
            "Nope::missing_fn",
            "gone_fn",
            "MISSING_CONST",
            "real::nomod::there",
            "Real::gone"
        ],
        "{misses:?}"
    );
    assert_eq!(checked, 16, "{misses:?}");
}
