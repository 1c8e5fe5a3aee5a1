//! The repository stands alone: no doc, comment or message names a file outside it.
//!
//! Someone who clones the project has only the repository. What the code relies on is in
//! `docs/reference/` (Apple's and the logs' facts, each with its public source) and
//! `docs/architecture.md` (the design), so a citation of a file outside it (`../shared/…`, an
//! absolute `/work/…` path, "reference §1.5" with no file) is a dead end for them. Every tracked
//! text file is read; each finding is reported as `file:line`. Citations of the reference files
//! must also name a section the file has.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Text that points outside the repository, and why each is wrong.
const OUTSIDE: &[(&str, &str)] = &[
    ("../shared", "a folder beside the repository"),
    (
        "/work/",
        "an absolute path on the machine it was written on",
    ),
    (
        "shared/reference",
        "the research notes outside the repository",
    ),
    (
        "shared/fixtures",
        "fixtures outside the repository (copy them into testdata/)",
    ),
    (
        "reference §",
        "a section of no named file (cite docs/reference/<file>.md §N)",
    ),
    ("apns-pushkit.md", "the old name of docs/reference/apns.md"),
    ("push-anchors", "research notes outside the repository"),
    (
        "DESIGN.md",
        "a design file outside the repository (see docs/architecture.md)",
    ),
    (
        "DESIGN §",
        "a design file outside the repository (see docs/architecture.md)",
    ),
];

/// Extensions of the files people read: docs, code, data with comments, scripts.
const TEXT: &[&str] = &[
    "rs", "md", "toml", "sh", "py", "yaml", "yml", "txt", "js", "json", "html", "sql", "css",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Tracked and new (not ignored) files, relative to the root; a walk when git is not there
/// (an unpacked source archive).
fn files(root: &Path) -> Vec<PathBuf> {
    let git = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    match git {
        Ok(out) if out.status.success() => out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect(),
        _ => {
            let mut found = Vec::new();
            walk(root, root, &mut found);
            found
        }
    }
}

fn walk(root: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !matches!(name.to_str(), Some("target" | ".git" | "node_modules")) {
                walk(root, &path, found);
            }
        } else {
            found.push(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

fn is_text(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    // Fixtures are captured data, not text the project writes; their README is checked.
    let fixture = path.starts_with("testdata") && ext != "md";
    TEXT.contains(&ext) && !fixture && !path.starts_with("target")
}

/// The section numbers a reference file has: `## 1.` → "1", `### 1.5 Response` → "1.5".
fn sections(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("##"))
        .filter_map(|rest| rest.trim_start_matches('#').split_whitespace().next())
        .map(|number| number.trim_end_matches('.').to_string())
        .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect()
}

/// Each `docs/reference/<file>.md … §N.N` in `line`: the file and the section right after it
/// (backticks and a markdown link target may sit in between).
fn reference_citations(line: &str) -> Vec<(String, Option<String>)> {
    const PREFIX: &str = "docs/reference/";
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(PREFIX) {
        rest = &rest[at + PREFIX.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        let name = name.trim_end_matches('.').to_string();
        if !name.ends_with(".md") {
            continue;
        }
        let mut after = &rest[name.len()..];
        after = after.trim_start_matches('`');
        if let Some(link) = after.strip_prefix("](") {
            after = link.split_once(')').map_or("", |(_, tail)| tail);
        }
        let section = after.trim_start().strip_prefix('§').map(|s| {
            s.chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect::<String>()
                .trim_end_matches('.')
                .to_string()
        });
        found.push((name, section));
    }
    found
}

#[test]
fn no_doc_comment_or_message_names_a_file_outside_the_repository() {
    let root = repo_root();
    let this_file = Path::new("crates/cli/tests/self_contained.rs");
    let mut findings = Vec::new();
    for path in files(&root) {
        if path == this_file || !is_text(&path) {
            continue;
        }
        let Ok(text) = fs::read_to_string(root.join(&path)) else {
            continue; // not UTF-8: not a file people read as text
        };
        for (n, line) in text.lines().enumerate() {
            for (needle, why) in OUTSIDE {
                if line.contains(needle) {
                    findings.push(format!("{}:{}: `{needle}`: {why}", path.display(), n + 1));
                }
            }
            for (name, section) in reference_citations(line) {
                let cited = root.join("docs/reference").join(&name);
                let Ok(reference) = fs::read_to_string(&cited) else {
                    findings.push(format!(
                        "{}:{}: docs/reference/{name} does not exist",
                        path.display(),
                        n + 1
                    ));
                    continue;
                };
                if let Some(section) = section.filter(|s| !s.is_empty())
                    && !sections(&reference).contains(&section)
                {
                    findings.push(format!(
                        "{}:{}: docs/reference/{name} has no §{section}",
                        path.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        findings.is_empty(),
        "{} citation(s) a clone of the repository cannot follow:\n{}",
        findings.len(),
        findings.join("\n")
    );
}

#[test]
fn the_checks_find_what_they_look_for() {
    // The scan is only as good as its parsers; these are the shapes the repository uses.
    assert_eq!(
        reference_citations("(docs/reference/apns.md §4.1, §7)"),
        [("apns.md".to_string(), Some("4.1".to_string()))]
    );
    assert_eq!(
        reference_citations("From [`docs/reference/ios-logs.md`](reference/ios-logs.md) §7:"),
        [("ios-logs.md".to_string(), Some("7".to_string()))]
    );
    assert_eq!(
        reference_citations("see `docs/reference/apns.md`."),
        [("apns.md".to_string(), None)]
    );
    assert_eq!(
        sections("# T\n## 0. Source key\n### 1.5 Response\n## 8. Open"),
        ["0", "1.5", "8"]
    );
}
