//! `log show --predicate`: the subset of NSPredicate people filter iPhone logs with, run on
//! pushtrace's records.
//!
//! Keys are those of `log(1)` that a record holds: `process`, `processIdentifier`, `subsystem`,
//! `category`, `sender`, `eventMessage` and `messageType`. Operators: `==` (`=`), `!=` (`<>`),
//! `CONTAINS`, `BEGINSWITH`, `ENDSWITH`, `LIKE` (`*` and `?`), `MATCHES` (a regular expression
//! on the whole value), `IN {…}`, and `<`, `<=`, `>`, `>=` for `processIdentifier`; the `[c]`
//! (case) and `[d]` (diacritics) modifiers; `AND`/`&&`, `OR`/`||`, `NOT`/`!` and parentheses;
//! strings in single or double quotes. Anything else — image paths, `eventType`, aggregates,
//! variables — is refused at parse time with its column, never silently ignored: a filter that
//! keeps more than asked would mislead. Syntax: Apple's Predicate Programming Guide,
//! <https://developer.apple.com/library/archive/documentation/Cocoa/Conceptual/Predicates/Articles/pSyntax.html>;
//! keys: the `log` man page, <https://keith.github.io/xcode-man-pages/log.1.html>.

mod parse;

use std::borrow::Cow;
use std::fmt;

use pushtrace_model::{Level, LogRecord};
use regex::Regex;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use parse::Literal;

/// A parsed `--predicate`, ready to test records.
#[derive(Clone, Debug)]
pub struct Predicate {
    text: String,
    root: Expr,
}

/// Why a predicate cannot run: where, the part, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PredicateError {
    /// 1-based column, in characters, of the part.
    pub column: usize,
    /// The text of the part (empty at the end of the predicate).
    pub part: String,
    pub why: String,
}

impl PredicateError {
    fn new(column: usize, part: &str, why: &str) -> PredicateError {
        PredicateError {
            column,
            part: part.to_string(),
            why: why.to_string(),
        }
    }
}

impl fmt::Display for PredicateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.part.is_empty() {
            write!(f, "column {}: {}", self.column, self.why)
        } else {
            write!(f, "column {}, `{}`: {}", self.column, self.part, self.why)
        }
    }
}

impl std::error::Error for PredicateError {}

#[derive(Clone, Debug)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Const(bool),
    Cmp(Comparison),
}

#[derive(Clone, Debug)]
struct Comparison {
    key: Key,
    op: Op,
    /// Text values are folded already as the modifiers ask.
    value: Value,
    case_insensitive: bool,
    diacritic_insensitive: bool,
    /// For MATCHES and LIKE.
    regex: Option<Regex>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Process,
    ProcessIdentifier,
    Subsystem,
    Category,
    Sender,
    EventMessage,
    MessageType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    BeginsWith,
    EndsWith,
    Like,
    Matches,
    In,
}

#[derive(Clone, Debug)]
enum Value {
    Text(String),
    List(Vec<String>),
    Number(i64),
    /// `messageType`'s value; `None` for a record without a level.
    Level(Level),
}

/// The keys a record holds, as `log` names them.
const KEYS: [&str; 7] = [
    "process",
    "processIdentifier",
    "subsystem",
    "category",
    "sender",
    "eventMessage",
    "messageType",
];

