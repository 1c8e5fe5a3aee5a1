//! A cohort: the pushes that share up to three attribute values (`os_version=26.2` and
//! `carrier=Orange`), or every push.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The attribute derived from `sent_at` in the offset the record was written in: the hour of
/// day (`00`–`23`) as the sender's clock saw it.
pub const HOUR: &str = "hour";

/// Attribute values that share a cohort, by attribute name. Empty: every push. Serialized as a
/// JSON object (`{"carrier":"Orange","os_version":"26.2"}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cohort(pub BTreeMap<String, String>);

impl Cohort {
    pub fn everyone() -> Cohort {
        Cohort::default()
    }

    pub fn of<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Cohort {
        Cohort(
            pairs
                .into_iter()
                .map(|(a, v)| (a.to_string(), v.to_string()))
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every value of `self` is also in `other` (`other` is a sub-cohort of `self`).
    pub fn contains(&self, other: &Cohort) -> bool {
        self.0.iter().all(|(a, v)| other.0.get(a) == Some(v))
    }

    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl fmt::Display for Cohort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("all pushes");
        }
        for (i, (attribute, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ∧ ")?;
            }
            write!(f, "{attribute}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cohorts_print_and_nest() {
        let pair = Cohort::of([("os_version", "26.2"), ("carrier", "Orange")]);
        assert_eq!(pair.to_string(), "carrier=Orange ∧ os_version=26.2");
        let single = Cohort::of([("carrier", "Orange")]);
        assert!(single.contains(&pair));
        assert!(!pair.contains(&single));
        assert!(Cohort::everyone().contains(&pair));
        assert_eq!(
            serde_json::to_string(&pair).unwrap(),
            r#"{"carrier":"Orange","os_version":"26.2"}"#
        );
    }
}
