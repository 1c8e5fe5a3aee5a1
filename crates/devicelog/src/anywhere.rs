//! Literals that keep a record of any process: the texts a `process = "*"` rule's message must
//! contain (PushKit logs inside the calling app, whose process name a read does not know).
//!
//! The process filter drops ~95 % of a log before a record is built; searching each dropped
//! message for the literals would cost more than that filter saves. So a text chunk is searched
//! once, at memory speed, before it is parsed ([`Anywhere::hits`]): almost every chunk has no
//! hit, and then a dropped line costs one `is_empty` test. A pass over the whole log costs about
//! 0.09 s of CPU per 2 GB, so the literals are searched as few needles that every literal
//! contains ([`needles`]), all of them in one pass when there are several (aho-corasick's
//! vectorized Teddy searcher, which regex already builds on); a message with a needle is then
//! checked for a literal itself ([`Anywhere::is_in`]), so that a line is kept, and counted as
//! the app's, only for a literal.

use std::cell::Cell;

use aho_corasick::Span;
use aho_corasick::packed;
use memchr::memmem::Finder;

/// The shortest literal a rule may require (a rule's literal shorter than this is refused when
/// the rule is loaded): shorter ones would keep lines of unrelated processes.
pub const MIN_LITERAL_BYTES: usize = 8;

/// The shortest needle. Shorter needles serve more literals per pass, but a common one (the 7
/// bytes `ncoming` for all of today's literals) finds ordinary text in every chunk, and checking
/// those hits cost as much as the pass it saved (measured on benches/gen_syslog.py's 2 GB).
const MIN_NEEDLE_BYTES: usize = MIN_LITERAL_BYTES;

/// The literals, ready to search.
#[derive(Clone, Debug)]
pub(crate) struct Anywhere {
    literals: Vec<String>,
    /// One per literal, for the exact test.
    exact: Vec<Finder<'static>>,
    needles: Vec<Finder<'static>>,
    /// Every needle at once, when there are several, shortest first.
    together: Option<packed::Searcher>,
}

impl Anywhere {
    pub fn new(literals: Vec<String>) -> Anywhere {
        let finder = |text: &str| Finder::new(text.as_bytes()).into_owned();
        let mut texts = needles(&literals);
        texts.sort_by_key(String::len);
        // `None` only where no vector search exists (not x86-64 with SSSE3, nor aarch64): each
        // needle is then its own pass.
        let together = (texts.len() > 1)
            .then(|| packed::Config::new().builder().extend(&texts).build())
            .flatten();
        let needles = texts.iter().map(|n| finder(n)).collect();
        let exact = literals.iter().map(|l| finder(l)).collect();
        Anywhere {
            literals,
            exact,
            needles,
            together,
        }
    }

    pub fn literals(&self) -> &[String] {
        &self.literals
    }

    /// Whether `message` contains one of the literals (the needles first: they are fewer).
    pub fn is_in(&self, message: &[u8]) -> bool {
        self.needles.iter().any(|n| n.find(message).is_some())
            && self.exact.iter().any(|l| l.find(message).is_some())
    }

    /// Where the needles occur in `chunk`, in order.
    pub fn hits(&self, chunk: &[u8]) -> Hits {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        if let Some(together) = &self.together {
            // Leftmost-first over needles sorted shortest first: where several start at one
            // place, the shortest is reported, and it lies inside any part the others do.
            // Searching again from the next byte finds needles that overlap a match.
            let mut from = 0;
            while let Some(found) = together.find_in(chunk, Span::from(from..chunk.len())) {
                spans.push((found.start(), found.end()));
                from = found.start() + 1;
            }
        } else {
            for needle in &self.needles {
                let len = needle.needle().len();
                spans.extend(needle.find_iter(chunk).map(|at| (at, at + len)));
            }
            if self.needles.len() > 1 {
                spans.sort_unstable();
            }
        }
        Hits {
            base: chunk.as_ptr() as usize,
            spans,
            next: Cell::new(0),
        }
    }
}

/// The needle occurrences of one chunk, as byte spans of it.
#[derive(Debug, Default)]
pub(crate) struct Hits {
    /// The chunk's address: parts of a message are located by their own address.
    base: usize,
    spans: Vec<(usize, usize)>,
    /// The first span not before the last part asked about: parts come in chunk order, so each
    /// is located in constant time.
    next: Cell<usize>,
}

