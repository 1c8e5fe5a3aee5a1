//! The rule catalogue: which log messages mean what, as data.
//!
//! `rules/ios.toml` (embedded in the binary) holds one rule per message: the process that logs
//! it, a regular expression with named captures, the [`EventKind`] it produces and the source
//! the wording comes from. A [`RuleSet`] compiles the catalogue (plus any `--rules FILE`, whose
//! rules override embedded ones of the same id and otherwise come first), and turns each
//! [`LogRecord`] into at most one [`DeviceEvent`]: the first rule of the record's process that
//! matches wins. `docs/rules.md` explains every kind and how to add a rule.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use pushtrace_model::{DeviceEvent, EventKind, LogRecord};
use regex::Regex;
use serde::Deserialize;

use crate::filter::RecordFilter;

mod fields;
mod literals;
mod version;

use fields::{Fields, build, fields_of};
pub use fields::{KINDS, REDACTED};
pub use version::{OsVersion, VersionRange};

/// The catalogue shipped in the binary.
pub const EMBEDDED_RULES: &str = include_str!("../../../../rules/ios.toml");

/// Any process: for messages a framework logs inside the app (PushKit).
const ANY_PROCESS: &str = "*";

/// A rule as written in a rules file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    /// Short process name, or `*` for any process.
    pub process: String,
    #[serde(default)]
    pub subsystem: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// A regular expression over the message, with named captures for the event's fields.
    pub pattern: String,
    /// The event kind (`rrc_state`, `power_policy`, …).
    pub event: String,
    /// Constant fields (`stage = "sent"`).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// iOS versions the wording applies to (`">=14"`, `">=14, <27"`); all when absent.
    #[serde(default)]
    pub ios: Option<String>,
    /// Where the wording comes from (URL or file).
    pub source: String,
    /// One sentence for `docs/rules.md`: what the message means and what it does not prove.
    #[serde(default)]
    pub note: Option<String>,
    /// Exact documented messages this rule must match (checked by the test suite).
    #[serde(default)]
    pub examples: Vec<String>,
    /// The same messages as logged with `<private>` redactions.
    #[serde(default)]
    pub redacted: Vec<String>,
    /// For a `process = "*"` rule: keep a line of any process that holds this rule's literal,
    /// even a process the read does not otherwise watch (PushKit's kill, logged inside an app
    /// whose process name nobody gave). Each such rule costs a pass over the whole log, so only
    /// the lines that can overturn a verdict are read everywhere.
    #[serde(default)]
    pub read_everywhere: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default, rename = "rule")]
    rules: Vec<RuleSpec>,
}

/// A rule ready to match.
#[derive(Clone, Debug)]
pub struct Rule {
    pub spec: RuleSpec,
    regex: Regex,
    versions: Option<VersionRange>,
    /// For a rule of any process: one of these is in every message it matches.
    literals: Vec<String>,
}

