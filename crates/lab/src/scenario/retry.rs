//! When the server resends a call push no receipt answered: `"off"`, one wait (`"10s"`, the
//! same after every push) or a schedule (`["5s", "10s", "20s"]`, the last wait repeating).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Span;

/// The waits for a receipt after each push of a call, in order; the last repeats. Empty: never
/// resend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retry(Vec<Span>);

/// Resending sooner than this after a push would outrun APNs's answer and the app's receipt.
const SHORTEST: Span = Span(1_000_000);

impl Retry {
    pub const OFF: Retry = Retry(Vec::new());

    /// The schedule `waits`; each at least 1s.
    pub fn new(waits: Vec<Span>) -> Result<Retry, String> {
        if let Some(w) = waits.iter().find(|&&w| w < SHORTEST) {
            return Err(format!(
                "a wait of {w}: resend no sooner than 1s after a push (\"off\" never resends)"
            ));
        }
        Ok(Retry(waits))
    }

    /// Reads `off` (also `0`, `0s`), one duration (`10s`) or waits joined by `/` (`5s/10s/20s`).
    pub fn parse(text: &str) -> Result<Retry, String> {
        match text.trim() {
            "off" | "0" | "0s" => Ok(Retry::OFF),
            text => Retry::new(
                text.split('/')
                    .map(|w| Span::parse(w.trim()))
                    .collect::<Result<_, _>>()?,
            ),
        }
    }

    pub fn is_off(&self) -> bool {
        self.0.is_empty()
    }

    /// How long the server waits for a receipt after push `attempt` of a call (1: the first)
    /// before resending; `None`: never.
    pub fn after(&self, attempt: u32) -> Option<Span> {
        let last = self.0.len().checked_sub(1)?;
        Some(self.0[(attempt as usize).saturating_sub(1).min(last)])
    }

    pub fn waits(&self) -> &[Span] {
        &self.0
    }
}

impl fmt::Display for Retry {
    /// As [`Retry::parse`] reads it: `off`, `10s`, `5s/10s/20s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "off");
        }
        for (i, w) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "/")?;
            }
            write!(f, "{w}")?;
        }
        Ok(())
    }
}

impl Serialize for Retry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Retry {
    /// A string (`"off"`, `"10s"`) or a list of durations (`["5s", "10s"]`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Retry, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(String),
            Schedule(Vec<String>),
        }
        let why =
            "write \"off\", a duration like \"10s\", or a list like [\"5s\", \"10s\", \"20s\"]";
        let form = Form::deserialize(d)
            .map_err(|_| serde::de::Error::custom(format!("not a resend schedule: {why}")))?;
        match form {
            Form::One(text) => Retry::parse(&text),
            Form::Schedule(list) if list.is_empty() => Err(format!("an empty list: {why}")),
            Form::Schedule(list) => list
                .iter()
                .map(|w| Span::parse(w))
                .collect::<Result<Vec<_>, _>>()
                .and_then(Retry::new),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::{Retry, Span};

    #[test]
    fn the_last_wait_repeats_and_off_never_resends() {
        let r = Retry::parse("5s/10s").unwrap();
        let s = |secs: i64| Some(Span(secs * 1_000_000));
        assert_eq!([r.after(1), r.after(2), r.after(3)], [s(5), s(10), s(10)]);
        assert_eq!(r.to_string(), "5s/10s");
        assert_eq!(Retry::parse(&r.to_string()).unwrap(), r);
        assert_eq!(Retry::parse("off").unwrap().after(1), None);
        assert_eq!(Retry::parse("0s").unwrap(), Retry::OFF);
    }

    #[test]
    fn a_wait_under_a_second_is_refused() {
        assert!(
            Retry::parse("500ms")
                .unwrap_err()
                .contains("no sooner than 1s")
        );
        assert!(Retry::parse("5s/x").unwrap_err().contains("not a duration"));
    }
}
