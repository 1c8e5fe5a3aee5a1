//! The text every match of a rule's pattern contains, for rules of any process (`process =
//! "*"`): a read keeps a line of a process it does not otherwise read when the line holds it
//! (PushKit logs inside the app, whose process name the read does not know).
//!
//! The literals come from `regex-syntax`'s prefix (or suffix) extraction, the one the `regex`
//! crate builds its own prefilters from: when the extracted sequence is finite, every match
//! starts (ends) with one of its literals, so a message without any of them cannot match. A
//! pattern whose literals are unknown (a leading `.*`), too short to be selective or too many
//! (`(?i)` over a long text) cannot be used this way, and its rule is refused when loaded.

use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};

use crate::anywhere::MIN_LITERAL_BYTES;

/// More literals than this for one rule make the read's search slow; a rule that needs more
/// should be split.
const MAX_LITERALS: usize = 8;

/// The literals one of which every match of `pattern` contains; `Err` says why there are none
/// a read can use.
pub(super) fn required(pattern: &str) -> Result<Vec<String>, String> {
    let hir = regex_syntax::parse(pattern).map_err(|e| format!("pattern does not parse: {e}"))?;
    let mut why = String::new();
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let seq = Extractor::new().kind(kind.clone()).extract(&hir);
        match usable(&seq) {
            Ok(literals) => return Ok(literals),
            // The prefix's reason is the one a rule author can act on first.
            Err(reason) if why.is_empty() => why = reason,
            Err(_) => {}
        }
    }
    Err(format!(
        "a rule for any process (`process = \"*\"`) must have literal text at the start or end \
         of its pattern, at least {MIN_LITERAL_BYTES} bytes in every alternative (reads keep its \
         lines from every process by that text), but {why}"
    ))
}

/// The extracted literals as text, if a read can search for them.
fn usable(seq: &Seq) -> Result<Vec<String>, String> {
    let Some(literals) = seq.literals() else {
        return Err("no literal text starts or ends every match".into());
    };
    if literals.is_empty() {
        return Err("the pattern can never match".into());
    }
    let mut texts: Vec<String> = Vec::new();
    for literal in literals {
        let text = utf8_core(literal.as_bytes());
        if text.len() < MIN_LITERAL_BYTES {
            return Err(format!(
                "one alternative only has `{text}` ({} bytes)",
                text.len()
            ));
        }
        if !texts.iter().any(|t| t == text) {
            texts.push(text.to_string());
        }
    }
    if texts.len() > MAX_LITERALS {
        return Err(format!(
            "it has {} alternatives (at most {MAX_LITERALS}; `(?i)` makes one per letter case)",
            texts.len()
        ));
    }
    Ok(texts)
}

/// The text of an extracted literal: extraction cuts long literals at a byte count, which may
/// split a character at either end; what is left is still in every match.
fn utf8_core(bytes: &[u8]) -> &str {
    let start = bytes
        .iter()
        .position(|b| b & 0xC0 != 0x80)
        .unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Rule, RuleSet};

    #[test]
    fn prefix_alternatives_are_the_literals() {
        assert_eq!(
            required("(?:^|reason: ')Killing app because").unwrap(),
            ["Killing app because", "reason: 'Killing app because"]
        );
        assert_eq!(
            required(r"^Apps receving VoIP pushes (?:via CallKit|\(via CallKit\))").unwrap(),
            [
                "Apps receving VoIP pushes via CallKit",
                "Apps receving VoIP pushes (via CallKit)"
            ]
        );
    }

    #[test]
    fn a_suffix_serves_when_the_start_is_open() {
        assert_eq!(
            required(r"\d+ tasks finished in PushKit queue$").unwrap(),
            [" tasks finished in PushKit queue"]
        );
    }

    #[test]
    fn long_literals_are_cut_at_a_character_boundary() {
        let pattern = format!("^{}é{}", "a".repeat(99), "b".repeat(20));
        let literals = required(&pattern).unwrap();
        assert_eq!(literals[0], "a".repeat(99));
    }

    #[test]
    fn every_rule_for_any_process_has_literals_its_messages_hold() {
        let set = RuleSet::embedded().unwrap();
        let anywhere: Vec<&Rule> = set
            .rules()
            .iter()
            .filter(|r| r.spec.process == "*")
            .collect();
        assert!(anywhere.len() >= 2, "the PushKit rules");
        for rule in anywhere {
            assert!(!rule.literals().is_empty(), "{}", rule.spec.id);
            for message in rule.spec.examples.iter().chain(&rule.spec.redacted) {
                assert!(
                    rule.literals().iter().any(|l| message.contains(l.as_str())),
                    "{}: no literal of {:?} in {message:?}",
                    rule.spec.id,
                    rule.literals()
                );
            }
        }
        assert!(
            set.rules()
                .iter()
                .filter(|r| r.spec.process != "*")
                .all(|r| r.literals().is_empty())
        );
    }

    #[test]
    fn the_read_filter_keeps_watched_processes_and_pushkit_lines_of_any_other() {
        let set = RuleSet::embedded().unwrap();
        let filter = set.read_filter(["Comera"]);
        assert!(filter.wants_process(b"apsd") && filter.wants_process(b"Comera"));
        assert!(!filter.wants_process(b"Signal"));
        assert!(filter.wants_process_or_message(
            b"Signal",
            b"Killing app because it never posted an incoming call to the system after receiving a PushKit VoIP push."
        ));
        assert!(!filter.wants_process_or_message(b"Signal", b"an ordinary line"));
        assert_eq!(
            filter.anywhere_literals().len(),
            set.anywhere_literals().len()
        );
    }

    #[test]
    fn a_rules_file_with_an_unusable_rule_for_any_process_fails_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("extra.toml");
        std::fs::write(
            &path,
            r#"
[[rule]]
id = "app.any_kill"
process = "*"
pattern = '.*never posted an incoming call.*'
event = "app_killed_for_not_reporting"
source = "test"
"#,
        )
        .unwrap();
        let err = RuleSet::with_file(&path).unwrap_err().to_string();
        assert!(err.contains("extra.toml"), "{err}");
        assert!(err.contains("rule `app.any_kill`"), "{err}");
        assert!(err.contains("process = \"*\""), "{err}");
        // The same pattern for one process needs no literal.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace(r#"process = "*""#, r#"process = "Comera""#),
        )
        .unwrap();
        assert!(RuleSet::with_file(&path).is_ok());
    }

    #[test]
    fn unusable_patterns_say_why() {
        let err = required(".*").unwrap_err();
        assert!(err.contains("no literal text"), "{err}");
        let err = required("(?:Kill|Killing app)").unwrap_err();
        assert!(err.contains("`Kill` (4 bytes)"), "{err}");
        let err = required("(?i)killing app because it never posted").unwrap_err();
        assert!(err.contains("process = \"*\""), "{err}");
        let err = required("[a&&b]").unwrap_err();
        assert!(err.contains("never match"), "{err}");
    }
}
