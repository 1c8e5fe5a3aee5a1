//! Sending strategies: what a strategy changes in the scenario's `[calls]`, read from a
//! `--strategy NAME=SPEC` flag or from a strategies file (`[[strategy]]` tables, documented in
//! `docs/strategies.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::scenario::{Expiration, Retry, Scenario};

/// One way of sending calls: what it changes in the scenario's `[calls]`; `None` keeps the
/// scenario's own value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Strategy {
    pub name: String,
    pub expiration: Option<Expiration>,
    pub priority: Option<u8>,
    pub retry_after: Option<Retry>,
    pub fallback: Option<bool>,
}

/// A strategy that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    /// A `--strategy` flag.
    #[error("strategy `{spec}`: {why}")]
    Spec { spec: String, why: String },
    /// A strategies file that cannot be read.
    #[error("cannot read the strategies file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A strategies file: where, what, and what to write.
    #[error("{path}:{line}: {why}\n(the strategies file is documented in docs/strategies.md)")]
    File {
        path: String,
        line: usize,
        why: String,
    },
}

const SPEC_HELP: &str = "write NAME=KEY=VALUE,… with expiration=0|deadline|30d, priority=10|5|1, \
                         retry=off|<duration such as 10s>|<waits such as 5s/10s/20s>, \
                         fallback=on|off (for example `resend=expiration=0,retry=10s`)";

/// The keys a strategy sets, in the order the docs list them.
const KEYS: [&str; 4] = ["expiration", "priority", "retry", "fallback"];

impl Strategy {
    fn named(name: &str) -> Strategy {
        Strategy {
            name: name.to_string(),
            expiration: None,
            priority: None,
            retry_after: None,
            fallback: None,
        }
    }

    /// Reads `NAME=KEY=VALUE,KEY=VALUE`: `expiration` (`0`, `deadline`, `30d`), `priority`
    /// (10, 5, 1), `retry` (`off`, the wait for a receipt before resending, `10s`, or a schedule
    /// of waits, `5s/10s/20s`), `fallback` (`on`, `off`).
    pub fn parse(spec: &str) -> Result<Strategy, StrategyError> {
        let fail = |why: String| StrategyError::Spec {
            spec: spec.to_string(),
            why,
        };
        let (name, settings) = spec
            .split_once('=')
            .ok_or_else(|| fail(format!("no `=` after the name: {SPEC_HELP}")))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(fail(format!("the name is empty: {SPEC_HELP}")));
        }
        let mut strategy = Strategy::named(name);
        for setting in settings.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = setting
                .split_once('=')
                .ok_or_else(|| fail(format!("`{setting}` is not KEY=VALUE: {SPEC_HELP}")))?;
            let (key, value) = (key.trim(), value.trim());
            strategy.set(key, value).map_err(|why| {
                fail(if KEYS.contains(&key) {
                    format!("{key}=`{value}`: {why}")
                } else {
                    why
                })
            })?;
        }
        Ok(strategy)
    }

    /// Sets `key` from its text; the error says what to write.
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "expiration" => {
                self.expiration = Some(match value {
                    "0" | "zero" => Expiration::Zero,
                    "deadline" => Expiration::Deadline,
                    "30d" | "max" => Expiration::Max,
                    _ => return Err("use 0, deadline or 30d".into()),
                })
            }
            "priority" => {
                self.priority = Some(match value {
                    "10" => 10,
                    "5" => 5,
                    "1" => 1,
                    _ => return Err("APNs accepts 10, 5 or 1".into()),
                })
            }
            "retry" => self.retry_after = Some(Retry::parse(value)?),
            "fallback" => {
                self.fallback = Some(match value {
                    "on" | "true" => true,
                    "off" | "false" => false,
                    _ => return Err("use on or off".into()),
                })
            }
            _ => {
                return Err(format!(
                    "unknown key `{key}`: the keys are name, {}",
                    KEYS.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The strategies of a file of `[[strategy]]` tables, each with a `name` and any of
    /// `expiration`, `priority`, `retry`, `fallback` (`docs/strategies.md`).
    pub fn load_file(path: &Path) -> Result<Vec<Strategy>, StrategyError> {
        let text = std::fs::read_to_string(path).map_err(|source| StrategyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Strategy::parse_file(&text, &path.display().to_string())
    }

    /// Parses a strategies file's text; `origin` names it in errors.
    pub fn parse_file(text: &str, origin: &str) -> Result<Vec<Strategy>, StrategyError> {
        let fail = |at: usize, why: String| StrategyError::File {
            path: origin.to_string(),
            line: line_of(text, at),
            why,
        };
        let file: File = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            // The parser's message carries its own excerpt; its first line says what is wrong.
            let why = e.message().to_string();
            fail(
                at,
                format!("{why}: write [[strategy]] tables (name = \"…\", …)"),
            )
        })?;
        if file.strategy.is_empty() {
            return Err(fail(
                0,
                "no strategies: add a [[strategy]] table with a name and what it sets".into(),
            ));
        }
        let mut names = BTreeSet::new();
        let mut strategies = Vec::new();
        for table in &file.strategy {
            let start = table.span().start;
            let Some(name) = table.get_ref().get("name") else {
                return Err(fail(
                    start,
                    "a [[strategy]] without a name: add name = \"…\"".into(),
                ));
            };
            let Some(name_text) = name.get_ref().as_str().filter(|n| !n.trim().is_empty()) else {
                return Err(fail(
                    name.span().start,
                    "`name` must be a non-empty string, like name = \"exp-0\"".into(),
                ));
            };
            if !names.insert(name_text.to_string()) {
                return Err(fail(
                    name.span().start,
                    format!("two strategies are named `{name_text}`: give each its own name"),
                ));
            }
            let mut strategy = Strategy::named(name_text.trim());
            for (key, value) in table.get_ref() {
                if key == "name" {
                    continue;
                }
                let at = value.span().start;
                let bad =
                    |why: String| fail(at, format!("strategy `{name_text}`: field `{key}`: {why}"));
                if !KEYS.contains(&key.as_str()) {
                    return Err(bad(format!(
                        "unknown field: a strategy has name, {}",
                        KEYS.join(", ")
                    )));
                }
                let text = value_text(key, value.get_ref()).map_err(bad)?;
                strategy.set(key, &text).map_err(bad)?;
            }
            strategies.push(strategy);
        }
        Ok(strategies)
    }

    /// The questions of the founding thread, one strategy each: which expiration, whether a
    /// resend helps, what the fallback saves, what priority 5 costs.
    pub fn defaults() -> Vec<Strategy> {
        [
            "exp-0=expiration=0,retry=off,fallback=off,priority=10",
            "exp-deadline=expiration=deadline,retry=off,fallback=off,priority=10",
            "exp-30d=expiration=30d,retry=off,fallback=off,priority=10",
            "exp-0+retry-10s=expiration=0,retry=10s,fallback=off,priority=10",
            "exp-deadline+retry-10s=expiration=deadline,retry=10s,fallback=off,priority=10",
            "exp-0+fallback=expiration=0,retry=off,fallback=on,priority=10",
            "exp-deadline+retry+fallback=expiration=deadline,retry=10s,fallback=on,priority=10",
            "exp-deadline+prio-5=expiration=deadline,retry=off,fallback=off,priority=5",
        ]
        .iter()
        .map(|spec| Strategy::parse(spec).expect("the default strategies parse"))
        .collect()
    }

    /// The scenario with this strategy's sending.
    pub fn apply(&self, scenario: &Scenario) -> Scenario {
        let mut sc = scenario.clone();
        let calls = &mut sc.calls;
        if let Some(e) = self.expiration {
            calls.expiration = e;
        }
        if let Some(p) = self.priority {
            calls.priority = p;
        }
        if let Some(r) = &self.retry_after {
            calls.retry_after = r.clone();
        }
        if let Some(f) = self.fallback {
            calls.fallback = f;
        }
        sc
    }
}

/// A strategies file: `[[strategy]]` tables, kept with their places for errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    strategy: Vec<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
}