impl Key {
    fn from_name(name: &str) -> Result<Key, String> {
        Ok(match name {
            "process" => Key::Process,
            "processIdentifier" | "processID" | "pid" => Key::ProcessIdentifier,
            "subsystem" => Key::Subsystem,
            "category" => Key::Category,
            "sender" => Key::Sender,
            "eventMessage" | "composedMessage" => Key::EventMessage,
            "messageType" => Key::MessageType,
            "processImagePath" | "senderImagePath" => {
                return Err(format!(
                    "pushtrace's records hold the image's name, not its path: use {} with \
                     ==, ENDSWITH or CONTAINS instead",
                    if name == "processImagePath" {
                        "process"
                    } else {
                        "sender"
                    }
                ));
            }
            "eventType"
            | "activityIdentifier"
            | "parentActivityIdentifier"
            | "threadIdentifier"
            | "traceIdentifier"
            | "formatString"
            | "timestamp"
            | "machTimestamp"
            | "bootUUID"
            | "processImageUUID"
            | "senderImageUUID"
            | "senderProgramCounter"
            | "signpostIdentifier"
            | "signpostName"
            | "signpostScope"
            | "signpostType"
            | "userIdentifier"
            | "logType" => {
                return Err(format!(
                    "pushtrace's records do not keep `{name}`; the keys it can test are {}",
                    KEYS.join(", ")
                ));
            }
            other => {
                let hint = pushtrace_model::suggest::hint(other, KEYS);
                return Err(format!(
                    "not a key of a log record{hint}; the keys pushtrace can test are {} \
                     (a value needs quotes: \"…\")",
                    KEYS.join(", ")
                ));
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Key::Process => "process",
            Key::ProcessIdentifier => "processIdentifier",
            Key::Subsystem => "subsystem",
            Key::Category => "category",
            Key::Sender => "sender",
            Key::EventMessage => "eventMessage",
            Key::MessageType => "messageType",
        }
    }

    fn check_op(self, op: Op) -> Result<(), String> {
        let ordering = matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge);
        match self {
            Key::MessageType if !matches!(op, Op::Eq | Op::Ne) => {
                Err("messageType is compared with == or != only (messageType == error)".to_string())
            }
            Key::ProcessIdentifier if !(ordering || matches!(op, Op::Eq | Op::Ne)) => {
                Err("processIdentifier is a number: compare it with ==, !=, <, <=, > or >=".into())
            }
            Key::ProcessIdentifier => Ok(()),
            _ if ordering => Err(format!(
                "{} is text: use ==, !=, CONTAINS, BEGINSWITH, ENDSWITH, LIKE, MATCHES or IN",
                self.name()
            )),
            _ => Ok(()),
        }
    }

    fn value(self, literal: &Literal, op: Op) -> Result<Value, String> {
        match (self, literal) {
            (Key::MessageType, Literal::Text(word) | Literal::Word(word)) => {
                message_type(word).map(Value::Level)
            }
            (Key::MessageType, Literal::Number(n)) => match n {
                0 => Ok(Value::Level(Level::Default)),
                1 => Ok(Value::Level(Level::Info)),
                2 => Ok(Value::Level(Level::Debug)),
                16 => Ok(Value::Level(Level::Error)),
                17 => Ok(Value::Level(Level::Fault)),
                _ => Err("messageType's numbers are 0 (default), 1 (info), 2 (debug), 16 (error) and 17 (fault)".into()),
            },
            (Key::ProcessIdentifier, Literal::Number(n)) => Ok(Value::Number(*n)),
            (Key::ProcessIdentifier, _) => Err("processIdentifier is compared with a number".into()),
            (_, Literal::Text(text)) => Ok(Value::Text(text.clone())),
            (_, Literal::Number(n)) if op == Op::Eq || op == Op::Ne => Ok(Value::Text(n.to_string())),
            (_, Literal::Word(word)) => Err(format!(
                "a value is quoted: {} == \"{word}\" (a bare word would be a key)",
                self.name()
            )),
            _ => Err(format!("expected a quoted value for {}", self.name())),
        }
    }
}

fn message_type(word: &str) -> Result<Level, String> {
    // `release` is the old name of default in `log`.
    match word.to_ascii_lowercase().as_str() {
        "default" | "release" => Ok(Level::Default),
        "info" => Ok(Level::Info),
        "debug" => Ok(Level::Debug),
        "error" => Ok(Level::Error),
        "fault" => Ok(Level::Fault),
        _ => Err(format!(
            "not a messageType{}: use default, info, debug, error or fault",
            pushtrace_model::suggest::hint(word, ["default", "info", "debug", "error", "fault"])
        )),
    }
}

/// `text` as the modifiers compare it: lower-cased for `[c]`, without combining marks after
/// canonical decomposition for `[d]` (`é` → `e`).
fn fold(text: &str, case_insensitive: bool, diacritic_insensitive: bool) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if diacritic_insensitive && !text.is_ascii() {
        out = Cow::Owned(
            text.nfd()
                .filter(|c| !is_combining_mark(*c))
                .nfc()
                .collect(),
        );
    }
    if case_insensitive && out.chars().any(char::is_uppercase) {
        out = Cow::Owned(out.to_lowercase());
    }
    out
}

impl Predicate {
    /// Parses `text`; an error names the column and the part that cannot run.
    ///
    /// ```
    /// use pushtrace_devicelog::Predicate;
    ///
    /// let p = Predicate::parse("process == \"apsd\" AND eventMessage CONTAINS[c] 'policy'").unwrap();
    /// assert_eq!(p.to_string(), "process == \"apsd\" AND eventMessage CONTAINS[c] 'policy'");
    /// let err = Predicate::parse("processImagePath ENDSWITH \"apsd\"").unwrap_err();
    /// assert_eq!(err.column, 1);
    /// ```
    pub fn parse(text: &str) -> Result<Predicate, PredicateError> {
        Ok(Predicate {
            text: text.to_string(),
            root: parse::parse(text)?,
        })
    }