impl Hits {
    /// No needle occurs in the chunk, so no message in it holds a literal.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Whether a needle lies wholly inside `part`, a slice of the chunk these hits come from.
    pub fn inside(&self, part: &[u8]) -> bool {
        if self.spans.is_empty() {
            return false;
        }
        let Some(start) = (part.as_ptr() as usize).checked_sub(self.base) else {
            return false;
        };
        let end = start + part.len();
        let spans = &self.spans;
        let mut next = self.next.get();
        if next > 0 && spans[next - 1].0 >= start {
            // A part before the last one (a row read after its continuation lines).
            next = spans.partition_point(|s| s.0 < start);
        }
        while next < spans.len() && spans[next].0 < start {
            next += 1;
        }
        self.next.set(next);
        spans[next..]
            .iter()
            .take_while(|s| s.0 < end)
            .any(|s| s.1 <= end)
    }
}

/// Few needles such that a message holds a literal only if it holds a needle: literals that
/// contain another are dropped (the shorter one is found in them anyway), then, greedily, the
/// substring of at least [`MIN_NEEDLE_BYTES`] that the most remaining literals share stands for
/// all of them. Needles may find text no rule matches; the rules decide, the needles only keep
/// the line.
pub(crate) fn needles(literals: &[String]) -> Vec<String> {
    let mut sorted: Vec<&str> = literals.iter().map(String::as_str).collect();
    sorted.sort_by_key(|l| l.len());
    let mut left: Vec<&str> = Vec::new();
    for literal in sorted {
        if !left.iter().any(|k| literal.contains(k)) {
            left.push(literal);
        }
    }
    let mut needles = Vec::new();
    while let Some(&first) = left.first() {
        let needle = widest_substring(&left).unwrap_or(first);
        left.retain(|l| !l.contains(needle));
        needles.push(needle.to_string());
    }
    needles
}