impl Rule {
    fn compile(spec: RuleSpec, origin: &str) -> Result<Rule, RuleError> {
        let bad = |why: String| RuleError::Invalid {
            origin: origin.to_string(),
            id: spec.id.clone(),
            why,
        };
        let (required, optional) = fields_of(&spec.event).ok_or_else(|| {
            bad(format!(
                "unknown event `{}`; known: {}",
                spec.event,
                KINDS.join(", ")
            ))
        })?;
        let regex =
            Regex::new(&spec.pattern).map_err(|e| bad(format!("pattern does not compile: {e}")))?;
        let captures: Vec<&str> = regex.capture_names().flatten().collect();
        for name in captures
            .iter()
            .copied()
            .chain(spec.set.keys().map(String::as_str))
        {
            if !required.contains(&name) && !optional.contains(&name) {
                return Err(bad(format!(
                    "`{name}` is not a field of `{}` (fields: {})",
                    spec.event,
                    required
                        .iter()
                        .chain(optional)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        for name in required {
            if !captures.contains(name) && !spec.set.contains_key(*name) {
                return Err(bad(format!(
                    "`{}` needs `{name}`: capture it or set it",
                    spec.event
                )));
            }
        }
        if spec.process.trim().is_empty() {
            return Err(bad("`process` is empty".into()));
        }
        let versions = spec
            .ios
            .as_deref()
            .map(VersionRange::parse)
            .transpose()
            .map_err(bad)?;
        // A read keeps the lines of a rule for any process by this text: without one, the rule
        // would never see the lines of a process the read does not name.
        let literals = if spec.process == ANY_PROCESS {
            literals::required(&spec.pattern).map_err(bad)?
        } else {
            Vec::new()
        };
        Ok(Rule {
            spec,
            regex,
            versions,
            literals,
        })
    }

    /// For a rule of any process (`process = "*"`), the texts one of which every message it
    /// matches contains; empty for a rule of one process.
    pub fn literals(&self) -> &[String] {
        &self.literals
    }

    /// The event this rule reads in `record`, if its message matches.
    pub fn apply(&self, record: &LogRecord) -> Option<Result<EventKind, String>> {
        if let Some(subsystem) = &self.spec.subsystem
            && record.subsystem.as_deref() != Some(subsystem.as_str())
        {
            return None;
        }
        if let Some(category) = &self.spec.category
            && record.category.as_deref() != Some(category.as_str())
        {
            return None;
        }
        self.kind_of(&record.message)
    }

    /// The event this rule reads in a message, if it matches.
    pub fn kind_of(&self, message: &str) -> Option<Result<EventKind, String>> {
        let captures = self.regex.captures(message)?;
        let mut values: BTreeMap<&str, &str> = self
            .spec
            .set
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for name in self.regex.capture_names().flatten() {
            if let Some(m) = captures.name(name) {
                values.insert(name, m.as_str());
            }
        }
        Some(build(&self.spec.event, &Fields { values }))
    }
}

/// A compiled catalogue.
#[derive(Clone, Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    by_process: HashMap<String, Vec<usize>>,
    any_process: Vec<usize>,
}

impl RuleSet {
    /// The embedded catalogue.
    pub fn embedded() -> Result<RuleSet, RuleError> {
        RuleSet::from_specs(parse(EMBEDDED_RULES, "rules/ios.toml (embedded)")?)
    }

    /// The embedded catalogue with a user's rules file: a rule with an embedded rule's id replaces
    /// it; new rules are tried before the embedded ones.
    pub fn with_file(path: &Path) -> Result<RuleSet, RuleError> {
        let text = std::fs::read_to_string(path).map_err(|e| RuleError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let origin = path.display().to_string();
        let extra = parse(&text, &origin)?;
        let mut embedded = parse(EMBEDDED_RULES, "rules/ios.toml (embedded)")?;
        let mut added = Vec::new();
        for spec in extra {
            match embedded.iter_mut().find(|(s, _)| s.id == spec.0.id) {
                Some(slot) => *slot = spec,
                None => added.push(spec),
            }
        }
        added.extend(embedded);
        RuleSet::from_specs(added)
    }

    /// Keeps only the rules whose `ios` range includes `version`.
    pub fn for_os(self, version: &OsVersion) -> RuleSet {
        let specs = self
            .rules
            .into_iter()
            .filter(|r| r.versions.as_ref().is_none_or(|v| v.contains(version)));
        let rules: Vec<Rule> = specs.collect();
        RuleSet::index(rules)
    }

    fn from_specs(specs: Vec<(RuleSpec, String)>) -> Result<RuleSet, RuleError> {
        let mut seen = HashMap::new();
        let mut rules = Vec::with_capacity(specs.len());
        for (spec, origin) in specs {
            if let Some(first) = seen.insert(spec.id.clone(), origin.clone()) {
                return Err(RuleError::Invalid {
                    origin,
                    id: spec.id,
                    why: format!("the id is used twice (first in {first})"),
                });
            }
            rules.push(Rule::compile(spec, &origin)?);
        }
        Ok(RuleSet::index(rules))
    }

    fn index(rules: Vec<Rule>) -> RuleSet {
        let mut by_process: HashMap<String, Vec<usize>> = HashMap::new();
        let mut any_process = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            if rule.spec.process == ANY_PROCESS {
                any_process.push(i);
            } else {
                by_process
                    .entry(rule.spec.process.clone())
                    .or_default()
                    .push(i);
            }
        }
        RuleSet {
            rules,
            by_process,
            any_process,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The processes some rule watches (not counting `*` rules).
    pub fn processes(&self) -> impl Iterator<Item = &str> {
        self.by_process.keys().map(String::as_str)
    }

    /// The texts that keep a line of any process for the rules of any process marked
    /// `read_everywhere` (PushKit inside the app): every message such a rule matches holds one
    /// of them.
    pub fn anywhere_literals(&self) -> Vec<&str> {
        let mut all: Vec<&str> = Vec::new();
        for &i in &self.any_process {
            if !self.rules[i].spec.read_everywhere {
                continue;
            }
            for literal in &self.rules[i].literals {
                if !all.contains(&literal.as_str()) {
                    all.push(literal);
                }
            }
        }
        all
    }

    /// The filter a read needs for these rules: the processes they watch, the lines of any
    /// process that hold an [anywhere literal](RuleSet::anywhere_literals), and `also` (the
    /// app's process, `--app`). Time and message filters can be added to it.
    pub fn read_filter<I, S>(&self, also: I) -> RecordFilter
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        RecordFilter::new()
            .processes(self.processes())
            .processes(also)
            .anywhere(self.anywhere_literals())
    }

    /// Whether some rule is written for this process.
    pub fn watches(&self, process: &str) -> bool {
        self.by_process.contains_key(process)
    }

    /// The first rule that matches `record`, and what it read.
    pub fn first_match(&self, record: &LogRecord) -> Option<(&Rule, Result<EventKind, String>)> {
        let specific = self
            .by_process
            .get(&record.process)
            .map(Vec::as_slice)
            .unwrap_or_default();
        specific.iter().chain(&self.any_process).find_map(|&i| {
            let rule = &self.rules[i];
            rule.apply(record).map(|kind| (rule, kind))
        })
    }

    /// The event `record` means, if a rule understands it. A rule whose pattern matches but whose
    /// fields do not convert (a number out of range) yields `Err` with the rule's id.
    pub fn event(&self, record: &LogRecord) -> Option<Result<DeviceEvent, String>> {
        let (rule, kind) = self.first_match(record)?;
        Some(
            kind.map(|kind| DeviceEvent {
                at: record.at,
                process: record.process.clone(),
                pid: record.pid,
                kind,
                rule: rule.spec.id.clone(),
                source: record.origin.clone(),
                raw: record.message.clone(),
            })
            .map_err(|why| format!("rule {}: {why}", rule.spec.id)),
        )
    }
}

fn parse(text: &str, origin: &str) -> Result<Vec<(RuleSpec, String)>, RuleError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| RuleError::Parse {
        origin: origin.to_string(),
        why: e.to_string(),
    })?;
    Ok(file
        .rules
        .into_iter()
        .map(|r| (r, origin.to_string()))
        .collect())
}

/// A rules file that cannot be used; the message names the file, the rule and the fix.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot read rules file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin} is not a valid rules file: {why}")]
    Parse { origin: String, why: String },
    #[error("{origin}: rule `{id}`: {why}")]
    Invalid {
        origin: String,
        id: String,
        why: String,
    },
}

#[cfg(test)]
mod app_tests;
#[cfg(test)]
mod tests;