    /// Whether `record` satisfies the predicate. A field the record lacks reads as empty text
    /// (`subsystem == ""` finds records without one); a record without a level or process id
    /// satisfies only `!=` comparisons of `messageType` / `processIdentifier`; `sender` is the
    /// process when the record names no other image, as `log` has it.
    pub fn matches(&self, record: &LogRecord) -> bool {
        eval(&self.root, record)
    }

    /// The processes a matching record must belong to, when the predicate pins them (a chain of
    /// ANDs holding `process == "x"` or `process IN {…}` without modifiers): a read can refuse
    /// other processes before building their records.
    pub fn required_processes(&self) -> Option<Vec<String>> {
        required(&self.root)
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn required(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::Cmp(Comparison {
            key: Key::Process,
            op,
            value,
            case_insensitive: false,
            diacritic_insensitive: false,
            ..
        }) => match (op, value) {
            (Op::Eq, Value::Text(name)) => Some(vec![name.clone()]),
            (Op::In, Value::List(names)) => Some(names.clone()),
            _ => None,
        },
        Expr::And(a, b) => match (required(a), required(b)) {
            (Some(a), Some(b)) => Some(a.into_iter().filter(|n| b.contains(n)).collect()),
            (Some(one), None) | (None, Some(one)) => Some(one),
            (None, None) => None,
        },
        Expr::Or(a, b) => {
            let (mut a, b) = (required(a)?, required(b)?);
            a.extend(b);
            Some(a)
        }
        _ => None,
    }
}

fn eval(expr: &Expr, record: &LogRecord) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, record) && eval(b, record),
        Expr::Or(a, b) => eval(a, record) || eval(b, record),
        Expr::Not(inner) => !eval(inner, record),
        Expr::Const(value) => *value,
        Expr::Cmp(cmp) => compare(cmp, record),
    }
}

