//! Did-you-mean: the known name closest to a misspelt one, for every message that rejects a
//! name (a push-record field, a config key, a time-zone name, an enum value).

/// The candidate within a few edits of `name`, nearest first (ties go to the earlier
/// candidate); `None` when nothing is close enough to be what was meant.
///
/// Short names allow fewer edits, so `tz` does not suggest `to`: none for names of one or two
/// characters, one up to four, two up to twelve, three beyond (`Europe/Istambul` is one from
/// `Europe/Istanbul`). Case differences count as no edit: `UTC` for `utc` is always offered.
///
/// ```
/// use pushtrace_model::suggest::closest;
///
/// assert_eq!(closest("recieved_at", ["sent_at", "received_at"]), Some("received_at"));
/// assert_eq!(closest("carrier", ["sent_at", "received_at"]), None);
/// ```
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = match name.chars().count() {
        0..=2 => 0,
        3..=4 => 1,
        5..=12 => 2,
        _ => 3,
    };
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .enumerate()
        .map(|(i, candidate)| {
            (
                edit_distance(&lower, &candidate.to_lowercase()),
                i,
                candidate,
            )
        })
        .filter(|(d, _, candidate)| *d <= allowed && *candidate != name)
        .min()
        .map(|(_, _, candidate)| candidate)
}

/// ` (did you mean `x`?)`, or nothing: the hint as messages append it.
pub fn hint<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates)
        .map(|known| format!(" (did you mean `{known}`?)"))
        .unwrap_or_default()
}

/// The did-you-mean serde leaves out: for its "unknown field `x`, expected one of `a`, `b`"
/// (or "unknown variant …") anywhere in `message`, the hint for the expected name closest to
/// `x`; nothing for any other message. Config readers append it to the error they show.
///
/// ```
/// use pushtrace_model::suggest::serde_hint;
///
/// let serde = "unknown field `lisen`, expected one of `listen`, `store`";
/// assert_eq!(serde_hint(serde), " (did you mean `listen`?)");
/// assert_eq!(serde_hint("invalid type: string, expected u16"), "");
/// ```
pub fn serde_hint(message: &str) -> String {
    let Some((kind_at, kind)) = ["unknown field `", "unknown variant `"]
        .into_iter()
        .filter_map(|kind| message.find(kind).map(|at| (at, kind)))
        .min()
    else {
        return String::new();
    };
    let rest = &message[kind_at + kind.len()..];
    let Some(end) = rest.find('`') else {
        return String::new();
    };
    let name = &rest[..end];
    let line = rest[end + 1..].lines().next().unwrap_or_default();
    let Some((_, expected)) = line.split_once("expected ") else {
        return String::new();
    };
    // The names are the backquoted words: `a`, `a` or `b`, one of `a`, `b`, `c`.
    let names = expected.split('`').skip(1).step_by(2);
    hint(name, names)
}

/// Edit distance in characters: an insertion, a deletion, a substitution or a swap of two
/// neighbours (`viop` for `voip`, the commonest slip) costs one.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the table: the one being filled and the two above it (for swaps).
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut above: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (above[j] + 1).min(row[j - 1] + 1).min(above[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut above);
        std::mem::swap(&mut above, &mut row);
    }
    above[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("Istambul", "Istanbul"), 1);
        assert_eq!(edit_distance("viop", "voip"), 1);
        assert_eq!(edit_distance("recieved_at", "received_at"), 1);
        assert_eq!(edit_distance("abc", ""), 3);
    }

    #[test]
    fn the_nearest_close_name_is_offered() {
        let zones = ["Europe/Istanbul", "Europe/London", "Asia/Tokyo"];
        assert_eq!(closest("Europe/Istambul", zones), Some("Europe/Istanbul"));
        assert_eq!(closest("europe/london", zones), Some("Europe/London"));
        assert_eq!(closest("Mars/Olympus", zones), None);
        assert_eq!(closest("tz", ["to", "ttl"]), None);
        assert_eq!(closest("ttk", ["to", "ttl"]), Some("ttl"));
        assert_eq!(
            hint("lisen", ["listen", "store"]),
            " (did you mean `listen`?)"
        );
        assert_eq!(hint("zzz", ["listen"]), "");
    }

    #[test]
    fn serde_messages_get_the_closest_expected_name() {
        let toml = "TOML parse error at line 3, column 1\n  |\n3 | lisen = 1\n  | ^^^^^\n\
                    unknown field `lisen`, expected one of `listen`, `store`, `apps`\n";
        assert_eq!(serde_hint(toml), " (did you mean `listen`?)");
        let variant = "unknown variant `sandbx`, expected `sandbox` or `production`";
        assert_eq!(serde_hint(variant), " (did you mean `sandbox`?)");
        let one = "unknown field `storee`, expected `store`";
        assert_eq!(serde_hint(one), " (did you mean `store`?)");
        assert_eq!(serde_hint("unknown field `x`, there are no fields"), "");
        assert_eq!(serde_hint("unknown field `zzzzzz`, expected `store`"), "");
    }
}