/// The substring (at least [`MIN_NEEDLE_BYTES`], cut at character boundaries) contained in
/// the most of `strings`, the longest among those; `None` when none is long enough. Quadratic
/// in the strings' count and length, which are those of a rule catalogue's literals (≤ 100
/// bytes each).
fn widest_substring<'a>(strings: &[&'a str]) -> Option<&'a str> {
    let covered = |candidate: &str| strings.iter().filter(|s| s.contains(candidate)).count();
    // (how many strings contain it, its length, the substring)
    let mut best: Option<(usize, usize, &str)> = None;
    for string in strings {
        let bounds: Vec<usize> = (0..=string.len())
            .filter(|&i| string.is_char_boundary(i))
            .collect();
        for (i, &start) in bounds.iter().enumerate() {
            let ends = &bounds[i + 1..];
            // The shortest allowed substring from here is shared most; lengthen it while it is
            // shared as widely.
            let Some(first) = ends.iter().position(|&e| e - start >= MIN_NEEDLE_BYTES) else {
                break;
            };
            let count = covered(&string[start..ends[first]]);
            let mut end = ends[first];
            for &e in &ends[first + 1..] {
                if covered(&string[start..e]) < count {
                    break;
                }
                end = e;
            }
            let better = best.is_none_or(|(c, len, _)| (count, end - start) > (c, len));
            if better {
                best = Some((count, end - start, &string[start..end]));
            }
        }
    }
    best.map(|(_, _, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn needles_drop_literals_that_contain_another_and_merge_on_a_common_substring() {
        let lits = strings(&["reason: 'Killing app because", "Killing app because"]);
        assert_eq!(needles(&lits), ["Killing app because"]);
        let lits = strings(&[
            "Killing app because it never posted an incoming call to the system",
            "Apps receving VoIP pushes must post an incoming call via CallKit",
        ]);
        assert_eq!(needles(&lits), [" an incoming call "]);
        // Nothing long enough in common: each literal is its own needle.
        let lits = strings(&["Killing app because", "Apps receving VoIP"]);
        assert_eq!(
            needles(&lits),
            ["Killing app because", "Apps receving VoIP"]
        );
        // The substring most literals share first, then what is left.
        let lits = strings(&[
            "Killing app because it never posted an incoming call to",
            "Apps receving VoIP pushes must post an incoming call via",
            "CallKit: report new incoming call with call-id: [",
            "[RNCallKeep][reportNewIncomingCall] uuidString = ",
            "[CallKeep][reportNewIncomingCall] uuidString = ",
        ]);
        assert_eq!(
            needles(&lits),
            [
                " incoming call ",
                "CallKeep][reportNewIncomingCall] uuidString = "
            ]
        );
        let lits = strings(&[
            "Killing app because it never posted an incoming call to",
            "CallKit: report new incoming call with call-id: [",
            "[CallKeep][reportNewIncomingCall] uuidString = ",
            "[CallKeep][reportEndCallWithUUID] uuidString = ",
        ]);
        // The widest first, then what is left.
        assert_eq!(needles(&lits), ["[CallKeep][report", " incoming call "]);
    }

    #[test]
    fn hits_are_found_for_parts_asked_in_any_order() {
        let anywhere = Anywhere::new(strings(&["needle"]));
        let chunk = b"a needle\nb\nc needle\nd\n";
        let hits = anywhere.hits(chunk);
        let line = |i: usize| chunk.split(|b| *b == b'\n').nth(i).unwrap();
        let asked = [2, 3, 0, 1, 2, 0];
        let found: Vec<bool> = asked.iter().map(|&i| hits.inside(line(i))).collect();
        assert_eq!(found, [true, false, true, false, true, true]);
    }

    #[test]
    fn hits_locate_needles_inside_parts_of_the_chunk() {
        let anywhere = Anywhere::new(strings(&["Killing app because"]));
        let chunk = b"a: nothing here\nb: Killing app because it never posted\nc: tail\n";
        let hits = anywhere.hits(chunk);
        assert!(!hits.is_empty());
        let line = |i: usize| chunk.split(|b| *b == b'\n').nth(i).unwrap();
        assert!(!hits.inside(line(0)));
        assert!(hits.inside(line(1)));
        assert!(
            !hits.inside(&line(1)[..10]),
            "a needle cut by the part's end"
        );
        assert!(!hits.inside(line(2)));
        assert!(!hits.inside(b"Killing app because (not in the chunk)"));
        assert!(anywhere.hits(b"no needle at all").is_empty());
    }

    #[test]
    fn several_needles_are_found_in_one_pass_overlapping_or_not() {
        // No 8-byte substring in common: two needles, which overlap in the text.
        let anywhere = Anywhere::new(strings(&["Killing app because", "because it never posted"]));
        assert_eq!(anywhere.needles.len(), 2);
        if cfg!(target_arch = "x86_64") {
            assert!(
                anywhere.together.is_some(),
                "x86-64 has Teddy (SSSE3 or AVX2)"
            );
        }
        let chunk = b"a: Killing app because it never posted
b: nothing
c: because it never posted
";
        let hits = anywhere.hits(chunk);
        let line = |i: usize| chunk.split(|b| *b == b'\n').nth(i).unwrap();
        assert!(hits.inside(line(0)));
        // The second needle, which starts inside the first one's match.
        assert!(hits.inside(&line(0)[15..]));
        assert!(!hits.inside(line(1)));
        assert!(hits.inside(line(2)));
    }

    #[test]
    fn is_in_is_exact_and_case_sensitive() {
        let anywhere = Anywhere::new(strings(&["Killing app because"]));
        assert!(anywhere.is_in(b"reason: 'Killing app because it never"));
        assert!(!anywhere.is_in(b"killing app because"));
        // A needle shared by two literals finds more than either; only a literal keeps a line.
        let anywhere = Anywhere::new(strings(&[
            "never posted an incoming call to the system",
            "must post an incoming call via CallKit",
        ]));
        assert_eq!(anywhere.needles.len(), 1);
        assert!(anywhere.is_in(b"x must post an incoming call via CallKit y"));
        assert!(!anywhere.is_in(b"Reporting an incoming call to CallKit"));
        assert!(
            !anywhere
                .hits(b"Reporting an incoming call to CallKit")
                .is_empty()
        );
    }
}