fn compare(cmp: &Comparison, record: &LogRecord) -> bool {
    let text = match cmp.key {
        Key::MessageType => {
            let level = record.level.filter(|l| *l != Level::Other);
            let Value::Level(wanted) = cmp.value else {
                return false;
            };
            return match cmp.op {
                Op::Eq => level == Some(wanted),
                _ => level != Some(wanted),
            };
        }
        Key::ProcessIdentifier => {
            let Value::Number(n) = cmp.value else {
                return false;
            };
            let Some(pid) = record.pid.map(i64::from) else {
                return cmp.op == Op::Ne;
            };
            return match cmp.op {
                Op::Eq => pid == n,
                Op::Ne => pid != n,
                Op::Lt => pid < n,
                Op::Le => pid <= n,
                Op::Gt => pid > n,
                _ => pid >= n,
            };
        }
        Key::Process => record.process.as_str(),
        Key::Subsystem => record.subsystem.as_deref().unwrap_or(""),
        Key::Category => record.category.as_deref().unwrap_or(""),
        Key::Sender => record.sender.as_deref().unwrap_or(&record.process),
        Key::EventMessage => record.message.as_str(),
    };
    let text = fold(text, cmp.case_insensitive, cmp.diacritic_insensitive);
    match (&cmp.value, cmp.op) {
        (_, Op::Like | Op::Matches) => cmp.regex.as_ref().is_some_and(|re| re.is_match(&text)),
        (Value::Text(value), Op::Eq) => *text == **value,
        (Value::Text(value), Op::Ne) => *text != **value,
        (Value::Text(value), Op::Contains) => text.contains(value.as_str()),
        (Value::Text(value), Op::BeginsWith) => text.starts_with(value.as_str()),
        (Value::Text(value), Op::EndsWith) => text.ends_with(value.as_str()),
        (Value::List(values), Op::In) => values.iter().any(|v| *v == *text),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushtrace_model::{Origin, Timestamp};

    fn record() -> LogRecord {
        let origin = Origin::Line {
            file: "t".into(),
            line: 1,
        };
        let mut r = LogRecord::new(
            Timestamp::from_utc_micros(0),
            "apsd",
            "Connection to Courier failed: Café closed",
            origin,
        );
        r.pid = Some(107);
        r.level = Some(Level::Error);
        r.subsystem = Some("com.apple.apsd".into());
        r.category = Some("connection".into());
        r
    }

    fn holds(text: &str) -> bool {
        Predicate::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .matches(&record())
    }

    #[test]
    fn every_operator_and_modifier() {
        for yes in [
            "process == \"apsd\"",
            "process = 'apsd'",
            "process != \"powerd\"",
            "process <> \"powerd\"",
            "eventMessage CONTAINS \"Courier\"",
            "eventMessage CONTAINS[c] \"courier\"",
            "eventMessage CONTAINS[cd] \"CAFE\"",
            "eventMessage CONTAINS[d] \"Cafe\"",
            "eventMessage BEGINSWITH 'Connection'",
            "eventMessage ENDSWITH \"closed\"",
            "eventMessage LIKE \"Connection*fail?d*\"",
            "eventMessage LIKE[c] \"connection*\"",
            "eventMessage MATCHES \".*Courier (failed|lost).*\"",
            "eventMessage MATCHES[c] \"connection.*\"",
            "subsystem == \"com.apple.apsd\" AND category == \"connection\"",
            "(subsystem == \"x\") || (category IN { \"a\", \"connection\" })",
            "NOT process == \"powerd\"",
            "!(process == \"powerd\")",
            "messageType == error",
            "messageType == \"error\"",
            "messageType == 16",
            "messageType != fault",
            "processIdentifier == 107",
            "processIdentifier > 100 AND processIdentifier <= 107",
            "sender == \"apsd\"",
            "TRUEPREDICATE",
            "process == 'apsd' AND (NOT messageType == info OR FALSEPREDICATE)",
        ] {
            assert!(holds(yes), "{yes}");
        }
        for no in [
            "process == \"APSD\"",
            "eventMessage CONTAINS \"courier\"",
            "eventMessage CONTAINS[c] \"cafe\"",
            "eventMessage LIKE \"Connection\"",
            "eventMessage MATCHES \"Courier\"",
            "process == 'apsd' AND NOT subsystem BEGINSWITH 'com.apple'",
            "messageType == default",
            "processIdentifier < 100",
            "FALSEPREDICATE",
        ] {
            assert!(!holds(no), "{no}");
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert!(holds(
            "process == 'x' AND process == 'y' OR process == 'apsd'"
        ));
        assert!(!holds(
            "process == 'x' AND (process == 'y' OR process == 'apsd')"
        ));
    }

    #[test]
    fn unsupported_parts_are_named_with_their_column() {
        for (text, column, part, says) in [
            (
                "processImagePath ENDSWITH 'apsd'",
                1,
                "processImagePath",
                "use process",
            ),
            (
                "process == 'a' AND eventType == logEvent",
                20,
                "eventType",
                "do not keep",
            ),
            ("proces == 'apsd'", 1, "proces", "did you mean `process`"),
            ("process BETWEEN {1, 2}", 9, "BETWEEN", "not supported"),
            ("ANY process == 'a'", 1, "ANY", "not supported"),
            ("process == apsd", 12, "apsd", "a value is quoted"),
            ("messageType CONTAINS 'err'", 13, "CONTAINS", "== or !="),
            ("messageType == loud", 16, "loud", "not a messageType"),
            ("process ==[z] 'a'", 11, "[z]", "unknown modifier"),
            ("(process == 'a'", 16, "", "not closed"),
            ("process == 'a' process", 16, "process", "expected AND, OR"),
            (
                "eventMessage MATCHES '(?<=a)b'",
                14,
                "MATCHES",
                "not a regular expression",
            ),
            ("process == $NAME", 12, "$", "quoted value"),
            ("", 1, "", "empty"),
        ] {
            let err = Predicate::parse(text).unwrap_err();
            assert_eq!(
                (err.column, err.part.as_str()),
                (column, part),
                "{text}: {err}"
            );
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn pinned_processes() {
        let pinned = |t: &str| Predicate::parse(t).unwrap().required_processes();
        assert_eq!(pinned("process == 'apsd'"), Some(vec!["apsd".to_string()]));
        assert_eq!(
            pinned("(process == 'apsd' || process IN {'powerd'}) && eventMessage CONTAINS 'x'"),
            Some(vec!["apsd".to_string(), "powerd".to_string()])
        );
        assert_eq!(pinned("process == 'apsd' OR messageType == error"), None);
        assert_eq!(pinned("process ==[c] 'apsd'"), None);
        assert_eq!(pinned("NOT process == 'apsd'"), None);
    }
}
