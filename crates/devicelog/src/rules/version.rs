//! iOS versions and the ranges a rule's wording applies to (`ios = ">=14, <27"`).

use std::fmt;

/// A dotted OS version (`26.4.1`); missing parts are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OsVersion(pub u16, pub u16, pub u16);

impl OsVersion {
    pub fn parse(text: &str) -> Result<OsVersion, String> {
        let bad = || format!("`{text}` is not an OS version: expected e.g. 26, 26.4 or 26.4.1");
        let mut parts = text.trim().split('.');
        let mut next = |required: bool| -> Result<u16, String> {
            match parts.next() {
                Some(p) => p.parse().map_err(|_| bad()),
                None if required => Err(bad()),
                None => Ok(0),
            }
        };
        let version = OsVersion(next(true)?, next(false)?, next(false)?);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(version)
    }
}

impl fmt::Display for OsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// All of a list of comparisons (`>=14`, `<27`, `=26.1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRange(Vec<(Comparison, OsVersion)>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comparison {
    Less,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    Greater,
}

impl VersionRange {
    pub fn parse(text: &str) -> Result<VersionRange, String> {
        let mut bounds = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (comparison, rest) = [
                (">=", Comparison::GreaterOrEqual),
                ("<=", Comparison::LessOrEqual),
                (">", Comparison::Greater),
                ("<", Comparison::Less),
                ("=", Comparison::Equal),
            ]
            .into_iter()
            .find_map(|(op, c)| part.strip_prefix(op).map(|rest| (c, rest)))
            .ok_or_else(|| {
                format!("`ios = \"{text}\"`: each bound starts with >=, <=, >, < or =")
            })?;
            bounds.push((comparison, OsVersion::parse(rest)?));
        }
        Ok(VersionRange(bounds))
    }

    pub fn contains(&self, version: &OsVersion) -> bool {
        self.0.iter().all(|(comparison, bound)| match comparison {
            Comparison::Less => version < bound,
            Comparison::LessOrEqual => version <= bound,
            Comparison::Equal => version == bound,
            Comparison::GreaterOrEqual => version >= bound,
            Comparison::Greater => version > bound,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let range = VersionRange::parse(">=14, <27").unwrap();
        assert!(range.contains(&OsVersion::parse("26.4.1").unwrap()));
        assert!(!range.contains(&OsVersion::parse("27").unwrap()));
        assert!(!range.contains(&OsVersion::parse("13.7").unwrap()));
        assert!(VersionRange::parse("14").is_err());
        assert!(OsVersion::parse("26.x").is_err());
    }
}