/// The text [`Strategy::set`] reads for a TOML value: numbers and booleans as written, a list of
/// durations as a schedule.
fn value_text(key: &str, value: &toml::Value) -> Result<String, String> {
    use toml::Value;
    match (key, value) {
        (_, Value::String(s)) => Ok(s.clone()),
        ("expiration" | "priority", Value::Integer(n)) => Ok(n.to_string()),
        ("fallback", Value::Boolean(b)) => Ok(b.to_string()),
        ("retry", Value::Array(waits)) if !waits.is_empty() => waits
            .iter()
            .map(|w| {
                w.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{w:?} is not a duration: write [\"5s\", \"10s\"]"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|w| w.join("/")),
        ("expiration", _) => Err("write \"0\", \"deadline\" or \"30d\"".into()),
        ("priority", _) => Err("write 10, 5 or 1".into()),
        ("retry", _) => Err("write \"off\", a duration like \"10s\", or a list like \
                             [\"5s\", \"10s\", \"20s\"]"
            .into()),
        _ => Err("write true or false".into()),
    }
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        Strategy::parse_file(text, "s.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_file_reads_as_the_flags_do() {
        let text = r#"
[[strategy]]
name = "resend"
expiration = 0
priority = 10
retry = ["5s", "10s"]
fallback = true

[[strategy]]
name = "keep"
"#;
        let file = Strategy::parse_file(text, "s.toml").unwrap();
        let flag = Strategy::parse("resend=expiration=0,priority=10,retry=5s/10s,fallback=on");
        assert_eq!(file[0], flag.unwrap());
        assert_eq!(file[1], Strategy::named("keep"));
    }

    #[test]
    fn the_example_file_opens_with_the_default_set() {
        let text = include_str!("../../../examples/strategies.toml");
        let file = Strategy::parse_file(text, "examples/strategies.toml").unwrap();
        assert_eq!(file[..8], Strategy::defaults()[..]);
        assert_eq!(file[8].retry_after, Some(Retry::parse("5s/10s").unwrap()));
    }

    #[test]
    fn errors_name_the_line_the_field_and_what_to_write() {
        let e = error("[[strategy]]\nname = \"a\"\n\npriority = 7\n");
        assert!(
            e.starts_with("s.toml:4: strategy `a`: field `priority`"),
            "{e}"
        );
        assert!(e.contains("APNs accepts 10, 5 or 1"), "{e}");
        let e = error("[[strategy]]\nname = \"a\"\nretry = \"500ms\"\n");
        assert!(
            e.starts_with("s.toml:3:") && e.contains("no sooner than 1s"),
            "{e}"
        );
        let e = error("[[strategy]]\nname = \"a\"\nexpire = \"0\"\n");
        assert!(e.contains("field `expire`: unknown field"), "{e}");
        let e = error("[[strategy]]\nname = \"a\"\n[[strategy]]\nname = \"a\"\n");
        assert!(
            e.starts_with("s.toml:4:") && e.contains("two strategies"),
            "{e}"
        );
        let e = error("[[strategy]]\nexpiration = \"0\"\n");
        assert!(e.starts_with("s.toml:1:") && e.contains("add name"), "{e}");
        let e = error("[[strategy]]\nname = \"a\"\nretry = \n");
        assert!(e.starts_with("s.toml:3:"), "{e}");
        assert!(error("").contains("no strategies"));
        let e = error("[strategies]\n");
        assert!(e.contains("unknown field `strategies`"), "{e}");
    }
}
